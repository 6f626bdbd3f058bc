//! Head-to-head benchmarks for the store layer: synod-store against the same work written by
//! hand with raw rusqlite (same schema, same pragmas, same JSON encoding), in the same run.
//!
//! The single-thread groups measure both contenders *paired*: each criterion iteration batch
//! runs synod and raw alternately in chunks of 16 calls (see `paired`), so machine load,
//! checkpoints and page-cache state hit both alike; the `synod` benchmark reports synod's
//! share of the time and `raw` raw's. The two criterion benchmarks of a group are still taken
//! one after the other, so after each group the paired totals are printed too (`paired over N
//! calls each: ... synod/raw time R`): that ratio comes from interleaved calls and is the one to
//! trust on a loaded machine.
//!
//! Groups are `store/<operation>/{synod,raw}`:
//! - `record_stage`: one run + 3 outputs of 4 KB + verdict + spec stage, one IMMEDIATE
//!   transaction.
//! - `latest_verdict`: point read of the latest verdict of a (spec, stage), parsed to JSON,
//!   one thread; raw is a direct connection with a cached statement.
//! - `latest_verdict_4_readers`: the same read from 4 threads while a writer records stages
//!   (at most 500 per second on both sides); time per read (wall time / total reads).
//! - `batch_insert`: 1000 outputs of ~200 bytes in one transaction (throughput in rows/s).
//!
//! Run with `cargo bench -p synod-benches --bench store`.
#![allow(missing_docs)]

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
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
            ..NewOutput::default()
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

/// Paired measurement: runs the synod and the raw operation alternately, `CHUNK` calls at a
/// time (in ABBA order, since the first of a round measurably pays for the switch between
/// connections), and returns the time spent in each. Both contenders see the same machine load (these
/// machines are shared), so their ratio is far steadier than two back-to-back runs; the
/// `synod` benchmark reports the first time, `raw` the second. `setup_*` runs untimed before
/// each call.
fn paired<S, R, SA, SB>(
    iters: u64,
    mut setup_a: impl FnMut() -> SA,
    mut a: impl FnMut(SA) -> S,
    mut setup_b: impl FnMut() -> SB,
    mut b: impl FnMut(SB) -> R,
) -> (Duration, Duration) {
    const CHUNK: u64 = 16;
    let (mut ta, mut tb) = (Duration::ZERO, Duration::ZERO);
    let mut done = 0;
    let mut a_first = true;
    while done < iters {
        let n = CHUNK.min(iters - done);
        // ABBA order: whichever runs first in a round pays for the switch, so alternate.
        for turn in [a_first, !a_first] {
            if turn {
                let inputs: Vec<SA> = (0..n).map(|_| setup_a()).collect();
                let start = Instant::now();
                for input in inputs {
                    black_box(a(input));
                }
                ta += start.elapsed();
            } else {
                let inputs: Vec<SB> = (0..n).map(|_| setup_b()).collect();
                let start = Instant::now();
                for input in inputs {
                    black_box(b(input));
                }
                tb += start.elapsed();
            }
        }
        a_first = !a_first;
        done += n;
    }
    (ta, tb)
}

/// Running totals of the paired measurements of one group, printed after it as the paired
/// ratio (synod time / raw time over every call both made, warm-up included).
#[derive(Default)]
struct Totals {
    synod: Cell<Duration>,
    raw: Cell<Duration>,
    calls: Cell<u64>,
}

impl Totals {
    fn add(&self, iters: u64, (a, b): (Duration, Duration)) -> (Duration, Duration) {
        self.synod.set(self.synod.get() + a);
        self.raw.set(self.raw.get() + b);
        self.calls.set(self.calls.get() + iters);
        (a, b)
    }

    fn report(&self, group: &str) {
        let (a, b) = (self.synod.get().as_secs_f64(), self.raw.get().as_secs_f64());
        eprintln!(
            "{group}: paired over {} calls each: synod {:.2} µs, raw {:.2} µs, synod/raw time {:.3} (throughput ratio {:.3})",
            self.calls.get(),
            a * 1e6 / self.calls.get().max(1) as f64,
            b * 1e6 / self.calls.get().max(1) as f64,
            a / b,
            b / a
        );
    }
}

fn record_stage(c: &mut Criterion) {
    const GROUP: &str = "store/record_stage";
    let mut g = c.benchmark_group(GROUP);
    g.throughput(Throughput::Elements(1));
    let dir = tempfile::tempdir().expect("tempdir");
    let outs = outputs(4096);
    let v = verdict(1);
    let store = Store::open(dir.path().join("synod.db"), Options::default()).expect("open");
    let conn = RefCell::new(raw_conn(&dir.path().join("raw.db")));
    let (ns, nr) = (Cell::new(0_i64), Cell::new(0_i64));
    let totals = Totals::default();
    let measure = |iters| {
        totals.add(
            iters,
            paired(
                iters,
                || {
                    ns.set(ns.get() + 1);
                    new_run(ns.get() % SPECS, "plan", ns.get())
                },
                |run| {
                    store
                        .record_stage(&run, black_box(&outs), black_box(&v))
                        .expect("record")
                },
                || {
                    nr.set(nr.get() + 1);
                    new_run(nr.get() % SPECS, "plan", nr.get())
                },
                |run| {
                    raw_record_stage(
                        &mut conn.borrow_mut(),
                        &run,
                        black_box(&outs),
                        black_box(&v),
                    )
                },
            ),
        )
    };
    g.bench_function("synod", |b| b.iter_custom(|iters| measure(iters).0));
    g.bench_function("raw", |b| b.iter_custom(|iters| measure(iters).1));
    g.finish();
    totals.report(GROUP);
}

