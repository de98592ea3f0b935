//! Login attempts are limited so that guessing is slow, without letting an
//! attacker lock the owner out of their own account.
//!
//! - Per client address (all accounts): one address cannot try many
//!   accounts.
//! - Per account and address: one address cannot try one account often;
//!   the owner, from anywhere else, is not affected.
//! - Per account, from everywhere (many addresses guessing one account):
//!   attempts are paced. An attempt over the pace waits for its turn, a few
//!   seconds at most, and is refused only when the pace is that far behind.
//!   Attempts from a browser where this account logged in before (its
//!   device cookie, see [`crate::device_cookie`]) are not paced: whatever
//!   others try, the owner gets in.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// How many login attempts are allowed per minute.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// From one client address, whatever the accounts.
    pub per_address_per_minute: NonZeroU32,
    /// For one account from one client address.
    pub per_account_address_per_minute: NonZeroU32,
    /// For one account from everywhere, not counting browsers it logged in
    /// from before.
    pub per_account_per_minute: NonZeroU32,
    /// How long an attempt may wait for the account's pace before it is
    /// refused.
    pub longest_wait: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_address_per_minute: NonZeroU32::new(30).unwrap_or(NonZeroU32::MIN),
            per_account_address_per_minute: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            per_account_per_minute: NonZeroU32::new(30).unwrap_or(NonZeroU32::MIN),
            longest_wait: Duration::from_secs(3),
        }
    }
}

/// The keyed limiters.
#[derive(Debug)]
pub struct LoginLimiter {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_account_address: DefaultKeyedRateLimiter<(String, IpAddr)>,
    by_account: DefaultKeyedRateLimiter<String>,
    longest_wait: Duration,
}

impl LoginLimiter {
    /// Limiters with the given quotas (each allows its whole minute's worth
    /// at once, then refills evenly).
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            by_address: RateLimiter::keyed(Quota::per_minute(limits.per_address_per_minute)),
            by_account_address: RateLimiter::keyed(Quota::per_minute(
                limits.per_account_address_per_minute,
            )),
            by_account: RateLimiter::keyed(Quota::per_minute(limits.per_account_per_minute)),
            longest_wait: limits.longest_wait,
        }
    }

    /// Counts one attempt on `account` from `address`, waiting for the
    /// account's pace when needed; `trusted` when the browser holds this
    /// account's device cookie. `Err` carries how long to wait before
    /// trying again.
    pub async fn admit(
        &self,
        address: IpAddr,
        account: &str,
        trusted: bool,
    ) -> Result<(), Duration> {
        let account = account.to_lowercase();
        let now = DefaultClock::default().now();
        self.by_account_address
            .check_key(&(account.clone(), address))
            .map_err(|not_until| not_until.wait_time_from(now))?;
        if trusted {
            return Ok(());
        }
        self.by_address
            .check_key(&address)
            .map_err(|not_until| not_until.wait_time_from(now))?;
        let give_up = tokio::time::Instant::now() + self.longest_wait;
        loop {
            let now = DefaultClock::default().now();
            match self.by_account.check_key(&account) {
                Ok(()) => return Ok(()),
                Err(not_until) => {
                    let wait = not_until.wait_time_from(now);
                    let turn = tokio::time::Instant::now() + wait;
                    if turn > give_up {
                        return Err(wait);
                    }
                    tokio::time::sleep_until(turn).await;
                }
            }
        }
    }

    /// Counts one attempt from `address` that names no account (a sign-in
    /// started through the identity provider) against the address's limit.
    pub fn admit_address(&self, address: IpAddr) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        self.by_address
            .check_key(&address)
            .map_err(|not_until| not_until.wait_time_from(now))
    }

    /// Forgets keys that have fully recovered, so the maps stay small.
    pub fn shrink(&self) {
        self.by_address.retain_recent();
        self.by_account_address.retain_recent();
        self.by_account.retain_recent();
        self.by_address.shrink_to_fit();
        self.by_account_address.shrink_to_fit();
        self.by_account.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(address: u32, pair: u32, account: u32) -> LoginLimits {
        LoginLimits {
            per_address_per_minute: NonZeroU32::new(address).unwrap(),
            per_account_address_per_minute: NonZeroU32::new(pair).unwrap(),
            per_account_per_minute: NonZeroU32::new(account).unwrap(),
            longest_wait: Duration::from_millis(100),
        }
    }

    #[tokio::test]
    async fn one_address_guessing_does_not_lock_the_owner_out() {
        let limiter = LoginLimiter::new(limits(100, 3, 100));
        let attacker: IpAddr = "127.0.0.2".parse().unwrap();
        let owner: IpAddr = "127.0.0.3".parse().unwrap();
        for _ in 0..3 {
            assert!(
                limiter
                    .admit(attacker, "ops@example.com", false)
                    .await
                    .is_ok()
            );
        }
        let wait = limiter
            .admit(attacker, "OPS@example.com", false)
            .await
            .unwrap_err();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limiter.admit(owner, "ops@example.com", false).await.is_ok());
    }

    #[tokio::test]
    async fn many_addresses_are_paced_but_a_known_browser_is_not() {
        let limiter = LoginLimiter::new(limits(100, 100, 2));
        for last in 2..4 {
            let address: IpAddr = format!("127.0.1.{last}").parse().unwrap();
            assert!(
                limiter
                    .admit(address, "ops@example.com", false)
                    .await
                    .is_ok()
            );
        }
        let next: IpAddr = "127.0.1.9".parse().unwrap();
        assert!(limiter.admit(next, "ops@example.com", false).await.is_err());
        assert!(limiter.admit(next, "ops@example.com", true).await.is_ok());
        // Other accounts are not affected.
        assert!(limiter.admit(next, "dev@example.com", false).await.is_ok());
    }

    #[tokio::test]
    async fn an_attempt_waits_a_moment_for_its_turn() {
        // 600 a minute: one every 100 ms once the burst is spent.
        let limiter = LoginLimiter::new(LoginLimits {
            longest_wait: Duration::from_secs(1),
            ..limits(10_000, 10_000, 600)
        });
        let address: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..600 {
            limiter
                .admit(address, "ops@example.com", false)
                .await
                .unwrap();
        }
        let started = std::time::Instant::now();
        limiter
            .admit(address, "ops@example.com", false)
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "{:?}",
            started.elapsed()
        );
    }
}
