//! Circuit breaker behaviour at its edges: the sliding window forgetting old outcomes, the
//! `BreakerError` accessors on real errors, and config validation at its exact boundaries.
//! Each test fails if the rule it names is broken (see docs/TESTING.md).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use failsafe::clock;
use synod_resilience::{
    BreakerConfig, BreakerError, BreakerState, CircuitBreaker, Classify, Error, ErrorClass,
    Rejected,
};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

fn small_window() -> BreakerConfig {
    BreakerConfig {
        window_size: 4,
        minimum_calls: 4,
        failure_rate_threshold: 50.0,
        wait_in_open: Duration::from_secs(10),
        ..BreakerConfig::default()
    }
}

async fn ok(b: &CircuitBreaker) {
    b.call(async { Ok::<(), ErrorClass>(()) }).await.unwrap();
}

async fn fail(b: &CircuitBreaker) -> BreakerError<ErrorClass> {
    b.call(async { Err::<(), _>(ErrorClass::Transient) })
        .await
        .unwrap_err()
}

async fn slow_ok(b: &CircuitBreaker) {
    b.call(async {
        tokio::time::sleep(Duration::from_secs(6)).await;
        Ok::<(), ErrorClass>(())
    })
    .await
    .unwrap();
}

#[test]
fn a_failure_that_slides_out_of_the_window_no_longer_counts() {
    clock::freeze(|_| {
        rt().block_on(async {
            let b = CircuitBreaker::new("w", small_window()).unwrap();
            let _ = fail(&b).await;
            for _ in 0..3 {
                ok(&b).await;
            }
            let m = b.metrics();
            assert_eq!((m.calls_in_window, m.failed_calls), (4, 1), "{m:?}");
            assert_eq!(m.failure_rate, 25.0);
            // The fifth call pushes the failure out: the window holds four successes.
            ok(&b).await;
            let m = b.metrics();
            assert_eq!((m.calls_in_window, m.failed_calls), (4, 0), "{m:?}");
            assert_eq!(m.failure_rate, 0.0);
            // So one new failure is 25%: still closed; the second makes 50%: open.
            assert!(matches!(fail(&b).await, BreakerError::Inner(_)));
            assert_eq!(b.state(), BreakerState::Closed);
            assert!(matches!(fail(&b).await, BreakerError::Inner(_)));
            assert_eq!(b.state(), BreakerState::Open);
            assert!(fail(&b).await.is_rejected());
        });
    });
}

#[test]
fn a_slow_call_that_slides_out_of_the_window_no_longer_counts() {
    let cfg = BreakerConfig {
        slow_call_duration: Some(Duration::from_secs(5)),
        slow_call_rate_threshold: 50.0,
        ..small_window()
    };
    clock::freeze(|_| {
        rt().block_on(async {
            let b = CircuitBreaker::new("slow", cfg).unwrap();
            slow_ok(&b).await;
            for _ in 0..3 {
                ok(&b).await;
            }
            let m = b.metrics();
            assert_eq!((m.slow_calls, m.slow_call_rate), (1, 25.0), "{m:?}");
            ok(&b).await;
            let m = b.metrics();
            assert_eq!((m.slow_calls, m.slow_call_rate), (0, 0.0), "{m:?}");
            slow_ok(&b).await;
            assert_eq!(b.state(), BreakerState::Closed, "1 slow of 4");
            slow_ok(&b).await;
            assert_eq!(b.state(), BreakerState::Open, "2 slow of 4");
        });
    });
}

#[test]
fn a_slow_failure_counts_as_both_failed_and_slow() {
    let cfg = BreakerConfig {
        slow_call_duration: Some(Duration::from_secs(5)),
        slow_call_rate_threshold: 100.0,
        ..small_window()
    };
    clock::freeze(|_| {
        rt().block_on(async {
            let b = CircuitBreaker::new("slow-fail", cfg).unwrap();
            let err = b
                .call(async {
                    tokio::time::sleep(Duration::from_secs(6)).await;
                    Err::<(), _>(ErrorClass::Transient)
                })
                .await
                .unwrap_err();
            assert!(!err.is_rejected());
            let m = b.metrics();
            assert_eq!(
                (m.calls_in_window, m.failed_calls, m.slow_calls),
                (1, 1, 1),
                "{m:?}"
            );
            // With one more failure in four calls the failure rate reaches 50%: open.
            ok(&b).await;
            ok(&b).await;
            assert_eq!(b.state(), BreakerState::Closed);
            let _ = fail(&b).await;
            assert_eq!(b.state(), BreakerState::Open, "{:?}", b.metrics());
        });
    });
}

#[test]
fn breaker_error_accessors_on_a_call_error() {
    rt().block_on(async {
        let b = CircuitBreaker::default();
        let err = fail(&b).await;
        assert!(!err.is_rejected());
        assert_eq!(err.inner(), Some(&ErrorClass::Transient));
        assert_eq!(err.class(), ErrorClass::Transient);
        assert!(!err.is_timeout(), "a transient error is not a timeout");
        assert_eq!(err.to_string(), fail(&b).await.to_string());
        assert_eq!(err.into_inner(), Some(ErrorClass::Transient));

        let io = b
            .call(async { Err::<(), _>(std::io::Error::other("disk on fire")) })
            .await
            .unwrap_err();
        assert_eq!(io.to_string(), "disk on fire");
        let source = std::error::Error::source(&io).expect("the call's error is the source");
        assert_eq!(source.to_string(), "disk on fire");
    });
}