fn latest_verdict(c: &mut Criterion) {
    const GROUP: &str = "store/latest_verdict";
    let mut g = c.benchmark_group(GROUP);
    g.throughput(Throughput::Elements(1));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("synod.db");
    let store = Store::open(&path, Options::default()).expect("open");
    prefill(&store);
    store.checkpoint().expect("checkpoint");
    let specs = spec_names();
    // Same file, a direct connection with a cached statement.
    let conn = raw_conn(&path);
    let (is, ir) = (Cell::new(0_usize), Cell::new(0_usize));
    let totals = Totals::default();
    let measure = |iters| {
        totals.add(
            iters,
            paired(
                iters,
                || {
                    is.set((is.get() + 1) % specs.len());
                    &specs[is.get()]
                },
                |spec| store.latest_verdict(black_box(spec), "plan").expect("read"),
                || {
                    ir.set((ir.get() + 1) % specs.len());
                    &specs[ir.get()]
                },
                |spec| raw_latest(&conn, black_box(spec), "plan"),
            ),
        )
    };
    g.bench_function("synod", |b| b.iter_custom(|iters| measure(iters).0));
    g.bench_function("raw", |b| b.iter_custom(|iters| measure(iters).1));
    g.finish();
    totals.report(GROUP);
}

/// Runs `reads` latest-verdict reads spread over 4 threads while a writer records stages,
/// and returns the wall time of the reads.
fn four_readers(
    reads: u64,
    read: &Arc<dyn Fn(usize, usize) + Send + Sync>,
    write: Box<dyn FnMut() + Send>,
) -> Duration {
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let mut write = write;
        std::thread::spawn(move || {
            // A steady 500 stages/s on both sides: every commit invalidates the readers' page
            // caches, so an unthrottled writer would make the faster writer look like the
            // slower reader.
            while !stop.load(Ordering::Relaxed) {
                write();
                std::thread::sleep(Duration::from_millis(2));
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
                    read(t, k as usize);
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
            let read: Arc<dyn Fn(usize, usize) + Send + Sync> = Arc::new(move |t, k| {
                black_box(
                    reader
                        .latest_verdict(&specs[(t * 31 + k) % specs.len()], "plan")
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
            let read: Arc<dyn Fn(usize, usize) + Send + Sync> = Arc::new(move |t, k| {
                // Reader thread t always uses connection t, so its lock is never contended.
                let conn = conns[t].lock().expect("conn");
                black_box(raw_latest(
                    &conn,
                    &specs[(t * 31 + k) % specs.len()],
                    "plan",
                ));
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
    const GROUP: &str = "store/batch_insert";
    let mut g = c.benchmark_group(GROUP);
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
            ..NewOutput::default()
        })
        .collect();
    // Each batch goes to a fresh run (created in the untimed setup), as the orchestrator does.
    let store = Store::open(dir.path().join("synod.db"), Options::default()).expect("open");
    let conn = RefCell::new(raw_conn(&dir.path().join("raw.db")));
    let (ns, nr) = (Cell::new(0_i64), Cell::new(0_i64));
    let totals = Totals::default();
    let measure = |iters| {
        totals.add(iters, paired(
            iters,
            || -> RunId {
                ns.set(ns.get() + 1);
                store
                    .record_stage(&new_run(0, "plan", ns.get()), &[], &verdict(0))
                    .expect("run")
            },
            |run| store.record_outputs(run, black_box(&rows)).expect("batch"),
            || {
                nr.set(nr.get() + 1);
                raw_record_stage(
                    &mut conn.borrow_mut(),
                    &new_run(0, "plan", nr.get()),
                    &[],
                    &verdict(0),
                )
            },
            |run_id| {
                let mut conn = conn.borrow_mut();
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .expect("begin");
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        )
                        .expect("prepare");
                    for o in black_box(&rows) {
                        let parsed = o
                            .parsed_json
                            .as_ref()
                            .map(|v| serde_json::to_string(v).expect("json"));
                        stmt.execute(params![
                            run_id,
                            o.agent,
                            o.attempt,
                            o.exit_code,
                            o.duration_ms as i64,
                            o.status,
                            o.raw_output,
                            parsed,
                            o.error
                        ])
                        .expect("insert");
                    }
                }
                tx.commit().expect("commit");
            },
        ))
    };
    g.bench_function("synod", |b| b.iter_custom(|iters| measure(iters).0));
    g.bench_function("raw", |b| b.iter_custom(|iters| measure(iters).1));
    g.finish();
    totals.report(GROUP);
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
