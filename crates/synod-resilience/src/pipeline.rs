//! `Pipeline`: timeout, budget, breaker and retry composed by one builder and run with one
//! call.
//!
//! The layers nest in the order timeout → budget → breaker → retry, outermost first:
//!
//! ```text
//! timeout(                      whole run, backoff waits included
//!   retry loop, paid from budget(   every retry (never the first attempt) withdraws tokens
//!     breaker(                    each attempt is admitted and recorded separately
//!       op()                      your operation
//! )))
//! ```
//!
//! * **timeout** is outermost so it bounds what the caller waits for, including every
//!   backoff. When it fires, the attempt in flight is dropped (a half-open probe frees its
//!   slot) and [`PipelineError::TimedOut`] is returned.
//! * **budget** gates retries only: the first attempt of every call is free, so a healthy
//!   service never starves, while a failing one can cost at most the bucket's worth of extra
//!   calls across *all* callers sharing the budget.
//! * **breaker** wraps each attempt, not the whole loop, so it sees every real call (a dead
//!   dependency opens it within `minimum_calls` attempts) and an open breaker stops the loop
//!   from calling at all: a rejection is [`ErrorClass::RateLimited`](crate::ErrorClass) with
//!   `retry_after` = time until the breaker probes again, so the retry policy waits for the
//!   probe when that fits `max_delay` / `max_elapsed` and otherwise gives up at once
//!   ([`StopReason::RetryAfterTooLong`](crate::StopReason)).
//! * **retry** decides per attempt from the error's class: permanent errors end the loop at
//!   once, transient ones back off, rate limits honour `retry_after`.
//!
//! ```
//! use std::time::Duration;
//! use synod_resilience::{CircuitBreaker, ErrorClass, Pipeline, RetryBudget, RetryPolicy};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), synod_resilience::Error> {
//! let pipeline = Pipeline::builder()
//!     .timeout(Duration::from_secs(30))
//!     .budget(&RetryBudget::default())
//!     .breaker(&CircuitBreaker::default())
//!     .retry(RetryPolicy::default())
//!     .build()?;
//!
//! let mut calls = 0;
//! let out = pipeline
//!     .run(|| {
//!         calls += 1;
//!         let n = calls;
//!         async move { if n == 1 { Err(ErrorClass::Transient) } else { Ok("answer") } }
//!     })
//!     .await;
//! assert_eq!(out.unwrap(), "answer");
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::{
    BreakerError, CircuitBreaker, Classify, Error, ErrorClass, Result, RetryBudget, RetryError,
    RetryPolicy,
};

/// Timeout, budget, breaker and retry in one call. Cheap to clone (the budget and breaker are
/// shared with their other holders).
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    timeout: Option<Duration>,
    breaker: Option<CircuitBreaker>,
    policy: RetryPolicy,
}

/// Builds a [`Pipeline`]. Every layer is optional; the default is a [`RetryPolicy::default`]
/// with no timeout, budget or breaker.
#[derive(Debug, Clone, Default)]
pub struct PipelineBuilder {
    timeout: Option<Duration>,
    budget: Option<RetryBudget>,
    breaker: Option<CircuitBreaker>,
    policy: RetryPolicy,
}

impl PipelineBuilder {
    /// Overall deadline for a run, backoff waits included.
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }
    /// The shared budget every retry is paid from (overrides one set on the policy).
    #[must_use]
    pub fn budget(mut self, budget: &RetryBudget) -> Self {
        self.budget = Some(budget.clone());
        self
    }
    /// The breaker each attempt goes through (shares state with `breaker`).
    #[must_use]
    pub fn breaker(mut self, breaker: &CircuitBreaker) -> Self {
        self.breaker = Some(breaker.clone());
        self
    }
    /// The retry policy.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }
    /// Validates and returns the pipeline.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `timeout` when it is zero.
    pub fn build(self) -> Result<Pipeline> {
        if self.timeout == Some(Duration::ZERO) {
            return Err(Error::param(
                "timeout",
                "0s",
                "must be positive, or unset for no deadline",
            ));
        }
        let policy = match &self.budget {
            Some(b) => self.policy.with_budget(b),
            None => self.policy,
        };
        Ok(Pipeline {
            timeout: self.timeout,
            breaker: self.breaker,
            policy,
        })
    }
}

