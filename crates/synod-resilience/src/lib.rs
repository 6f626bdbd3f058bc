//! synod-resilience: error classes, retries, retry budgets and circuit breakers.
//!
//! ```
//! use synod_resilience::{Classify, ErrorClass};
//! let err = std::io::Error::from(std::io::ErrorKind::TimedOut);
//! assert_eq!(err.class(), ErrorClass::Transient);
//! ```
#![forbid(unsafe_code)]

pub mod class;

pub use class::{Classify, ErrorClass};
