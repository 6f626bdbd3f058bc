//! Circuit breakers: stop calling a dependency that keeps failing, probe it now and then, and
//! resume when it recovers.
//!
//! [`CircuitBreaker`] runs on `failsafe`'s state machine (closed → open → half-open) and plugs
//! a resilience4j-style failure policy and an instrumentation hook into it:
//!
//! * **Closed**: the outcome of each counted call goes into a count-based sliding window of
//!   the last `window_size` calls (default 20). Once at least `minimum_calls` (default 5) are
//!   in the window, the breaker opens when the failure rate reaches
//!   `failure_rate_threshold` percent (default 50) or, when `slow_call_duration` is set, the
//!   rate of calls at least that slow reaches `slow_call_rate_threshold` percent (default
//!   100). Slow-call tracking is off by default (resilience4j's default of 60 s at 100% only
//!   trips when every call is slow, and agent CLI calls legitimately vary from seconds to
//!   minutes); it costs two clock reads per call when on.
//! * **Open**: calls are rejected at once with [`BreakerError::Rejected`] (which says how long
//!   until the breaker probes again) for `wait_in_open` (default 30 s); each time a probe fails
//!   the wait is multiplied by `wait_multiplier` (default 1.0: fixed), up to
//!   `max_wait_in_open`.
//! * **Half-open**: at most `permitted_calls_in_half_open` (default 2) probes run at a time;
//!   extra calls are rejected. A probe that succeeds promptly closes the breaker (and clears
//!   the window); a probe that fails, or succeeds but slower than `slow_call_duration`, opens
//!   it again. A probe that is cancelled or dropped frees its slot without a verdict, so the
//!   breaker cannot wedge half-open.
//!
//! Which errors count is a predicate: by default every error except
//! [`ErrorClass::Permanent`] ones (bad config, bad input: the caller's own making) counts as a
//! failure; uncounted errors are recorded as neither success nor failure. Set
//! `count_permanent` or use [`CircuitBreaker::call_with`] for another rule.
//!
//! [`state`](CircuitBreaker::state) and [`metrics`](CircuitBreaker::metrics) are cheap,
//! synchronous snapshots for health checks. State changes emit a `tracing` event (target
//! `synod_resilience::breaker`) and call the listener set with
//! [`on_state_change`](CircuitBreaker::on_state_change). Open → half-open happens on the first
//! call after the wait (as in failsafe), so `state()` keeps saying `Open` until then.
//!
//! ```
//! use synod_resilience::{BreakerConfig, BreakerError, BreakerState, CircuitBreaker, ErrorClass};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synod_resilience::Error> {
//! let breaker = CircuitBreaker::new("claude", BreakerConfig { minimum_calls: 2, ..Default::default() })?;
//! for _ in 0..2 {
//!     let _ = breaker.call(async { Err::<(), _>(ErrorClass::Transient) }).await;
//! }
//! assert_eq!(breaker.state(), BreakerState::Open);
//! let err = breaker.call(async { Ok::<_, ErrorClass>(1) }).await.unwrap_err();
//! assert!(matches!(err, BreakerError::Rejected(_)));
//! assert_eq!(breaker.metrics().rejected_calls, 1);
//! # Ok(()) }
//! ```

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use failsafe::{FailurePolicy, Instrument, StateMachine};
use serde::{Deserialize, Serialize};

use crate::{Classify, Error, ErrorClass, Result};

