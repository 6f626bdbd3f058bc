//! The job queue on PostgreSQL (the synod-testpg fixture's server): claim + complete
//! throughput with 8 concurrent workers, synod's `PgStore` (`JobQueue::claim` /
//! `JobQueue::complete`) against a hand-written `FOR UPDATE SKIP LOCKED` loop with the raw
//! client.
//!
//! Each iteration seeds 256 queued jobs into an emptied queue (not timed), then 8 tasks drain
//! it. Every job is recorded with a run, 3 outputs of 512 B, its verdict and the spec's stage.
//!
//! - `synod`: the 8 tasks share one `PgStore` with a pool of 8 (what `synod worker
//!   --concurrency 8` does). A claim is one statement (expired leases first, dead ones
//!   buried, else the oldest queued job, `SKIP LOCKED`); a completion is one statement fenced
//!   by the job's token.
//! - `raw`: each task owns a tokio-postgres client with prepared statements: the usual
//!   `UPDATE jobs ... WHERE id = (SELECT id ... FOR UPDATE SKIP LOCKED) RETURNING`, then a
//!   transaction that locks the job, checks its token, inserts the run, the outputs and the
//!   spec's stage, and marks the job done.
//!
//! Groups: `jobs_pg/claim_complete_8_workers/{synod,raw}`, throughput in jobs.
//! Run with `cargo bench -p synod-benches --bench jobs_pg`.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use synod::store::{JobQueue, NewOutput, NewRun, PgOptions, PgStore, StageRecord, now_millis};
use tokio::runtime::Runtime;
use tokio_postgres::types::Json;
use tokio_postgres::{Client, NoTls, Statement};

const JOBS: i64 = 256;
const WORKERS: usize = 8;
const LEASE: Duration = Duration::from_secs(30);

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

/// The run of job `id` (its id keeps `(spec, stage, started_at)` unique).
fn run(spec: &str, id: i64) -> NewRun {
    NewRun {
        spec_id: spec.to_owned(),
        stage: "plan".into(),
        started_at: id,
        finished_at: id + 10,
        status: "ok".into(),
    }
}

