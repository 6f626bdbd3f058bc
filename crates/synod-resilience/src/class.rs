//! Error classes: what a failure means for whoever might retry it. The types live in
//! synod-core (every layer shares them); they are re-exported here.
//!
//! ```
//! use std::time::Duration;
//! use synod_resilience::{Classify, ErrorClass};
//!
//! let err = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
//! assert_eq!(err.class(), ErrorClass::Transient);
//! assert!(ErrorClass::RateLimited { retry_after: Some(Duration::from_secs(2)) }.is_retryable());
//! assert!(!ErrorClass::Permanent.is_retryable());
//! ```

pub use synod_core::class::{Classify, ErrorClass};
