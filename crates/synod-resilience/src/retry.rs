//! Retry with exponential backoff, jitter, `retry_after` and an optional shared budget.
//!
//! A [`RetryPolicy`] decides, after each failed attempt, whether to try again and how long to
//! wait first:
//!
//! * [`ErrorClass::Permanent`] is never retried.
//! * At most `max_attempts` calls are made in total (counting the first).
//! * The base delays come from `backon`'s exponential backoff (`initial_delay`, times
//!   `multiplier` per retry, capped at `max_delay`, rounded to whole microseconds because backon
//!   multiplies in `f32`). The [`Jitter`] modes `Full` and `Equal` are applied by this crate on
//!   top of that sequence; `Decorrelated` (AWS's "decorrelated jitter", which depends on the
//!   previous delay rather than the attempt number) is computed here from `initial_delay`,
//!   the previous delay and `max_delay` (it ignores `multiplier`). No delay ever exceeds
//!   `max_delay`.
//! * [`ErrorClass::RateLimited`] waits `max(retry_after, computed delay)`, capped by
//!   `max_delay`; a `retry_after` longer than `max_delay`, or than the time left before
//!   `max_elapsed`, fails at once with [`StopReason::RetryAfterTooLong`].
//! * With `max_elapsed`, a retry whose wait would end more than that long after the first
//!   failure is not made ([`StopReason::MaxElapsed`]). Time is counted from the first failure,
//!   not from the first call, so a call that succeeds at once reads no clock at all (a clock
//!   read costs about as much as the whole success path); bound the first attempt itself with
//!   the operation's own timeout or a [`Pipeline`](crate::Pipeline) timeout.
//! * With a [`RetryBudget`] (see [`RetryPolicy::with_budget`]) each retry must first withdraw
//!   its cost; an empty bucket stops with [`StopReason::BudgetExhausted`].
//!
//! Every retry emits a `tracing` event (target `synod_resilience::retry`, level INFO, with the
//! attempt, the delay and the error class; never the error's text) and calls the optional
//! notify hook `(attempt, &error, next_delay)` given to [`RetryPolicy::retry_notify`].
//!
//! ```
//! use std::time::Duration;
//! use synod_resilience::{ErrorClass, Jitter, RetryPolicy, StopReason};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), synod_resilience::Error> {
//! let policy = RetryPolicy::builder()
//!     .max_attempts(4)
//!     .initial_delay(Duration::from_millis(100))
//!     .jitter(Jitter::None)
//!     .build()?;
//!
//! let mut calls = 0;
//! let out = policy
//!     .retry(|| {
//!         calls += 1;
//!         let n = calls;
//!         async move { if n < 3 { Err(ErrorClass::Transient) } else { Ok(n) } }
//!     })
//!     .await;
//! assert_eq!(out.unwrap(), 3);
//!
//! let err = policy.retry(|| async { Err::<(), _>(ErrorClass::Permanent) }).await.unwrap_err();
//! assert_eq!(err.attempts(), 1);
//! assert!(matches!(err.reason(), StopReason::Permanent));
//! # Ok(()) }
//! ```
//!
//! Serde form (every field optional, durations human-readable):
//!
//! ```
//! use std::time::Duration;
//! use synod_resilience::RetryPolicy;
//!
//! let p: RetryPolicy = serde_json::from_str(
//!     r#"{"max_attempts": 5, "initial_delay": "250ms", "max_delay": "10s", "jitter": "equal"}"#,
//! ).unwrap();
//! assert_eq!(p.initial_delay(), Duration::from_millis(250));
//! assert!(serde_json::from_str::<RetryPolicy>(r#"{"multiplier": 0.5}"#).is_err());
//! ```

use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use serde::{Deserialize, Serialize};

use crate::{Classify, Error, ErrorClass, Result, RetryBudget};

/// How random spread is added to each delay, so many clients do not retry in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// The exponential delay exactly.
    None,
    /// Uniform in `[0, delay]` (AWS "full jitter"); the default.
    #[default]
    Full,
    /// `delay / 2` plus uniform in `[0, delay / 2]` (AWS "equal jitter").
    Equal,
    /// Uniform in `[initial_delay, 3 × previous delay]`, capped by `max_delay` (AWS
    /// "decorrelated jitter").
    Decorrelated,
}

