//! Error classes as retry logic reads them: which classes are retryable, what they print, and
//! that a class and the timeout flag survive every way an error is passed around (`&`, `Box`,
//! `Arc`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use synod_core::{Classify, ErrorClass};

/// A caller's error type that implements only `class`, as most do.
#[derive(Debug)]
struct QuotaExceeded;

impl Classify for QuotaExceeded {
    fn class(&self) -> ErrorClass {
        ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::from(io::ErrorKind::TimedOut)
}

fn refused() -> io::Error {
    io::Error::from(io::ErrorKind::ConnectionRefused)
}

#[test]
fn only_permanent_failures_are_not_worth_retrying() {
    assert!(ErrorClass::Transient.is_retryable());
    assert!(ErrorClass::RateLimited { retry_after: None }.is_retryable());
    assert!(
        ErrorClass::RateLimited {
            retry_after: Some(Duration::from_millis(1500))
        }
        .is_retryable()
    );
    assert!(!ErrorClass::Permanent.is_retryable());
}

#[test]
fn each_class_prints_what_it_means() {
    assert_eq!(ErrorClass::Transient.to_string(), "transient failure");
    assert_eq!(
        ErrorClass::RateLimited { retry_after: None }.to_string(),
        "rate limited"
    );
    assert_eq!(
        ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(2))
        }
        .to_string(),
        "rate limited (retry after 2s)"
    );
    assert_eq!(
        ErrorClass::RateLimited {
            retry_after: Some(Duration::from_millis(150_250))
        }
        .to_string(),
        "rate limited (retry after 2m30s)"
    );
    assert_eq!(ErrorClass::Permanent.to_string(), "permanent failure");
}

#[test]
fn an_error_class_classifies_as_itself_and_is_not_a_timeout() {
    let limited = ErrorClass::RateLimited {
        retry_after: Some(Duration::from_secs(3)),
    };
    assert_eq!(limited.class(), limited);
    assert_eq!(ErrorClass::Permanent.class(), ErrorClass::Permanent);
    assert_eq!(ErrorClass::Transient.class(), ErrorClass::Transient);
    assert!(!ErrorClass::Transient.is_timeout());
}

#[test]
fn a_type_that_only_names_its_class_is_not_a_timeout() {
    assert!(!QuotaExceeded.is_timeout());
    assert_eq!(
        QuotaExceeded.class(),
        ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
}

/// The class and timeout flag as a generic retry loop sees them, through `C`'s own impl.
fn seen<C: Classify>(error: C) -> (ErrorClass, bool) {
    (error.class(), error.is_timeout())
}

#[test]
fn references_keep_the_class_and_the_timeout_flag() {
    let (quota, reset, missing, late) = (
        QuotaExceeded,
        refused(),
        io::Error::from(io::ErrorKind::NotFound),
        timed_out(),
    );
    assert_eq!(seen::<&QuotaExceeded>(&quota), (quota.class(), false));
    assert_eq!(seen::<&io::Error>(&reset), (ErrorClass::Transient, false));
    assert_eq!(seen::<&io::Error>(&missing), (ErrorClass::Permanent, false));
    assert_eq!(seen::<&io::Error>(&late), (ErrorClass::Transient, true));
    // Through a trait object too, as retry loops hold them.
    let dynamic: &dyn Classify = &late;
    assert_eq!(seen(dynamic), (ErrorClass::Transient, true));
}

#[test]
fn boxes_keep_the_class_and_the_timeout_flag() {
    let boxed: Box<dyn Classify> = Box::new(QuotaExceeded);
    assert_eq!(boxed.class(), QuotaExceeded.class());
    assert!(!boxed.is_timeout());
    assert_eq!(Box::new(refused()).class(), ErrorClass::Transient);
    assert_eq!(
        Box::new(io::Error::from(io::ErrorKind::PermissionDenied)).class(),
        ErrorClass::Permanent
    );
    assert!(Box::new(timed_out()).is_timeout());
    assert!(!Box::new(refused()).is_timeout());
}

#[test]
fn arcs_keep_the_class_and_the_timeout_flag() {
    let shared: Arc<dyn Classify + Send + Sync> = Arc::new(QuotaExceeded);
    assert_eq!(shared.class(), QuotaExceeded.class());
    assert!(!shared.is_timeout());
    assert_eq!(Arc::new(refused()).class(), ErrorClass::Transient);
    assert_eq!(
        Arc::new(io::Error::from(io::ErrorKind::InvalidInput)).class(),
        ErrorClass::Permanent
    );
    assert!(Arc::new(timed_out()).is_timeout());
    assert!(!Arc::new(refused()).is_timeout());
}

#[test]
fn a_bad_duration_is_a_permanent_failure_and_not_a_timeout() {
    let err = "soon".parse::<synod_core::HumanDuration>().unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(!err.is_retryable_class());
}

/// Reads the class's retryability through the trait, as a retry loop would.
trait RetryableClass {
    fn is_retryable_class(&self) -> bool;
}

impl<T: Classify> RetryableClass for T {
    fn is_retryable_class(&self) -> bool {
        self.class().is_retryable()
    }
}

#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn a_tokio_timeout_is_a_transient_timeout() {
    let elapsed = tokio::time::timeout(Duration::from_secs(5), std::future::pending::<()>())
        .await
        .unwrap_err();
    assert_eq!(elapsed.class(), ErrorClass::Transient);
    assert!(elapsed.is_timeout());
    assert!(Box::new(elapsed).is_timeout());
}
