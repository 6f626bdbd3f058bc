//! Success-path overhead per call, measured interleaved: every contender runs once per
//! round, rounds repeat, and the median round is reported. On a shared, loaded machine this
//! is steadier than criterion's back-to-back groups (the head-to-head criterion suite is
//! `cargo bench -p synod-benches --bench resilience`).
//!
//! ```sh
//! cargo run --release -p synod-resilience --example overhead -- all 200000 21
//! ```
//!
//! Arguments: a contender name (or `all`), iterations per round, rounds.
use futures::FutureExt;
use std::hint::black_box;
use std::time::{Duration, Instant};
use synod_resilience::*;
#[inline(never)]
fn work(x: u64) -> Result<u64, std::io::Error> {
    Ok(black_box(x).wrapping_mul(3))
}
async fn wa(x: u64) -> Result<u64, std::io::Error> {
    work(x)
}
fn main() {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "all".to_owned());
    let iters: u32 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let rounds: u32 = std::env::args()
        .nth(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(21);
    let p = RetryPolicy::default();
    let pb = RetryPolicy::default().with_budget(&RetryBudget::default());
    let b = CircuitBreaker::default();
    let raw_default = failsafe::Config::new().build();
    let raw_consec = failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            5,
            failsafe::backoff::constant(Duration::from_secs(30)),
        ))
        .build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _g = rt.enter();
    let pl = Pipeline::builder()
        .timeout(Duration::from_secs(30))
        .budget(&RetryBudget::default())
        .breaker(&CircuitBreaker::default())
        .retry(RetryPolicy::default())
        .build()
        .unwrap();
    let pl_nt = Pipeline::builder()
        .budget(&RetryBudget::default())
        .breaker(&CircuitBreaker::default())
        .retry(RetryPolicy::default())
        .build()
        .unwrap();
    let raw_pb = failsafe::Config::new().build();
    let names: Vec<&str> = if arg == "all" {
        vec![
            "direct",
            "retry",
            "retry_budget",
            "backon",
            "retry_blocking",
            "backon_blocking",
            "breaker",
            "breaker_async",
            "failsafe_default",
            "failsafe_consecutive",
            "pipeline",
            "pipeline_no_timeout",
            "raw_pipeline",
        ]
    } else {
        vec![arg.as_str()]
    };
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..rounds {
        for (i, which) in names.iter().enumerate() {
            let t = Instant::now();
            for _ in 0..iters {
                match *which {
                    "direct" => {
                        let _ = black_box(wa(black_box(7)).now_or_never());
                    }
                    "retry" => {
                        let _ = black_box(p.retry(|| wa(black_box(7))).now_or_never());
                    }
                    "retry_budget" => {
                        let _ = black_box(pb.retry(|| wa(black_box(7))).now_or_never());
                    }
                    "backon" => {
                        use backon::Retryable;
                        let _ = black_box(
                            (|| wa(black_box(7)))
                                .retry(backon::ExponentialBuilder::default().with_jitter())
                                .now_or_never(),
                        );
                    }
                    "retry_blocking" => {
                        let _ = black_box(p.retry_blocking(|| work(black_box(7))));
                    }
                    "backon_blocking" => {
                        use backon::BlockingRetryable;
                        let _ = black_box(
                            (|| work(black_box(7)))
                                .retry(backon::ExponentialBuilder::default().with_jitter())
                                .call(),
                        );
                    }
                    "breaker" => {
                        let _ = black_box(b.call_blocking(|| work(black_box(7))));
                    }
                    "breaker_async" => {
                        let _ = black_box(b.call(wa(black_box(7))).now_or_never());
                    }
                    "failsafe_default" => {
                        use failsafe::CircuitBreaker as _;
                        let _ = black_box(raw_default.call(|| work(black_box(7))));
                    }
                    "failsafe_consecutive" => {
                        use failsafe::CircuitBreaker as _;
                        let _ = black_box(raw_consec.call(|| work(black_box(7))));
                    }
                    "pipeline" => {
                        let _ = black_box(pl.run(|| wa(black_box(7))).now_or_never());
                    }
                    "pipeline_no_timeout" => {
                        let _ = black_box(pl_nt.run(|| wa(black_box(7))).now_or_never());
                    }
                    "raw_pipeline" => {
                        use backon::Retryable;
                        let _ = black_box(
                            tokio::time::timeout(
                                Duration::from_secs(30),
                                (|| {
                                    failsafe::futures::CircuitBreaker::call(
                                        &raw_pb,
                                        wa(black_box(7)),
                                    )
                                })
                                .retry(backon::ExponentialBuilder::default().with_jitter()),
                            )
                            .now_or_never(),
                        );
                    }
                    other => {
                        eprintln!("unknown contender {other:?}; use one of {names:?} or all");
                        std::process::exit(2);
                    }
                }
            }
            results[i].push(t.elapsed().as_nanos() as f64 / iters as f64);
        }
    }
    for (i, n) in names.iter().enumerate() {
        let mut v = results[i].clone();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("{n}: median {:.1} ns (min {:.1})", v[v.len() / 2], v[0]);
    }
}
