//! Head-to-head benchmarks for the resilience layer: the success-path cost per call of
//! synod's circuit breaker, retry wrapper and pipeline against the plain libraries.
//!
//! Groups are `resilience/<operation>/<contender>`; `direct` is the bare call, `raw_*` the
//! plain library. Async contenders are driven with `now_or_never()` (the success path never
//! suspends), so no executor cost hides the differences. Run with
//! `cargo bench -p synod-benches --bench resilience`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::io;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures::FutureExt;
use synod::resilience::{
    BreakerConfig, CircuitBreaker, Jitter, Pipeline, RetryBudget, RetryPolicy,
};

#[inline(never)]
fn work(x: u64) -> Result<u64, io::Error> {
    Ok(black_box(x).wrapping_mul(3))
}

async fn work_async(x: u64) -> Result<u64, io::Error> {
    work(x)
}

fn breaker(c: &mut Criterion) {
    let mut g = c.benchmark_group("resilience/breaker");
    g.bench_function("direct", |b| {
        b.iter(|| black_box(work(black_box(7))));
    });

    let synod_default = CircuitBreaker::default();
    g.bench_function("synod", |b| {
        b.iter(|| black_box(synod_default.call_blocking(|| work(black_box(7)))));
    });
    let synod_slow = CircuitBreaker::new(
        "slow-tracking",
        BreakerConfig {
            slow_call_duration: Some(Duration::from_secs(60)),
            ..BreakerConfig::default()
        },
    )
    .expect("valid config");
    g.bench_function("synod_slow_call_tracking", |b| {
        b.iter(|| black_box(synod_slow.call_blocking(|| work(black_box(7)))));
    });
    g.bench_function("synod_async", |b| {
        b.iter(|| black_box(synod_default.call(work_async(black_box(7))).now_or_never()));
    });

    use failsafe::CircuitBreaker as _;
    let raw_default = failsafe::Config::new().build();
    g.bench_function("raw_failsafe_default", |b| {
        b.iter(|| black_box(raw_default.call(|| work(black_box(7)))));
    });
    let raw_consecutive = failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            5,
            failsafe::backoff::constant(Duration::from_secs(30)),
        ))
        .build();
    g.bench_function("raw_failsafe_consecutive_failures", |b| {
        b.iter(|| black_box(raw_consecutive.call(|| work(black_box(7)))));
    });
    g.bench_function("raw_failsafe_default_async", |b| {
        b.iter(|| {
            black_box(
                failsafe::futures::CircuitBreaker::call(&raw_default, work_async(black_box(7)))
                    .now_or_never(),
            )
        });
    });
    g.finish();
}

fn retry_async(c: &mut Criterion) {
    let mut g = c.benchmark_group("resilience/retry_async");
    g.bench_function("direct", |b| {
        b.iter(|| black_box(work_async(black_box(7)).now_or_never()));
    });
    let policy = RetryPolicy::builder()
        .jitter(Jitter::Full)
        .build()
        .expect("valid policy");
    g.bench_function("synod", |b| {
        b.iter(|| black_box(policy.retry(|| work_async(black_box(7))).now_or_never()));
    });
    let budgeted = policy.clone().with_budget(&RetryBudget::default());
    g.bench_function("synod_with_budget", |b| {
        b.iter(|| black_box(budgeted.retry(|| work_async(black_box(7))).now_or_never()));
    });
    {
        use backon::Retryable as _;
        let builder = backon::ExponentialBuilder::default().with_jitter();
        g.bench_function("raw_backon", |b| {
            b.iter(|| black_box((|| work_async(black_box(7))).retry(builder).now_or_never()));
        });
    }
    g.bench_function("raw_backoff", |b| {
        b.iter(|| {
            black_box(
                backoff::future::retry(backoff::ExponentialBackoff::default(), || async {
                    work(black_box(7)).map_err(backoff::Error::transient)
                })
                .now_or_never(),
            )
        });
    });
    g.finish();
}

fn retry_blocking(c: &mut Criterion) {
    let mut g = c.benchmark_group("resilience/retry_blocking");
    g.bench_function("direct", |b| {
        b.iter(|| black_box(work(black_box(7))));
    });
    let policy = RetryPolicy::default();
    g.bench_function("synod", |b| {
        b.iter(|| black_box(policy.retry_blocking(|| work(black_box(7)))));
    });
    {
        use backon::BlockingRetryable as _;
        let builder = backon::ExponentialBuilder::default().with_jitter();
        g.bench_function("raw_backon", |b| {
            b.iter(|| black_box((|| work(black_box(7))).retry(builder).call()));
        });
    }
    g.bench_function("raw_backoff", |b| {
        b.iter(|| {
            black_box(backoff::retry(
                backoff::ExponentialBackoff::default(),
                || work(black_box(7)).map_err(backoff::Error::transient),
            ))
        });
    });
    g.finish();
}

fn pipeline(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    // tokio::time::timeout needs a runtime context; the success path never suspends.
    let _guard = rt.enter();
    let mut g = c.benchmark_group("resilience/pipeline");
    g.bench_function("direct", |b| {
        b.iter(|| black_box(work_async(black_box(7)).now_or_never()));
    });
    let full = Pipeline::builder()
        .timeout(Duration::from_secs(30))
        .budget(&RetryBudget::default())
        .breaker(&CircuitBreaker::default())
        .retry(RetryPolicy::default())
        .build()
        .expect("valid pipeline");
    g.bench_function("synod", |b| {
        b.iter(|| black_box(full.run(|| work_async(black_box(7))).now_or_never()));
    });
    let no_timeout = Pipeline::builder()
        .budget(&RetryBudget::default())
        .breaker(&CircuitBreaker::default())
        .retry(RetryPolicy::default())
        .build()
        .expect("valid pipeline");
    g.bench_function("synod_without_timeout", |b| {
        b.iter(|| black_box(no_timeout.run(|| work_async(black_box(7))).now_or_never()));
    });
    let retry_only = Pipeline::builder()
        .retry(RetryPolicy::default())
        .build()
        .expect("valid pipeline");
    g.bench_function("synod_retry_only", |b| {
        b.iter(|| black_box(retry_only.run(|| work_async(black_box(7))).now_or_never()));
    });
    let breaker_retry = Pipeline::builder()
        .breaker(&CircuitBreaker::default())
        .retry(RetryPolicy::default())
        .build()
        .expect("valid pipeline");
    g.bench_function("synod_breaker_retry", |b| {
        b.iter(|| {
            black_box(
                breaker_retry
                    .run(|| work_async(black_box(7)))
                    .now_or_never(),
            )
        });
    });
    {
        use backon::Retryable as _;
        use failsafe::futures::CircuitBreaker as _;
        let raw_breaker = failsafe::Config::new().build();
        let builder = backon::ExponentialBuilder::default().with_jitter();
        g.bench_function("raw_timeout_failsafe_backon", |b| {
            b.iter(|| {
                black_box(
                    tokio::time::timeout(
                        Duration::from_secs(30),
                        (|| raw_breaker.call(work_async(black_box(7)))).retry(builder),
                    )
                    .now_or_never(),
                )
            });
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = breaker, retry_async, retry_blocking, pipeline
}
criterion_main!(benches);
