//! Circuit breaker and registry behaviour. Open-state waits run on failsafe's frozen test
//! clock, call durations on tokio's paused clock: nothing sleeps for real.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use failsafe::clock::{self, MockClock};
use futures::FutureExt;
use proptest::prelude::*;
use synod_resilience::{
    BreakerConfig, BreakerError, BreakerState, CircuitBreaker, Classify, ErrorClass, Registry,
    StateChange,
};
use tokio::sync::Semaphore;

fn config() -> BreakerConfig {
    BreakerConfig {
        window_size: 10,
        minimum_calls: 4,
        failure_rate_threshold: 50.0,
        wait_in_open: Duration::from_secs(10),
        permitted_calls_in_half_open: 2,
        ..BreakerConfig::default()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

/// Runs `f` with failsafe's clock frozen (advance it with the `MockClock`) and a paused
/// current-thread runtime on this thread.
fn frozen<R>(f: impl FnOnce(&mut MockClock, &tokio::runtime::Runtime) -> R) -> R {
    clock::freeze(|clock| f(clock, &rt()))
}

async fn ok(b: &CircuitBreaker) -> Result<(), BreakerError<ErrorClass>> {
    b.call(async { Ok::<(), ErrorClass>(()) }).await
}

async fn fail(b: &CircuitBreaker) -> Result<(), BreakerError<ErrorClass>> {
    b.call(async { Err::<(), _>(ErrorClass::Transient) }).await
}

fn open(rt: &tokio::runtime::Runtime, b: &CircuitBreaker) {
    rt.block_on(async {
        for _ in 0..4 {
            let _ = fail(b).await;
        }
    });
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn stays_closed_below_minimum_calls_and_opens_at_the_threshold() {
    frozen(|_, rt| {
        rt.block_on(async {
            let b = CircuitBreaker::new("t", config()).unwrap();
            for _ in 0..3 {
                assert!(matches!(fail(&b).await, Err(BreakerError::Inner(_))));
            }
            assert_eq!(b.state(), BreakerState::Closed, "3 calls < minimum 4");
            assert_eq!(b.metrics().failure_rate, 100.0);

            let b = CircuitBreaker::new("t", config()).unwrap();
            for _ in 0..6 {
                ok(&b).await.unwrap();
            }
            for _ in 0..4 {
                let _ = fail(&b).await;
            }
            assert_eq!(b.state(), BreakerState::Closed, "40% < 50%");
            // The window slides: the oldest success leaves, the rate reaches 50%.
            let _ = fail(&b).await;
            assert_eq!(b.state(), BreakerState::Open);
            let m = b.metrics();
            assert_eq!((m.calls_in_window, m.failed_calls), (10, 5));
            assert_eq!(m.failure_rate, 50.0);

            let err = ok(&b).await.unwrap_err();
            let BreakerError::Rejected(r) = &err else {
                panic!("expected a rejection, got {err:?}");
            };
            assert_eq!(r.state, BreakerState::Open);
            assert_eq!(r.retry_after, Some(Duration::from_secs(10)));
            assert_eq!(
                err.class(),
                ErrorClass::RateLimited {
                    retry_after: Some(Duration::from_secs(10))
                }
            );
            assert!(err.to_string().contains("\"t\" is open"), "{err}");
            assert_eq!(b.metrics().rejected_calls, 1);
        });
    });
}

#[test]
fn permanent_errors_do_not_count_unless_configured() {
    frozen(|_, rt| {
        rt.block_on(async {
            let b = CircuitBreaker::new("t", config()).unwrap();
            for _ in 0..10 {
                let _ = b.call(async { Err::<(), _>(ErrorClass::Permanent) }).await;
            }
            assert_eq!(b.state(), BreakerState::Closed);
            assert_eq!(b.metrics().calls_in_window, 0);

            let counting = CircuitBreaker::new(
                "t",
                BreakerConfig {
                    count_permanent: true,
                    ..config()
                },
            )
            .unwrap();
            for _ in 0..4 {
                let _ = counting
                    .call(async { Err::<(), _>(ErrorClass::Permanent) })
                    .await;
            }
            assert_eq!(counting.state(), BreakerState::Open);
        });
    });
}

/// Starts `n` calls that block until `gate` gets permits; returns their join handles.
fn start_blocked_calls(
    b: &CircuitBreaker,
    gate: &Arc<Semaphore>,
    n: usize,
    succeed: bool,
) -> Vec<tokio::task::JoinHandle<Result<(), BreakerError<ErrorClass>>>> {
    (0..n)
        .map(|_| {
            let b = b.clone();
            let gate = gate.clone();
            tokio::spawn(async move {
                b.call(async move {
                    let _permit = gate.acquire().await.unwrap();
                    if succeed {
                        Ok(())
                    } else {
                        Err(ErrorClass::Transient)
                    }
                })
                .await
            })
        })
        .collect()
}

async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[test]
fn half_open_admits_exactly_n_concurrent_probes_and_closes_on_success() {
    frozen(|clock, rt| {
        let b = CircuitBreaker::new("t", config()).unwrap();
        let changes = Arc::new(Mutex::new(Vec::new()));
        let seen = changes.clone();
        b.on_state_change(move |c: StateChange| seen.lock().unwrap().push((c.from, c.to)));
        open(rt, &b);
        clock.advance(Duration::from_secs(9));
        assert!(rt.block_on(ok(&b)).unwrap_err().is_rejected(), "still open");
        clock.advance(Duration::from_secs(2));

        rt.block_on(async {
            let gate = Arc::new(Semaphore::new(0));
            let tasks = start_blocked_calls(&b, &gate, 5, true);
            settle().await;
            assert_eq!(b.state(), BreakerState::HalfOpen);
            assert_eq!(b.metrics().probes_in_flight, 2, "exactly 2 probes admitted");
            gate.add_permits(5);
            let mut admitted = 0;
            let mut rejected = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(()) => admitted += 1,
                    Err(BreakerError::Rejected(r)) => {
                        assert_eq!(r.state, BreakerState::HalfOpen);
                        rejected += 1;
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            assert_eq!((admitted, rejected), (2, 3));
        });
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.metrics().probes_in_flight, 0);
        assert_eq!(
            *changes.lock().unwrap(),
            [
                (BreakerState::Closed, BreakerState::Open),
                (BreakerState::Open, BreakerState::HalfOpen),
                (BreakerState::HalfOpen, BreakerState::Closed),
            ]
        );
        // Closing starts a fresh window.
        assert_eq!(b.metrics().failed_calls, 0);
    });
}

#[test]
fn failed_probe_reopens_with_a_growing_wait() {
    frozen(|clock, rt| {
        let b = CircuitBreaker::new(
            "t",
            BreakerConfig {
                wait_multiplier: 2.0,
                max_wait_in_open: Duration::from_secs(25),
                ..config()
            },
        )
        .unwrap();
        open(rt, &b);
        for wait in [10, 20, 25, 25] {
            clock.advance(Duration::from_secs(wait) - Duration::from_millis(1));
            assert!(
                rt.block_on(fail(&b)).unwrap_err().is_rejected(),
                "wait {wait}"
            );
            clock.advance(Duration::from_millis(2));
            assert!(matches!(rt.block_on(fail(&b)), Err(BreakerError::Inner(_))));
            assert_eq!(
                b.state(),
                BreakerState::Open,
                "the failed probe reopened it"
            );
        }
        clock.advance(Duration::from_secs(26));
        rt.block_on(ok(&b)).unwrap();
        assert_eq!(b.state(), BreakerState::Closed);
        // Back to the initial wait after closing.
        open(rt, &b);
        clock.advance(Duration::from_millis(10_001));
        rt.block_on(ok(&b)).unwrap();
        assert_eq!(b.state(), BreakerState::Closed);
    });
}

#[test]
fn dropped_probe_frees_its_slot() {
    frozen(|clock, rt| {
        let b = CircuitBreaker::new(
            "t",
            BreakerConfig {
                permitted_calls_in_half_open: 1,
                ..config()
            },
        )
        .unwrap();
        open(rt, &b);
        clock.advance(Duration::from_secs(11));
        rt.block_on(async {
            let mut probe = Box::pin(b.call(std::future::pending::<Result<(), ErrorClass>>()));
            assert!((&mut probe).now_or_never().is_none(), "probe is in flight");
            assert_eq!(b.metrics().probes_in_flight, 1);
            assert!(
                ok(&b).await.unwrap_err().is_rejected(),
                "the only slot is taken"
            );
            drop(probe);
            assert_eq!(b.metrics().probes_in_flight, 0);
            assert_eq!(
                b.state(),
                BreakerState::HalfOpen,
                "no verdict from a dropped probe"
            );

            // A probe cancelled by a timeout frees its slot too.
            let timed_out = tokio::time::timeout(
                Duration::from_secs(1),
                b.call(std::future::pending::<Result<(), ErrorClass>>()),
            )
            .await;
            assert!(timed_out.is_err());
            assert_eq!(b.metrics().probes_in_flight, 0);

            ok(&b).await.unwrap();
            assert_eq!(b.state(), BreakerState::Closed);
        });
    });
}

#[test]
fn slow_calls_open_the_breaker() {
    let cfg = BreakerConfig {
        slow_call_duration: Some(Duration::from_secs(5)),
        slow_call_rate_threshold: 50.0,
        ..config()
    };
    frozen(|_, rt| {
        rt.block_on(async {
            let b = CircuitBreaker::new("slow", cfg).unwrap();
            let slow_ok = || {
                b.call(async {
                    tokio::time::sleep(Duration::from_secs(6)).await;
                    Ok::<(), ErrorClass>(())
                })
            };
            ok(&b).await.unwrap();
            ok(&b).await.unwrap();
            slow_ok().await.unwrap();
            assert_eq!(b.state(), BreakerState::Closed, "3 calls < minimum 4");
            slow_ok().await.unwrap();
            let m = b.metrics();
            assert_eq!(m.state, BreakerState::Open, "{m:?}");
            assert_eq!(
                (m.slow_calls, m.failed_calls, m.slow_call_rate),
                (2, 0, 50.0)
            );
        });
    });
}

#[test]
fn call_with_blocking_and_tickets() {
    frozen(|_, rt| {
        let b = CircuitBreaker::new("t", config()).unwrap();
        rt.block_on(async {
            let r = b
                .call_with(async { Err::<(), _>(404) }, |code| *code >= 500)
                .await;
            assert!(matches!(r, Err(BreakerError::Inner(404))));
        });
        assert_eq!(b.metrics().calls_in_window, 0, "404 does not count");
        assert_eq!(b.call_blocking(|| Ok::<_, ErrorClass>(7)).unwrap(), 7);
        b.try_acquire().unwrap().failure();
        b.try_acquire().unwrap().success();
        drop(b.try_acquire().unwrap());
        let m = b.metrics();
        assert_eq!((m.calls_in_window, m.failed_calls), (3, 1));
        b.try_acquire().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Open, "4 calls, 50% failed");
        assert!(b.try_acquire().is_err());
        b.reset();
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.metrics().calls_in_window, 0);
    });
}

#[test]
fn registry_isolates_keys_and_shares_per_key_state() {
    frozen(|_, rt| {
        let registry: Registry<String> = Registry::new(config()).unwrap();
        let opened = Arc::new(Mutex::new(Vec::new()));
        let seen = opened.clone();
        registry.on_state_change(move |key: &String, c: StateChange| {
            seen.lock().unwrap().push((key.clone(), c.to));
        });
        let gemini = registry.get(&"gemini".to_owned());
        rt.block_on(async {
            for _ in 0..4 {
                let _ = fail(&registry.get(&"claude".to_owned())).await;
            }
            ok(&gemini).await.unwrap();
        });
        assert_eq!(
            registry.get(&"claude".to_owned()).state(),
            BreakerState::Open
        );
        assert_eq!(gemini.state(), BreakerState::Closed);
        assert_eq!(registry.get(&"claude".to_owned()).name(), "claude");
        assert_eq!(registry.len(), 2);
        let mut metrics = registry.metrics();
        metrics.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(metrics[0].1.state, BreakerState::Open);
        assert_eq!(metrics[1].1.calls_in_window, 1);
        assert_eq!(
            *opened.lock().unwrap(),
            [("claude".to_owned(), BreakerState::Open)]
        );
        // Clones of the registry share the breakers.
        assert_eq!(
            Registry::clone(&registry).get(&"claude".to_owned()).state(),
            BreakerState::Open
        );
    });
}

#[test]
fn config_serde_and_validation() {
    let c: BreakerConfig = serde_json::from_str(
        r#"{"window_size": 50, "wait_in_open": "1m", "slow_call_duration": "2s",
            "wait_multiplier": 2.0, "max_wait_in_open": "10m"}"#,
    )
    .unwrap();
    assert_eq!(c.window_size, 50);
    assert_eq!(c.wait_in_open, Duration::from_secs(60));
    assert_eq!(c.slow_call_duration, Some(Duration::from_secs(2)));
    assert_eq!(c.minimum_calls, 5);
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["max_wait_in_open"], "10m");
    let back: BreakerConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, c);

    for (bad, name) in [
        (
            BreakerConfig {
                window_size: 0,
                ..BreakerConfig::default()
            },
            "window_size = 0",
        ),
        (
            BreakerConfig {
                failure_rate_threshold: 150.0,
                ..BreakerConfig::default()
            },
            "failure_rate_threshold = 150",
        ),
        (
            BreakerConfig {
                permitted_calls_in_half_open: 0,
                ..BreakerConfig::default()
            },
            "permitted_calls_in_half_open",
        ),
        (
            BreakerConfig {
                max_wait_in_open: Duration::from_secs(1),
                ..BreakerConfig::default()
            },
            "max_wait_in_open = 1s",
        ),
    ] {
        let err = CircuitBreaker::new("x", bad).unwrap_err().to_string();
        assert!(err.contains(name), "{err}");
    }
}

