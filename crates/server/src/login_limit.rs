//! Login attempts are rate limited per client address and per account, so
//! that neither one address guessing many accounts nor many addresses
//! guessing one account gets far.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// How many login attempts are allowed per minute.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// From one client address.
    pub per_address_per_minute: NonZeroU32,
    /// For one account (e-mail), from anywhere.
    pub per_account_per_minute: NonZeroU32,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_address_per_minute: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            per_account_per_minute: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// The two keyed limiters.
#[derive(Debug)]
pub struct LoginLimiter {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_account: DefaultKeyedRateLimiter<String>,
}

impl LoginLimiter {
    /// Limiters with the given quotas (each allows its whole minute's worth
    /// at once, then refills evenly).
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            by_address: RateLimiter::keyed(Quota::per_minute(limits.per_address_per_minute)),
            by_account: RateLimiter::keyed(Quota::per_minute(limits.per_account_per_minute)),
        }
    }

    /// Counts one attempt; `Err` carries how long to wait when over a limit.
    pub fn check(&self, address: IpAddr, account: &str) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        self.by_address
            .check_key(&address)
            .map_err(|not_until| not_until.wait_time_from(now))?;
        self.by_account
            .check_key(&account.to_lowercase())
            .map_err(|not_until| not_until.wait_time_from(now))?;
        Ok(())
    }

    /// Forgets keys that have fully recovered, so the maps stay small.
    pub fn shrink(&self) {
        self.by_address.retain_recent();
        self.by_account.retain_recent();
        self.by_address.shrink_to_fit();
        self.by_account.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_budget() {
        let limits = LoginLimits {
            per_address_per_minute: NonZeroU32::new(3).unwrap(),
            per_account_per_minute: NonZeroU32::new(2).unwrap(),
        };
        let limiter = LoginLimiter::new(limits);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(limiter.check(a, "ops@example.com").is_ok());
        assert!(limiter.check(a, "OPS@example.com").is_ok());
        let wait = limiter.check(b, "ops@example.com").unwrap_err();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert!(limiter.check(a, "dev@example.com").is_ok());
        assert!(limiter.check(a, "other@example.com").is_err());
        assert!(limiter.check(b, "other@example.com").is_ok());
    }
}
