//! What embedders read back from the settings and errors: policy equality (used to tell
//! whether a reloaded config changed anything), the accessors of pipelines, budgets and
//! registries, `Debug` output that names the settings, validation boundaries, and the
//! accessors of a pipeline's error.

use std::time::Duration;

use synod_resilience::{
    BreakerConfig, BudgetConfig, CircuitBreaker, Classify, ErrorClass, Jitter, Pipeline,
    PipelineError, Registry, RetryBudget, RetryPolicy,
};

fn base() -> synod_resilience::RetryPolicyBuilder {
    RetryPolicy::builder()
        .max_attempts(4)
        .initial_delay(Duration::from_millis(100))
        .max_delay(Duration::from_secs(5))
        .multiplier(2.0)
        .jitter(Jitter::Equal)
        .max_elapsed(Some(Duration::from_secs(60)))
        .seed(7)
}

#[test]
fn policies_are_equal_exactly_when_every_setting_and_the_budget_are() {
    let policy = base().build().unwrap();
    assert_eq!(policy, base().build().unwrap());
    assert_eq!(
        RetryPolicy::default(),
        RetryPolicy::builder().build().unwrap()
    );
    let changed = [
        base().max_attempts(5),
        base().initial_delay(Duration::from_millis(101)),
        base().max_delay(Duration::from_secs(6)),
        base().multiplier(2.5),
        base().jitter(Jitter::Full),
        base().max_elapsed(None),
        base().seed(8),
        base().budget(&RetryBudget::default()),
    ];
    for (i, other) in changed.into_iter().enumerate() {
        let other = other.build().unwrap();
        assert_ne!(policy, other, "setting {i} differs");
        assert_ne!(other, policy, "setting {i} differs (other side)");
    }
}

#[test]
fn a_policy_reads_back_what_it_was_built_with() {
    let policy = base().build().unwrap();
    assert_eq!(policy.max_attempts(), 4);
    assert_eq!(policy.initial_delay(), Duration::from_millis(100));
    assert_eq!(policy.max_delay(), Duration::from_secs(5));
    assert_eq!(policy.multiplier().to_bits(), 2.0_f64.to_bits());
    assert_eq!(policy.jitter(), Jitter::Equal);
    assert_eq!(policy.max_elapsed(), Some(Duration::from_secs(60)));
    assert_eq!(policy.budget(), None);
}

#[test]
fn a_policy_shares_its_budget_and_equals_only_policies_on_the_same_bucket() {
    let budget = RetryBudget::default();
    let with_builder = base().budget(&budget).build().unwrap();
    let with_method = base().build().unwrap().with_budget(&budget);
    assert_eq!(with_builder, with_method);
    assert_eq!(with_builder.budget(), Some(&budget));
    let other_bucket = base().budget(&RetryBudget::default()).build().unwrap();
    assert_ne!(with_builder, other_bucket, "same settings, another bucket");
}

#[test]
fn never_makes_exactly_one_attempt_and_keeps_the_other_defaults() {
    let never = RetryPolicy::never();
    assert_eq!(never.max_attempts(), 1);
    assert_eq!(
        never,
        RetryPolicy::builder().max_attempts(1).build().unwrap()
    );
    let calls = std::cell::Cell::new(0);
    let err = never
        .retry_blocking(|| {
            calls.set(calls.get() + 1);
            Err::<(), _>(ErrorClass::Transient)
        })
        .unwrap_err();
    assert_eq!((calls.get(), err.attempts()), (1, 1));
}

#[test]
fn validation_accepts_its_boundaries() {
    // A multiplier of exactly 1 (constant delays) and an initial delay equal to the maximum.
    let flat = RetryPolicy::builder()
        .multiplier(1.0)
        .initial_delay(Duration::from_secs(2))
        .max_delay(Duration::from_secs(2))
        .build()
        .unwrap();
    assert_eq!(flat.multiplier().to_bits(), 1.0_f64.to_bits());
    assert_eq!(flat.initial_delay(), flat.max_delay());
    let err = RetryPolicy::builder().multiplier(0.99).build().unwrap_err();
    assert!(err.to_string().contains("multiplier"), "{err}");
    let err = RetryPolicy::builder()
        .initial_delay(Duration::from_millis(2_001))
        .max_delay(Duration::from_secs(2))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("initial_delay"), "{err}");
}

#[test]
fn debug_output_names_every_setting() {
    let budget = RetryBudget::new(BudgetConfig {
        capacity: 9,
        ..BudgetConfig::default()
    })
    .unwrap();
    let text = format!("{:?}", base().budget(&budget).build().unwrap());
    for part in [
        "RetryPolicy",
        "max_attempts: 4",
        "initial_delay: 100ms",
        "max_delay: 5s",
        "multiplier: 2.0",
        "jitter: Equal",
        "max_elapsed: Some(60s)",
        "seed: Some(7)",
        "budget: Some(9)",
    ] {
        assert!(text.contains(part), "{part} missing from {text}");
    }
    let text = format!("{budget:?}");
    assert!(
        text.contains("available: 9") && text.contains("capacity: 9"),
        "{text}"
    );
    let registry: Registry<String> = Registry::new(BreakerConfig::default()).unwrap();
    let _ = registry.get("claude");
    let text = format!("{registry:?}");
    assert!(
        text.contains("Registry") && text.contains("claude"),
        "{text}"
    );
}

