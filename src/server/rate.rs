//! Requests per token: each configured token (and, without tokens, the one anonymous caller)
//! may send `rate_limit.per_second` requests a second on average, in bursts of up to
//! `rate_limit.burst`; past it the answer is 429 with `Retry-After`. Keyed by the token's index
//! among the configured ones, checked after authentication, so unknown tokens create no state:
//! the limiter's memory is bounded by the number of tokens. OTLP exports are not counted here:
//! `traces.max_concurrent_exports` and the decode budget bound them.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

use crate::config::ConfigError;

/// `rate_limit:` in `slogate.yaml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Requests a second per token, on average; `0` turns the limit off.
    pub per_second: u32,
    /// Requests a token may send at once above the average.
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_second: 100,
            burst: 200,
        }
    }
}

/// The key of the caller when no token is configured.
pub const ANONYMOUS: usize = usize::MAX;

/// Per-token limiters; `None` inside when the limit is off.
#[allow(missing_debug_implementations)]
pub struct RateLimits(Option<DefaultKeyedRateLimiter<usize>>);

impl RateLimitConfig {
    /// The limiters, or an error naming the setting.
    pub fn limits(&self) -> Result<RateLimits, ConfigError> {
        let Some(rate) = NonZeroU32::new(self.per_second) else {
            return Ok(RateLimits(None));
        };
        let burst = NonZeroU32::new(self.burst).ok_or_else(|| ConfigError::Invalid {
            setting: "rate_limit.burst".to_string(),
            message: "must be at least 1 (or set rate_limit.per_second: 0 to turn the limit off)"
                .to_string(),
        })?;
        Ok(RateLimits(Some(RateLimiter::keyed(
            Quota::per_second(rate).allow_burst(burst),
        ))))
    }
}

impl RateLimits {
    /// No limit.
    pub fn off() -> RateLimits {
        RateLimits(None)
    }

    /// Takes one request of `key`'s allowance; when there is none, how long until there is.
    pub fn take(&self, key: usize) -> Result<(), Duration> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_token_waits_and_others_do_not() {
        let limits = RateLimitConfig {
            per_second: 1,
            burst: 3,
        }
        .limits()
        .unwrap();
        for _ in 0..3 {
            assert_eq!(limits.take(0), Ok(()));
        }
        let wait = limits.take(0).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(
            limits.take(1),
            Ok(()),
            "another token has its own allowance"
        );
        let off = RateLimitConfig {
            per_second: 0,
            burst: 0,
        }
        .limits()
        .unwrap();
        assert!((0..1000).all(|_| off.take(0).is_ok()));
        let bad = RateLimitConfig {
            per_second: 5,
            burst: 0,
        };
        assert!(matches!(
            bad.limits(),
            Err(ConfigError::Invalid { setting, .. }) if setting == "rate_limit.burst"
        ));
    }
}
