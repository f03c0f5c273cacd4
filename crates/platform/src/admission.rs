//! What a service takes on, and what it refuses. An instance holds at most
//! `http.max_in_flight` requests at once; past that it answers 503 `overloaded` at once
//! instead of queueing until every client times out. That cap is sized for a burst (a
//! storage stall of a few hundred ms piles requests up, and they should wait it out, not
//! be refused). Sustained overload is told apart from a burst by how long it lasts: once
//! `http.sustained_in_flight` or more have been in flight for longer than
//! `http.overload_grace_ms`, requests past that lower mark are refused at once until the
//! count falls back to half of it. Whatever is taken then waits behind at most that many,
//! so its latency stays bounded (the queue in front of the database is what grows
//! otherwise). Routes a service marks as priority (order placement) get
//! `http.priority_reserve` more past either before they are refused: they are shed last. Each principal, keyed on the verified token's subject (never on a header the
//! client chooses), gets `http.rate_limit` requests per second; beyond it 429
//! `rate_limited`. Both answers are problem+json with `Retry-After`. Health, metrics and
//! other services' own calls are never refused here.
//!
//! Requests without a valid token are not rate-limited here: behind the edge every one of
//! them comes from the edge's address, so keying them on it would make all anonymous
//! shoppers share one budget. They are bounded by the in-flight cap; a per-address limit
//! belongs at the ingress, which sees the client's address.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

use crate::auth::{Authenticator, Role};
use crate::background::{RequestLoad, RequestPlace};
use crate::error::{ApiError, kinds};

/// `http.rate_limit`: requests per second per principal, with a burst; `per_second = 0`
/// turns it off.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct RateLimitSettings {
    pub per_second: u32,
    pub burst: u32,
}

/// The admission state of one server; clones share the count and the limiter.
#[derive(Clone)]
pub struct Admission {
    load: RequestLoad,
    max_in_flight: usize,
    priority_reserve: usize,
    priority: Vec<(Method, String)>,
    sustained: Option<Arc<Sustained>>,
    limiter: Option<Arc<(DefaultKeyedRateLimiter<String>, Authenticator)>>,
    checks: Arc<AtomicU64>,
}

/// The lower mark kept to under sustained overload, and since when the service is past it.
struct Sustained {
    limit: usize,
    grace: Duration,
    origin: Instant,
    /// Milliseconds after `origin` (plus one) since the count has been at or past `limit`
    /// without falling back to half of it; 0: it is not.
    past_since: AtomicU64,
}

impl Sustained {
    /// Whether requests past `limit` are refused now, with `in_flight` requests in flight.
    fn holds_to_limit(&self, in_flight: usize, now: Instant) -> bool {
        let now_ms = u64::try_from(now.saturating_duration_since(self.origin).as_millis())
            .unwrap_or(u64::MAX - 1)
            + 1;
        if in_flight <= self.limit / 2 {
            self.past_since.store(0, Ordering::Relaxed);
            return false;
        }
        if in_flight < self.limit {
            // Between half and the mark: a pressure already noted stands (hysteresis), so
            // the count does not swing between the mark and the burst cap.
            let since = self.past_since.load(Ordering::Relaxed);
            return since != 0 && now_ms.saturating_sub(since) >= self.grace_ms();
        }
        let since =
            match self
                .past_since
                .compare_exchange(0, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => now_ms,
                Err(since) => since,
            };
        now_ms.saturating_sub(since) >= self.grace_ms()
    }

    fn grace_ms(&self) -> u64 {
        u64::try_from(self.grace.as_millis()).unwrap_or(u64::MAX)
    }
}

/// How many rate checks pass between sweeps of callers whose budget is full again.
const SWEEP_EVERY: u64 = 4096;

/// Paths nothing refuses: probes and scrapes must see an overloaded service as it is.
fn exempt(path: &str) -> bool {
    path.starts_with("/health") || path == "/metrics"
}

