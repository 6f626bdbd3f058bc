//! `record_stage` on PostgreSQL: synod's `PgStore` against the same transaction written by
//! hand with the raw tokio-postgres client, on the synod-testpg fixture's server (a throwaway
//! local cluster, fsync off: this measures the client side and the round trips, not disks).
//!
//! Groups are `store_pg/record_stage/{synod,raw,raw_one_statement}`, each one run + 3 outputs
//! of 4 KB + verdict (JSONB) + spec stage:
//! - `synod`: `PgStore::record_stage` (pool checkout, cached statement, ONE statement of
//!   data-modifying CTEs with the outputs as `unnest` arrays: one round trip);
//! - `raw`: the transaction as one writes it by hand: BEGIN, INSERT the run RETURNING id, one
//!   INSERT per output, the spec upsert, COMMIT, on one dedicated connection with prepared
//!   statements;
//! - `raw_one_statement`: synod's own statement sent through the raw client on a dedicated
//!   connection (what synod's pool and encoding cost over the wire protocol alone).
//!
//! `store_pg/growth/{latest_verdict,history_20,record_stage}/N` measure the same calls in one
//! store holding N = 1k, 10k, 100k and 1M runs (1,000 specs, one 256-byte output per run,
//! bulk-loaded with `generate_series`): the point read and the page should stay flat (index
//! seeks), and so should a write (index inserts are logarithmic).
//!
//! After the criterion groups a paired run alternates the contenders call by call and prints
//! throughput ratios (the figures to trust on a loaded machine).
//!
//! Run with `cargo bench -p synod-benches --bench store_pg` (set `SYNOD_TEST_POSTGRES_URL` to
//! measure another server).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use synod::store::{NewOutput, NewRun, Page, PgOptions, PgStore};
use tokio::runtime::Runtime;
use tokio_postgres::types::Json;
use tokio_postgres::{Client, NoTls, Statement};

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

fn outputs() -> Vec<NewOutput> {
    (0..3)
        .map(|a| NewOutput {
            agent: format!("agent{a}"),
            attempt: 1,
            exit_code: Some(0),
            duration_ms: 1_000 + a,
            status: "ok".into(),
            raw_output: "x".repeat(4_096),
            parsed_json: Some(json!({"decision": a, "notes": "short"})),
            error: None,
            ..NewOutput::default()
        })
        .collect()
}

fn new_run(n: i64) -> NewRun {
    NewRun {
        spec_id: format!("SPEC-{}", n % 100),
        stage: "plan".to_owned(),
        started_at: n,
        finished_at: n + 10,
        status: "ok".into(),
    }
}

/// A raw client on a database with synod's schema, with the hand-written statements.
struct Raw {
    client: Client,
    run: Statement,
    output: Statement,
    spec: Statement,
}

impl Raw {
    async fn connect(url: &str) -> Raw {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
        tokio::spawn(connection);
        let run = client
            .prepare(
                "INSERT INTO consensus_runs (spec_id, stage, started_at, finished_at, status, verdict_json) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .await
            .expect("prepare");
        let output = client
            .prepare(
                "INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .await
            .expect("prepare");
        let spec = client
            .prepare(
                "INSERT INTO specs (spec_id, stage, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (spec_id) DO UPDATE SET stage = excluded.stage, updated_at = excluded.updated_at \
                 WHERE excluded.updated_at >= specs.updated_at",
            )
            .await
            .expect("prepare");
        Raw {
            client,
            run,
            output,
            spec,
        }
    }

    /// The hand-written transaction.
    async fn record_stage(&mut self, run: &NewRun, outs: &[NewOutput], verdict: &Value) -> i64 {
        let tx = self.client.transaction().await.expect("begin");
        let id: i64 = tx
            .query_one(
                &self.run,
                &[
                    &run.spec_id,
                    &run.stage,
                    &run.started_at,
                    &run.finished_at,
                    &run.status,
                    &Json(verdict),
                ],
            )
            .await
            .expect("insert run")
            .get(0);
        for o in outs {
            tx.execute(
                &self.output,
                &[
                    &id,
                    &o.agent,
                    &i64::from(o.attempt),
                    &o.exit_code,
                    &(o.duration_ms as i64),
                    &o.status,
                    &o.raw_output,
                    &o.parsed_json.as_ref().map(Json),
                    &o.error,
                ],
            )
            .await
            .expect("insert output");
        }
        tx.execute(&self.spec, &[&run.spec_id, &run.stage, &run.finished_at])
            .await
            .expect("upsert spec");
        tx.commit().await.expect("commit");
        id
    }
}

/// synod's one statement through a raw client (outputs as arrays).
struct RawOne {
    client: Client,
    stmt: Statement,
}

impl RawOne {
    async fn connect(url: &str) -> RawOne {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
        tokio::spawn(connection);
        let stmt = client
            .prepare(
                "WITH run AS (
                    INSERT INTO consensus_runs (spec_id, stage, started_at, finished_at, status, verdict_json)
                    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
                 ), outputs AS (
                    INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error)
                    SELECT run.id, o.agent, o.attempt, o.exit_code, o.duration_ms, o.status, o.raw_output, o.parsed_json, o.error
                    FROM run, unnest($7::text[], $8::int8[], $9::int4[], $10::int8[], $11::text[], $12::text[], $13::jsonb[], $14::text[])
                        WITH ORDINALITY AS o(agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error, n)
                    ORDER BY o.n
                 ), spec AS (
                    INSERT INTO specs (spec_id, stage, updated_at) VALUES ($1, $2, $4)
                    ON CONFLICT (spec_id) DO UPDATE SET stage = excluded.stage, updated_at = excluded.updated_at
                    WHERE excluded.updated_at >= specs.updated_at
                 )
                 SELECT id FROM run",
            )
            .await
            .expect("prepare");
        RawOne { client, stmt }
    }