async fn client(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// Empties the queue and the evidence, then queues `JOBS` jobs.
async fn seed(admin: &Client) {
    admin
        .batch_execute(&format!(
            "TRUNCATE jobs, agent_outputs, agent_executions, consensus_runs, specs; \
             INSERT INTO jobs (spec_id, stage, state, max_tries, created_at, updated_at) \
             SELECT 'J-' || g, 'plan', 'queued', 3, {now}, {now} FROM generate_series(1, {JOBS}) g",
            now = now_millis()
        ))
        .await
        .expect("seed");
}

async fn synod_drain(store: &PgStore) -> i64 {
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let (name, outs, verdict) = (format!("w{w}"), outputs(), json!({"status": "ok"}));
            let mut done = 0;
            while let Some(job) = store.claim(&name, LEASE).await.expect("claim") {
                let record = StageRecord::new(
                    run(&job.job.spec_id, job.id().0),
                    outs.clone(),
                    verdict.clone(),
                );
                store
                    .complete(&job, Arc::new(record))
                    .await
                    .expect("complete");
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("worker");
    }
    total
}

/// One hand-written worker: a client and its prepared statements.
struct RawWorker {
    client: Client,
    claim: Statement,
    lock: Statement,
    run: Statement,
    output: Statement,
    spec: Statement,
    done: Statement,
}

impl RawWorker {
    async fn connect(url: &str) -> RawWorker {
        let client = client(url).await;
        let prepare = |sql: &'static str| {
            let client = &client;
            async move { client.prepare(sql).await.expect("prepare") }
        };
        RawWorker {
            claim: prepare(
                "UPDATE jobs SET state = 'running', tries = tries + 1, lease_owner = $1, \
                 lease_token = lease_token + 1, lease_until = $2, updated_at = $3 \
                 WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1 \
                 FOR UPDATE SKIP LOCKED) RETURNING id, lease_token, spec_id",
            )
            .await,
            lock: prepare("SELECT state, lease_token FROM jobs WHERE id = $1 FOR UPDATE").await,
            run: prepare(
                "INSERT INTO consensus_runs (spec_id, stage, started_at, finished_at, status, verdict_json) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .await,
            output: prepare(
                "INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .await,
            spec: prepare(
                "INSERT INTO specs (spec_id, stage, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (spec_id) DO UPDATE SET stage = excluded.stage, updated_at = excluded.updated_at \
                 WHERE excluded.updated_at >= specs.updated_at",
            )
            .await,
            done: prepare(
                "UPDATE jobs SET state = 'done', run_id = $2, lease_until = NULL, updated_at = $3 WHERE id = $1",
            )
            .await,
            client,
        }
    }

    async fn drain(&mut self, name: &str) -> i64 {
        let (outs, verdict) = (outputs(), json!({"status": "ok"}));
        let lease = i64::try_from(LEASE.as_millis()).expect("lease");
        let mut done = 0;
        loop {
            let now = now_millis();
            let Some(row) = self
                .client
                .query_opt(&self.claim, &[&name, &(now + lease), &now])
                .await
                .expect("claim")
            else {
                return done;
            };
            let (id, token, spec): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
            let r = run(&spec, id);
            let tx = self.client.transaction().await.expect("begin");
            let held = tx.query_one(&self.lock, &[&id]).await.expect("lock");
            assert!(
                held.get::<_, &str>(0) == "running" && held.get::<_, i64>(1) == token,
                "lease lost"
            );
            let run_id: i64 = tx
                .query_one(
                    &self.run,
                    &[
                        &r.spec_id,
                        &r.stage,
                        &r.started_at,
                        &r.finished_at,
                        &r.status,
                        &Json(&verdict),
                    ],
                )
                .await
                .expect("run")
                .get(0);
            for o in &outs {
                let duration = i64::try_from(o.duration_ms).expect("ms");
                let attempt = i64::from(o.attempt);
                let parsed = o.parsed_json.as_ref().map(Json);
                tx.execute(
                    &self.output,
                    &[
                        &run_id,
                        &o.agent,
                        &attempt,
                        &o.exit_code,
                        &duration,
                        &o.status,
                        &o.raw_output,
                        &parsed,
                        &o.error,
                    ],
                )
                .await
                .expect("output");
            }
            tx.execute(&self.spec, &[&r.spec_id, &r.stage, &r.finished_at])
                .await
                .expect("spec");
            tx.execute(&self.done, &[&id, &run_id, &now_millis()])
                .await
                .expect("done");
            tx.commit().await.expect("commit");
            done += 1;
        }
    }
}

async fn raw_drain(workers: &mut Vec<RawWorker>) -> i64 {
    let mut tasks = Vec::new();
    for (w, mut worker) in workers.drain(..).enumerate() {
        tasks.push(tokio::spawn(async move {
            let done = worker.drain(&format!("w{w}")).await;
            (worker, done)
        }));
    }
    let mut total = 0;
    for task in tasks {
        let (worker, done) = task.await.expect("worker");
        workers.push(worker);
        total += done;
    }
    total
}

struct Setup {
    store: PgStore,
    synod_admin: Client,
    raw: Vec<RawWorker>,
    raw_admin: Client,
    _dbs: [synod_testpg::Database; 2],
}

fn setup(rt: &Runtime) -> Setup {
    let cluster = synod_testpg::PgCluster::shared().expect("a PostgreSQL server");
    rt.block_on(async {
        let synod_db = cluster.database().await.expect("database");
        let raw_db = cluster.database().await.expect("database");
        let options = PgOptions::default().with_pool_size(WORKERS);
        let store = PgStore::connect(synod_db.url(), options)
            .await
            .expect("connect");
        // The raw side gets synod's schema too, then only its own statements.
        drop(
            PgStore::connect(raw_db.url(), PgOptions::default())
                .await
                .expect("schema"),
        );
        let mut raw = Vec::new();
        for _ in 0..WORKERS {
            raw.push(RawWorker::connect(raw_db.url()).await);
        }
        Setup {
            store,
            synod_admin: client(synod_db.url()).await,
            raw_admin: client(raw_db.url()).await,
            raw,
            _dbs: [synod_db, raw_db],
        }
    })
}

fn claim_complete(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut setup = setup(&rt);
    let mut group = c.benchmark_group("jobs_pg/claim_complete_8_workers");
    group.throughput(Throughput::Elements(JOBS.unsigned_abs()));
    group.bench_function("synod", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    seed(&setup.synod_admin).await;
                    let started = Instant::now();
                    assert_eq!(synod_drain(&setup.store).await, JOBS);
                    timed += started.elapsed();
                }
                timed
            })
        });
    });
    group.bench_function("raw", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    seed(&setup.raw_admin).await;
                    let started = Instant::now();
                    assert_eq!(raw_drain(&mut setup.raw).await, JOBS);
                    timed += started.elapsed();
                }
                timed
            })
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .sample_size(10)
}

criterion_group! {
    name = benches;
    config = config();
    targets = claim_complete
}
criterion_main!(benches);
