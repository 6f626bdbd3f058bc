//! Head-to-head benchmarks for the store layer: synod-store against the same work written by
//! hand with raw rusqlite (same schema, same pragmas, same JSON encoding), in the same run.
//!
//! Groups are `store/<operation>/{synod,raw}`:
//! - `record_stage`: one run + 3 outputs of 4 KB + verdict + spec stage, one IMMEDIATE
//!   transaction.
//! - `latest_verdict`: point read of the latest verdict of a (spec, stage), parsed to JSON,
//!   one thread; raw is a direct connection with a cached statement.
//! - `latest_verdict_4_readers`: the same read from 4 threads while a writer records stages;
//!   time per read (wall time / total reads).
//! - `batch_insert`: 1000 outputs of ~200 bytes in one transaction (throughput in rows/s).
//!
//! Run with `cargo bench -p synod-benches --bench store`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rusqlite::{Connection, TransactionBehavior, params};
use serde_json::{Value, json};
use synod::store::{NewOutput, NewRun, Options, RunId, Store};

const PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
     PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 268435456;";

const SPECS: i64 = 100;

fn verdict(n: i64) -> Value {
    json!({
        "status": "ok",
        "n": n,
        "agreements": (0..8).map(|i| json!({"field": format!("/decision/{i}"), "value": i, "agents": ["a", "b", "c"], "unanimous": true})).collect::<Vec<_>>(),
        "conflicts": [],
        "missing_agents": [],
        "invalid_agents": [],
        "required_fields_ok": true
    })
}

fn outputs(size: usize) -> Vec<NewOutput> {
    (0..3)
        .map(|a| NewOutput {
            agent: format!("agent{a}"),
            attempt: 1,
            exit_code: Some(0),
            duration_ms: 1_000 + a,
            status: "ok".into(),
            raw_output: "x".repeat(size),
            parsed_json: Some(json!({"decision": a, "notes": "short"})),
            error: None,
        })
        .collect()
}

fn new_run(spec: i64, stage: &str, started_at: i64) -> NewRun {
    NewRun {
        spec_id: format!("SPEC-{spec}"),
        stage: stage.to_owned(),
        started_at,
        finished_at: started_at + 10,
        status: "ok".into(),
    }
}

/// A fresh database file with synod's schema, opened raw with the same pragmas.
fn raw_conn(path: &Path) -> Connection {
    if !path.exists() {
        drop(Store::open(path, Options::default()).expect("create schema"));
    }
    let conn = Connection::open(path).expect("open raw");
    conn.execute_batch(PRAGMAS).expect("pragmas");
    conn
}

/// The hand-written equivalent of `Store::record_stage`.
fn raw_record_stage(
    conn: &mut Connection,
    run: &NewRun,
    outs: &[NewOutput],
    verdict: &Value,
) -> i64 {
    let verdict_json = serde_json::to_string(verdict).expect("json");
    let parsed: Vec<Option<String>> = outs
        .iter()
        .map(|o| {
            o.parsed_json
                .as_ref()
                .map(|v| serde_json::to_string(v).expect("json"))
        })
        .collect();
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    let id = tx
        .prepare_cached(
            "INSERT INTO consensus_runs (spec_id, stage, started_at, finished_at, status, verdict_json) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .expect("prepare")
        .insert(params![run.spec_id, run.stage, run.started_at, run.finished_at, run.status, verdict_json])
        .expect("insert run");
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .expect("prepare");
        for (o, p) in outs.iter().zip(&parsed) {
            stmt.execute(params![
                id,
                o.agent,
                o.attempt,
                o.exit_code,
                o.duration_ms as i64,
                o.status,
                o.raw_output,
                p,
                o.error
            ])
            .expect("insert output");
        }
    }
    tx.prepare_cached(
        "INSERT INTO specs (spec_id, stage, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (spec_id) DO UPDATE SET stage = excluded.stage, updated_at = excluded.updated_at \
         WHERE excluded.updated_at >= specs.updated_at",
    )
    .expect("prepare")
    .execute(params![run.spec_id, run.stage, run.finished_at])
    .expect("upsert spec");
    tx.commit().expect("commit");
    id
}

type RawRun = (i64, String, String, i64, i64, String, Value);