    async fn record_stage(&self, run: &NewRun, outs: &[NewOutput], verdict: &Value) -> i64 {
        let agent: Vec<&str> = outs.iter().map(|o| o.agent.as_str()).collect();
        let attempt: Vec<i64> = outs.iter().map(|o| i64::from(o.attempt)).collect();
        let exit: Vec<Option<i32>> = outs.iter().map(|o| o.exit_code).collect();
        let duration: Vec<i64> = outs.iter().map(|o| o.duration_ms as i64).collect();
        let status: Vec<&str> = outs.iter().map(|o| o.status.as_str()).collect();
        let raw: Vec<&str> = outs.iter().map(|o| o.raw_output.as_str()).collect();
        let parsed: Vec<Option<Json<&Value>>> = outs
            .iter()
            .map(|o| o.parsed_json.as_ref().map(Json))
            .collect();
        let error: Vec<Option<&str>> = outs.iter().map(|o| o.error.as_deref()).collect();
        self.client
            .query_one(
                &self.stmt,
                &[
                    &run.spec_id,
                    &run.stage,
                    &run.started_at,
                    &run.finished_at,
                    &run.status,
                    &Json(verdict),
                    &agent,
                    &attempt,
                    &exit,
                    &duration,
                    &status,
                    &raw,
                    &parsed,
                    &error,
                ],
            )
            .await
            .expect("record")
            .get(0)
    }
}

struct Setup {
    store: PgStore,
    raw: tokio::sync::Mutex<Raw>,
    one: RawOne,
    _dbs: Vec<synod_testpg::Database>,
}

fn setup(rt: &Runtime) -> Setup {
    let cluster = synod_testpg::PgCluster::shared().expect("a PostgreSQL server");
    rt.block_on(async {
        let mut dbs = Vec::new();
        let mut urls = Vec::new();
        for _ in 0..3 {
            let db = cluster.database().await.expect("database");
            // Every database gets synod's schema.
            drop(
                PgStore::connect(db.url(), PgOptions::default())
                    .await
                    .expect("schema"),
            );
            urls.push(db.url().to_owned());
            dbs.push(db);
        }
        Setup {
            store: PgStore::connect(&urls[0], PgOptions::default())
                .await
                .expect("connect"),
            raw: tokio::sync::Mutex::new(Raw::connect(&urls[1]).await),
            one: RawOne::connect(&urls[2]).await,
            _dbs: dbs,
        }
    })
}