/// Reference model of the closed state: open as soon as the last `window` counted outcomes
/// hold at least `min(minimum, window)` calls with a failure rate at or above `threshold`.
fn model_opens_at(
    outcomes: &[bool],
    window: usize,
    minimum: usize,
    threshold: f64,
) -> Option<usize> {
    let mut recent: Vec<bool> = Vec::new();
    for (i, failed) in outcomes.iter().enumerate() {
        recent.push(*failed);
        if recent.len() > window {
            recent.remove(0);
        }
        let failures = recent.iter().filter(|f| **f).count();
        if recent.len() >= minimum.min(window)
            && failures as f64 * 100.0 >= threshold * recent.len() as f64
        {
            return Some(i);
        }
    }
    None
}

fn run_now<F: Future>(f: F) -> F::Output {
    f.now_or_never().expect("the breaker never blocks")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn closed_state_matches_the_sliding_window_model(
        window in 1u32..30,
        minimum in 1u32..30,
        threshold in 1u32..=100,
        outcomes in proptest::collection::vec(any::<bool>(), 0..80),
    ) {
        let b = CircuitBreaker::new("p", BreakerConfig {
            window_size: window,
            minimum_calls: minimum,
            failure_rate_threshold: f64::from(threshold),
            slow_call_duration: None,
            ..BreakerConfig::default()
        }).unwrap();
        let expected = model_opens_at(&outcomes, window as usize, minimum as usize, f64::from(threshold));
        for (i, failed) in outcomes.iter().enumerate() {
            let res = run_now(b.call(async move {
                if *failed { Err(ErrorClass::Transient) } else { Ok(()) }
            }));
            match expected {
                Some(at) if i > at => prop_assert!(res.unwrap_err().is_rejected()),
                _ => prop_assert_eq!(res.is_ok(), !failed),
            }
            let open_now = expected.is_some_and(|at| i >= at);
            let want = if open_now { BreakerState::Open } else { BreakerState::Closed };
            prop_assert_eq!(b.state(), want, "after call {}", i);
        }
    }
}