/// The hand-written equivalent of `Store::latest_verdict`.
fn raw_latest(conn: &Connection, spec: &str, stage: &str) -> Option<RawRun> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, spec_id, stage, started_at, finished_at, status, verdict_json FROM consensus_runs \
             WHERE spec_id = ?1 AND stage = ?2 ORDER BY started_at DESC LIMIT 1",
        )
        .expect("prepare");
    let mut rows = stmt.query(params![spec, stage]).expect("query");
    let row = rows.next().expect("step")?;
    let json: String = row.get(6).expect("col");
    Some((
        row.get(0).expect("col"),
        row.get(1).expect("col"),
        row.get(2).expect("col"),
        row.get(3).expect("col"),
        row.get(4).expect("col"),
        row.get(5).expect("col"),
        serde_json::from_str(&json).expect("verdict"),
    ))
}

/// Fills a store with 10 runs for each of 100 specs (4 KB outputs).
fn prefill(store: &Store) {
    let outs = outputs(4096);
    for i in 0..(SPECS * 10) {
        store
            .record_stage(&new_run(i % SPECS, "plan", i), &outs, &verdict(i))
            .expect("prefill");
    }
}

fn spec_names() -> Vec<String> {
    (0..SPECS).map(|s| format!("SPEC-{s}")).collect()
}

fn record_stage(c: &mut Criterion) {
    let mut g = c.benchmark_group("store/record_stage");
    g.throughput(Throughput::Elements(1));
    let dir = tempfile::tempdir().expect("tempdir");
    let outs = outputs(4096);
    let v = verdict(1);

    let store = Store::open(dir.path().join("synod.db"), Options::default()).expect("open");
    let n = AtomicI64::new(0);
    g.bench_function("synod", |b| {
        b.iter(|| {
            let i = n.fetch_add(1, Ordering::Relaxed);
            black_box(
                store
                    .record_stage(
                        &new_run(i % SPECS, "plan", i),
                        black_box(&outs),
                        black_box(&v),
                    )
                    .expect("record"),
            )
        });
    });

    let mut conn = raw_conn(&dir.path().join("raw.db"));
    let n = AtomicI64::new(0);
    g.bench_function("raw", |b| {
        b.iter(|| {
            let i = n.fetch_add(1, Ordering::Relaxed);
            black_box(raw_record_stage(
                &mut conn,
                &new_run(i % SPECS, "plan", i),
                black_box(&outs),
                black_box(&v),
            ))
        });
    });
    g.finish();
}

fn latest_verdict(c: &mut Criterion) {
    let mut g = c.benchmark_group("store/latest_verdict");
    g.throughput(Throughput::Elements(1));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("synod.db");
    let store = Store::open(&path, Options::default()).expect("open");
    prefill(&store);
    let specs = spec_names();

    let mut i = 0;
    g.bench_function("synod", |b| {
        b.iter(|| {
            i = (i + 1) % specs.len();
            black_box(
                store
                    .latest_verdict(black_box(&specs[i]), "plan")
                    .expect("read"),
            )
        });
    });
    // Same file, a direct connection with a cached statement.
    let conn = raw_conn(&path);
    let mut i = 0;
    g.bench_function("raw", |b| {
        b.iter(|| {
            i = (i + 1) % specs.len();
            black_box(raw_latest(&conn, black_box(&specs[i]), "plan"))
        });
    });
    g.finish();
}

