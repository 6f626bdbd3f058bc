//! Retry policy and budget behaviour, on tokio's paused clock (no real sleeping).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use synod_resilience::{
    BudgetConfig, Classify, ErrorClass, Jitter, RetryBudget, RetryError, RetryPolicy, StopReason,
};
use tokio::time::Instant;

/// A test error with a chosen class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fail {
    class: ErrorClass,
    timeout: bool,
}

impl Fail {
    const TRANSIENT: Fail = Fail {
        class: ErrorClass::Transient,
        timeout: false,
    };
    const TIMEOUT: Fail = Fail {
        class: ErrorClass::Transient,
        timeout: true,
    };
    fn rate_limited(after: Option<Duration>) -> Fail {
        Fail {
            class: ErrorClass::RateLimited { retry_after: after },
            timeout: false,
        }
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "test failure ({:?})", self.class)
    }
}

impl Classify for Fail {
    fn class(&self) -> ErrorClass {
        self.class
    }
    fn is_timeout(&self) -> bool {
        self.timeout
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn seeded(jitter: Jitter) -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(7)
        .initial_delay(ms(100))
        .max_delay(Duration::from_secs(2))
        .multiplier(2.0)
        .jitter(jitter)
        .seed(42)
        .build()
        .unwrap()
}

fn nanos(p: &RetryPolicy) -> Vec<u128> {
    p.delays().map(|d| d.as_nanos()).collect()
}

#[test]
fn exact_delay_sequences_per_jitter_mode() {
    assert_eq!(
        nanos(&seeded(Jitter::None)),
        [100, 200, 400, 800, 1600, 2000].map(|m| m * 1_000_000)
    );
    // Seed 42 of the SplitMix64 jitter RNG; a change here changes every seeded user's delays.
    assert_eq!(nanos(&seeded(Jitter::Full)), FULL_42);
    assert_eq!(nanos(&seeded(Jitter::Equal)), EQUAL_42);
    assert_eq!(nanos(&seeded(Jitter::Decorrelated)), DECORRELATED_42);
    // Same seed, same sequence; another seed, another sequence.
    assert_eq!(nanos(&seeded(Jitter::Full)), nanos(&seeded(Jitter::Full)));
    let other = RetryPolicy::builder()
        .max_attempts(7)
        .initial_delay(ms(100))
        .max_delay(Duration::from_secs(2))
        .seed(43)
        .build()
        .unwrap();
    assert_ne!(nanos(&other), FULL_42);
}

const FULL_42: [u128; 6] = [
    74156488, 31982079, 111440452, 275352573, 60848270, 1736456153,
];
const EQUAL_42: [u128; 6] = [
    87078244, 115991039, 255720226, 537676287, 830424135, 1868228077,
];
const DECORRELATED_42: [u128; 6] = [
    248312976, 203132437, 241918667, 315379406, 132178779, 357461173,
];

#[test]
fn jitter_modes_stay_in_their_ranges() {
    let base = nanos(&seeded(Jitter::None));
    for (d, b) in nanos(&seeded(Jitter::Full)).into_iter().zip(&base) {
        assert!(d <= *b, "full jitter {d} > base {b}");
    }
    for (d, b) in nanos(&seeded(Jitter::Equal)).into_iter().zip(&base) {
        assert!(
            d >= b / 2 && d <= *b,
            "equal jitter {d} outside [{}, {b}]",
            b / 2
        );
    }
    let mut prev = 100_000_000u128;
    for d in nanos(&seeded(Jitter::Decorrelated)) {
        assert!(
            (100_000_000..=(prev * 3).min(2_000_000_000)).contains(&d),
            "{d} prev {prev}"
        );
        prev = d;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn never_exceeds_max_delay_or_max_attempts(
        max_attempts in 1u32..12,
        initial_ms in 0u64..2_000,
        extra_ms in 0u64..5_000,
        multiplier in 1.0f64..5.0,
        jitter in prop_oneof![
            Just(Jitter::None), Just(Jitter::Full), Just(Jitter::Equal), Just(Jitter::Decorrelated)
        ],
        seed in any::<u64>(),
        retry_after_ms in proptest::option::of(0u64..8_000),
    ) {
        let max_delay = ms(initial_ms + extra_ms);
        let policy = RetryPolicy::builder()
            .max_attempts(max_attempts)
            .initial_delay(ms(initial_ms))
            .max_delay(max_delay)
            .multiplier(multiplier)
            .jitter(jitter)
            .seed(seed)
            .build()
            .unwrap();
        let delays: Vec<Duration> = policy.delays().collect();
        prop_assert_eq!(delays.len() as u32, max_attempts - 1);
        prop_assert!(delays.iter().all(|d| *d <= max_delay), "{:?} > {:?}", delays, max_delay);

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let calls = AtomicU32::new(0);
        let mut waits = Vec::new();
        let err = rt
            .block_on(policy.retry_notify(
                || {
                    calls.fetch_add(1, Ordering::Relaxed);
                    async { Err::<(), _>(Fail::rate_limited(retry_after_ms.map(ms))) }
                },
                |_, _: &Fail, d| waits.push(d),
            ))
            .unwrap_err();
        let calls = calls.load(Ordering::Relaxed);
        prop_assert!(calls <= max_attempts);
        prop_assert_eq!(err.attempts(), calls);
        prop_assert!(waits.iter().all(|d| *d <= max_delay));
        if let Some(after) = retry_after_ms.map(ms) {
            if after > max_delay && max_attempts > 1 {
                prop_assert_eq!(calls, 1);
                let too_long = matches!(err.reason(), StopReason::RetryAfterTooLong { .. });
                prop_assert!(too_long);
            } else {
                prop_assert!(waits.iter().all(|d| *d >= after));
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn succeeds_after_transient_failures_waiting_the_policy_delays() {
    let policy = RetryPolicy::builder()
        .max_attempts(5)
        .initial_delay(ms(100))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let out = policy
        .retry(|| {
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            async move { if n < 4 { Err(Fail::TRANSIENT) } else { Ok(n) } }
        })
        .await
        .unwrap();
    assert_eq!(out, 4);
    assert_eq!(start.elapsed(), ms(100 + 200 + 400));
}

#[tokio::test(start_paused = true)]
async fn permanent_is_never_retried() {
    let calls = AtomicU32::new(0);
    let err = RetryPolicy::default()
        .retry(|| {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>(std::io::Error::from(std::io::ErrorKind::NotFound)) }
        })
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(err.attempts(), 1);
    assert_eq!(err.reason(), StopReason::Permanent);
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(err.into_inner().kind(), std::io::ErrorKind::NotFound);
}

#[tokio::test(start_paused = true)]
async fn attempts_exhausted_reports_last_error_attempts_and_time() {
    let policy = RetryPolicy::builder()
        .max_attempts(3)
        .initial_delay(ms(10))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let err: RetryError<Numbered> = policy
        .retry(|| {
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            async move { Err::<(), _>(Numbered(n, Fail::TRANSIENT)) }
        })
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.last_error().0, 3, "the last cause is kept");
    assert_eq!(err.inner().0, 3, "inner() is the same last error");
    assert_eq!(err.elapsed(), ms(30));
    assert_eq!(
        err.reason(),
        StopReason::AttemptsExhausted { max_attempts: 3 }
    );
}

struct Numbered(u32, Fail);

impl Classify for Numbered {
    fn class(&self) -> ErrorClass {
        self.1.class
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_when_longer_than_the_computed_delay() {
    let policy = RetryPolicy::builder()
        .max_attempts(3)
        .initial_delay(ms(100))
        .max_delay(Duration::from_secs(10))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let mut waits = Vec::new();
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let _ = policy
        .retry_notify(
            || {
                let n = calls.fetch_add(1, Ordering::Relaxed);
                // First asks for 3 s, second for 50 ms (shorter than the computed 200 ms).
                let after = if n == 0 { ms(3_000) } else { ms(50) };
                async move { Err::<(), _>(Fail::rate_limited(Some(after))) }
            },
            |attempt, err: &Fail, delay| waits.push((attempt, err.class, delay)),
        )
        .await
        .unwrap_err();
    assert_eq!(waits.len(), 2);
    assert_eq!((waits[0].0, waits[0].2), (1, ms(3_000)));
    assert_eq!((waits[1].0, waits[1].2), (2, ms(200)));
    assert_eq!(start.elapsed(), ms(3_200));
}

#[tokio::test(start_paused = true)]
async fn too_long_retry_after_fails_at_once() {
    let policy = RetryPolicy::builder()
        .max_delay(Duration::from_secs(5))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = policy
        .retry(|| async { Err::<(), _>(Fail::rate_limited(Some(Duration::from_secs(60)))) })
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO, "no waiting");
    assert_eq!(
        err.reason(),
        StopReason::RetryAfterTooLong {
            retry_after: Duration::from_secs(60),
            limit: Duration::from_secs(5)
        }
    );
    let text = err.to_string();
    assert!(text.contains("60s") && text.contains("5s"), "{text}");

    // Beyond what is left of max_elapsed also fails at once.
    let policy = RetryPolicy::builder()
        .max_delay(Duration::from_secs(60))
        .max_elapsed(Some(Duration::from_secs(20)))
        .build()
        .unwrap();
    let err = policy
        .retry(|| async { Err::<(), _>(Fail::rate_limited(Some(Duration::from_secs(30)))) })
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert!(matches!(
        err.reason(),
        StopReason::RetryAfterTooLong { limit, .. } if limit == Duration::from_secs(20)
    ));
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_stops_before_overrunning() {
    let policy = RetryPolicy::builder()
        .max_attempts(100)
        .initial_delay(ms(100))
        .jitter(Jitter::None)
        .max_elapsed(Some(ms(1_000)))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = policy
        .retry(|| async { Err::<(), _>(Fail::TRANSIENT) })
        .await
        .unwrap_err();
    // Waits 100 + 200 + 400 = 700 ms; the next 800 ms would end at 1.5 s > 1 s.
    assert_eq!(err.attempts(), 4);
    assert_eq!(start.elapsed(), ms(700));
    assert_eq!(
        err.reason(),
        StopReason::MaxElapsed {
            max_elapsed: ms(1_000),
            next_delay: ms(800)
        }
    );
}

#[tokio::test(start_paused = true)]
async fn hundred_concurrent_failing_tasks_stop_when_the_budget_empties() {
    let budget = RetryBudget::default(); // 500 tokens, 5 per retry: 100 retries in total
    let policy = RetryPolicy::builder()
        .max_attempts(10)
        .initial_delay(ms(10))
        .build()
        .unwrap()
        .with_budget(&budget);
    let calls = Arc::new(AtomicU32::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let policy = policy.clone();
        let calls = calls.clone();
        tasks.spawn(async move {
            policy
                .retry(|| {
                    calls.fetch_add(1, Ordering::Relaxed);
                    async { Err::<(), _>(Fail::TRANSIENT) }
                })
                .await
                .unwrap_err()
        });
    }
    let mut budget_stops = 0;
    while let Some(res) = tasks.join_next().await {
        let err = res.unwrap();
        match err.reason() {
            StopReason::BudgetExhausted { cost: 5, .. } => budget_stops += 1,
            StopReason::AttemptsExhausted { .. } => {}
            other => panic!("unexpected stop: {other}"),
        }
    }
    // 100 first attempts + exactly 100 paid retries, instead of 1000 calls without a budget.
    assert_eq!(calls.load(Ordering::Relaxed), 200);
    assert_eq!(budget.available(), 0);
    assert!(budget_stops >= 90, "{budget_stops}");
}

#[tokio::test(start_paused = true)]
async fn budget_refunds_successful_retries_and_rewards_first_try_success() {
    let budget = RetryBudget::new(BudgetConfig {
        capacity: 100,
        ..BudgetConfig::default()
    })
    .unwrap();
    assert!(budget.try_withdraw(20));
    let policy = RetryPolicy::builder()
        .initial_delay(ms(1))
        .build()
        .unwrap()
        .with_budget(&budget);

    policy.retry(|| async { Ok::<_, Fail>(()) }).await.unwrap();
    assert_eq!(budget.available(), 81, "+1 for a first-try success");

    let calls = AtomicU32::new(0);
    policy
        .retry(|| {
            let n = calls.fetch_add(1, Ordering::Relaxed);
            async move { if n == 0 { Err(Fail::TIMEOUT) } else { Ok(()) } }
        })
        .await
        .unwrap();
    assert_eq!(
        budget.available(),
        81,
        "the timeout retry cost 10 and was refunded"
    );

    let err = policy
        .retry(|| async { Err::<(), _>(Fail::TIMEOUT) })
        .await
        .unwrap_err();
    assert_eq!(
        budget.available(),
        61,
        "two failed timeout retries cost 10 each"
    );
    assert_eq!(err.attempts(), 3);
}

#[test]
fn blocking_variant_retries_and_gives_up() {
    let policy = RetryPolicy::builder()
        .max_attempts(4)
        .initial_delay(Duration::ZERO)
        .build()
        .unwrap();
    let mut calls = 0;
    let mut notified = Vec::new();
    let err = policy
        .retry_blocking_notify(
            || {
                calls += 1;
                Err::<(), _>(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
            },
            |attempt, _: &std::io::Error, _| notified.push(attempt),
        )
        .unwrap_err();
    assert_eq!(calls, 4);
    assert_eq!(notified, [1, 2, 3]);
    assert_eq!(err.attempts(), 4);
    assert!(
        err.to_string()
            .starts_with("all 4 allowed attempts failed after 4 attempts")
    );

    let mut calls = 0;
    let ok = policy.retry_blocking(|| {
        calls += 1;
        if calls == 2 {
            Ok(calls)
        } else {
            Err(Fail::TRANSIENT)
        }
    });
    assert_eq!(ok.unwrap(), 2);
}

#[test]
fn serde_form_uses_human_durations_and_validates() {
    let p: RetryPolicy = serde_json::from_str(
        r#"{"max_attempts": 5, "initial_delay": "250ms", "max_delay": "10s",
            "multiplier": 1.5, "jitter": "decorrelated", "max_elapsed": "1m"}"#,
    )
    .unwrap();
    assert_eq!(p.max_attempts(), 5);
    assert_eq!(p.initial_delay(), ms(250));
    assert_eq!(p.max_delay(), Duration::from_secs(10));
    assert_eq!(p.jitter(), Jitter::Decorrelated);
    assert_eq!(p.max_elapsed(), Some(Duration::from_secs(60)));
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["initial_delay"], "250ms");
    assert_eq!(json["max_elapsed"], "1m");
    let back: RetryPolicy = serde_json::from_value(json).unwrap();
    assert_eq!(back.initial_delay(), p.initial_delay());

    let defaults: RetryPolicy = serde_json::from_str("{}").unwrap();
    assert_eq!(
        defaults.max_attempts(),
        RetryPolicy::default().max_attempts()
    );

    for (bad, name) in [
        (r#"{"max_attempts": 0}"#, "max_attempts"),
        (r#"{"multiplier": 0.5}"#, "multiplier"),
        (
            r#"{"initial_delay": "20s", "max_delay": "1s"}"#,
            "initial_delay",
        ),
        (r#"{"initial_delay": "soon"}"#, "soon"),
        (r#"{"max_atempts": 3}"#, "max_atempts"),
    ] {
        let err = serde_json::from_str::<RetryPolicy>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains(name), "{bad}: {err}");
    }
}

#[test]
fn builder_names_the_invalid_value() {
    let err = RetryPolicy::builder()
        .multiplier(f64::NAN)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("multiplier = NaN"), "{err}");
    let err = RetryPolicy::builder()
        .max_elapsed(Some(Duration::ZERO))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_elapsed"), "{err}");
}
