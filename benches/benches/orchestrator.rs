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
//! Target: synod ≤ 1.1× raw (issue 16) and under 20 ms absolute.
//!
//! Instruction counts (load-independent): with `SYNOD_BENCH_ONCE=stage/synod` (or
//! `stage/synod_untracked`, `stage/raw`, `none`) the binary runs that contender
//! `SYNOD_BENCH_N` times (default 20) instead of criterion, for `valgrind --tool=callgrind`
//! (the agents run natively; only this process is counted). See docs/PERFORMANCE.md.
//! The same switch runs the parts of a stage on their own, for timing under `time` (the
//! decomposition in docs/PERFORMANCE.md): `stage/raw_stdin` (raw, the prompt written to each
//! agent's stdin), `exec/3` and `exec/3untracked` (synod-exec's `run_all` of the three agents,
//! with and without descendant tracking), `stage/synod_null` (the Orchestrator with a store
//! that keeps nothing).
//!
//! Group `orchestrator/redact_16mib`: the cost of redacting 16 MiB of agent output against
//! storing the same output with `record_stage` (one run, one 16 MiB attempt, WAL file).
//! Corpora: `clean` (prose, code and JSON lines dense in near-misses: "bearer", "task-",
//! "Basic"), the same `with_secrets` (a bearer token every 64 KiB), and `repo_text` (this
//! repository's own Rust and Markdown, non-ASCII included, repeated to 16 MiB; it is about
//! credentials, so it holds many real matches). Target: redaction under 5% of the storage time.
#![allow(missing_docs)]

use std::hint::black_box;
use std::process::Stdio;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use synod::orchestrator::{AgentConfig, Orchestrator, Redactor, StageConfig, SynodConfig};
use synod::store::{NewOutput, NewRun, Options, Store};
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

async fn raw_stage_stdin() -> Vec<std::process::Output> {
    use tokio::io::AsyncWriteExt;
    let spawn = || async {
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", ANSWER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sh runs");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"Plan BENCH-1.").await.expect("prompt");
        drop(stdin);
        child.wait_with_output().await.expect("sh runs")
    };
    let (a, b, c) = tokio::join!(spawn(), spawn(), spawn());
    vec![a, b, c]
}

fn stage_3_agents(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let open =
        |name: &str| Store::open(dir.path().join(name), Options::default()).expect("store opens");
    let tracked =
        Orchestrator::new(config(), open("tracked.db").into_async()).expect("valid config");
    let untracked = Orchestrator::new(config(), open("untracked.db").into_async())
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

/// 16 MiB of what agents print: prose, code, JSON; with `secrets`, a credential every 64 KiB.
fn agent_output(secrets: bool) -> String {
    const LINES: &[&str] = &[
        "I looked at the module and the tests; the retry path needs a budget check first.",
        "    let mut attempts = 0; // counted from the first call, not from the first failure",
        r#"{"file": "src/task-list.rs", "line": 42, "risk": "low", "steps": ["S1", "S2"]}"#,
        "Basic usage: run `cargo test` and compare the bearer of the lock with the owner.",
        "diff --git a/src/lib.rs b/src/lib.rs index 3f2a1c9..8e7d6b5 100644",
    ];
    let mut out = String::with_capacity(16 << 20);
    let mut i = 0usize;
    while out.len() < 16 << 20 {
        out.push_str(LINES[i % LINES.len()]);
        out.push('\n');
        if secrets && i % 800 == 799 {
            out.push_str("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2ln\n");
        }
        i += 1;
    }
    out
}

/// This repository's Rust and Markdown sources, repeated to 16 MiB.
fn repo_text() -> String {
    fn walk(dir: &std::path::Path, out: &mut String) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs" || e == "md")
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                out.push_str(&text);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut base = String::new();
    walk(&root.join("crates"), &mut base);
    walk(&root.join("docs"), &mut base);
    let mut out = String::with_capacity(16 << 20);
    while out.len() < 16 << 20 {
        out.push_str(&base);
    }
    let mut cut = 16 << 20;
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out
}

fn redact_16mib(c: &mut Criterion) {
    let redactor = Redactor::builder()
        .secret_value("zz-inherited-provider-key-42")
        .build()
        .expect("builtin patterns compile");
    let clean = agent_output(false);
    let dirty = agent_output(true);
    let repo = repo_text();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("redact.db"), Options::default()).expect("store opens");
    let mut started_at = 0i64;

    let mut g = c.benchmark_group("orchestrator/redact_16mib");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20)
        .throughput(criterion::Throughput::Bytes(clean.len() as u64));
    g.bench_function("redact_clean", |b| {
        b.iter(|| black_box(redactor.redact(black_box(&clean)).len()));
    });
    g.bench_function("redact_with_secrets", |b| {
        b.iter(|| black_box(redactor.redact(black_box(&dirty)).len()));
    });
    g.bench_function("redact_repo_text", |b| {
        b.iter(|| black_box(redactor.redact(black_box(&repo)).len()));
    });
    g.bench_function("record_stage", |b| {
        b.iter_batched(
            || {
                started_at += 1;
                let run = NewRun {
                    spec_id: "BENCH-R".into(),
                    stage: "plan".into(),
                    started_at,
                    finished_at: started_at,
                    status: "ok".into(),
                };
                let output = NewOutput {
                    agent: "alpha".into(),
                    attempt: 1,
                    exit_code: Some(0),
                    duration_ms: 1,
                    status: "ok".into(),
                    raw_output: clean.clone(),
                    parsed_json: None,
                    error: None,
                    ..NewOutput::default()
                };
                (run, output)
            },
            |(run, output)| {
                black_box(
                    store
                        .record_stage(&run, &[output], &serde_json::json!({"status": "ok"}))
                        .expect("stored"),
                )
            },
            criterion::BatchSize::PerIteration,
        );
    });
    g.finish();
}