impl Pipeline {
    /// A builder with every layer unset.
    #[must_use]
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::default()
    }

    /// The retry policy in use (with the budget attached, if any).
    #[must_use]
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The breaker in use, if any.
    #[must_use]
    pub fn breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    /// Runs `op` through every layer. See the [module docs](self) for the order.
    ///
    /// # Errors
    /// [`PipelineError::TimedOut`] when the deadline passes, else
    /// [`PipelineError::Failed`] with the retry loop's error (whose last cause is the call's
    /// own error or a breaker rejection).
    pub fn run<T, E, F, Fut>(&self, op: F) -> impl Future<Output = Result<T, PipelineError<E>>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
    {
        self.run_notify(op, |_, _, _| {})
    }

    /// Like [`run`](Self::run), calling `notify(attempt, &error, next_delay)` before each
    /// retry.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn run_notify<T, E, F, Fut, N>(&self, op: F, notify: N) -> Result<T, PipelineError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
        N: FnMut(u32, &BreakerError<E>, Duration),
    {
        let attempts = AtomicU32::new(0);
        match self.timeout {
            // Each arm builds its own loop, so the future holds one of them, not both.
            None => self.attempt_loop(op, notify, &attempts).await,
            Some(timeout) => {
                match tokio::time::timeout(timeout, self.attempt_loop(op, notify, &attempts)).await
                {
                    Ok(res) => res,
                    Err(_) => {
                        let attempts = attempts.load(Ordering::Relaxed);
                        tracing::warn!(
                            target: "synod_resilience::pipeline",
                            timeout_ms = timeout.as_secs_f64() * 1e3,
                            attempts,
                            "deadline passed"
                        );
                        Err(PipelineError::TimedOut { timeout, attempts })
                    }
                }
            }
        }
    }

    /// The retry loop, each attempt through the breaker (when there is one).
    async fn attempt_loop<T, E, F, Fut, N>(
        &self,
        mut op: F,
        notify: N,
        attempts: &AtomicU32,
    ) -> Result<T, PipelineError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
        N: FnMut(u32, &BreakerError<E>, Duration),
    {
        let res = match &self.breaker {
            Some(breaker) => {
                self.policy
                    .retry_notify(
                        || {
                            attempts.fetch_add(1, Ordering::Relaxed);
                            // Ask the breaker first: a rejected attempt never calls `op`.
                            let admitted = breaker.acquire().map(|permit| (permit, op()));
                            async move {
                                let (permit, fut) = admitted.map_err(BreakerError::Rejected)?;
                                breaker
                                    .run_permitted(permit, fut, |e: &E| breaker.counts(e.class()))
                                    .await
                            }
                        },
                        notify,
                    )
                    .await
            }
            None => {
                self.policy
                    .retry_notify(
                        || {
                            attempts.fetch_add(1, Ordering::Relaxed);
                            let fut = op();
                            async move { fut.await.map_err(BreakerError::Inner) }
                        },
                        notify,
                    )
                    .await
            }
        };
        res.map_err(PipelineError::Failed)
    }
}

/// Why a [`Pipeline::run`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum PipelineError<E> {
    /// The retry loop gave up; its last cause is the call's error or a breaker rejection.
    Failed(RetryError<BreakerError<E>>),
    /// The overall deadline passed first.
    TimedOut {
        /// The pipeline's timeout.
        timeout: Duration,
        /// Attempts started before it passed.
        attempts: u32,
    },
}

impl<E> PipelineError<E> {
    /// The call's own last error, if the last attempt ran.
    #[must_use]
    pub fn inner(&self) -> Option<&E> {
        match self {
            PipelineError::Failed(e) => e.last_error().inner(),
            PipelineError::TimedOut { .. } => None,
        }
    }
    /// The call's own last error by value, if the last attempt ran.
    #[must_use]
    pub fn into_inner(self) -> Option<E> {
        match self {
            PipelineError::Failed(e) => e.into_inner().into_inner(),
            PipelineError::TimedOut { .. } => None,
        }
    }
    /// Attempts made (started, for a timeout).
    #[must_use]
    pub fn attempts(&self) -> u32 {
        match self {
            PipelineError::Failed(e) => e.attempts(),
            PipelineError::TimedOut { attempts, .. } => *attempts,
        }
    }
    /// Whether the last attempt was rejected by the breaker.
    #[must_use]
    pub fn is_rejected(&self) -> bool {
        matches!(self, PipelineError::Failed(e) if e.last_error().is_rejected())
    }
}

impl<E: fmt::Display> fmt::Display for PipelineError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineError::Failed(e) => e.fmt(f),
            PipelineError::TimedOut { timeout, attempts } => write!(
                f,
                "deadline of {timeout:?} passed after {attempts} attempt{}",
                if *attempts == 1 { "" } else { "s" }
            ),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for PipelineError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PipelineError::Failed(e) => Some(e),
            PipelineError::TimedOut { .. } => None,
        }
    }
}

/// `Failed`: the class of the last cause; `TimedOut`: transient, and a timeout.
impl<E: Classify> Classify for PipelineError<E> {
    fn class(&self) -> ErrorClass {
        match self {
            PipelineError::Failed(e) => e.class(),
            PipelineError::TimedOut { .. } => ErrorClass::Transient,
        }
    }
    fn is_timeout(&self) -> bool {
        match self {
            PipelineError::Failed(e) => e.is_timeout(),
            PipelineError::TimedOut { .. } => true,
        }
    }
}
