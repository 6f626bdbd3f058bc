//! Head-to-head benchmark for the orchestrator: one stage of three trivial agents through
//! `Orchestrator::run_stage` against spawning the same three processes with plain
//! `tokio::process` in the same run. Group `orchestrator/stage_3_agents`, contenders:
//!
//! - `synod`: the default orchestrator (per-agent breaker, retry policy and shared budget,
//!   JSON extraction, synthesis, the run + outputs + verdict in one SQLite transaction, and
//!   each spawned process tracked as an execution: 7 write transactions in all), on a real
//!   WAL database file;
//! - `synod_untracked`: the same with `track_executions(false)` (1 write transaction);
//! - `raw`: three `tokio::process::Command::output()` joined, nothing else.
//!
//! Target: synod ≤ 1.3× raw and under 20 ms absolute.
#![allow(missing_docs)]

use std::hint::black_box;
use std::process::Stdio;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use synod::orchestrator::{AgentConfig, Orchestrator, StageConfig, SynodConfig};
use synod::store::{Options, Store};
use tokio::runtime::Runtime;

const ANSWER: &str = r#"cat >/dev/null; echo '{"approach": "incremental", "risk": "low"}'"#;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn config() -> SynodConfig {
    let mut config = SynodConfig::default();
    for name in ["alpha", "beta", "gamma"] {
        config.agents.push(AgentConfig {
            name: name.into(),
            command: "sh".into(),
            args: vec!["-c".into(), ANSWER.into()],
            ..AgentConfig::default()
        });
    }
    config.stages.push(StageConfig {
        name: "plan".into(),
        prompt: Some("Plan {spec_id}.".into()),
        consensus: synod::consensus::StageSpec::new()
            .decide("/approach")
            .decide("/risk"),
        ..StageConfig::default()
    });
    config
}

async fn raw_stage() -> Vec<std::process::Output> {
    let spawn = || async {
        tokio::process::Command::new("sh")
            .args(["-c", ANSWER])
            .stdin(Stdio::null())
            .output()
            .await
            .expect("sh runs")
    };
    let (a, b, c) = tokio::join!(spawn(), spawn(), spawn());
    vec![a, b, c]
}

fn stage_3_agents(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let open =
        |name: &str| Store::open(dir.path().join(name), Options::default()).expect("store opens");
    let tracked = Orchestrator::new(config(), open("tracked.db")).expect("valid config");
    let untracked = Orchestrator::new(config(), open("untracked.db"))
        .expect("valid config")
        .track_executions(false);

    let mut g = c.benchmark_group("orchestrator/stage_3_agents");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    g.bench_function("synod", |b| {
        b.to_async(&rt).iter(|| async {
            let report = tracked
                .run_stage(black_box("BENCH-1"), "plan")
                .await
                .expect("stage runs");
            assert_eq!(report.status.exit_code(), 0);
            black_box(report)
        });
    });
    g.bench_function("synod_untracked", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                untracked
                    .run_stage(black_box("BENCH-1"), "plan")
                    .await
                    .expect("stage runs"),
            )
        });
    });
    g.bench_function("raw", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(raw_stage().await) });
    });
    g.finish();
}

criterion_group!(benches, stage_3_agents);
criterion_main!(benches);
