//! synod-resilience alone: retry a flaky call with backoff, honour a rate limit's
//! retry-after, share a retry budget, and watch a circuit breaker open and reject.
//!
//! `cargo run -p synod-examples --example retry_circuit`
use std::time::Duration;

use synod::resilience::{
    BreakerConfig, BreakerError, BreakerState, CircuitBreaker, ErrorClass, Jitter, RetryBudget,
    RetryPolicy, StopReason,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let budget = RetryBudget::default();
    let policy = RetryPolicy::builder()
        .max_attempts(4)
        .initial_delay(Duration::from_millis(20))
        .max_delay(Duration::from_secs(1))
        .jitter(Jitter::Full)
        .build()?
        .with_budget(&budget);

    // Fails twice (once rate-limited with a retry-after), then succeeds.
    let mut calls = 0;
    let value = policy
        .retry_notify(
            || {
                calls += 1;
                let n = calls;
                async move {
                    match n {
                        1 => Err(ErrorClass::Transient),
                        2 => Err(ErrorClass::RateLimited {
                            retry_after: Some(Duration::from_millis(50)),
                        }),
                        _ => Ok(n),
                    }
                }
            },
            |attempt, err: &ErrorClass, delay| {
                println!("attempt {attempt} failed ({err:?}); waiting {delay:?}");
            },
        )
        .await
        .map_err(|e| {
            format!(
                "gave up: {:?} after {} attempts",
                e.last_error(),
                e.attempts()
            )
        })?;
    println!(
        "succeeded on call {value}; budget left: {}",
        budget.available()
    );

    // A permanent error is never retried.
    let err = policy
        .retry(|| async { Err::<(), _>(ErrorClass::Permanent) })
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert!(matches!(err.reason(), StopReason::Permanent));

    // A breaker opens after half of 4 calls fail, then rejects without calling.
    let breaker = CircuitBreaker::new(
        "codex",
        BreakerConfig {
            window_size: 4,
            minimum_calls: 4,
            wait_in_open: Duration::from_secs(30),
            ..Default::default()
        },
    )?;
    for i in 0..4 {
        let _ = breaker
            .call(async move {
                if i % 2 == 0 {
                    Ok(())
                } else {
                    Err(ErrorClass::Transient)
                }
            })
            .await;
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    match breaker.call(async { Ok::<_, ErrorClass>(()) }).await {
        Err(BreakerError::Rejected(rejected)) => println!("rejected: {rejected}"),
        other => return Err(format!("expected a rejection, got {other:?}").into()),
    }
    println!("breaker metrics: {:?}", breaker.metrics());
    Ok(())
}
