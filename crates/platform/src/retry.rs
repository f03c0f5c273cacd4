//! One retry delay for the whole platform: exponential from `initial`, doubling up to
//! `max`, with jitter (up to the delay again) so that many waiting items do not come back
//! in the same instant. Built on `backon`; every loop, consumer and runner uses it.

use std::time::Duration;

use backon::BackoffBuilder;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
        }
    }

    /// The delays one after another, without end: for a loop that counts its own failures
    /// (start again from a fresh iterator after a success).
    pub fn delays(&self) -> backon::ExponentialBackoff {
        backon::ExponentialBuilder::new()
            .with_min_delay(self.initial)
            .with_max_delay(self.max)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    }

    /// The wait after `failures` failed attempts (the first retry is `failures = 1`).
    pub fn delay(&self, failures: u32) -> Duration {
        let index = usize::try_from(failures.saturating_sub(1)).unwrap_or(usize::MAX);
        self.delays().nth(index).unwrap_or(self.max)
    }
}

/// The policy's delays as a plain iterator that can be cloned (the circuit breaker keeps a
/// fresh copy to start over from).
#[derive(Debug, Clone)]
pub struct Delays {
    policy: RetryPolicy,
    failures: u32,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        Some(self.policy.delay(self.failures))
    }
}

impl From<RetryPolicy> for Delays {
    fn from(policy: RetryPolicy) -> Self {
        Self {
            policy,
            failures: 0,
        }
    }
}

/// A failure counter for a loop: [`Backoff::next_delay`] is the wait after one more
/// failure, [`Backoff::reset`] starts over after a success.
pub struct Backoff {
    policy: RetryPolicy,
    delays: backon::ExponentialBackoff,
}

impl Backoff {
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            delays: policy.delays(),
            policy,
        }
    }

    /// From 100 ms up to `max`.
    pub fn up_to(max: Duration) -> Self {
        Self::new(RetryPolicy::new(Duration::from_millis(100), max))
    }

    pub fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(self.policy.max)
    }

    pub fn reset(&mut self) {
        self.delays = self.policy.delays();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_initial_delay_and_stop_growing_at_the_cap() {
        let policy = RetryPolicy::new(Duration::from_millis(100), Duration::from_secs(1));
        let first = policy.delay(1);
        assert!(first >= Duration::from_millis(100) && first < Duration::from_millis(200));
        let third = policy.delay(3);
        assert!(third >= Duration::from_millis(400) && third < Duration::from_millis(800));
        let late = policy.delay(30);
        assert!(late >= Duration::from_secs(1) && late < Duration::from_secs(2));
    }
}
