//! Error classes: what a failure means for whoever might retry it.
//!
//! ```
//! use std::time::Duration;
//! use synod_core::{Classify, ErrorClass};
//!
//! let err = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
//! assert_eq!(err.class(), ErrorClass::Transient);
//! assert!(ErrorClass::RateLimited { retry_after: Some(Duration::from_secs(2)) }.is_retryable());
//! assert!(!ErrorClass::Permanent.is_retryable());
//! ```

use std::io;
use std::time::Duration;

/// How a failure should be treated by retry and circuit-breaking logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// A passing fault (timeout, reset connection, overloaded service): worth retrying.
    Transient,
    /// The other side asked us to slow down, optionally saying for how long.
    RateLimited {
        /// How long the other side asked us to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help (missing program, bad credentials, invalid input).
    Permanent,
}

impl ErrorClass {
    /// Whether a retry could succeed: true for `Transient` and `RateLimited`.
    #[must_use]
    pub fn is_retryable(self) -> bool {
        !matches!(self, ErrorClass::Permanent)
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorClass::Transient => f.write_str("transient failure"),
            ErrorClass::RateLimited {
                retry_after: Some(after),
            } => write!(
                f,
                "rate limited (retry after {})",
                crate::duration::format_duration_rounded(*after)
            ),
            ErrorClass::RateLimited { retry_after: None } => f.write_str("rate limited"),
            ErrorClass::Permanent => f.write_str("permanent failure"),
        }
    }
}

/// Implemented by every synod error type (and any caller's) so retries, budgets and breakers
/// can tell a passing fault from a permanent one.
pub trait Classify {
    /// The class of this failure.
    fn class(&self) -> ErrorClass;

    /// Whether this failure was a timeout. synod-resilience's `RetryBudget` charges a
    /// retry after a timeout more (AWS standard mode: 10 tokens instead of 5), because a
    /// timed-out call is the most expensive kind to repeat. Defaults to `false`.
    fn is_timeout(&self) -> bool {
        false
    }
}

impl<T: Classify + ?Sized> Classify for &T {
    fn class(&self) -> ErrorClass {
        (**self).class()
    }
    fn is_timeout(&self) -> bool {
        (**self).is_timeout()
    }
}

impl<T: Classify + ?Sized> Classify for Box<T> {
    fn class(&self) -> ErrorClass {
        (**self).class()
    }
    fn is_timeout(&self) -> bool {
        (**self).is_timeout()
    }
}

impl<T: Classify + ?Sized> Classify for std::sync::Arc<T> {
    fn class(&self) -> ErrorClass {
        (**self).class()
    }
    fn is_timeout(&self) -> bool {
        (**self).is_timeout()
    }
}

impl Classify for ErrorClass {
    fn class(&self) -> ErrorClass {
        *self
    }
}

/// A timeout from `tokio::time::timeout` is transient (and counts as a timeout).
#[cfg(feature = "tokio")]
impl Classify for tokio::time::error::Elapsed {
    fn class(&self) -> ErrorClass {
        ErrorClass::Transient
    }
    fn is_timeout(&self) -> bool {
        true
    }
}

impl Classify for io::Error {
    fn class(&self) -> ErrorClass {
        use io::ErrorKind::*;
        match self.kind() {
            TimedOut | Interrupted | WouldBlock | ConnectionReset | ConnectionAborted
            | ConnectionRefused | BrokenPipe | NotConnected | AddrInUse | UnexpectedEof
            | ResourceBusy | NetworkDown | NetworkUnreachable | HostUnreachable => {
                ErrorClass::Transient
            }
            _ => ErrorClass::Permanent,
        }
    }
    fn is_timeout(&self) -> bool {
        self.kind() == io::ErrorKind::TimedOut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_by_kind() {
        let transient = [io::ErrorKind::TimedOut, io::ErrorKind::ConnectionRefused];
        for kind in transient {
            assert_eq!(
                io::Error::from(kind).class(),
                ErrorClass::Transient,
                "{kind:?}"
            );
        }
        let permanent = [io::ErrorKind::NotFound, io::ErrorKind::PermissionDenied];
        for kind in permanent {
            assert_eq!(
                io::Error::from(kind).class(),
                ErrorClass::Permanent,
                "{kind:?}"
            );
        }
        assert!(io::Error::from(io::ErrorKind::TimedOut).is_timeout());
        assert!(!io::Error::from(io::ErrorKind::ConnectionReset).is_timeout());
        assert!(Box::new(io::Error::from(io::ErrorKind::TimedOut)).is_timeout());
    }
}