/// When to retry a failed operation and how long to wait in between. See the
/// [module docs](self).
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "PolicyConfig", into = "PolicyConfig")]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
    multiplier: f64,
    jitter: Jitter,
    max_elapsed: Option<Duration>,
    seed: Option<u64>,
    budget: Option<RetryBudget>,
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("initial_delay", &self.initial_delay)
            .field("max_delay", &self.max_delay)
            .field("multiplier", &self.multiplier)
            .field("jitter", &self.jitter)
            .field("max_elapsed", &self.max_elapsed)
            .field("seed", &self.seed)
            .field("budget", &self.budget.as_ref().map(RetryBudget::available))
            .finish()
    }
}

/// Equal settings and the same shared budget (or none).
impl PartialEq for RetryPolicy {
    fn eq(&self, other: &Self) -> bool {
        self.max_attempts == other.max_attempts
            && self.initial_delay == other.initial_delay
            && self.max_delay == other.max_delay
            && self.multiplier.to_bits() == other.multiplier.to_bits()
            && self.jitter == other.jitter
            && self.max_elapsed == other.max_elapsed
            && self.seed == other.seed
            && self.budget == other.budget
    }
}

impl Default for RetryPolicy {
    /// 3 attempts, 200 ms initial delay, ×2, at most 10 s, full jitter, no max elapsed.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: Jitter::Full,
            max_elapsed: None,
            seed: None,
            budget: None,
        }
    }
}

/// Builds a [`RetryPolicy`]; [`build`](Self::build) validates.
#[derive(Debug, Clone, Default)]
pub struct RetryPolicyBuilder {
    policy: RetryPolicy,
}

impl RetryPolicyBuilder {
    /// Total calls, counting the first (at least 1; 1 means never retry). Default 3.
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.policy.max_attempts = n;
        self
    }
    /// Delay before the first retry. Default 200 ms.
    #[must_use]
    pub fn initial_delay(mut self, d: Duration) -> Self {
        self.policy.initial_delay = d;
        self
    }
    /// Upper bound on any single delay. Default 10 s.
    #[must_use]
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.policy.max_delay = d;
        self
    }
    /// Growth factor per retry (finite, at least 1.0). Default 2.0.
    #[must_use]
    pub fn multiplier(mut self, m: f64) -> Self {
        self.policy.multiplier = m;
        self
    }
    /// Jitter mode. Default [`Jitter::Full`].
    #[must_use]
    pub fn jitter(mut self, j: Jitter) -> Self {
        self.policy.jitter = j;
        self
    }
    /// Give up instead of waiting past this much time after the first failure.
    /// Default `None` (no limit).
    #[must_use]
    pub fn max_elapsed(mut self, d: Option<Duration>) -> Self {
        self.policy.max_elapsed = d;
        self
    }
    /// Seed for the jitter RNG: every run of the policy then uses the same jitter sequence
    /// (for tests and reproducible simulations). Default: a fresh random seed per run.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.policy.seed = Some(seed);
        self
    }
    /// Withdraw every retry's cost from this shared budget (see [`RetryPolicy::with_budget`]).
    #[must_use]
    pub fn budget(mut self, budget: &RetryBudget) -> Self {
        self.policy.budget = Some(budget.clone());
        self
    }
    /// Validates and returns the policy.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the offending parameter and its value.
    pub fn build(self) -> Result<RetryPolicy> {
        self.policy.validate()?;
        Ok(self.policy)
    }
}

impl RetryPolicy {
    /// A builder starting from the defaults.
    #[must_use]
    pub fn builder() -> RetryPolicyBuilder {
        RetryPolicyBuilder::default()
    }

