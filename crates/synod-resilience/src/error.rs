//! The crate's error type: invalid configuration and builder parameters.
//!
//! Runtime failures of wrapped operations are not `Error`s: they come back as
//! [`RetryError`](crate::RetryError), [`BreakerError`](crate::BreakerError) or
//! [`PipelineError`](crate::PipelineError), which carry the caller's own error.
//!
//! ```
//! use synod_resilience::{Error, RetryPolicy};
//! let err = RetryPolicy::builder().max_attempts(0).build().unwrap_err();
//! assert!(matches!(err, Error::InvalidParameter { name: "max_attempts", .. }));
//! assert!(err.to_string().contains("max_attempts"));
//! ```

/// Configuration and builder errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A builder or config parameter is out of range.
    #[error("invalid {name} = {value}: {expected}")]
    InvalidParameter {
        /// The parameter's name as written in config (`max_attempts`, `multiplier`, ...).
        name: &'static str,
        /// The rejected value, rendered.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn param(
        name: &'static str,
        value: impl std::fmt::Display,
        expected: &'static str,
    ) -> Self {
        Error::InvalidParameter {
            name,
            value: value.to_string(),
            expected,
        }
    }
}