#[test]
fn budgets_are_equal_when_they_share_a_bucket_and_report_their_config() {
    let config = BudgetConfig {
        capacity: 12,
        retry_cost: 3,
        timeout_retry_cost: 6,
        success_reward: 2,
    };
    let budget = RetryBudget::new(config).unwrap();
    assert_eq!(budget, budget.clone());
    assert_ne!(budget, RetryBudget::new(config).unwrap());
    assert_eq!(budget.config(), &config);
    assert!(budget.try_withdraw(5));
    budget.deposit(2);
    assert_eq!(budget.available(), 9);
    budget.deposit(100);
    assert_eq!(budget.available(), 12, "never beyond capacity");
}

#[test]
fn a_registry_reports_its_config_and_whether_it_holds_breakers() {
    let config = BreakerConfig {
        minimum_calls: 4,
        ..BreakerConfig::default()
    };
    let registry: Registry<String> = Registry::new(config.clone()).unwrap();
    assert_eq!(registry.config(), &config);
    assert!(registry.is_empty());
    let breaker = registry.get("codex");
    assert_eq!(breaker.config().minimum_calls, 4);
    assert!(!registry.is_empty());
    assert_eq!(registry.len(), 1);
}

#[test]
fn a_pipeline_reports_the_policy_and_breaker_it_runs() {
    let breaker = CircuitBreaker::new("gemini", BreakerConfig::default()).unwrap();
    let policy = base().build().unwrap();
    let pipeline = Pipeline::builder()
        .breaker(&breaker)
        .retry(policy.clone())
        .build()
        .unwrap();
    assert_eq!(pipeline.policy(), &policy);
    assert_eq!(pipeline.breaker().map(CircuitBreaker::name), Some("gemini"));
    let bare = Pipeline::builder().build().unwrap();
    assert!(bare.breaker().is_none());
    assert_eq!(bare.policy(), &RetryPolicy::default());
}

#[tokio::test(start_paused = true)]
async fn a_failed_pipeline_error_exposes_its_last_cause() {
    let pipeline = Pipeline::builder()
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let err = pipeline
        .run(|| async { Err::<(), _>(std::io::Error::from(std::io::ErrorKind::TimedOut)) })
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::Failed(_)));
    assert_eq!(
        err.inner().map(std::io::Error::kind),
        Some(std::io::ErrorKind::TimedOut)
    );
    assert!(!err.is_rejected(), "the call ran: not a breaker rejection");
    assert!(err.is_timeout(), "the cause was a timeout");
    let source = std::error::Error::source(&err).expect("a failed run has a source");
    assert!(source.to_string().contains("timed out"), "{source}");

    let err = pipeline
        .run(|| async { Err::<(), _>(std::io::Error::from(std::io::ErrorKind::NotFound)) })
        .await
        .unwrap_err();
    assert!(!err.is_timeout(), "a missing file is no timeout");
    assert!(!err.is_rejected());
}

/// A stated retry time exactly at `max_delay`, and exactly what `max_elapsed` leaves, is
/// honoured: only a longer one ends the loop.
#[tokio::test(start_paused = true)]
async fn a_retry_time_at_the_limits_is_waited_for() {
    let policy = RetryPolicy::builder()
        .max_attempts(3)
        .initial_delay(Duration::from_millis(100))
        .max_delay(Duration::from_secs(10))
        .max_elapsed(Some(Duration::from_secs(10)))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let calls = std::sync::atomic::AtomicU32::new(0);
    let start = tokio::time::Instant::now();
    let answer = policy
        .retry(|| {
            let first = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0;
            async move {
                if first {
                    Err(ErrorClass::RateLimited {
                        retry_after: Some(Duration::from_secs(10)),
                    })
                } else {
                    Ok(42)
                }
            }
        })
        .await
        .unwrap();
    assert_eq!(answer, 42);
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    let err = policy
        .retry(|| async {
            Err::<(), _>(ErrorClass::RateLimited {
                retry_after: Some(Duration::from_millis(10_001)),
            })
        })
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1, "a longer stated time fails fast");
}

#[tokio::test(start_paused = true)]
async fn a_retry_error_exposes_its_last_cause_and_whether_it_was_a_timeout() {
    let policy = RetryPolicy::never();
    let err = policy
        .retry(|| async { Err::<(), _>(std::io::Error::from(std::io::ErrorKind::TimedOut)) })
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let source = std::error::Error::source(&err).expect("the last error is the source");
    assert!(source.to_string().contains("timed out"), "{source}");
    let err = policy
        .retry(|| async { Err::<(), _>(std::io::Error::from(std::io::ErrorKind::NotFound)) })
        .await
        .unwrap_err();
    assert!(!err.is_timeout());
}

/// Without a seed every run draws its own jitter, so processes retrying together spread out
/// instead of retrying in step.
#[test]
fn unseeded_runs_draw_different_jitter() {
    let policy = RetryPolicy::builder()
        .max_attempts(6)
        .jitter(Jitter::Full)
        .build()
        .unwrap();
    let runs: Vec<Vec<Duration>> = (0..4).map(|_| policy.delays().collect()).collect();
    assert!(
        runs.windows(2).all(|pair| pair[0] != pair[1]),
        "two runs drew the same delays: {runs:?}"
    );
    let seeded = base().jitter(Jitter::Full).build().unwrap();
    assert_eq!(
        seeded.delays().collect::<Vec<_>>(),
        seeded.delays().collect::<Vec<_>>()
    );
}

#[cfg(feature = "schemars")]
#[test]
fn the_json_schema_describes_the_serde_form() {
    let schema = schemars::schema_for!(RetryPolicy);
    let text = serde_json::to_string(&schema).unwrap();
    for key in [
        "max_attempts",
        "initial_delay",
        "max_delay",
        "multiplier",
        "jitter",
    ] {
        assert!(text.contains(key), "{key} missing from {text}");
    }
}