impl Admission {
    /// An in-flight cap of `max_in_flight` (plus `priority_reserve` for priority routes);
    /// 0 means no cap. Requests are counted in `load`, which background work yields to.
    pub fn new(max_in_flight: usize, priority_reserve: usize, load: RequestLoad) -> Self {
        Self {
            load,
            max_in_flight,
            priority_reserve,
            priority: Vec::new(),
            sustained: None,
            limiter: None,
            checks: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Adds the per-principal rate limit; tokens are verified with `authenticator`.
    pub fn with_rate_limit(
        mut self,
        settings: RateLimitSettings,
        authenticator: Authenticator,
    ) -> Self {
        self.limiter = NonZeroU32::new(settings.per_second).map(|per_second| {
            let burst = NonZeroU32::new(settings.burst).unwrap_or(per_second);
            let limiter = RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst));
            Arc::new((limiter, authenticator))
        });
        self
    }

    /// Keeps to `limit` requests in flight (plus the reserve for priority routes) once at
    /// least that many have been for longer than `grace`; 0 turns it off.
    pub fn with_sustained_limit(mut self, limit: usize, grace: Duration) -> Self {
        self.sustained = (limit > 0).then(|| {
            Arc::new(Sustained {
                limit,
                grace,
                origin: Instant::now(),
                past_since: AtomicU64::new(0),
            })
        });
        self
    }

    /// Marks `method path` (an exact path) as priority: refused only past the reserve.
    pub fn prioritise(mut self, method: Method, path: &str) -> Self {
        self.priority.push((method, path.to_owned()));
        self
    }

    /// Whether requests past a cap are refused (503 `overloaded`).
    pub fn caps_in_flight(&self) -> bool {
        self.max_in_flight > 0
    }