/// Breaker settings (serde form: every field optional, durations human-readable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Calls in the count-based sliding window (default 20).
    pub window_size: u32,
    /// Calls the window must hold before the rates are judged (default 5).
    pub minimum_calls: u32,
    /// Failure rate, in percent, at or above which the breaker opens (default 50).
    pub failure_rate_threshold: f64,
    /// A call taking at least this long is slow (default `None`: slow-call tracking off;
    /// when set it costs two clock reads per call).
    #[serde(with = "crate::duration::option")]
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<synod_core::HumanDuration>")
    )]
    pub slow_call_duration: Option<Duration>,
    /// Slow-call rate, in percent, at or above which the breaker opens (default 100).
    pub slow_call_rate_threshold: f64,
    /// How long the breaker stays open before probing (default 30 s).
    #[serde(with = "crate::duration")]
    #[cfg_attr(feature = "schemars", schemars(with = "synod_core::HumanDuration"))]
    pub wait_in_open: Duration,
    /// Factor applied to the open wait each time a half-open probe fails (default 1.0:
    /// fixed wait).
    pub wait_multiplier: f64,
    /// Upper bound of the growing open wait (default 5 min).
    #[serde(with = "crate::duration")]
    #[cfg_attr(feature = "schemars", schemars(with = "synod_core::HumanDuration"))]
    pub max_wait_in_open: Duration,
    /// Probes allowed at once in half-open (default 2).
    pub permitted_calls_in_half_open: u32,
    /// Whether [`ErrorClass::Permanent`] errors count as failures (default `false`).
    pub count_permanent: bool,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            window_size: 20,
            minimum_calls: 5,
            failure_rate_threshold: 50.0,
            slow_call_duration: None,
            slow_call_rate_threshold: 100.0,
            wait_in_open: Duration::from_secs(30),
            wait_multiplier: 1.0,
            max_wait_in_open: Duration::from_secs(300),
            permitted_calls_in_half_open: 2,
            count_permanent: false,
        }
    }
}

impl BreakerConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first invalid field and its value.
    pub fn validate(&self) -> Result<()> {
        if self.window_size == 0 || self.window_size > 100_000 {
            return Err(Error::param(
                "window_size",
                self.window_size,
                "must be 1..=100000",
            ));
        }
        if self.minimum_calls == 0 {
            return Err(Error::param(
                "minimum_calls",
                self.minimum_calls,
                "must be at least 1",
            ));
        }
        for (name, v) in [
            ("failure_rate_threshold", self.failure_rate_threshold),
            ("slow_call_rate_threshold", self.slow_call_rate_threshold),
        ] {
            if !(v > 0.0 && v <= 100.0) {
                return Err(Error::param(name, v, "must be a percentage in (0, 100]"));
            }
        }
        if self.slow_call_duration == Some(Duration::ZERO) {
            return Err(Error::param(
                "slow_call_duration",
                "0s",
                "must be positive, or absent to disable slow-call tracking",
            ));
        }
        if !self.wait_multiplier.is_finite() || self.wait_multiplier < 1.0 {
            return Err(Error::param(
                "wait_multiplier",
                self.wait_multiplier,
                "must be a finite number of at least 1.0",
            ));
        }
        if self.max_wait_in_open < self.wait_in_open {
            return Err(Error::param(
                "max_wait_in_open",
                crate::duration::format_duration(self.max_wait_in_open),
                "must be at least wait_in_open",
            ));
        }
        if self.permitted_calls_in_half_open == 0 {
            return Err(Error::param(
                "permitted_calls_in_half_open",
                0,
                "must be at least 1, or the breaker could never close again",
            ));
        }
        Ok(())
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls flow; outcomes are recorded.
    Closed,
    /// Calls are rejected until the wait ends.
    Open,
    /// A limited number of probes decide whether to close or reopen.
    HalfOpen,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        })
    }
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

fn state_from(v: u8) -> BreakerState {
    match v {
        OPEN => BreakerState::Open,
        HALF_OPEN => BreakerState::HalfOpen,
        _ => BreakerState::Closed,
    }
}

/// A state transition, passed to the [`on_state_change`](CircuitBreaker::on_state_change)
/// listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
}

/// A synchronous snapshot for health checks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BreakerMetrics {
    /// Current state.
    pub state: BreakerState,
    /// Failed calls in the window, in percent of the calls in it (0 when it is empty).
    pub failure_rate: f64,
    /// Slow calls in the window, in percent of the calls in it (0 when it is empty).
    pub slow_call_rate: f64,
    /// Calls recorded in the sliding window.
    pub calls_in_window: u32,
    /// Failed calls in the window.
    pub failed_calls: u32,
    /// Slow calls in the window.
    pub slow_calls: u32,
    /// Calls rejected since the breaker was created.
    pub rejected_calls: u64,
    /// Half-open probes running now.
    pub probes_in_flight: u32,
}