    /// A policy that makes exactly one attempt.
    #[must_use]
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if self.max_attempts == 0 {
            return Err(Error::param(
                "max_attempts",
                self.max_attempts,
                "must be at least 1 (it counts the first call)",
            ));
        }
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return Err(Error::param(
                "multiplier",
                self.multiplier,
                "must be a finite number of at least 1.0",
            ));
        }
        if self.initial_delay > self.max_delay {
            return Err(Error::param(
                "initial_delay",
                crate::duration::format_duration(self.initial_delay),
                "must not exceed max_delay",
            ));
        }
        if self.max_elapsed == Some(Duration::ZERO) {
            return Err(Error::param(
                "max_elapsed",
                "0s",
                "must be positive, or absent for no limit",
            ));
        }
        Ok(())
    }

    /// Returns this policy drawing every retry's cost from `budget` (shared with every other
    /// holder of a clone of it). The budget is not part of the serde form.
    #[must_use]
    pub fn with_budget(mut self, budget: &RetryBudget) -> Self {
        self.budget = Some(budget.clone());
        self
    }

    /// Total calls allowed, counting the first.
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
    /// Delay before the first retry.
    #[must_use]
    pub fn initial_delay(&self) -> Duration {
        self.initial_delay
    }
    /// Upper bound on any single delay.
    #[must_use]
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }
    /// Growth factor per retry.
    #[must_use]
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }
    /// Jitter mode.
    #[must_use]
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }
    /// Overall time limit, if any.
    #[must_use]
    pub fn max_elapsed(&self) -> Option<Duration> {
        self.max_elapsed
    }
    /// The attached budget, if any.
    #[must_use]
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.budget.as_ref()
    }

    /// The delays this policy would wait before retries 1, 2, ... (at most
    /// `max_attempts - 1` of them), before any `retry_after` adjustment. Seeded policies give
    /// the same sequence every time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use synod_resilience::{Jitter, RetryPolicy};
    /// let p = RetryPolicy::builder()
    ///     .max_attempts(5)
    ///     .initial_delay(Duration::from_millis(100))
    ///     .max_delay(Duration::from_millis(500))
    ///     .jitter(Jitter::None)
    ///     .build()?;
    /// let ms: Vec<u128> = p.delays().map(|d| d.as_millis()).collect();
    /// assert_eq!(ms, [100, 200, 400, 500]);
    /// # Ok::<(), synod_resilience::Error>(())
    /// ```
    #[must_use]
    pub fn delays(&self) -> Delays {
        Delays::new(self)
    }

    /// Runs `op` until it succeeds or the policy gives up. See the [module docs](self).
    ///
    /// # Errors
    /// A [`RetryError`] with the last error, the attempts made, the time spent and why it
    /// stopped.
    pub fn retry<T, E, F, Fut>(&self, op: F) -> impl Future<Output = Result<T, RetryError<E>>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
    {
        self.retry_notify(op, |_, _, _| {})
    }

    /// Like [`retry`](Self::retry), calling `notify(attempt, &error, next_delay)` before each
    /// wait (`attempt` is the 1-based number of the attempt that just failed).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use synod_resilience::{ErrorClass, RetryPolicy};
    /// let mut seen = Vec::new();
    /// let _ = RetryPolicy::default()
    ///     .retry_notify(
    ///         || async { Err::<(), _>(ErrorClass::Transient) },
    ///         |attempt, _err: &ErrorClass, delay: Duration| seen.push((attempt, delay)),
    ///     )
    ///     .await;
    /// assert_eq!(seen.len(), 2); // 3 attempts, 2 waits
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`retry`](Self::retry).
    pub async fn retry_notify<T, E, F, Fut, N>(
        &self,
        mut op: F,
        mut notify: N,
    ) -> Result<T, RetryError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
        N: FnMut(u32, &E, Duration),
    {
        // The clock starts at the first failure, so the success path reads no clock.
        let mut first_failure: Option<tokio::time::Instant> = None;
        let mut driver = Driver::new(self);
        loop {
            match op().await {
                Ok(v) => {
                    driver.succeeded();
                    return Ok(v);
                }
                Err(err) => {
                    let elapsed = first_failure
                        .get_or_insert_with(tokio::time::Instant::now)
                        .elapsed();
                    match driver.failed(&err, elapsed) {
                        Ok(delay) => {
                            notify(driver.attempt, &err, delay);
                            drop(err);
                            tokio::time::sleep(delay).await;
                            driver.attempt += 1;
                        }
                        Err(reason) => return Err(driver.give_up(err, elapsed, reason)),
                    }
                }
            }
        }
    }

    /// Blocking variant of [`retry`](Self::retry): waits with `std::thread::sleep`. Do not call
    /// it on an async runtime thread.
    ///
    /// ```
    /// use std::time::Duration;
    /// use synod_resilience::RetryPolicy;
    /// let policy = RetryPolicy::builder().initial_delay(Duration::from_millis(1)).build()?;
    /// let mut calls = 0;
    /// let out = policy.retry_blocking(|| {
    ///     calls += 1;
    ///     if calls < 2 {
    ///         Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
    ///     } else {
    ///         Ok("done")
    ///     }
    /// });
    /// assert_eq!(out.unwrap(), "done");
    /// # Ok::<(), synod_resilience::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`retry`](Self::retry).
    pub fn retry_blocking<T, E, F>(&self, op: F) -> Result<T, RetryError<E>>
    where
        F: FnMut() -> Result<T, E>,
        E: Classify,
    {
        self.retry_blocking_notify(op, |_, _, _| {})
    }

    /// Blocking variant of [`retry_notify`](Self::retry_notify).
    ///
    /// # Errors
    /// As [`retry`](Self::retry).
    pub fn retry_blocking_notify<T, E, F, N>(
        &self,
        mut op: F,
        mut notify: N,
    ) -> Result<T, RetryError<E>>
    where
        F: FnMut() -> Result<T, E>,
        E: Classify,
        N: FnMut(u32, &E, Duration),
    {
        let mut first_failure: Option<std::time::Instant> = None;
        let mut driver = Driver::new(self);
        loop {
            match op() {
                Ok(v) => {
                    driver.succeeded();
                    return Ok(v);
                }
                Err(err) => {
                    let elapsed = first_failure
                        .get_or_insert_with(std::time::Instant::now)
                        .elapsed();
                    match driver.failed(&err, elapsed) {
                        Ok(delay) => {
                            notify(driver.attempt, &err, delay);
                            drop(err);
                            std::thread::sleep(delay);
                            driver.attempt += 1;
                        }
                        Err(reason) => return Err(driver.give_up(err, elapsed, reason)),
                    }
                }
            }
        }
    }
}