    /// Whether callers past their rate are refused (429 `rate_limited`).
    pub fn limits_rate(&self) -> bool {
        self.limiter.is_some()
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> usize {
        self.load.in_flight()
    }

    /// Takes a place for a request, or none if the service is full for its class.
    fn enter(&self, priority: bool) -> Option<RequestPlace> {
        self.enter_at(priority, Instant::now())
    }

    fn enter_at(&self, priority: bool, now: Instant) -> Option<RequestPlace> {
        let reserve = if priority { self.priority_reserve } else { 0 };
        let burst_cap = match self.max_in_flight {
            0 => usize::MAX,
            cap => cap + reserve,
        };
        let limit = match &self.sustained {
            Some(sustained) if sustained.holds_to_limit(self.in_flight(), now) => {
                burst_cap.min(sustained.limit + reserve)
            }
            _ => burst_cap,
        };
        self.load.enter(limit)
    }

    fn is_priority(&self, req: &ServiceRequest) -> bool {
        self.priority
            .iter()
            .any(|(method, path)| req.method() == method && req.path() == path)
    }

    /// How long the caller of `req` must wait, if it is over its rate.
    async fn rate_limited(&self, req: &ServiceRequest) -> Option<Duration> {
        let (limiter, authenticator) = self.limiter.as_deref()?;
        let token = crate::auth::bearer_token(req.request())?;
        // No valid token: the route refuses it, or it is anonymous (see the module doc).
        let principal = authenticator.verify(&token).await.ok()?;
        // Verified once: the route's `Principal` extractor takes it from here.
        req.extensions_mut().insert(principal.clone());
        // Services calling each other are bounded by their own callers' limits.
        if principal.role == Role::Service {
            return None;
        }
        let verdict = limiter.check_key(&principal.subject);
        // Callers seen once stay in the map until swept; sweeping now and then bounds it.
        if self
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            limiter.retain_recent();
        }
        verdict
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The middleware: refuse what the service cannot take, before any work is done for it.
pub async fn admit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let admission = req.app_data::<web::Data<Admission>>().cloned();
    let Some(admission) = admission.filter(|_| !exempt(req.path())) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let Some(_place) = admission.enter(admission.is_priority(&req)) else {
        let refusal = ApiError::new(
            kinds::OVERLOADED,
            "the service is at its limit of requests in flight; retry shortly",
        );
        return Ok(refuse(req, refusal));
    };
    if let Some(wait) = admission.rate_limited(&req).await {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let refusal = ApiError::new(
            kinds::RATE_LIMITED,
            format!("too many requests from this caller; retry in {seconds} s"),
        )
        .retry_after(seconds);
        return Ok(refuse(req, refusal));
    }
    Ok(next.call(req).await?.map_into_left_body())
}

fn refuse<B>(req: ServiceRequest, refusal: ApiError) -> ServiceResponse<EitherBody<B>> {
    req.into_response(refusal.error_response())
        .map_into_right_body()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_service_still_takes_priority_requests_up_to_the_reserve() {
        let admission = Admission::new(2, 1, RequestLoad::never_yield());
        let first = admission.enter(false);
        let second = admission.enter(false);
        assert!(first.is_some() && second.is_some());
        assert!(admission.enter(false).is_none());
        let priority = admission.enter(true);
        assert!(priority.is_some());
        assert!(admission.enter(true).is_none());
        // Priority requests count against the same places: both must finish for room.
        drop(first);
        assert!(admission.enter(false).is_none());
        drop(priority);
        assert!(admission.enter(false).is_some());
    }

    #[test]
    fn places_are_given_back_when_requests_finish() {
        let admission = Admission::new(1, 0, RequestLoad::never_yield());
        drop(admission.enter(false));
        assert_eq!(admission.in_flight(), 0);
        assert!(admission.enter(false).is_some());
    }

    #[test]
    fn a_burst_past_the_sustained_mark_is_taken_for_the_grace_then_refused_past_the_mark() {
        let admission = Admission::new(100, 2, RequestLoad::never_yield())
            .with_sustained_limit(4, Duration::from_millis(200));
        let start = Instant::now();
        let mut places: Vec<_> = (0..10)
            .map(|_| admission.enter_at(false, start + Duration::from_millis(50)))
            .collect();
        assert!(
            places.iter().all(Option::is_some),
            "within the grace a burst is taken up to the burst cap"
        );
        let later = start + Duration::from_millis(260);
        assert!(admission.enter_at(false, later).is_none());
        assert!(
            admission.enter_at(true, later).is_none(),
            "10 in flight is past the mark plus the reserve too"
        );
        places.truncate(5);
        assert!(
            admission.enter_at(false, later).is_none(),
            "still past the mark"
        );
        let priority = admission.enter_at(true, later);
        assert!(priority.is_some(), "priority has the reserve past the mark");
        drop(priority);
        places.truncate(3);
        assert!(
            admission.enter_at(false, later).is_some(),
            "under the mark again: taken"
        );
    }

    #[test]
    fn pressure_is_forgotten_once_the_count_falls_to_half_the_mark() {
        let admission = Admission::new(100, 0, RequestLoad::never_yield())
            .with_sustained_limit(4, Duration::from_millis(200));
        let start = Instant::now();
        let mut places: Vec<_> = (0..6).map(|_| admission.enter_at(false, start)).collect();
        let later = start + Duration::from_millis(300);
        assert!(admission.enter_at(false, later).is_none());
        places.truncate(3);
        places.push(admission.enter_at(false, later));
        assert!(
            admission.enter_at(false, later).is_none(),
            "back at the mark, and above half of it since: still held to it"
        );
        places.truncate(2);
        let quiet = admission.enter_at(false, later);
        assert!(quiet.is_some());
        let burst: Vec<_> = (0..6).map(|_| admission.enter_at(false, later)).collect();
        assert!(
            burst.iter().all(Option::is_some),
            "after falling to half, a new burst has a new grace"
        );
    }

    #[test]
    fn no_cap_admits_everything() {
        let admission = Admission::new(0, 0, RequestLoad::never_yield());
        let places: Vec<_> = (0..1000).map(|_| admission.enter(false)).collect();
        assert!(places.iter().all(Option::is_some));
    }
}
