//! [`named_enum!`](crate::named_enum): an enum whose values are stored and sent by name.
//!
//! Every service spelled out the same derive block and the same `as_str`/`parse` pair for
//! each of its statuses and kinds; this writes that part once, so a service's declaration
//! says only its names.

/// Declares an enum with `Debug, Clone, Copy, PartialEq, Eq` and strum's `EnumIter`,
/// `IntoStaticStr` and `EnumString`, and gives it `as_str` (the value's name) and `parse`
/// (the value with that name, `None` for a name it does not have).
///
/// Attributes written before `enum` are kept: more derives, `#[serde(…)]`, and the
/// `#[strum(…)]` that decides the names. The strum derives are spelled `strum::…` and
/// resolve in the calling crate, which must depend on `strum` (platform does not).
///
/// ```ignore
/// platform::named_enum! {
///     #[strum(serialize_all = "snake_case")]
///     pub enum SlotWindow { Morning, Afternoon, Evening }
/// }
/// ```
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$attribute:meta])*
        $visibility:vis enum $name:ident { $($variants:tt)* }
    ) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::IntoStaticStr, strum::EnumString,
        )]
        $(#[$attribute])*
        $visibility enum $name { $($variants)* }

        impl $name {
            /// The name this value is stored and sent as.
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// The value named `value`, or `None` for a name it does not have.
            pub fn parse(value: &str) -> Option<Self> {
                value.parse().ok()
            }
        }
    };
}