/// Runs `reads` latest-verdict reads spread over 4 threads while a writer records stages,
/// and returns the wall time of the reads.
fn four_readers(
    reads: u64,
    read: &Arc<dyn Fn(usize) + Send + Sync>,
    write: Box<dyn FnMut() + Send>,
) -> Duration {
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let mut write = write;
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                write();
            }
        })
    };
    std::thread::sleep(Duration::from_millis(2));
    let start = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let read = Arc::clone(read);
            let per = reads / 4 + u64::from(t == 0) * (reads % 4);
            std::thread::spawn(move || {
                for k in 0..per {
                    read(t * 31 + k as usize);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("reader");
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    elapsed
}

fn latest_verdict_4_readers(c: &mut Criterion) {
    let mut g = c.benchmark_group("store/latest_verdict_4_readers");
    g.throughput(Throughput::Elements(1));
    let dir = tempfile::tempdir().expect("tempdir");
    let specs = Arc::new(spec_names());

    let path = dir.path().join("synod.db");
    let store = Store::open(&path, Options::default()).expect("open");
    prefill(&store);
    let next = Arc::new(AtomicI64::new(1_000_000));
    g.bench_function("synod", |b| {
        b.iter_custom(|iters| {
            let reader = store.clone();
            let specs = Arc::clone(&specs);
            let read: Arc<dyn Fn(usize) + Send + Sync> = Arc::new(move |k| {
                black_box(
                    reader
                        .latest_verdict(&specs[k % specs.len()], "plan")
                        .expect("read"),
                );
            });
            let (writer, next, outs) = (store.clone(), Arc::clone(&next), outputs(4096));
            let write = Box::new(move || {
                let i = next.fetch_add(1, Ordering::Relaxed);
                writer
                    .record_stage(&new_run(i % SPECS, "plan", i), &outs, &verdict(i))
                    .expect("write");
            });
            four_readers(iters, &read, write)
        });
    });

    let raw_path = dir.path().join("raw.db");
    {
        let mut conn = raw_conn(&raw_path);
        let outs = outputs(4096);
        for i in 0..(SPECS * 10) {
            raw_record_stage(
                &mut conn,
                &new_run(i % SPECS, "plan", i),
                &outs,
                &verdict(i),
            );
        }
    }
    let next = Arc::new(AtomicI64::new(1_000_000));
    g.bench_function("raw", |b| {
        b.iter_custom(|iters| {
            // One direct connection per reader thread, opened before timing starts.
            let conns: Arc<Vec<std::sync::Mutex<Connection>>> = Arc::new(
                (0..4)
                    .map(|_| std::sync::Mutex::new(raw_conn(&raw_path)))
                    .collect(),
            );
            let specs = Arc::clone(&specs);
            let read: Arc<dyn Fn(usize) + Send + Sync> = Arc::new(move |k| {
                // Thread t always uses connection t (k = t * 31 + ...), so the lock is uncontended.
                let conn = conns[(k / 31) % 4].lock().expect("conn");
                black_box(raw_latest(&conn, &specs[k % specs.len()], "plan"));
            });
            let (mut conn, next, outs) = (raw_conn(&raw_path), Arc::clone(&next), outputs(4096));
            let write = Box::new(move || {
                let i = next.fetch_add(1, Ordering::Relaxed);
                raw_record_stage(
                    &mut conn,
                    &new_run(i % SPECS, "plan", i),
                    &outs,
                    &verdict(i),
                );
            });
            four_readers(iters, &read, write)
        });
    });
    g.finish();
}

fn batch_insert(c: &mut Criterion) {
    const ROWS: usize = 1000;
    let mut g = c.benchmark_group("store/batch_insert");
    g.throughput(Throughput::Elements(ROWS as u64));
    let dir = tempfile::tempdir().expect("tempdir");
    let rows: Vec<NewOutput> = (0..ROWS)
        .map(|i| NewOutput {
            agent: format!("agent{}", i % 3),
            attempt: 1,
            exit_code: Some(0),
            duration_ms: i as u64,
            status: "ok".into(),
            raw_output: "y".repeat(150),
            parsed_json: None,
            error: None,
        })
        .collect();

    // Each batch goes to a fresh run (created in the untimed setup), as the orchestrator does.
    let store = Store::open(dir.path().join("synod.db"), Options::default()).expect("open");
    let n = AtomicI64::new(0);
    g.bench_function("synod", |b| {
        b.iter_batched(
            || -> RunId {
                let i = n.fetch_add(1, Ordering::Relaxed);
                store
                    .record_stage(&new_run(0, "plan", i), &[], &verdict(0))
                    .expect("run")
            },
            |run| black_box(store.record_outputs(run, black_box(&rows)).expect("batch")),
            BatchSize::PerIteration,
        );
    });

    let conn = std::cell::RefCell::new(raw_conn(&dir.path().join("raw.db")));
    let n = AtomicI64::new(0);
    g.bench_function("raw", |b| {
        b.iter_batched(
            || {
                let i = n.fetch_add(1, Ordering::Relaxed);
                raw_record_stage(&mut conn.borrow_mut(), &new_run(0, "plan", i), &[], &verdict(0))
            },
            |run_id| {
                let mut conn = conn.borrow_mut();
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).expect("begin");
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        )
                        .expect("prepare");
                    for o in black_box(&rows) {
                        let parsed = o.parsed_json.as_ref().map(|v| serde_json::to_string(v).expect("json"));
                        stmt.execute(params![run_id, o.agent, o.attempt, o.exit_code, o.duration_ms as i64, o.status, o.raw_output, parsed, o.error])
                            .expect("insert");
                    }
                }
                tx.commit().expect("commit");
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = record_stage, latest_verdict, latest_verdict_4_readers, batch_insert
}
criterion_main!(benches);
