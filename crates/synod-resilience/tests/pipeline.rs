//! The composed pipeline: timeout → budget → breaker → retry.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use synod_resilience::{
    BreakerConfig, BreakerState, CircuitBreaker, Classify, ErrorClass, Pipeline, PipelineError,
    RetryBudget, RetryPolicy, StopReason,
};

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(max_attempts)
        .initial_delay(Duration::from_millis(100))
        .max_delay(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn breaker() -> CircuitBreaker {
    CircuitBreaker::new(
        "agent",
        BreakerConfig {
            minimum_calls: 3,
            wait_in_open: Duration::from_secs(60),
            ..BreakerConfig::default()
        },
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_through_every_layer() {
    let budget = RetryBudget::default();
    let b = breaker();
    let pipeline = Pipeline::builder()
        .timeout(Duration::from_secs(30))
        .budget(&budget)
        .breaker(&b)
        .retry(policy(5))
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let mut notified = Vec::new();
    let out = pipeline
        .run_notify(
            || {
                let n = calls.fetch_add(1, Ordering::Relaxed);
                async move {
                    if n < 2 {
                        Err(ErrorClass::Transient)
                    } else {
                        Ok(n)
                    }
                }
            },
            |attempt, err, _| notified.push((attempt, err.class())),
        )
        .await
        .unwrap();
    assert_eq!(out, 2);
    assert_eq!(
        notified,
        [(1, ErrorClass::Transient), (2, ErrorClass::Transient)]
    );
    let m = b.metrics();
    assert_eq!(
        (m.calls_in_window, m.failed_calls),
        (3, 2),
        "every attempt recorded"
    );
    assert_eq!(
        budget.available(),
        495,
        "the successful retry refunded its 5"
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_stops_the_retry_loop_without_calling() {
    let b = breaker();
    let pipeline = Pipeline::builder()
        .breaker(&b)
        .retry(policy(10))
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let err = pipeline
        .run(|| {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>(ErrorClass::Transient) }
        })
        .await
        .unwrap_err();
    // Three failures open the breaker; the 4th attempt is rejected with retry_after = 60 s,
    // beyond max_delay = 5 s, so the loop ends at once.
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(b.state(), BreakerState::Open);
    assert!(err.is_rejected());
    assert_eq!(err.attempts(), 4);
    assert!(err.inner().is_none());
    let PipelineError::Failed(retry) = &err else {
        panic!("{err:?}");
    };
    assert!(matches!(
        retry.reason(),
        StopReason::RetryAfterTooLong { limit, .. } if limit == Duration::from_secs(5)
    ));
    assert!(err.to_string().contains("is open"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_end_at_once_and_keep_their_cause() {
    let pipeline = Pipeline::builder().retry(policy(5)).build().unwrap();
    let err = pipeline
        .run(|| async { Err::<(), _>(std::io::Error::from(std::io::ErrorKind::PermissionDenied)) })
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(
        err.into_inner().map(|e| e.kind()),
        Some(std::io::ErrorKind::PermissionDenied)
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_the_whole_run() {
    let b = breaker();
    let pipeline = Pipeline::builder()
        .timeout(Duration::from_secs(2))
        .breaker(&b)
        .retry(policy(100))
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let err = pipeline
        .run(|| async {
            tokio::time::sleep(Duration::from_millis(900)).await;
            Err::<(), _>(std::io::Error::from(std::io::ErrorKind::TimedOut))
        })
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert!(matches!(
        err,
        PipelineError::TimedOut { timeout, attempts: 2 | 3 } if timeout == Duration::from_secs(2)
    ));
    assert!(err.is_timeout());
    assert_eq!(err.class(), ErrorClass::Transient);
    assert!(
        err.to_string().starts_with("deadline of 2s passed after"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_shared_budget_limits_retries_across_pipelines() {
    let budget = RetryBudget::new(synod_resilience::BudgetConfig {
        capacity: 10,
        ..Default::default()
    })
    .unwrap();
    let calls = AtomicU32::new(0);
    for _ in 0..3 {
        let pipeline = Pipeline::builder()
            .budget(&budget)
            .retry(policy(5))
            .build()
            .unwrap();
        let _ = pipeline
            .run(|| {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>(ErrorClass::Transient) }
            })
            .await;
    }
    // 3 first attempts + the 2 retries 10 tokens pay for.
    assert_eq!(calls.load(Ordering::Relaxed), 5);
    assert!(Pipeline::builder().timeout(Duration::ZERO).build().is_err());
}

/// Callers spawn these futures on multi-threaded runtimes: they must be `Send` (this fails to
/// compile otherwise).
#[test]
fn futures_are_send_so_callers_can_spawn_them() {
    fn spawnable<F: std::future::Future + Send>(f: F) -> F {
        f
    }
    let breaker = CircuitBreaker::default();
    let pipeline = Pipeline::builder()
        .timeout(Duration::from_secs(1))
        .budget(&RetryBudget::default())
        .breaker(&breaker)
        .retry(policy(2))
        .build()
        .unwrap();
    let policy = policy(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    // Borrowing futures are checked directly, owning tasks through tokio::spawn.
    drop(spawnable(pipeline.run(|| async { Ok::<_, ErrorClass>(1) })));
    drop(spawnable(policy.retry(|| async { Ok::<_, ErrorClass>(2) })));
    drop(spawnable(breaker.call(async { Ok::<_, ErrorClass>(3) })));
    let sum = rt.block_on(async move {
        let a = tokio::spawn(async move {
            pipeline
                .run(|| async { Ok::<_, ErrorClass>(1) })
                .await
                .unwrap()
        });
        let b = tokio::spawn(async move {
            policy
                .retry(|| async { Ok::<_, ErrorClass>(2) })
                .await
                .unwrap()
        });
        let c = tokio::spawn(async move {
            breaker
                .call(async { Ok::<_, ErrorClass>(3) })
                .await
                .unwrap()
        });
        a.await.unwrap() + b.await.unwrap() + c.await.unwrap()
    });
    assert_eq!(sum, 6);
}