/// An evidence store that keeps nothing: `stage/synod_null` measures the Orchestrator without
/// any store work.
#[derive(Debug)]
struct NullStore;
impl synod::store::EvidenceStore for NullStore {
    fn execution_started<'a>(
        &'a self,
        _agent: &'a str,
        _at: i64,
    ) -> synod::store::StoreFuture<'a, synod::store::ExecutionId> {
        Box::pin(async { Ok(synod::store::ExecutionId(1)) })
    }
    fn record_stage(
        &self,
        _r: std::sync::Arc<synod::store::StageRecord>,
    ) -> synod::store::StoreFuture<'_, synod::store::RunId> {
        Box::pin(async { Ok(synod::store::RunId(1)) })
    }
    fn location(&self) -> Option<&std::path::Path> {
        None
    }
}

/// Runs one contender `SYNOD_BENCH_N` times (for instruction counts; see the module docs).
fn once(what: &str) {
    let n: usize = std::env::var("SYNOD_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let orchestrator = |tracked: bool| {
        let store =
            Store::open(dir.path().join("once.db"), Options::default()).expect("store opens");
        Orchestrator::new(config(), store.into_async())
            .expect("valid config")
            .track_executions(tracked)
    };
    rt.block_on(async {
        match what {
            "none" => {}
            "stage/raw" => {
                for _ in 0..n {
                    black_box(raw_stage().await);
                }
            }
            "stage/synod" | "stage/synod_untracked" => {
                let orchestrator = orchestrator(what == "stage/synod");
                for _ in 0..n {
                    let report = orchestrator
                        .run_stage("BENCH-1", "plan")
                        .await
                        .expect("stage runs");
                    assert_eq!(report.status.exit_code(), 0);
                }
            }
            "stage/synod_null" => {
                let orchestrator = Orchestrator::new(config(), NullStore)
                    .expect("valid")
                    .track_executions(false);
                for _ in 0..n {
                    let report = orchestrator
                        .run_stage("BENCH-1", "plan")
                        .await
                        .expect("stage runs");
                    assert_eq!(report.status.exit_code(), 0);
                }
            }
            "exec/3" => {
                let cmds: Vec<synod::exec::AgentCommand> = (0..3)
                    .map(|_| {
                        synod::exec::AgentCommand::new("sh")
                            .args(["-c", ANSWER])
                            .stdin(b"Plan BENCH-1.".to_vec())
                    })
                    .collect();
                let token = synod::exec::CancellationToken::new();
                for _ in 0..n {
                    black_box(synod::exec::run_all(&cmds, 3, &token).await);
                }
            }
            "exec/3untracked" => {
                let cmds: Vec<synod::exec::AgentCommand> = (0..3)
                    .map(|_| {
                        synod::exec::AgentCommand::new("sh")
                            .args(["-c", ANSWER])
                            .stdin(b"Plan BENCH-1.".to_vec())
                            .track_descendants(false)
                    })
                    .collect();
                let token = synod::exec::CancellationToken::new();
                for _ in 0..n {
                    black_box(synod::exec::run_all(&cmds, 3, &token).await);
                }
            }
            "stage/raw_stdin" => {
                for _ in 0..n {
                    black_box(raw_stage_stdin().await);
                }
            }
            other => panic!("SYNOD_BENCH_ONCE: unknown contender {other:?}"),
        }
    });
}

criterion_group!(benches, stage_3_agents, redact_16mib);

fn main() {
    if let Ok(what) = std::env::var("SYNOD_BENCH_ONCE") {
        once(&what);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