fn record_stage(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let setup = setup(&rt);
    let outs = outputs();
    let verdict = verdict(1);
    let mut n = 0_i64;
    let mut group = c.benchmark_group("store_pg/record_stage");
    group.bench_function("synod", |b| {
        b.to_async(&rt).iter(|| {
            n += 1;
            let run = new_run(n);
            let (outs, verdict) = (outs.clone(), verdict.clone());
            let store = &setup.store;
            async move {
                black_box(
                    store
                        .record_stage(run, outs, verdict)
                        .await
                        .expect("record"),
                )
            }
        });
    });
    group.bench_function("raw", |b| {
        b.to_async(&rt).iter(|| {
            n += 1;
            let run = new_run(n);
            let (outs, verdict, raw) = (&outs, &verdict, &setup.raw);
            async move { black_box(raw.lock().await.record_stage(&run, outs, verdict).await) }
        });
    });
    group.bench_function("raw_one_statement", |b| {
        b.to_async(&rt).iter(|| {
            n += 1;
            let run = new_run(n);
            let (outs, verdict, one) = (&outs, &verdict, &setup.one);
            async move { black_box(one.record_stage(&run, outs, verdict).await) }
        });
    });
    group.finish();

    // Paired: the three alternate call by call, so load hits all alike.
    let calls = 2_000;
    let (mut synod, mut raw, mut one) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    rt.block_on(async {
        let mut raw_client = setup.raw.lock().await;
        for _ in 0..calls {
            n += 1;
            let started = Instant::now();
            setup
                .store
                .record_stage(new_run(n), outs.clone(), verdict.clone())
                .await
                .expect("record");
            synod += started.elapsed();
            let started = Instant::now();
            raw_client.record_stage(&new_run(n), &outs, &verdict).await;
            raw += started.elapsed();
            let started = Instant::now();
            setup.one.record_stage(&new_run(n), &outs, &verdict).await;
            one += started.elapsed();
        }
    });
    let per_s = |d: Duration| f64::from(calls) / d.as_secs_f64();
    println!(
        "store_pg/record_stage paired over {calls} calls each: synod {:.0}/s, raw {:.0}/s, raw_one_statement {:.0}/s; synod/raw throughput {:.2}x, synod/raw_one_statement {:.2}x",
        per_s(synod),
        per_s(raw),
        per_s(one),
        per_s(synod) / per_s(raw),
        per_s(synod) / per_s(one),
    );
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1))
}

/// Loads runs `from..to` (spec `G-{n % 1000}`, stage `plan`, started at `n`), one output each.
async fn load_runs(admin: &Client, from: i64, to: i64) {
    admin
        .batch_execute(&format!(
            "INSERT INTO consensus_runs (spec_id, stage, started_at, finished_at, status, verdict_json) \
             SELECT 'G-' || (g % 1000), 'plan', g, g + 10, 'ok', '{{\"status\": \"ok\"}}'::jsonb \
             FROM generate_series({from}, {to} - 1) g; \
             INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output) \
             SELECT id, 'agent' || (id % 3), 1, 0, 1000, 'ok', repeat('x', 256) \
             FROM consensus_runs WHERE started_at >= {from} AND started_at < {to}; \
             ANALYZE consensus_runs; ANALYZE agent_outputs;"
        ))
        .await
        .expect("bulk load");
}

fn growth(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = synod_testpg::PgCluster::shared().expect("a PostgreSQL server");
    let (db, store, admin) = rt.block_on(async {
        let db = cluster.database().await.expect("database");
        let store = PgStore::connect(db.url(), PgOptions::default())
            .await
            .expect("connect");
        let (admin, connection) = tokio_postgres::connect(db.url(), NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        (db, store, admin)
    });
    let outs = outputs();
    let verdict = verdict(1);
    let mut group = c.benchmark_group("store_pg/growth");
    let mut loaded = 0_i64;
    // Writes measured here start past every loaded run.
    let mut n = 10_000_000_i64;
    for size in [1_000_i64, 10_000, 100_000, 1_000_000] {
        rt.block_on(load_runs(&admin, loaded, size));
        loaded = size;
        group.bench_with_input(BenchmarkId::new("latest_verdict", size), &size, |b, _| {
            b.to_async(&rt).iter(|| async {
                black_box(store.latest_verdict("G-7", "plan").await.expect("read"))
            });
        });
        group.bench_with_input(BenchmarkId::new("history_20", size), &size, |b, _| {
            b.to_async(&rt).iter(|| async {
                black_box(store.history("G-7", Page::first(20)).await.expect("read"))
            });
        });
        group.bench_with_input(BenchmarkId::new("record_stage", size), &size, |b, _| {
            b.to_async(&rt).iter(|| {
                n += 1;
                let run = new_run(n);
                let (outs, verdict, store) = (outs.clone(), verdict.clone(), &store);
                async move {
                    black_box(
                        store
                            .record_stage(run, outs, verdict)
                            .await
                            .expect("record"),
                    )
                }
            });
        });
    }
    group.finish();
    drop((store, admin));
    drop(db);
}

criterion_group! {
    name = benches;
    config = config();
    targets = record_stage, growth
}
criterion_main!(benches);
