//! How cost grows with size, synod beside the plain library where one exists:
//!
//! - `scaling/store_latest_verdict` [rows]: latest-verdict point read in a store holding 1k to
//!   1M runs (synod vs a raw rusqlite connection with a cached statement). Should stay flat:
//!   the read is an index seek.
//! - `scaling/exec_concurrent` [agents]: 1 to 200 concurrent `/bin/true` through `run_all` vs a
//!   raw tokio `JoinSet`. Grows linearly with the number of processes.
//! - `scaling/consensus_synthesize` [items]: 3 agents × 10 to 10,000 list items. Should grow
//!   as n·log n at most.
//!
//! The report generator (`bench-report`) plots each group as cost against size.
//! `cargo bench -p synod-benches --bench scaling`
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use synod::consensus::{AgentReport, ListField, StageSpec, synthesize};
use synod::exec::{AgentCommand, CancellationToken, run_all};
use synod::store::{Options, Store};
use tokio::task::JoinSet;

const LATEST_SQL: &str = "SELECT id, spec_id, stage, started_at, finished_at, status, verdict_json \
     FROM consensus_runs WHERE spec_id = ?1 AND stage = ?2 ORDER BY started_at DESC LIMIT 1";

/// Creates synod's schema with `Store::open`, then bulk-loads `rows` runs (1,000 specs × 4
/// stages) with raw rusqlite in one transaction: setup only, not timed.
fn filled_store(dir: &Path, rows: u64) -> std::path::PathBuf {
    let path = dir.join(format!("scaling-{rows}.db"));
    drop(Store::open(&path, Options::default()).expect("create schema"));
    let mut conn = Connection::open(&path).expect("open raw");
    conn.execute_batch("PRAGMA synchronous = OFF;")
        .expect("pragma");
    let tx = conn.transaction().expect("begin");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO consensus_runs (spec_id, stage, started_at, finished_at, status, verdict_json) \
                 VALUES (?1, ?2, ?3, ?4, 'ok', ?5)",
            )
            .expect("prepare");
        let stages = ["plan", "tasks", "implement", "audit"];
        for i in 0..rows {
            let spec = format!("SPEC-{}", i % 1_000);
            let stage = stages[(i / 1_000 % 4) as usize];
            let verdict = format!(r#"{{"status":"ok","n":{i},"agreements":[],"conflicts":[]}}"#);
            let at = i as i64;
            insert
                .execute(params![spec, stage, at, at + 1, verdict])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
    path
}

fn store_latest_verdict(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = c.benchmark_group("scaling/store_latest_verdict");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for rows in [1_000u64, 10_000, 100_000, 1_000_000] {
        let path = filled_store(dir.path(), rows);
        let store = Store::open(&path, Options::default()).expect("open");
        g.bench_with_input(BenchmarkId::new("synod", rows), &rows, |b, _| {
            b.iter(|| {
                black_box(
                    store
                        .latest_verdict(black_box("SPEC-7"), "plan")
                        .expect("read"),
                )
            });
        });
        let conn = Connection::open(&path).expect("open raw");
        g.bench_with_input(BenchmarkId::new("raw", rows), &rows, |b, _| {
            b.iter(|| {
                let mut stmt = conn.prepare_cached(LATEST_SQL).expect("prepare");
                let row = stmt
                    .query_row(params![black_box("SPEC-7"), "plan"], |row| {
                        let json: String = row.get(6)?;
                        Ok((row.get::<_, i64>(0)?, json))
                    })
                    .expect("read");
                let verdict: Value = serde_json::from_str(&row.1).expect("json");
                black_box((row.0, verdict))
            });
        });
    }
    g.finish();
}

fn exec_concurrent(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("scaling/exec_concurrent");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    for n in [1usize, 10, 50, 100, 200] {
        let cmds: Vec<AgentCommand> = (0..n).map(|_| AgentCommand::new("/bin/true")).collect();
        let token = CancellationToken::new();
        g.bench_with_input(BenchmarkId::new("synod", n), &n, |b, &n| {
            b.to_async(&rt).iter(|| async {
                let results = run_all(black_box(cmds.clone()), n, &token).await;
                assert!(results.iter().all(Result::is_ok));
                black_box(results)
            });
        });
        g.bench_with_input(BenchmarkId::new("raw", n), &n, |b, &n| {
            b.to_async(&rt).iter(|| async {
                let mut set = JoinSet::new();
                for _ in 0..n {
                    set.spawn(async {
                        tokio::process::Command::new("/bin/true")
                            .output()
                            .await
                            .expect("spawn")
                    });
                }
                black_box(set.join_all().await)
            });
        });
    }
    g.finish();
}

fn answer(agent: usize, items: usize) -> Value {
    let risks: Vec<Value> = (0..items)
        .filter(|i| !(i + agent).is_multiple_of(7))
        .map(|i| json!({ "risk": format!("risk {i} in module {}", i % 17), "severity": if (i + agent).is_multiple_of(5) { "high" } else { "low" } }))
        .collect();
    json!({ "audit_verdict": "pass", "risks": risks })
}

fn consensus_synthesize(c: &mut Criterion) {
    let agents = ["a", "b", "c"];
    let spec = StageSpec::new()
        .require("/audit_verdict")
        .decide("/audit_verdict")
        .list(ListField::new("/risks", "/risk").compare("/severity"));
    let mut g = c.benchmark_group("scaling/consensus_synthesize");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for items in [10usize, 100, 1_000, 10_000] {
        let reports: Vec<AgentReport> = agents
            .iter()
            .enumerate()
            .map(|(i, a)| AgentReport::ok(*a, answer(i, items)))
            .collect();
        g.bench_with_input(BenchmarkId::new("synod", items), &items, |b, _| {
            b.iter(|| {
                black_box(synthesize(&spec, &agents, black_box(&reports)).expect("valid spec"))
            });
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    store_latest_verdict,
    exec_concurrent,
    consensus_synthesize
);
criterion_main!(benches);