/// The decision logic shared by the async and blocking loops.
struct Driver<'p> {
    policy: &'p RetryPolicy,
    /// 1-based number of the attempt in flight / just failed.
    attempt: u32,
    /// Built on the first failure and boxed, so the success path (and the future's size)
    /// does not carry it.
    delays: Option<Box<Delays>>,
    /// Tokens the retry in flight cost (0 on the first attempt).
    paid: u32,
}

impl<'p> Driver<'p> {
    #[inline]
    fn new(policy: &'p RetryPolicy) -> Self {
        Driver {
            policy,
            attempt: 1,
            delays: None,
            paid: 0,
        }
    }

    #[inline]
    fn succeeded(&self) {
        if let Some(budget) = &self.policy.budget {
            if self.attempt == 1 {
                budget.on_first_try_success();
            } else {
                budget.deposit(self.paid);
            }
        }
    }

    /// The delay before the next attempt, or why there is none.
    fn failed<E: Classify>(&mut self, err: &E, elapsed: Duration) -> Result<Duration, StopReason> {
        let p = self.policy;
        let class = err.class();
        if class == ErrorClass::Permanent {
            return Err(StopReason::Permanent);
        }
        if self.attempt >= p.max_attempts {
            return Err(StopReason::AttemptsExhausted {
                max_attempts: p.max_attempts,
            });
        }
        let computed = self
            .delays
            .get_or_insert_with(|| Box::new(Delays::new(p)))
            .next()
            .unwrap_or(p.max_delay);
        let mut delay = computed;
        if let ErrorClass::RateLimited {
            retry_after: Some(retry_after),
        } = class
        {
            if retry_after > p.max_delay {
                return Err(StopReason::RetryAfterTooLong {
                    retry_after,
                    limit: p.max_delay,
                });
            }
            if let Some(max) = p.max_elapsed {
                let left = max.saturating_sub(elapsed);
                if retry_after > left {
                    return Err(StopReason::RetryAfterTooLong {
                        retry_after,
                        limit: left,
                    });
                }
            }
            delay = retry_after.max(computed).min(p.max_delay);
        }
        if let Some(max) = p.max_elapsed
            && elapsed.saturating_add(delay) > max
        {
            return Err(StopReason::MaxElapsed {
                max_elapsed: max,
                next_delay: delay,
            });
        }
        if let Some(budget) = &p.budget {
            let cost = budget.cost_for(err.is_timeout());
            if !budget.try_withdraw(cost) {
                return Err(StopReason::BudgetExhausted {
                    cost,
                    available: budget.available(),
                });
            }
            self.paid = cost;
        }
        tracing::info!(
            target: "synod_resilience::retry",
            attempt = self.attempt,
            max_attempts = p.max_attempts,
            delay_ms = delay.as_secs_f64() * 1e3,
            class = ?class,
            "attempt failed; retrying after delay"
        );
        Ok(delay)
    }