#[test]
fn breaker_error_is_timeout_when_the_call_timed_out() {
    rt().block_on(async {
        let b = CircuitBreaker::default();
        let err = b
            .call(tokio::time::timeout(
                Duration::from_secs(1),
                std::future::pending::<()>(),
            ))
            .await
            .unwrap_err();
        assert!(err.is_timeout());
        assert!(!err.is_rejected());
        assert!(err.inner().is_some());
    });
}

#[test]
fn breaker_error_accessors_on_a_rejection() {
    clock::freeze(|_| {
        rt().block_on(async {
            let b = CircuitBreaker::new("r", small_window()).unwrap();
            for _ in 0..4 {
                let _ = fail(&b).await;
            }
            assert_eq!(b.state(), BreakerState::Open);
            let err = fail(&b).await;
            assert!(err.is_rejected());
            assert_eq!(err.inner(), None);
            assert!(!err.is_timeout());
            assert_eq!(
                err.class(),
                ErrorClass::RateLimited {
                    retry_after: Some(Duration::from_secs(10))
                }
            );
            assert!(err.to_string().contains("\"r\" is open"), "{err}");
            assert_eq!(err.into_inner(), None);

            let io = b
                .call(async { Err::<(), _>(std::io::Error::other("never runs")) })
                .await
                .unwrap_err();
            assert!(std::error::Error::source(&io).is_none());
        });
    });
}

fn check(config: &BreakerConfig) -> Result<(), String> {
    config.validate().map_err(|e| {
        let Error::InvalidParameter { name, .. } = &e else {
            panic!("unexpected error {e}");
        };
        format!("{name}: {e}")
    })
}

fn rejected(config: &BreakerConfig, field: &str) {
    match check(config) {
        Err(message) => assert!(message.starts_with(field), "{message}"),
        Ok(()) => panic!("{field} accepted"),
    }
}

#[test]
fn validate_accepts_the_boundary_values() {
    let d = BreakerConfig::default;
    for config in [
        d(),
        BreakerConfig {
            window_size: 1,
            minimum_calls: 1,
            permitted_calls_in_half_open: 1,
            ..d()
        },
        BreakerConfig {
            window_size: 100_000,
            ..d()
        },
        BreakerConfig {
            failure_rate_threshold: 100.0,
            slow_call_rate_threshold: 100.0,
            ..d()
        },
        BreakerConfig {
            failure_rate_threshold: f64::MIN_POSITIVE,
            slow_call_rate_threshold: f64::MIN_POSITIVE,
            ..d()
        },
        BreakerConfig {
            slow_call_duration: Some(Duration::from_nanos(1)),
            ..d()
        },
        BreakerConfig {
            wait_multiplier: 1.0,
            ..d()
        },
        BreakerConfig {
            wait_in_open: Duration::from_secs(7),
            max_wait_in_open: Duration::from_secs(7),
            ..d()
        },
    ] {
        assert_eq!(check(&config), Ok(()), "{config:?}");
        assert!(CircuitBreaker::new("ok", config).is_ok());
    }
}

#[test]
fn validate_rejects_one_step_past_each_boundary() {
    let d = BreakerConfig::default;
    rejected(
        &BreakerConfig {
            window_size: 0,
            ..d()
        },
        "window_size",
    );
    rejected(
        &BreakerConfig {
            window_size: 100_001,
            ..d()
        },
        "window_size",
    );
    rejected(
        &BreakerConfig {
            minimum_calls: 0,
            ..d()
        },
        "minimum_calls",
    );
    for bad in [0.0, -1.0, 100.000_001, 150.0, f64::NAN, f64::INFINITY] {
        rejected(
            &BreakerConfig {
                failure_rate_threshold: bad,
                ..d()
            },
            "failure_rate_threshold",
        );
        rejected(
            &BreakerConfig {
                slow_call_rate_threshold: bad,
                ..d()
            },
            "slow_call_rate_threshold",
        );
    }
    rejected(
        &BreakerConfig {
            slow_call_duration: Some(Duration::ZERO),
            ..d()
        },
        "slow_call_duration",
    );
    for bad in [0.999_999, 0.5, 0.0, f64::NAN, f64::INFINITY] {
        rejected(
            &BreakerConfig {
                wait_multiplier: bad,
                ..d()
            },
            "wait_multiplier",
        );
    }
    rejected(
        &BreakerConfig {
            wait_in_open: Duration::from_secs(7),
            max_wait_in_open: Duration::from_secs(7) - Duration::from_nanos(1),
            ..d()
        },
        "max_wait_in_open",
    );
    rejected(
        &BreakerConfig {
            permitted_calls_in_half_open: 0,
            ..d()
        },
        "permitted_calls_in_half_open",
    );
}

