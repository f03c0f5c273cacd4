//! [`problem_code!`](crate::problem_code): the part of a service's error type that every
//! service wrote the same way.
//!
//! Every service's error enum has `Validation(Violations)`, `InvalidQuery(String)` and
//! `Storage(..)`; those that move records through the sequencer also have
//! `IllegalTransition { .. }` and `CoordinatorUnavailable(String)`. Their conversions, their
//! problem kinds and the `violations`/`refused_transition` answers were repeated in each
//! `error.rs`; the macro writes them once, and a service's `error.rs` keeps only its own
//! variants, codes and texts.

/// Implements [`ProblemCode`](crate::error::ProblemCode) for a service's error enum, and
/// `From<Violations>` into its `Validation` variant.
///
/// `kind` answers the service's own arms first (so one may single out, say, one storage
/// failure), then the shared ones: `Validation` is `kinds::VALIDATION_FAILED`,
/// `InvalidQuery` is `kinds::INVALID_QUERY`, `Storage` is `kinds::INTERNAL`.
///
/// With `refused_transition: <pattern> => <(current, action)>;` the enum also has
/// `IllegalTransition`, which is `kinds::ILLEGAL_TRANSITION` and reports the state and action
/// through `refused_transition`, and `CoordinatorUnavailable(String)`, which is
/// `kinds::COORDINATOR_UNAVAILABLE` and what a `SequencerError` converts into.
///
/// Items after the `kind` arms (say, `own_extensions`) go into the `ProblemCode` impl as
/// written.
///
/// ```ignore
/// platform::problem_code! {
///     OrderError;
///     refused_transition: Self::IllegalTransition { current, step } => (current.as_str(), step);
///     kind {
///         Self::OrderNotFound(_) => ErrorKind::new(StatusCode::NOT_FOUND, "order_not_found", "No such order"),
///     }
/// }
/// ```
#[macro_export]
macro_rules! problem_code {
    (
        $error:ident;
        refused_transition: $transition:pat => $refused:expr;
        kind { $($own:tt)* }
        $($more:tt)*
    ) => {
        impl From<$crate::sequencer::SequencerError> for $error {
            fn from(error: $crate::sequencer::SequencerError) -> Self {
                Self::CoordinatorUnavailable(error.to_string())
            }
        }

        $crate::problem_code! {
            $error;
            kind {
                $($own)*
                Self::IllegalTransition { .. } => $crate::error::kinds::ILLEGAL_TRANSITION,
                Self::CoordinatorUnavailable(_) => $crate::error::kinds::COORDINATOR_UNAVAILABLE,
            }

            fn refused_transition(&self) -> Option<(&str, &str)> {
                match self {
                    $transition => Some($refused),
                    _ => None,
                }
            }

            $($more)*
        }
    };
    (
        $error:ident;
        kind { $($own:tt)* }
        $($more:tt)*
    ) => {
        impl From<$crate::validation::Violations> for $error {
            fn from(violations: $crate::validation::Violations) -> Self {
                Self::Validation(violations)
            }
        }

        impl $crate::error::ProblemCode for $error {
            fn kind(&self) -> $crate::error::ErrorKind {
                match self {
                    $($own)*
                    Self::Validation(_) => $crate::error::kinds::VALIDATION_FAILED,
                    Self::InvalidQuery(_) => $crate::error::kinds::INVALID_QUERY,
                    Self::Storage(_) => $crate::error::kinds::INTERNAL,
                }
            }

            fn violations(&self) -> Option<&$crate::validation::Violations> {
                match self {
                    Self::Validation(violations) => Some(violations),
                    _ => None,
                }
            }

            $($more)*
        }
    };
}