    #[cold]
    fn give_up<E>(&self, last: E, elapsed: Duration, reason: StopReason) -> RetryError<E> {
        tracing::debug!(
            target: "synod_resilience::retry",
            attempts = self.attempt,
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            reason = %reason,
            "giving up"
        );
        RetryError {
            last,
            attempts: self.attempt,
            elapsed,
            reason,
        }
    }
}

/// Why a retry loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The error was [`ErrorClass::Permanent`]: retrying cannot help.
    Permanent,
    /// Every allowed attempt was made and failed.
    AttemptsExhausted {
        /// The policy's `max_attempts`.
        max_attempts: u32,
    },
    /// The shared [`RetryBudget`] could not pay for another retry.
    BudgetExhausted {
        /// What the retry would have cost.
        cost: u32,
        /// Tokens left in the bucket.
        available: u32,
    },
    /// The other side asked to wait longer than `max_delay` or than the time left before
    /// `max_elapsed`.
    RetryAfterTooLong {
        /// What the other side asked for.
        retry_after: Duration,
        /// The limit it exceeded.
        limit: Duration,
    },
    /// Waiting for the next retry would pass `max_elapsed`.
    MaxElapsed {
        /// The policy's `max_elapsed`.
        max_elapsed: Duration,
        /// The delay that would have been waited.
        next_delay: Duration,
    },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Permanent => f.write_str("permanent error, not retried"),
            StopReason::AttemptsExhausted { max_attempts } => {
                write!(f, "all {max_attempts} allowed attempts failed")
            }
            StopReason::BudgetExhausted { cost, available } => write!(
                f,
                "retry budget exhausted (a retry costs {cost} tokens, {available} left)"
            ),
            StopReason::RetryAfterTooLong { retry_after, limit } => write!(
                f,
                "asked to retry after {retry_after:?}, longer than the allowed {limit:?}"
            ),
            StopReason::MaxElapsed {
                max_elapsed,
                next_delay,
            } => write!(
                f,
                "max elapsed time {max_elapsed:?} reached (next delay would be {next_delay:?})"
            ),
        }
    }
}

/// A retried operation that finally failed: the last error, the attempts made, the time spent
/// and why retrying stopped.
#[derive(Debug)]
pub struct RetryError<E> {
    last: E,
    attempts: u32,
    elapsed: Duration,
    reason: StopReason,
}

impl<E> RetryError<E> {
    /// The error of the last attempt. (Every attempt of a retry ran, so unlike
    /// [`BreakerError::inner`](crate::BreakerError::inner) and
    /// [`PipelineError::inner`](crate::PipelineError::inner), which are `None` for a rejected
    /// or timed-out call, this is always there.)
    #[must_use]
    pub fn inner(&self) -> &E {
        &self.last
    }
    /// The error of the last attempt (the same as [`inner`](Self::inner)).
    #[must_use]
    pub fn last_error(&self) -> &E {
        &self.last
    }
    /// The error of the last attempt, by value.
    #[must_use]
    pub fn into_inner(self) -> E {
        self.last
    }
    /// Attempts made, counting the first.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    /// Time spent retrying: from the first failure to giving up (zero when the first attempt
    /// was not retried).
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
    /// Why retrying stopped.
    #[must_use]
    pub fn reason(&self) -> StopReason {
        self.reason
    }
    /// Transforms the carried error, keeping attempts, time and reason.
    #[must_use]
    pub fn map<F, U>(self, f: F) -> RetryError<U>
    where
        F: FnOnce(E) -> U,
    {
        RetryError {
            last: f(self.last),
            attempts: self.attempts,
            elapsed: self.elapsed,
            reason: self.reason,
        }
    }
}

impl<E: fmt::Display> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.attempts <= 1 {
            write!(f, "{}: {}", self.reason, self.last)
        } else {
            write!(
                f,
                "{} after {} attempts and {:?} of retrying: {}",
                self.reason, self.attempts, self.elapsed, self.last
            )
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.last)
    }
}

/// The class of the last error.
impl<E: Classify> Classify for RetryError<E> {
    fn class(&self) -> ErrorClass {
        self.last.class()
    }
    fn is_timeout(&self) -> bool {
        self.last.is_timeout()
    }
}