/// Why a call was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// Its state when it rejected the call (`Open`, or `HalfOpen` with every probe slot taken).
    pub state: BreakerState,
    /// How long until it admits a probe, when known.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit breaker {:?} is {}", self.breaker, self.state)?;
        match (self.state, self.retry_after) {
            (BreakerState::HalfOpen, _) => f.write_str(" and every probe slot is taken"),
            (_, Some(after)) => write!(
                f,
                "; it probes again in {}",
                crate::duration::format_duration_rounded(after)
            ),
            _ => Ok(()),
        }
    }
}

/// The error of a call through a [`CircuitBreaker`].
#[derive(Debug)]
#[non_exhaustive]
pub enum BreakerError<E> {
    /// The breaker did not let the call through.
    Rejected(Rejected),
    /// The call ran and failed.
    Inner(E),
}

impl<E> BreakerError<E> {
    /// The call's own error, if it ran.
    #[must_use]
    pub fn inner(&self) -> Option<&E> {
        match self {
            BreakerError::Inner(e) => Some(e),
            BreakerError::Rejected(_) => None,
        }
    }
    /// The call's own error by value, if it ran.
    #[must_use]
    pub fn into_inner(self) -> Option<E> {
        match self {
            BreakerError::Inner(e) => Some(e),
            BreakerError::Rejected(_) => None,
        }
    }
    /// Whether the breaker rejected the call.
    #[must_use]
    pub fn is_rejected(&self) -> bool {
        matches!(self, BreakerError::Rejected(_))
    }
}

impl<E: fmt::Display> fmt::Display for BreakerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakerError::Rejected(r) => r.fmt(f),
            BreakerError::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for BreakerError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BreakerError::Inner(e) => Some(e),
            BreakerError::Rejected(_) => None,
        }
    }
}

/// A rejection is `RateLimited` (come back when the breaker probes again); a call's own error
/// keeps its class.
impl<E: Classify> Classify for BreakerError<E> {
    fn class(&self) -> ErrorClass {
        match self {
            BreakerError::Rejected(r) => ErrorClass::RateLimited {
                retry_after: r.retry_after,
            },
            BreakerError::Inner(e) => e.class(),
        }
    }
    fn is_timeout(&self) -> bool {
        matches!(self, BreakerError::Inner(e) if e.is_timeout())
    }
}

type Listener = Arc<dyn Fn(StateChange) + Send + Sync>;

/// State shared by the breaker handle, its failure policy and its instrument.
struct Shared {
    name: Arc<str>,
    config: BreakerConfig,
    state: AtomicU8,
    probes: AtomicU32,
    rejected: AtomicU64,
    calls: AtomicU32,
    failures: AtomicU32,
    slow: AtomicU32,
    open_until: Mutex<Option<Instant>>,
    listener: RwLock<Option<Listener>>,
}

// Outcome bits passed from a call to the failure policy.
const SUCCEEDED: u8 = 0;
const FAILED: u8 = 1;
const SLOW: u8 = 2;

thread_local! {
    /// What the `on_error` being reported is: failsafe's `FailurePolicy` only learns "a
    /// failure", so a slow success or a slow failure is announced here first. failsafe calls
    /// the policy synchronously on the reporting thread, so this is exact.
    static PENDING: Cell<u8> = const { Cell::new(FAILED) };
}

/// Count-based sliding window of outcomes.
struct Window {
    ring: Box<[u8]>,
    next: usize,
    filled: u32,
    failures: u32,
    slow: u32,
}

impl Window {
    fn new(size: u32) -> Self {
        Window {
            ring: vec![0; size as usize].into_boxed_slice(),
            next: 0,
            filled: 0,
            failures: 0,
            slow: 0,
        }
    }

    #[inline]
    fn push(&mut self, outcome: u8) {
        let len = self.ring.len();
        if self.filled as usize == len {
            let old = self.ring[self.next];
            self.failures -= u32::from(old & FAILED);
            self.slow -= u32::from((old & SLOW) >> 1);
        } else {
            self.filled += 1;
        }
        self.ring[self.next] = outcome;
        self.failures += u32::from(outcome & FAILED);
        self.slow += u32::from((outcome & SLOW) >> 1);
        self.next += 1;
        if self.next == len {
            self.next = 0;
        }
    }