#[test]
fn a_rejection_says_when_to_come_back() {
    let open = Rejected {
        breaker: "claude".into(),
        state: BreakerState::Open,
        retry_after: Some(Duration::from_secs(10)),
    };
    assert_eq!(
        open.to_string(),
        "circuit breaker \"claude\" is open; it probes again in 10s"
    );
    // What is left of the open period is measured, so it is rounded for the reader.
    let measured = Rejected {
        retry_after: Some(Duration::from_nanos(59_998_737_412)),
        ..open.clone()
    };
    assert_eq!(
        measured.to_string(),
        "circuit breaker \"claude\" is open; it probes again in 1m"
    );
    let full = Rejected {
        state: BreakerState::HalfOpen,
        retry_after: None,
        ..open.clone()
    };
    assert_eq!(
        full.to_string(),
        "circuit breaker \"claude\" is half-open and every probe slot is taken"
    );
    let unknown = Rejected {
        retry_after: None,
        ..open
    };
    assert_eq!(unknown.to_string(), "circuit breaker \"claude\" is open");
}

#[test]
fn debug_output_names_the_breaker_and_its_figures() {
    clock::freeze(|_| {
        rt().block_on(async {
            let b = CircuitBreaker::new("codex", small_window()).unwrap();
            let _ = fail(&b).await;
            let text = format!("{b:?}");
            for part in [
                "CircuitBreaker",
                "name: \"codex\"",
                "state: Closed",
                "calls_in_window: 1",
                "failed_calls: 1",
            ] {
                assert!(text.contains(part), "{part} missing from {text}");
            }
            let ticket = b.try_acquire().unwrap();
            let text = format!("{ticket:?}");
            assert!(
                text.contains("Ticket")
                    && text.contains("\"codex\"")
                    && text.contains("probe: false"),
                "{text}"
            );
            ticket.success();
        });
    });
}

/// The level and fields of every event logged while it is the thread's subscriber.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<(tracing::Level, String)>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() != "synod_resilience::breaker" {
            return;
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn opening_is_logged_as_a_warning_and_other_changes_as_info() {
    let logs = Logs::default();
    tracing::subscriber::with_default(logs.clone(), || {
        clock::freeze(|clock| {
            let rt = rt();
            let b = CircuitBreaker::new("gemini", small_window()).unwrap();
            rt.block_on(async {
                for _ in 0..4 {
                    let _ = fail(&b).await;
                }
            });
            assert_eq!(b.state(), BreakerState::Open);
            clock.advance(Duration::from_secs(11));
            rt.block_on(ok(&b));
            assert_eq!(b.state(), BreakerState::Closed);
        });
    });
    let logs = logs.0.lock().unwrap();
    let changes: Vec<_> = logs
        .iter()
        .filter(|(_, f)| f.contains("from="))
        .map(|(level, fields)| (*level, fields.as_str()))
        .collect();
    assert_eq!(changes.len(), 3, "{logs:?}");
    let (level, fields) = changes[0];
    assert_eq!(level, tracing::Level::WARN, "{fields}");
    for part in [
        "message=circuit breaker opened",
        "breaker=gemini",
        "from=closed",
        "to=open",
        "failure_rate=100.0",
    ] {
        assert!(fields.contains(part), "{part} missing from {fields}");
    }
    for (level, fields) in &changes[1..] {
        assert_eq!(*level, tracing::Level::INFO, "{fields}");
        assert!(
            fields.contains("message=circuit breaker state changed"),
            "{fields}"
        );
    }
    assert!(changes[1].1.contains("to=half-open"), "{changes:?}");
    assert!(changes[2].1.contains("to=closed"), "{changes:?}");
}

#[test]
fn call_blocking_ignores_permanent_errors_unless_told_to_count_them() {
    let cfg = BreakerConfig {
        slow_call_duration: None,
        ..small_window()
    };
    let permanent = || Err::<(), _>(ErrorClass::Permanent);
    let transient = || Err::<(), _>(ErrorClass::Transient);

    let b = CircuitBreaker::new("blocking", cfg.clone()).unwrap();
    for _ in 0..4 {
        let err = b.call_blocking(permanent).unwrap_err();
        assert_eq!(err.inner(), Some(&ErrorClass::Permanent));
    }
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.metrics().failed_calls, 0, "{:?}", b.metrics());
    for _ in 0..4 {
        let _ = b.call_blocking(transient);
    }
    assert_eq!(b.state(), BreakerState::Open, "{:?}", b.metrics());

    let counting = CircuitBreaker::new(
        "blocking-counting",
        BreakerConfig {
            count_permanent: true,
            ..cfg
        },
    )
    .unwrap();
    for _ in 0..3 {
        let _ = counting.call_blocking(permanent);
    }
    assert_eq!(
        counting.metrics().failed_calls,
        3,
        "{:?}",
        counting.metrics()
    );
    let _ = counting.call_blocking(permanent);
    assert_eq!(counting.state(), BreakerState::Open);
}
