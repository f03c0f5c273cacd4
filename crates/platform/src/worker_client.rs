//! [`worker_client!`](crate::worker_client): the client type a service's background worker
//! holds for one other service.
//!
//! Order and fulfilment both wrapped a [`ServiceClient`](crate::service_client::ServiceClient)
//! for quote in the same newtype with the same constructor, differing only in who calls;
//! the macro declares that once, and each service writes only the calls it makes.

/// Why a worker's client could not be built (its HTTP client did not start).
pub type BuildError = reqwest::Error;

/// Declares `struct $name(ServiceClient)` (cloneable) with
/// `new(base_url, timeout, credentials)`, built with
/// [`ServiceClientConfig::for_worker`](crate::service_client::ServiceClientConfig::for_worker):
/// one attempt per call, the worker's due work retrying later. The service's own methods call
/// the wrapped client as `self.0`.
///
/// ```ignore
/// platform::worker_client! {
///     /// Calls to quote on behalf of order's processor.
///     pub struct QuoteClient calls "quote" as "order-service";
/// }
/// ```
#[macro_export]
macro_rules! worker_client {
    (
        $(#[$attribute:meta])*
        $visibility:vis struct $name:ident calls $callee:literal as $caller:literal;
    ) => {
        $(#[$attribute])*
        #[derive(Clone)]
        $visibility struct $name($crate::service_client::ServiceClient);

        impl $name {
            pub fn new(
                base_url: &str,
                timeout: std::time::Duration,
                credentials: $crate::auth::ServiceCredentials,
            ) -> Result<Self, $crate::worker_client::BuildError> {
                $crate::service_client::ServiceClient::new(
                    $crate::service_client::ServiceClientConfig::for_worker(
                        $callee,
                        $caller,
                        base_url,
                        timeout,
                        credentials,
                    ),
                )
                .map(Self)
            }
        }
    };
}