    fn reset(&mut self) {
        self.ring.fill(0);
        self.next = 0;
        self.filled = 0;
        self.failures = 0;
        self.slow = 0;
    }
}

/// The resilience4j-style failure policy plugged into failsafe's state machine.
struct RatePolicy {
    shared: Arc<Shared>,
    window: Window,
    /// Between opening and the next close: failures now come from half-open probes.
    tripped: bool,
    next_wait: Duration,
}

impl RatePolicy {
    #[inline]
    fn publish(&self) {
        let s = &self.shared;
        s.calls.store(self.window.filled, Ordering::Relaxed);
        s.failures.store(self.window.failures, Ordering::Relaxed);
        s.slow.store(self.window.slow, Ordering::Relaxed);
    }

    fn should_trip(&self) -> bool {
        let c = &self.shared.config;
        let w = &self.window;
        if w.filled < c.minimum_calls.min(c.window_size) {
            return false;
        }
        let calls = f64::from(w.filled);
        f64::from(w.failures) * 100.0 >= c.failure_rate_threshold * calls
            || (c.slow_call_duration.is_some()
                && f64::from(w.slow) * 100.0 >= c.slow_call_rate_threshold * calls)
    }

    fn open_for(&mut self) -> Duration {
        let c = &self.shared.config;
        let wait = self.next_wait;
        self.next_wait = wait.mul_f64(c.wait_multiplier).min(c.max_wait_in_open);
        self.tripped = true;
        if let Ok(mut until) = self.shared.open_until.lock() {
            *until = Some(failsafe::clock::now() + wait);
        }
        wait
    }
}

impl FailurePolicy for RatePolicy {
    #[inline]
    fn record_success(&mut self) {
        if !self.tripped {
            self.window.push(0);
            self.publish();
        }
    }

    fn mark_dead_on_failure(&mut self) -> Option<Duration> {
        let outcome = PENDING.with(|p| p.replace(FAILED));
        if self.tripped {
            // A half-open probe failed (or was slow): open again, backing off.
            return Some(self.open_for());
        }
        self.window.push(outcome);
        self.publish();
        self.should_trip().then(|| self.open_for())
    }

    fn revived(&mut self) {
        self.tripped = false;
        self.next_wait = self.shared.config.wait_in_open;
        self.window.reset();
        self.publish();
    }
}

/// failsafe instrumentation: mirrors the state, counts rejections, logs and notifies.
struct Observer {
    shared: Arc<Shared>,
}

impl Observer {
    fn transition(&self, to: u8) {
        let s = &self.shared;
        let from = s.state.swap(to, Ordering::AcqRel);
        if from == to {
            return;
        }
        let change = StateChange {
            from: state_from(from),
            to: state_from(to),
        };
        if change.to == BreakerState::Open {
            tracing::warn!(
                target: "synod_resilience::breaker",
                breaker = %s.name, from = %change.from, to = %change.to,
                failure_rate = s.metrics().failure_rate,
                "circuit breaker opened"
            );
        } else {
            tracing::info!(
                target: "synod_resilience::breaker",
                breaker = %s.name, from = %change.from, to = %change.to,
                "circuit breaker state changed"
            );
        }
        let listener = s.listener.read().ok().and_then(|l| l.clone());
        if let Some(listener) = listener {
            listener(change);
        }
    }
}

impl Instrument for Observer {
    fn on_call_rejected(&self) {
        self.shared.rejected.fetch_add(1, Ordering::Relaxed);
    }
    fn on_open(&self) {
        self.transition(OPEN);
    }
    fn on_half_open(&self) {
        self.transition(HALF_OPEN);
    }
    fn on_closed(&self) {
        self.transition(CLOSED);
    }
}

impl Shared {
    fn metrics(&self) -> BreakerMetrics {
        let calls = self.calls.load(Ordering::Relaxed);
        let failed = self.failures.load(Ordering::Relaxed);
        let slow = self.slow.load(Ordering::Relaxed);
        let rate = |n: u32| {
            if calls == 0 {
                0.0
            } else {
                f64::from(n) * 100.0 / f64::from(calls)
            }
        };
        BreakerMetrics {
            state: state_from(self.state.load(Ordering::Acquire)),
            failure_rate: rate(failed),
            slow_call_rate: rate(slow),
            calls_in_window: calls,
            failed_calls: failed,
            slow_calls: slow,
            rejected_calls: self.rejected.load(Ordering::Relaxed),
            probes_in_flight: self.probes.load(Ordering::Relaxed),
        }
    }
}

