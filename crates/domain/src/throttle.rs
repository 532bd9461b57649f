//! Login throttling rules, for two kinds of key:
//! - the submitted username (whether or not it exists: throttling must not reveal
//!   accounts). Each attempt is counted *before* the password is checked ([`ThrottleState::attempt`]),
//!   so a burst of parallel guesses at one account cannot slip through while the first
//!   ones are still hashing;
//! - the source address (an IPv4 address or an IPv6 /64). Each attempt is counted before
//!   the password is checked too, and given back when it succeeds ([`ThrottleState::refund`]):
//!   only failures stay counted, so many people behind one address (an office NAT) may
//!   log in at once, and a burst of parallel guesses checks at most the limit's number of
//!   passwords.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Attempts allowed within `window`; the next one locks the key.
    pub max_attempts: u32,
    pub window: Duration,
    /// The first lockout; each further lockout doubles it, up to `max_lockout`.
    pub lockout: Duration,
    pub max_lockout: Duration,
}

impl ThrottlePolicy {
    /// Per account: 5 attempts per 15 minutes, then 1 min, 2 min, 4 min ... up to 1 hour.
    pub const ACCOUNT: Self = Self {
        max_attempts: 5,
        window: Duration::minutes(15),
        lockout: Duration::minutes(1),
        max_lockout: Duration::hours(1),
    };
    /// Per source address, for what every attempt counts against (registrations, REST
    /// client authentication): `max_attempts` per 15 minutes, then 15 minutes and up.
    pub const fn per_address(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            window: Duration::minutes(15),
            lockout: Duration::minutes(15),
            max_lockout: Duration::hours(4),
        }
    }
    /// Per source address: 50 failures per 15 minutes, then 15 minutes and up.
    pub const ADDRESS: Self = Self::per_address(50);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleState {
    pub attempts: u32,
    pub window_start: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub lockouts: u32,
}

impl ThrottleState {
    pub fn fresh(now: DateTime<Utc>) -> Self {
        Self {
            attempts: 0,
            window_start: now,
            locked_until: None,
            lockouts: 0,
        }
    }

    /// Counts one attempt. `Err(seconds)` means refuse it and retry after that many seconds.
    pub fn attempt(self, now: DateTime<Utc>, policy: &ThrottlePolicy) -> (Self, Result<(), u64>) {
        if let Some(until) = self.locked_until {
            if until > now {
                return (self, Err(seconds_until(now, until)));
            }
        }
        let mut next = self;
        next.locked_until = None;
        // Two quiet windows (since the last lockout ended, or since counting began) forgive
        // earlier lockouts.
        let quiet_since = self.locked_until.unwrap_or(self.window_start);
        if now - quiet_since >= policy.window * 2 {
            next.lockouts = 0;
        }
        if now - next.window_start >= policy.window {
            next.attempts = 0;
            next.window_start = now;
        }
        next.attempts += 1;
        if next.attempts <= policy.max_attempts {
            return (next, Ok(()));
        }
        let factor = 1i32 << next.lockouts.min(16);
        let lock = (policy.lockout * factor).min(policy.max_lockout);
        let until = now + lock;
        next.locked_until = Some(until);
        next.lockouts += 1;
        next.attempts = 0;
        next.window_start = now;
        (next, Err(seconds_until(now, until)))
    }

    /// Refuses while the key is locked.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), u64> {
        match self.locked_until {
            Some(until) if until > now => Err(seconds_until(now, until)),
            _ => Ok(()),
        }
    }

    /// Gives back an attempt that succeeded (counted by [`Self::attempt`] before the check).
    pub fn refund(self) -> Self {
        Self {
            attempts: self.attempts.saturating_sub(1),
            ..self
        }
    }
}

fn seconds_until(now: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
    let ms = (until - now).num_milliseconds().max(0) as u64;
    ms.div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    fn run(state: &mut ThrottleState, now: DateTime<Utc>, p: &ThrottlePolicy) -> Result<(), u64> {
        let (next, verdict) = state.attempt(now, p);
        *state = next;
        verdict
    }

    #[test]
    fn allows_max_attempts_then_locks_with_retry_after() {
        let p = ThrottlePolicy::ACCOUNT;
        let mut s = ThrottleState::fresh(t0());
        for _ in 0..5 {
            assert_eq!(run(&mut s, t0(), &p), Ok(()));
        }
        assert_eq!(run(&mut s, t0(), &p), Err(60));
        // Still locked 30 s later, with the remaining time.
        assert_eq!(run(&mut s, t0() + Duration::seconds(30), &p), Err(30));
    }

    #[test]
    fn lockouts_double_and_are_capped() {
        let p = ThrottlePolicy::ACCOUNT;
        let mut s = ThrottleState::fresh(t0());
        let mut now = t0();
        let mut locks = vec![];
        for _ in 0..10 {
            loop {
                match run(&mut s, now, &p) {
                    Ok(()) => continue,
                    Err(secs) => {
                        locks.push(secs);
                        now += Duration::seconds(secs as i64);
                        break;
                    }
                }
            }
        }
        assert_eq!(&locks[..7], &[60, 120, 240, 480, 960, 1920, 3600]);
        assert!(locks[7..].iter().all(|&s| s == 3600));
    }

    #[test]
    fn a_new_window_starts_counting_again() {
        let p = ThrottlePolicy::ACCOUNT;
        let mut s = ThrottleState::fresh(t0());
        for _ in 0..5 {
            assert!(run(&mut s, t0(), &p).is_ok());
        }
        let later = t0() + Duration::minutes(15);
        for _ in 0..5 {
            assert!(run(&mut s, later, &p).is_ok());
        }
        assert!(run(&mut s, later, &p).is_err());
    }

    #[test]
    fn quiet_time_after_a_lockout_forgives_it() {
        let p = ThrottlePolicy::ACCOUNT;
        let mut s = ThrottleState::fresh(t0());
        while run(&mut s, t0(), &p).is_ok() {}
        let much_later = t0() + Duration::hours(2);
        while run(&mut s, much_later, &p).is_ok() {}
        assert_eq!(s.lockouts, 1, "the second lockout is the first again");
    }

    #[test]
    fn refunded_successes_leave_only_failures_counted() {
        let p = ThrottlePolicy::ADDRESS;
        let mut s = ThrottleState::fresh(t0());
        // A thousand successes, each counted and refunded, and 50 failures: all allowed.
        for _ in 0..1000 {
            assert_eq!(run(&mut s, t0(), &p), Ok(()));
            s = s.refund();
        }
        for _ in 0..50 {
            assert_eq!(run(&mut s, t0(), &p), Ok(()));
        }
        // The 51st attempt is refused and locks the address for 15 minutes.
        assert_eq!(run(&mut s, t0(), &p), Err(15 * 60));
        assert_eq!(s.check(t0()), Err(15 * 60));
        assert_eq!(s.check(t0() + Duration::minutes(15)), Ok(()));
        // A refund never goes below zero.
        assert_eq!(ThrottleState::fresh(t0()).refund().attempts, 0);
    }
}