/// The delay sequence of one retry run (see [`RetryPolicy::delays`]).
#[derive(Debug)]
pub struct Delays {
    base: ExponentialBackoff,
    rng: SplitMix64,
    jitter: Jitter,
    initial: Duration,
    max: Duration,
    prev: Duration,
    left: u32,
}

impl Delays {
    fn new(p: &RetryPolicy) -> Self {
        let base = ExponentialBuilder::new()
            .with_min_delay(p.initial_delay)
            .with_max_delay(p.max_delay)
            .with_factor(p.multiplier as f32)
            .without_max_times()
            .build();
        Delays {
            base,
            rng: SplitMix64(p.seed.unwrap_or_else(random_seed)),
            jitter: p.jitter,
            initial: p.initial_delay,
            max: p.max_delay,
            prev: p.initial_delay,
            left: p.max_attempts.saturating_sub(1),
        }
    }
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.left = self.left.checked_sub(1)?;
        let delay = match self.jitter {
            Jitter::Decorrelated => {
                let hi = self.prev.saturating_mul(3).min(self.max);
                let d = self.rng.between(self.initial, hi.max(self.initial));
                self.prev = d;
                d
            }
            mode => {
                let base = self.base.next().unwrap_or(self.max).min(self.max);
                let base = round_to_micros(base).min(self.max);
                match mode {
                    Jitter::Full => self.rng.between(Duration::ZERO, base),
                    Jitter::Equal => {
                        let half = base / 2;
                        half + self.rng.between(Duration::ZERO, base - half)
                    }
                    _ => base,
                }
            }
        };
        Some(delay.min(self.max))
    }
}

fn round_to_micros(d: Duration) -> Duration {
    let micros = d.as_nanos().saturating_add(500) / 1_000;
    Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

/// SplitMix64: tiny, fast, good enough for jitter, and seedable for tests.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi]` (to the nanosecond; `lo` when `hi <= lo`).
    fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo).as_nanos() as f64;
        let off = (span * self.unit()).round() as u64;
        (lo + Duration::from_nanos(off)).min(hi)
    }
}

fn random_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The serde form of [`RetryPolicy`].
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schemars", schemars(rename = "RetryPolicy"))]
#[serde(default, deny_unknown_fields)]
struct PolicyConfig {
    /// Total calls, counting the first (at least 1; 1 means never retry).
    max_attempts: u32,
    /// Delay before the first retry.
    #[serde(with = "crate::duration")]
    #[cfg_attr(feature = "schemars", schemars(with = "synod_core::HumanDuration"))]
    initial_delay: Duration,
    /// Upper bound on any single delay, a server's retry-after included.
    #[serde(with = "crate::duration")]
    #[cfg_attr(feature = "schemars", schemars(with = "synod_core::HumanDuration"))]
    max_delay: Duration,
    /// Growth factor per retry (finite, at least 1.0).
    multiplier: f64,
    /// Jitter mode.
    jitter: Jitter,
    /// Give up instead of waiting past this much time after the first failure (positive;
    /// absent: no limit).
    #[serde(
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<synod_core::HumanDuration>")
    )]
    max_elapsed: Option<Duration>,
    /// Seed for the jitter RNG (reproducible delays); absent: random per run.
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for RetryPolicy {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RetryPolicy".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        PolicyConfig::json_schema(generator)
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        RetryPolicy::default().into()
    }
}

impl From<RetryPolicy> for PolicyConfig {
    fn from(p: RetryPolicy) -> Self {
        PolicyConfig {
            max_attempts: p.max_attempts,
            initial_delay: p.initial_delay,
            max_delay: p.max_delay,
            multiplier: p.multiplier,
            jitter: p.jitter,
            max_elapsed: p.max_elapsed,
            seed: p.seed,
        }
    }
}

impl TryFrom<PolicyConfig> for RetryPolicy {
    type Error = Error;

    fn try_from(c: PolicyConfig) -> Result<Self> {
        let p = RetryPolicy {
            max_attempts: c.max_attempts,
            initial_delay: c.initial_delay,
            max_delay: c.max_delay,
            multiplier: c.multiplier,
            jitter: c.jitter,
            max_elapsed: c.max_elapsed,
            seed: c.seed,
            budget: None,
        };
        p.validate()?;
        Ok(p)
    }
}