/// A circuit breaker; clones share state. See the [module docs](self).
#[derive(Clone)]
pub struct CircuitBreaker {
    machine: StateMachine<RatePolicy, Observer>,
    shared: Arc<Shared>,
    /// Calls the window must hold before it is judged: `min(minimum_calls, window_size)`.
    min_calls: u32,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.shared.name)
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

impl Default for CircuitBreaker {
    /// A breaker named `"default"` with the default config.
    fn default() -> Self {
        Self::from_valid("default".into(), BreakerConfig::default())
    }
}

/// A slot to run one call; a half-open probe slot is given back on drop (also when the call's
/// future is cancelled or dropped).
pub(crate) struct Permit<'a> {
    shared: &'a Shared,
    probe: bool,
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.probe {
            self.shared.probes.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl CircuitBreaker {
    /// A closed breaker named `name` (used in logs and rejections).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when the config is invalid (see [`BreakerConfig::validate`]).
    pub fn new(name: impl Into<Arc<str>>, config: BreakerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self::from_valid(name.into(), config))
    }

    pub(crate) fn from_valid(name: Arc<str>, config: BreakerConfig) -> Self {
        let shared = Arc::new(Shared {
            name,
            state: AtomicU8::new(CLOSED),
            probes: AtomicU32::new(0),
            rejected: AtomicU64::new(0),
            calls: AtomicU32::new(0),
            failures: AtomicU32::new(0),
            slow: AtomicU32::new(0),
            open_until: Mutex::new(None),
            listener: RwLock::new(None),
            config,
        });
        let policy = RatePolicy {
            window: Window::new(shared.config.window_size),
            tripped: false,
            next_wait: shared.config.wait_in_open,
            shared: shared.clone(),
        };
        let machine = failsafe::Config::new()
            .failure_policy(policy)
            .instrument(Observer {
                shared: shared.clone(),
            })
            .build();
        let min_calls = shared.config.minimum_calls.min(shared.config.window_size);
        CircuitBreaker {
            machine,
            shared,
            min_calls,
        }
    }

    /// The name given at creation.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The config.
    #[must_use]
    pub fn config(&self) -> &BreakerConfig {
        &self.shared.config
    }

    /// The current state (cheap: one atomic load).
    #[must_use]
    pub fn state(&self) -> BreakerState {
        state_from(self.shared.state.load(Ordering::Acquire))
    }

    /// A snapshot of state, rates and counters (cheap: a few atomic loads).
    #[must_use]
    pub fn metrics(&self) -> BreakerMetrics {
        self.shared.metrics()
    }

    /// Calls `listener` on every state change (replacing any previous listener). It runs on
    /// the thread that caused the change, outside the breaker's locks; keep it short.
    pub fn on_state_change(&self, listener: impl Fn(StateChange) + Send + Sync + 'static) {
        if let Ok(mut slot) = self.shared.listener.write() {
            *slot = Some(Arc::new(listener));
        }
    }

    /// Forces an open or half-open breaker closed, clearing its window (failsafe's `reset`);
    /// a closed breaker is left as it is.
    pub fn reset(&self) {
        self.machine.reset();
    }

    /// Runs `fut` if the breaker admits it and records the outcome; errors count as failures
    /// unless they are [`ErrorClass::Permanent`] (see `count_permanent`).
    ///
    /// # Errors
    /// [`BreakerError::Rejected`] without running `fut`, or [`BreakerError::Inner`] with its
    /// error.
    #[inline]
    pub fn call<T, E, Fut>(&self, fut: Fut) -> impl Future<Output = Result<T, BreakerError<E>>>
    where
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
    {
        self.call_with(fut, |e: &E| self.counts(e.class()))
    }

    /// Like [`call`](Self::call) with a predicate deciding which errors count as failures
    /// (`true`: failure; `false`: recorded as neither success nor failure). `E` need not
    /// implement [`Classify`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use synod_resilience::CircuitBreaker;
    /// let breaker = CircuitBreaker::default();
    /// let out = breaker.call_with(async { Err::<(), _>("not found") }, |e| *e != "not found").await;
    /// assert!(out.is_err());
    /// assert_eq!(breaker.metrics().calls_in_window, 0, "uncounted");
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`call`](Self::call).
    #[inline]
    pub async fn call_with<T, E, Fut, P>(
        &self,
        fut: Fut,
        is_failure: P,
    ) -> Result<T, BreakerError<E>>
    where
        Fut: Future<Output = Result<T, E>>,
        P: FnOnce(&E) -> bool,
    {
        let permit = self.acquire().map_err(BreakerError::Rejected)?;
        let start = self.start_clock();
        let res = fut.await;
        self.finish(permit, start, &res, is_failure);
        res.map_err(BreakerError::Inner)
    }

    /// Like [`call`](Self::call), but builds the future only once the breaker has admitted
    /// the call, so a rejected call runs none of `make`'s code.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use synod_resilience::{CircuitBreaker, ErrorClass};
    /// let breaker = CircuitBreaker::default();
    /// let out = breaker.call_fn(|| async { Ok::<_, ErrorClass>("ran") }).await;
    /// assert_eq!(out.unwrap(), "ran");
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`call`](Self::call).
    #[inline]
    pub async fn call_fn<T, E, F, Fut>(&self, make: F) -> Result<T, BreakerError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
    {
        let permit = self.acquire().map_err(BreakerError::Rejected)?;
        let start = self.start_clock();
        let res = make().await;
        self.finish(permit, start, &res, |e: &E| self.counts(e.class()));
        res.map_err(BreakerError::Inner)
    }

    /// Whether errors of this class count as failures (see `count_permanent`).
    #[inline]
    pub(crate) fn counts(&self, class: ErrorClass) -> bool {
        self.shared.config.count_permanent || class != ErrorClass::Permanent
    }

    /// Runs an admitted call and records its outcome.
    #[inline]
    pub(crate) async fn run_permitted<T, E, Fut, P>(
        &self,
        permit: Permit<'_>,
        fut: Fut,
        is_failure: P,
    ) -> Result<T, BreakerError<E>>
    where
        Fut: Future<Output = Result<T, E>>,
        P: FnOnce(&E) -> bool,
    {
        let start = self.start_clock();
        let res = fut.await;
        self.finish(permit, start, &res, is_failure);
        res.map_err(BreakerError::Inner)
    }

    /// The call's start time, read only when slow-call tracking is on (tokio's clock, so
    /// tests can pause it).
    #[inline]
    fn start_clock(&self) -> Option<tokio::time::Instant> {
        self.shared
            .config
            .slow_call_duration
            .map(|_| tokio::time::Instant::now())
    }

    /// Records an admitted call's outcome, then frees its slot.
    #[inline]
    fn finish<T, E, P>(
        &self,
        permit: Permit<'_>,
        start: Option<tokio::time::Instant>,
        res: &Result<T, E>,
        is_failure: P,
    ) where
        P: FnOnce(&E) -> bool,
    {
        let slow = self.is_slow(start.map(|s| s.elapsed()));
        self.record(res, slow, is_failure);
        drop(permit);
    }

    /// Blocking variant of [`call`](Self::call) for synchronous work.
    ///
    /// ```
    /// use synod_resilience::CircuitBreaker;
    /// let breaker = CircuitBreaker::default();
    /// let out = breaker.call_blocking(|| Ok::<_, std::io::Error>(2 + 2));
    /// assert_eq!(out.unwrap(), 4);
    /// ```
    ///
    /// # Errors
    /// As [`call`](Self::call).
    #[inline]
    pub fn call_blocking<T, E, F>(&self, f: F) -> Result<T, BreakerError<E>>
    where
        F: FnOnce() -> Result<T, E>,
        E: Classify,
    {
        let permit = self.acquire().map_err(BreakerError::Rejected)?;
        let start = self
            .shared
            .config
            .slow_call_duration
            .map(|_| Instant::now());
        let res = f();
        let slow = self.is_slow(start.map(|s| s.elapsed()));
        let count_permanent = self.shared.config.count_permanent;
        self.record(&res, slow, |e: &E| {
            count_permanent || e.class() != ErrorClass::Permanent
        });
        drop(permit);
        res.map_err(BreakerError::Inner)
    }

    /// Asks for a slot without running anything. Prefer [`call`](Self::call); this is for
    /// callers that run the work elsewhere and report with [`Ticket::success`] /
    /// [`Ticket::failure`]. Dropping the ticket without reporting records nothing.
    ///
    /// # Errors
    /// [`Rejected`] when the breaker does not admit a call now.
    pub fn try_acquire(&self) -> Result<Ticket<'_>, Rejected> {
        let permit = self.acquire()?;
        Ok(Ticket {
            breaker: self,
            permit,
            start: Instant::now(),
        })
    }

    #[inline]
    fn is_slow(&self, elapsed: Option<Duration>) -> bool {
        match (elapsed, self.shared.config.slow_call_duration) {
            (Some(e), Some(limit)) => e >= limit,
            _ => false,
        }
    }

    #[inline]
    pub(crate) fn acquire(&self) -> Result<Permit<'_>, Rejected> {
        if !self.machine.is_call_permitted() {
            return Err(self.rejected(BreakerState::Open));
        }
        let shared = &*self.shared;
        // Not closed (half-open, or open and just turning half-open): this call is a probe.
        let probe = shared.state.load(Ordering::Acquire) != CLOSED;
        if probe {
            let limit = shared.config.permitted_calls_in_half_open;
            let taken = shared
                .probes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < limit).then_some(n + 1)
                });
            if taken.is_err() {
                shared.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(self.rejected(BreakerState::HalfOpen));
            }
        }
        Ok(Permit { shared, probe })
    }

    #[cold]
    fn rejected(&self, state: BreakerState) -> Rejected {
        let retry_after = match state {
            BreakerState::Open => self
                .shared
                .open_until
                .lock()
                .ok()
                .and_then(|u| *u)
                .map(|until| until.saturating_duration_since(failsafe::clock::now())),
            _ => None,
        };
        tracing::debug!(
            target: "synod_resilience::breaker",
            breaker = %self.shared.name, state = %state,
            "call rejected"
        );
        Rejected {
            breaker: self.shared.name.clone(),
            state,
            retry_after,
        }
    }

    #[inline]
    fn record<T, E, P>(&self, res: &Result<T, E>, slow: bool, is_failure: P)
    where
        P: FnOnce(&E) -> bool,
    {
        match res {
            // failsafe lets only a failure open the breaker, but a success can complete the
            // minimum number of calls for a window already at the failure threshold: report
            // that one success through the failure path (as a success), so the window is
            // judged exactly as resilience4j would. Later successes can only lower the rates.
            Ok(_) if !slow && self.shared.calls.load(Ordering::Relaxed) + 1 != self.min_calls => {
                self.machine.on_success();
            }
            Ok(_) if !slow => self.report_error(SUCCEEDED),
            Ok(_) => self.report_error(SLOW),
            Err(e) => {
                if is_failure(e) {
                    self.report_error(if slow { FAILED | SLOW } else { FAILED });
                }
            }
        }
    }

    fn report_error(&self, outcome: u8) {
        PENDING.with(|p| p.set(outcome));
        self.machine.on_error();
        PENDING.with(|p| p.set(FAILED));
    }
}

/// An admitted call whose outcome is reported by hand (see [`CircuitBreaker::try_acquire`]).
pub struct Ticket<'a> {
    breaker: &'a CircuitBreaker,
    permit: Permit<'a>,
    start: Instant,
}

impl fmt::Debug for Ticket<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("breaker", &self.breaker.shared.name)
            .field("probe", &self.permit.probe)
            .finish()
    }
}

impl Ticket<'_> {
    /// The call succeeded (slow if it took at least `slow_call_duration` since the ticket was
    /// issued).
    pub fn success(self) {
        let slow = self.breaker.is_slow(Some(self.start.elapsed()));
        self.breaker.record::<(), (), _>(&Ok(()), slow, |_| true);
    }
    /// The call failed and counts as a failure.
    pub fn failure(self) {
        let slow = self.breaker.is_slow(Some(self.start.elapsed()));
        self.breaker.record::<(), (), _>(&Err(()), slow, |_| true);
    }
}
