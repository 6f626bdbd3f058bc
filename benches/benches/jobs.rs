//! The job queue on SQLite: claim + complete throughput with 8 concurrent workers, synod's
//! `Store::claim_job` / `Store::complete_job` against the same SQL written by hand with
//! rusqlite.
//!
//! Each iteration drains a fresh file holding 256 queued jobs with 8 threads (setup, file
//! creation and deletion are not timed). A claim is the expired-lease point read, the
//! queued point read and the `UPDATE ... RETURNING` in one IMMEDIATE transaction; a
//! completion checks the fencing token, inserts the run, 3 outputs of 512 B and the spec's
//! stage, and marks the job done, in a second one.
//!
//! - `synod`: the 8 threads share one `Store` (what `synod worker --concurrency 8` does:
//!   one pool, this process's writes queued on the store's write mutex).
//! - `raw`: each thread owns a rusqlite connection (busy_timeout 5 s, the same pragmas) and
//!   runs the same statements; contention is left to SQLite's busy handler.
//!
//! Groups: `jobs/claim_complete_8_workers/{synod,raw}`, throughput in jobs.
//! Run with `cargo bench -p synod-benches --bench jobs`.
#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::json;
use synod::store::{NewJob, NewOutput, NewRun, Options, StageRecord, Store, now_millis};

const JOBS: usize = 256;
const WORKERS: usize = 8;
const LEASE: Duration = Duration::from_secs(30);
const PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
     PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 268435456;";

fn outputs() -> Vec<NewOutput> {
    (0..3)
        .map(|a| NewOutput {
            agent: format!("agent{a}"),
            attempt: 1,
            exit_code: Some(0),
            duration_ms: 1_000,
            status: "ok".into(),
            raw_output: "x".repeat(512),
            parsed_json: Some(json!({"decision": a})),
            ..NewOutput::default()
        })
        .collect()
}

fn run(spec: &str) -> NewRun {
    NewRun {
        spec_id: spec.to_owned(),
        stage: "plan".into(),
        started_at: 1,
        finished_at: 2,
        status: "ok".into(),
    }
}

/// A fresh store file with `JOBS` queued jobs.
fn queue() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jobs.db");
    let store = Store::open(&path, Options::default()).expect("store");
    for i in 0..JOBS {
        store
            .submit_job(&NewJob::new(format!("J-{i}"), "plan"))
            .expect("submit");
    }
    drop(store);
    (dir, path)
}

fn synod_drain(path: &Path) -> usize {
    let store = Store::open(path, Options::default()).expect("store");
    let start = Arc::new(Barrier::new(WORKERS));
    let threads: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (store, start) = (store.clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                let name = format!("w{w}");
                let outs = outputs();
                let verdict = json!({"status": "ok"});
                start.wait();
                let mut done = 0;
                while let Some(job) = store.claim_job(&name, LEASE).expect("claim") {
                    let record =
                        StageRecord::new(run(&job.job.spec_id), outs.clone(), verdict.clone());
                    store.complete_job(&job, &record).expect("complete");
                    done += 1;
                }
                done
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().expect("worker")).sum()
}

fn raw_claim(conn: &mut Connection, worker: &str) -> Option<(i64, i64, String)> {
    let now = now_millis();
    let lease = i64::try_from(LEASE.as_millis()).expect("lease");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    let expired: Option<i64> = tx
        .prepare_cached(
            "SELECT id FROM jobs INDEXED BY jobs_leases WHERE state = 'running' AND lease_until < ?1 \
             ORDER BY lease_until LIMIT 1",
        )
        .expect("prepare")
        .query_row([now], |r| r.get(0))
        .optional()
        .expect("expired");
    let id = match expired {
        Some(id) => Some(id),
        None => tx
            .prepare_cached("SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1")
            .expect("prepare")
            .query_row([], |r| r.get(0))
            .optional()
            .expect("queued"),
    };
    let claimed = id.map(|id| {
        tx.prepare_cached(
            "UPDATE jobs SET state = 'running', tries = tries + 1, lease_owner = ?2, \
             lease_token = lease_token + 1, lease_until = ?3, updated_at = ?4 WHERE id = ?1 \
             RETURNING id, lease_token, spec_id",
        )
        .expect("prepare")
        .query_row(params![id, worker, now + lease, now], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .expect("take")
    });
    tx.commit().expect("commit");
    claimed
}

fn raw_complete(conn: &mut Connection, id: i64, token: i64, spec: &str, outs: &[NewOutput]) {
    let verdict = serde_json::to_string(&json!({"status": "ok"})).expect("json");
    let parsed: Vec<Option<String>> = outs
        .iter()
        .map(|o| o.parsed_json.as_ref().map(|v| v.to_string()))
        .collect();
    let r = run(spec);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    let held: (String, i64) = tx
        .prepare_cached("SELECT state, lease_token FROM jobs WHERE id = ?1")
        .expect("prepare")
        .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("holder");
    assert!(held.0 == "running" && held.1 == token, "lease lost");
    let run_id = tx
        .prepare_cached(
            "INSERT INTO consensus_runs (spec_id, stage, started_at, finished_at, status, verdict_json) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .expect("prepare")
        .insert(params![r.spec_id, r.stage, r.started_at, r.finished_at, r.status, verdict])
        .expect("run");
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .expect("prepare");
        for (o, p) in outs.iter().zip(&parsed) {
            stmt.execute(params![
                run_id,
                o.agent,
                o.attempt,
                o.exit_code,
                i64::try_from(o.duration_ms).expect("ms"),
                o.status,
                o.raw_output,
                p,
                o.error
            ])
            .expect("output");
        }
    }
    tx.prepare_cached(
        "INSERT INTO specs (spec_id, stage, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (spec_id) DO UPDATE SET stage = excluded.stage, updated_at = excluded.updated_at \
         WHERE excluded.updated_at >= specs.updated_at",
    )
    .expect("prepare")
    .execute(params![r.spec_id, r.stage, r.finished_at])
    .expect("spec");
    tx.prepare_cached(
        "UPDATE jobs SET state = 'done', run_id = ?2, lease_until = NULL, updated_at = ?3 WHERE id = ?1",
    )
    .expect("prepare")
    .execute(params![id, run_id, now_millis()])
    .expect("done");
    tx.commit().expect("commit");
}

fn raw_drain(path: &Path) -> usize {
    let start = Arc::new(Barrier::new(WORKERS));
    let threads: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (path, start) = (path.to_path_buf(), Arc::clone(&start));
            std::thread::spawn(move || {
                let mut conn = Connection::open(&path).expect("open");
                conn.execute_batch(PRAGMAS).expect("pragmas");
                let name = format!("w{w}");
                let outs = outputs();
                start.wait();
                let mut done = 0;
                while let Some((id, token, spec)) = raw_claim(&mut conn, &name) {
                    raw_complete(&mut conn, id, token, &spec, &outs);
                    done += 1;
                }
                done
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().expect("worker")).sum()
}

fn claim_complete(c: &mut Criterion) {
    let mut group = c.benchmark_group("jobs/claim_complete_8_workers");
    group.throughput(Throughput::Elements(JOBS as u64));
    group.bench_function("synod", |b| {
        b.iter_batched(
            queue,
            |(dir, path)| {
                assert_eq!(synod_drain(&path), JOBS);
                dir
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("raw", |b| {
        b.iter_batched(
            queue,
            |(dir, path)| {
                assert_eq!(raw_drain(&path), JOBS);
                dir
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(10)
}

criterion_group! {
    name = benches;
    config = config();
    targets = claim_complete
}
criterion_main!(benches);
