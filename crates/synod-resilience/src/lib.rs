//! synod-resilience: error classes, retries, retry budgets and circuit breakers.
//!
//! Through the facade this crate is `synod::resilience` (`synod = { version = "0.1", features = ["resilience"] }`);
//! the examples here use its own name, `synod_resilience::…`, which `synod::resilience::…` replaces one for one.
//!
//! Agent CLIs fail in three ways: they are rate limited, they hit a passing outage, or they are
//! misconfigured. This crate lets every other layer survive the first two without amplifying
//! load, and fail fast on the third:
//!
//! * [`ErrorClass`] / [`Classify`]: what a failure means (transient, rate limited, permanent).
//! * [`RetryPolicy`]: exponential backoff with jitter, `retry_after`, max elapsed.
//! * [`RetryBudget`]: a token bucket shared by all callers so retries cannot multiply load.
//! * [`CircuitBreaker`] and [`Registry`]: stop calling a dependency that keeps failing.
//! * [`Pipeline`]: timeout, budget, breaker and retry composed in one call.
//!
//! ```
//! use std::time::Duration;
//! use synod_resilience::{ErrorClass, Jitter, RetryBudget, RetryPolicy};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), synod_resilience::Error> {
//! let budget = RetryBudget::default();
//! let policy = RetryPolicy::builder()
//!     .max_attempts(3)
//!     .initial_delay(Duration::from_millis(100))
//!     .jitter(Jitter::Full)
//!     .build()?
//!     .with_budget(&budget);
//!
//! let mut calls = 0;
//! let answer = policy
//!     .retry(|| {
//!         calls += 1;
//!         let first = calls == 1;
//!         async move { if first { Err(ErrorClass::Transient) } else { Ok(42) } }
//!     })
//!     .await
//!     .expect("the second attempt succeeds");
//! assert_eq!(answer, 42);
//! assert_eq!(budget.available(), 500, "the successful retry returned its cost");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod breaker;
pub mod budget;
pub mod class;
pub mod duration;
pub mod error;
pub mod pipeline;
pub mod registry;
pub mod retry;

pub use breaker::{
    BreakerConfig, BreakerError, BreakerMetrics, BreakerState, CircuitBreaker, Rejected,
    StateChange, Ticket,
};
pub use budget::{BudgetConfig, RetryBudget};
pub use class::{Classify, ErrorClass};
pub use error::{Error, Result};
pub use pipeline::{Pipeline, PipelineBuilder, PipelineError};
pub use registry::Registry;
pub use retry::{Delays, Jitter, RetryError, RetryPolicy, RetryPolicyBuilder, StopReason};

/// Configuration errors are the caller's own making: permanent.
impl Classify for Error {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}
