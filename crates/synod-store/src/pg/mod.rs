//! [`PgStore`]: the evidence store on PostgreSQL (feature `postgres`), for teams whose runs
//! come from many machines. Same records, same semantics as the SQLite store: versioned
//! migrations (a `synod_schema` table), a stage's run + outputs + verdict + spec stage (and the
//! executions it completes) written by ONE statement, so all of it or none of it lands; JSONB
//! documents; an index for every read path; retention by [`PgStore::prune_before`].
//!
//! The client is tokio-postgres behind a deadpool pool (docs/adr/0016-postgres-client.md).
//! TLS is not supported yet: connect over a trusted network, a Unix socket, or a tunnel.
//! Backups are `pg_dump`'s job.
//!
//! ```no_run
//! use serde_json::json;
//! use synod_store::{NewRun, PgOptions, PgStore};
//!
//! # async fn demo() -> Result<(), synod_store::Error> {
//! let store = PgStore::connect("postgres://synod:secret@db.internal/synod", PgOptions::default()).await?;
//! let run = NewRun {
//!     spec_id: "SPEC-1".into(),
//!     stage: "plan".into(),
//!     started_at: 1_000,
//!     finished_at: 2_000,
//!     status: "ok".into(),
//! };
//! let id = store.record_stage(run, Vec::new(), json!({"status": "ok"})).await?;
//! assert_eq!(store.latest_verdict("SPEC-1", "plan").await?.map(|r| r.id), Some(id));
//! # Ok(()) }
//! ```

mod holds;
mod jobs;
mod schema;

#[doc(hidden)]
pub use jobs::PG_JOB_QUERIES;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Json, ToSql};

use crate::error::{Error, Result};
use crate::evidence::{EvidenceStore, StageRecord, StoreFuture};
use crate::model::{
    AgentStats, Execution, ExecutionId, NewOutput, NewRun, Page, PruneReport, Run, RunId, RunUsage,
    Spec, StoredOutput, UnixMillis, now_millis,
};
use crate::schema::SCHEMA_VERSION;
use crate::url::{is_postgres_url, redact_url};
use synod_core::Usage;

/// Settings for [`PgStore::connect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgOptions {
    /// Most pooled connections (default 8).
    pub pool_size: usize,
    /// How long to wait for the server to accept a connection, unless the URL says
    /// (`connect_timeout=`) (default 10 s).
    pub connect_timeout: Duration,
    /// How long a call waits for a free pooled connection (default 30 s).
    pub wait_timeout: Duration,
    /// Migrate the schema to this build's version (default true). Reading commands pass
    /// false: an older schema then gives [`Error::PgNeedsMigration`] and nothing is written.
    pub migrate: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            wait_timeout: Duration::from_secs(30),
            migrate: true,
        }
    }
}

impl PgOptions {
    /// The defaults without migrating (for reading commands).
    #[must_use]
    pub fn read_only() -> Self {
        PgOptions {
            migrate: false,
            ..PgOptions::default()
        }
    }

    /// These options with `pool_size` connections.
    #[must_use]
    pub fn with_pool_size(mut self, pool_size: usize) -> Self {
        self.pool_size = pool_size.max(1);
        self
    }
}

/// The evidence store on a PostgreSQL server. Cheap to clone (clones share one pool).
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The URL with its password hidden (for messages).
    url: String,
    pool: Pool,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.inner.pool.status();
        f.debug_struct("PgStore")
            .field("url", &self.inner.url)
            .field("pool_size", &status.size)
            .finish_non_exhaustive()
    }
}

/// What follows the `run` CTE of a stage record: the run's outputs (in order), the spec's
/// stage (moved only forward in time), and the executions it completes. Every part reads the
/// `run` CTE, so with no run row nothing is written.
macro_rules! stage_parts {
    () => {
        "outputs AS (
    INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output,
        parsed_json, error, session_id, model, input_tokens, output_tokens, cached_tokens, cost_usd)
    SELECT run.id, o.agent, o.attempt, o.exit_code, o.duration_ms, o.status, o.raw_output,
        o.parsed_json, o.error, o.session_id, o.model, o.input_tokens, o.output_tokens,
        o.cached_tokens, o.cost_usd
    FROM run, unnest($7::text[], $8::int8[], $9::int4[], $10::int8[], $11::text[], $12::text[],
        $13::jsonb[], $14::text[], $15::text[], $16::text[], $17::int8[], $18::int8[],
        $19::int8[], $20::float8[])
        WITH ORDINALITY AS o(agent, attempt, exit_code, duration_ms, status, raw_output,
            parsed_json, error, session_id, model, input_tokens, output_tokens, cached_tokens,
            cost_usd, n)
    ORDER BY o.n
), spec AS (
    INSERT INTO specs (spec_id, stage, updated_at) SELECT $1, $2, $4 FROM run
    ON CONFLICT (spec_id) DO UPDATE SET stage = excluded.stage, updated_at = excluded.updated_at
    WHERE excluded.updated_at >= specs.updated_at
), executions AS (
    UPDATE agent_executions e SET completed_at = $4, outcome = x.outcome, run_id = run.id
    FROM run, unnest($21::int8[], $22::text[]) AS x(id, outcome)
    WHERE e.id = x.id
)"
    };
}
pub(crate) use stage_parts;

/// The whole stage in one statement: the run, then [`stage_parts`].
const SQL_RECORD_STAGE: &str = concat!(
    "WITH run AS (
    INSERT INTO consensus_runs (spec_id, stage, started_at, finished_at, status, verdict_json)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
), ",
    stage_parts!(),
    "
SELECT id FROM run"
);

/// [`SQL_RECORD_STAGE`] without the run: outputs appended to an existing run.
const SQL_RECORD_OUTPUTS: &str = "\
INSERT INTO agent_outputs (run_id, agent, attempt, exit_code, duration_ms, status, raw_output,
    parsed_json, error, session_id, model, input_tokens, output_tokens, cached_tokens, cost_usd)
SELECT $1, o.agent, o.attempt, o.exit_code, o.duration_ms, o.status, o.raw_output,
    o.parsed_json, o.error, o.session_id, o.model, o.input_tokens, o.output_tokens,
    o.cached_tokens, o.cost_usd
FROM unnest($2::text[], $3::int8[], $4::int4[], $5::int8[], $6::text[], $7::text[],
    $8::jsonb[], $9::text[], $10::text[], $11::text[], $12::int8[], $13::int8[],
    $14::int8[], $15::float8[])
    WITH ORDINALITY AS o(agent, attempt, exit_code, duration_ms, status, raw_output,
        parsed_json, error, session_id, model, input_tokens, output_tokens, cached_tokens,
        cost_usd, n)
ORDER BY o.n";

/// Nearest-rank p95 (`percentile_disc`), like the SQLite store's; reads the covering index.
const SQL_AGENT_STATS: &str = "\
SELECT agent, count(DISTINCT run_id), count(*), count(*) FILTER (WHERE succeeded),
    coalesce(avg(duration_ms), 0)::float8,
    percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms),
    percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms),
    coalesce(sum(input_tokens), 0)::int8, coalesce(sum(output_tokens), 0)::int8,
    coalesce(sum(cached_tokens), 0)::int8, sum(cost_usd)
FROM agent_outputs GROUP BY agent ORDER BY agent";

/// Every query the read API runs, for the query-plan test.
#[doc(hidden)]
pub const PG_PUBLIC_QUERIES: &[(&str, &str)] = &[
    (
        "latest_verdict",
        "SELECT id, spec_id, stage, started_at, finished_at, status, verdict_json FROM consensus_runs \
         WHERE spec_id = $1 AND stage = $2 ORDER BY started_at DESC, id DESC LIMIT 1",
    ),
    (
        "run",
        "SELECT id, spec_id, stage, started_at, finished_at, status, verdict_json FROM consensus_runs WHERE id = $1",
    ),
    (
        "history",
        "SELECT id, spec_id, stage, started_at, finished_at, status, verdict_json FROM consensus_runs \
         WHERE spec_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2 OFFSET $3",
    ),
    (
        "outputs_for_run",
        "SELECT id, run_id, agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error, \
         session_id, model, input_tokens, output_tokens, cached_tokens, cost_usd \
         FROM agent_outputs WHERE run_id = $1 ORDER BY id",
    ),
    (
        "outputs_for_agent",
        "SELECT id, run_id, agent, attempt, exit_code, duration_ms, status, raw_output, parsed_json, error, \
         session_id, model, input_tokens, output_tokens, cached_tokens, cost_usd \
         FROM agent_outputs WHERE agent = $1 ORDER BY run_id DESC, id DESC LIMIT $2 OFFSET $3",
    ),
    (
        "history_usage",
        "SELECT run_id, count(*), count(input_tokens), coalesce(sum(input_tokens), 0)::int8, \
         coalesce(sum(output_tokens), 0)::int8, coalesce(sum(cached_tokens), 0)::int8, sum(cost_usd) \
         FROM agent_outputs WHERE run_id IN (SELECT id FROM consensus_runs WHERE spec_id = $1 \
         ORDER BY started_at DESC, id DESC LIMIT $2 OFFSET $3) GROUP BY run_id",
    ),
    (
        "spec",
        "SELECT spec_id, stage, updated_at FROM specs WHERE spec_id = $1",
    ),
    (
        "unfinished_executions",
        "SELECT id, agent, run_id, spawned_at, completed_at, outcome FROM agent_executions \
         WHERE completed_at IS NULL ORDER BY spawned_at",
    ),
    (
        "executions_for_run",
        "SELECT id, agent, run_id, spawned_at, completed_at, outcome FROM agent_executions \
         WHERE run_id = $1 ORDER BY id",
    ),
    (
        "prunable",
        "SELECT (SELECT count(*) FROM consensus_runs WHERE started_at < $1), \
         (SELECT count(*) FROM agent_outputs \
          WHERE run_id IN (SELECT id FROM consensus_runs WHERE started_at < $1)), \
         (SELECT count(*) FROM agent_executions \
          WHERE run_id IN (SELECT id FROM consensus_runs WHERE started_at < $1)) \
         + (SELECT count(*) FROM agent_executions \
          WHERE spawned_at < $1 AND run_id IS NULL AND completed_at IS NOT NULL)",
    ),
];

fn query(name: &str) -> &'static str {
    PG_PUBLIC_QUERIES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("SELECT 1", |(_, sql)| sql)
}

/// Outputs as column arrays, ready to bind to an `unnest`.
struct Columns<'a> {
    agent: Vec<&'a str>,
    attempt: Vec<i64>,
    exit_code: Vec<Option<i32>>,
    duration_ms: Vec<i64>,
    status: Vec<&'a str>,
    raw_output: Vec<&'a str>,
    parsed_json: Vec<Option<Json<&'a Value>>>,
    error: Vec<Option<&'a str>>,
    session_id: Vec<Option<&'a str>>,
    model: Vec<Option<&'a str>>,
    input_tokens: Vec<Option<i64>>,
    output_tokens: Vec<Option<i64>>,
    cached_tokens: Vec<Option<i64>>,
    cost_usd: Vec<Option<f64>>,
}

fn tokens(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

impl<'a> Columns<'a> {
    /// The 14 output arrays as statement parameters, in the order of the `unnest` lists.
    fn params(&self) -> [&(dyn ToSql + Sync); 14] {
        [
            &self.agent,
            &self.attempt,
            &self.exit_code,
            &self.duration_ms,
            &self.status,
            &self.raw_output,
            &self.parsed_json,
            &self.error,
            &self.session_id,
            &self.model,
            &self.input_tokens,
            &self.output_tokens,
            &self.cached_tokens,
            &self.cost_usd,
        ]
    }

    fn of(outputs: &'a [NewOutput]) -> Result<Columns<'a>> {
        let n = outputs.len();
        let mut c = Columns {
            agent: Vec::with_capacity(n),
            attempt: Vec::with_capacity(n),
            exit_code: Vec::with_capacity(n),
            duration_ms: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            raw_output: Vec::with_capacity(n),
            parsed_json: Vec::with_capacity(n),
            error: Vec::with_capacity(n),
            session_id: Vec::with_capacity(n),
            model: Vec::with_capacity(n),
            input_tokens: Vec::with_capacity(n),
            output_tokens: Vec::with_capacity(n),
            cached_tokens: Vec::with_capacity(n),
            cost_usd: Vec::with_capacity(n),
        };
        for o in outputs {
            let duration = i64::try_from(o.duration_ms).map_err(|_| Error::OutOfRange {
                what: "duration_ms",
                detail: format!("{} ms does not fit a signed 64-bit integer", o.duration_ms),
            })?;
            c.agent.push(&o.agent);
            c.attempt.push(i64::from(o.attempt));
            c.exit_code.push(o.exit_code);
            c.duration_ms.push(duration);
            c.status.push(&o.status);
            c.raw_output.push(&o.raw_output);
            c.parsed_json.push(o.parsed_json.as_ref().map(Json));
            c.error.push(o.error.as_deref());
            c.session_id.push(o.session_id.as_deref());
            c.model.push(o.model.as_deref());
            c.input_tokens.push(o.usage.map(|u| tokens(u.input_tokens)));
            c.output_tokens
                .push(o.usage.map(|u| tokens(u.output_tokens)));
            c.cached_tokens
                .push(o.usage.map(|u| tokens(u.cached_tokens)));
            c.cost_usd.push(o.cost_usd);
        }
        Ok(c)
    }
}

fn read_run(store: &PgStore, row: &Row) -> Result<Run> {
    let id: i64 = row.get(0);
    let verdict: Json<Value> = row.try_get(6).map_err(|e| Error::Postgres {
        url: store.inner.url.clone(),
        operation: "read verdict_json",
        detail: format!("run {id}: {e}"),
        sqlstate: None,
    })?;
    Ok(Run {
        id: RunId(id),
        spec_id: row.get(1),
        stage: row.get(2),
        started_at: row.get(3),
        finished_at: row.get(4),
        status: row.get(5),
        verdict: verdict.0,
    })
}

fn read_output(row: &Row) -> StoredOutput {
    let attempt: i64 = row.get(3);
    let duration: i64 = row.get(5);
    let parsed: Option<Json<Value>> = row.get(8);
    let counts: [Option<i64>; 3] = [row.get(12), row.get(13), row.get(14)];
    let usage = (!counts.iter().all(Option::is_none)).then(|| {
        let [input, output, cached] = counts.map(|c| u64::try_from(c.unwrap_or(0)).unwrap_or(0));
        Usage::new(input, output, cached)
    });
    StoredOutput {
        id: row.get(0),
        run_id: RunId(row.get(1)),
        agent: row.get(2),
        attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
        exit_code: row.get(4),
        duration_ms: u64::try_from(duration).unwrap_or(0),
        status: row.get(6),
        raw_output: row.get(7),
        parsed_json: parsed.map(|j| j.0),
        error: row.get(9),
        session_id: row.get(10),
        model: row.get(11),
        usage,
        cost_usd: row.get(15),
    }
}

fn read_execution(row: &Row) -> Execution {
    Execution {
        id: ExecutionId(row.get(0)),
        agent: row.get(1),
        run_id: row.get::<_, Option<i64>>(2).map(RunId),
        spawned_at: row.get(3),
        completed_at: row.get(4),
        outcome: row.get(5),
    }
}

fn limit_offset(page: Page) -> (i64, i64) {
    (i64::from(page.limit), i64::from(page.offset))
}

/// The error's message with its cause (tokio-postgres keeps the server's words in the source).
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_owned();
    }
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// Maps an error of a statement, turning constraint violations into [`Error::Constraint`].
fn db_error(store: &PgStore, operation: &'static str, e: &tokio_postgres::Error) -> Error {
    if let Some(db) = e.as_db_error()
        && db.code().code().starts_with("23")
    {
        return Error::Constraint {
            name: db
                .constraint()
                .map_or_else(|| db.code().code().to_owned(), str::to_owned),
            detail: db.message().to_owned(),
        };
    }
    store.pg(operation, e)
}

/// Maps a failure to get a connection: bad password, missing database, unreachable server.
fn connect_error(url: &str, e: &tokio_postgres::Error) -> Error {
    let code = e.code();
    if code == Some(&SqlState::INVALID_PASSWORD)
        || code == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
        || describe(e).contains("password missing")
    {
        return Error::PgAuth {
            url: url.to_owned(),
            detail: describe(e),
        };
    }
    if code == Some(&SqlState::INVALID_CATALOG_NAME) {
        return Error::PgNoDatabase {
            url: url.to_owned(),
            detail: describe(e),
        };
    }
    if e.as_db_error().is_some() {
        return Error::Postgres {
            url: url.to_owned(),
            operation: "connect",
            detail: describe(e),
            sqlstate: code.map(|c| c.code().to_owned()),
        };
    }
    Error::PgUnreachable {
        url: url.to_owned(),
        detail: describe(e),
    }
}

impl PgStore {
    /// Connects to the server `url` names (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`,
    /// or `postgresql://`; libpq's query parameters such as `connect_timeout` apply), checks
    /// the login, and migrates the schema (unless [`PgOptions::migrate`] is false).
    ///
    /// Errors, each naming the URL with its password hidden: [`Error::PgUrl`] (not a
    /// PostgreSQL URL), [`Error::PgUnreachable`] (no server answered), [`Error::PgAuth`]
    /// (login refused), [`Error::PgNoDatabase`], [`Error::PgSchemaTooNew`] (written by a
    /// newer synod: nothing was written), [`Error::PgNeedsMigration`].
    pub async fn connect(url: &str, options: PgOptions) -> Result<PgStore> {
        let shown = redact_url(url);
        if !is_postgres_url(url) {
            return Err(Error::PgUrl {
                url: shown,
                detail: "it does not start with postgres:// or postgresql://".to_owned(),
            });
        }
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| Error::PgUrl {
            url: shown.clone(),
            detail: describe(&e),
        })?;
        if config.get_hosts().is_empty() {
            return Err(Error::PgUrl {
                url: shown,
                detail: "it names no host".to_owned(),
            });
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("synod");
        }
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .wait_timeout(Some(options.wait_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::PgUrl {
                url: shown.clone(),
                detail: e.to_string(),
            })?;
        let store = PgStore {
            inner: Arc::new(Inner { url: shown, pool }),
        };
        let mut client = store.client_for("connect").await?;
        if options.migrate {
            schema::migrate(&store, &mut client).await?;
        } else {
            let found = schema::current_version(&store, &client).await?;
            schema::check_not_too_new(&store, found)?;
            if found < SCHEMA_VERSION {
                return Err(Error::PgNeedsMigration {
                    url: store.inner.url.clone(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        }
        Ok(store)
    }

    /// The server's URL with the password hidden.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    fn pg(&self, operation: &'static str, e: &tokio_postgres::Error) -> Error {
        Error::Postgres {
            url: self.inner.url.clone(),
            operation,
            detail: describe(e),
            sqlstate: e.code().map(|c| c.code().to_owned()),
        }
    }

    async fn client_for(&self, operation: &'static str) -> Result<deadpool_postgres::Client> {
        self.inner.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => connect_error(&self.inner.url, &e),
            PoolError::Timeout(_) => Error::Pool {
                detail: format!(
                    "{operation} on {}: no pooled PostgreSQL connection became free in time",
                    self.inner.url
                ),
            },
            other => Error::Pool {
                detail: format!("{operation} on {}: {other}", self.inner.url),
            },
        })
    }

    async fn query_all(
        &self,
        operation: &'static str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        let client = self.client_for(operation).await?;
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.pg(operation, &e))?;
        client
            .query(&stmt, params)
            .await
            .map_err(|e| db_error(self, operation, &e))
    }

    /// Runs a stage-record statement (`sql`: [`SQL_RECORD_STAGE`] or the job queue's fenced
    /// completion) with the stage's 22 parameters, then `extra` ones. `None` when the
    /// statement wrote no run.
    pub(crate) async fn record_with(
        &self,
        operation: &'static str,
        sql: &'static str,
        record: &StageRecord,
        extra: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<RunId>> {
        let StageRecord {
            run,
            outputs,
            verdict,
            executions,
        } = record;
        let c = Columns::of(outputs)?;
        let execution_ids: Vec<i64> = executions.iter().map(|(id, _)| id.0).collect();
        let outcomes: Vec<&str> = executions.iter().map(|(_, o)| o.as_str()).collect();
        let verdict = Json(verdict);
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![
            &run.spec_id,
            &run.stage,
            &run.started_at,
            &run.finished_at,
            &run.status,
            &verdict,
        ];
        params.extend_from_slice(&c.params());
        params.extend_from_slice(&[&execution_ids, &outcomes]);
        params.extend_from_slice(extra);
        let rows = self.query_all(operation, sql, &params).await?;
        Ok(rows.first().map(|row| RunId(row.get(0))))
    }

    async fn record(&self, record: &StageRecord) -> Result<RunId> {
        self.record_with("record_stage", SQL_RECORD_STAGE, record, &[])
            .await?
            .ok_or_else(|| Error::Postgres {
                url: self.inner.url.clone(),
                operation: "record_stage",
                detail: "the insert returned no run id".to_owned(),
                sqlstate: None,
            })
    }

    /// Records a run, every one of its outputs, its verdict and the spec's current stage in
    /// one statement (all or nothing). The spec's stage moves to `run.stage` unless the spec
    /// already has a run that finished later.
    pub async fn record_stage(
        &self,
        run: NewRun,
        outputs: Vec<NewOutput>,
        verdict: Value,
    ) -> Result<RunId> {
        self.record(&StageRecord::new(run, outputs, verdict)).await
    }

    /// Appends outputs to an existing run (one statement). An unknown run fails with
    /// [`Error::Constraint`] and inserts nothing.
    pub async fn record_outputs(&self, run_id: RunId, outputs: Vec<NewOutput>) -> Result<usize> {
        let c = Columns::of(&outputs)?;
        let client = self.client_for("record_outputs").await?;
        let stmt = client
            .prepare_cached(SQL_RECORD_OUTPUTS)
            .await
            .map_err(|e| self.pg("record_outputs", &e))?;
        let n = client
            .execute(
                &stmt,
                &[&[&run_id.0 as &(dyn ToSql + Sync)], &c.params()[..]].concat(),
            )
            .await
            .map_err(|e| db_error(self, "record_outputs", &e))?;
        Ok(n as usize)
    }

    /// Records that a process was spawned for `agent` (before its run exists).
    pub async fn execution_started(
        &self,
        agent: impl Into<String>,
        spawned_at: UnixMillis,
    ) -> Result<ExecutionId> {
        let agent = agent.into();
        let rows = self
            .query_all(
                "execution_started",
                "INSERT INTO agent_executions (agent, spawned_at) VALUES ($1, $2) RETURNING id",
                &[&agent, &spawned_at],
            )
            .await?;
        Ok(ExecutionId(rows.first().map_or(0, |r| r.get(0))))
    }

    /// Records how an execution ended, and optionally its run. Returns whether it existed.
    pub async fn execution_finished(
        &self,
        id: ExecutionId,
        completed_at: UnixMillis,
        outcome: impl Into<String>,
        run_id: Option<RunId>,
    ) -> Result<bool> {
        let outcome = outcome.into();
        let rows = self
            .query_all(
                "execution_finished",
                "UPDATE agent_executions SET completed_at = $2, outcome = $3, run_id = coalesce($4, run_id) \
                 WHERE id = $1 RETURNING id",
                &[&id.0, &completed_at, &outcome, &run_id.map(|r| r.0)],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// The most recent run (by `started_at`) of `stage` for `spec_id`.
    pub async fn latest_verdict(
        &self,
        spec_id: impl Into<String>,
        stage: impl Into<String>,
    ) -> Result<Option<Run>> {
        let (spec_id, stage) = (spec_id.into(), stage.into());
        let rows = self
            .query_all(
                "latest_verdict",
                query("latest_verdict"),
                &[&spec_id, &stage],
            )
            .await?;
        rows.first().map(|r| read_run(self, r)).transpose()
    }

    /// One run by id.
    pub async fn run(&self, run_id: RunId) -> Result<Option<Run>> {
        let rows = self.query_all("run", query("run"), &[&run_id.0]).await?;
        rows.first().map(|r| read_run(self, r)).transpose()
    }

    /// A spec's runs, newest first.
    pub async fn history(&self, spec_id: impl Into<String>, page: Page) -> Result<Vec<Run>> {
        let spec_id = spec_id.into();
        let (limit, offset) = limit_offset(page);
        let rows = self
            .query_all("history", query("history"), &[&spec_id, &limit, &offset])
            .await?;
        rows.iter().map(|r| read_run(self, r)).collect()
    }

    /// A run's outputs in recording order.
    pub async fn outputs_for_run(&self, run_id: RunId) -> Result<Vec<StoredOutput>> {
        let rows = self
            .query_all("outputs_for_run", query("outputs_for_run"), &[&run_id.0])
            .await?;
        Ok(rows.iter().map(read_output).collect())
    }

    /// An agent's outputs, newest first.
    pub async fn outputs_for_agent(
        &self,
        agent: impl Into<String>,
        page: Page,
    ) -> Result<Vec<StoredOutput>> {
        let agent = agent.into();
        let (limit, offset) = limit_offset(page);
        let rows = self
            .query_all(
                "outputs_for_agent",
                query("outputs_for_agent"),
                &[&agent, &limit, &offset],
            )
            .await?;
        Ok(rows.iter().map(read_output).collect())
    }

    /// Tokens and cost of each run on a [`PgStore::history`] page.
    pub async fn history_usage(
        &self,
        spec_id: impl Into<String>,
        page: Page,
    ) -> Result<Vec<RunUsage>> {
        let spec_id = spec_id.into();
        let (limit, offset) = limit_offset(page);
        let rows = self
            .query_all(
                "history_usage",
                query("history_usage"),
                &[&spec_id, &limit, &offset],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let count = |i: usize| u64::try_from(r.get::<_, i64>(i)).unwrap_or(0);
                RunUsage {
                    run_id: RunId(r.get(0)),
                    attempts: count(1),
                    usage: (count(2) > 0).then(|| Usage::new(count(3), count(4), count(5))),
                    cost_usd: r.get(6),
                }
            })
            .collect())
    }

    /// A spec's current stage.
    pub async fn spec(&self, spec_id: impl Into<String>) -> Result<Option<Spec>> {
        let spec_id = spec_id.into();
        let rows = self.query_all("spec", query("spec"), &[&spec_id]).await?;
        Ok(rows.first().map(|r| Spec {
            spec_id: r.get(0),
            stage: r.get(1),
            updated_at: r.get(2),
        }))
    }

    /// Per-agent figures over every recorded attempt, sorted by agent name (computed by the
    /// server; the p95 is the nearest rank, as on SQLite).
    pub async fn agent_stats(&self) -> Result<Vec<AgentStats>> {
        let rows = self.query_all("agent_stats", SQL_AGENT_STATS, &[]).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let count = |i: usize| u64::try_from(r.get::<_, i64>(i)).unwrap_or(0);
                let (attempts, successes) = (count(2), count(3));
                AgentStats {
                    agent: r.get(0),
                    runs: count(1),
                    attempts,
                    successes,
                    success_rate: if attempts == 0 {
                        0.0
                    } else {
                        successes as f64 / attempts as f64
                    },
                    mean_duration_ms: r.get(4),
                    p95_duration_ms: r
                        .get::<_, Option<i64>>(5)
                        .map_or(0, |p| u64::try_from(p).unwrap_or(0)),
                    p50_duration_ms: r
                        .get::<_, Option<i64>>(6)
                        .map_or(0, |p| u64::try_from(p).unwrap_or(0)),
                    usage: Usage::new(count(7), count(8), count(9)),
                    cost_usd: r.get(10),
                }
            })
            .collect())
    }

    /// Executions spawned but never recorded as finished, oldest first.
    pub async fn unfinished_executions(&self) -> Result<Vec<Execution>> {
        let rows = self
            .query_all("unfinished_executions", query("unfinished_executions"), &[])
            .await?;
        Ok(rows.iter().map(read_execution).collect())
    }

    /// The executions attached to a run.
    pub async fn executions_for_run(&self, run_id: RunId) -> Result<Vec<Execution>> {
        let rows = self
            .query_all(
                "executions_for_run",
                query("executions_for_run"),
                &[&run_id.0],
            )
            .await?;
        Ok(rows.iter().map(read_execution).collect())
    }

    /// Deletes every run that started more than `older_than` ago (see
    /// [`PgStore::prune_before`]).
    pub async fn prune(&self, older_than: Duration) -> Result<PruneReport> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        self.prune_before(now_millis().saturating_sub(age)).await
    }

    /// Deletes every run with `started_at < cutoff`, its outputs and executions, and
    /// completed executions without a run spawned before `cutoff`, in one transaction.
    /// PostgreSQL's autovacuum reclaims the space.
    pub async fn prune_before(&self, cutoff: UnixMillis) -> Result<PruneReport> {
        let mut client = self.client_for("prune").await?;
        let map = |e: tokio_postgres::Error| self.pg("prune", &e);
        let tx = client.transaction().await.map_err(map)?;
        let outputs = tx
            .execute(
                "DELETE FROM agent_outputs WHERE run_id IN (SELECT id FROM consensus_runs WHERE started_at < $1)",
                &[&cutoff],
            )
            .await
            .map_err(map)?;
        let run_execs = tx
            .execute(
                "DELETE FROM agent_executions WHERE run_id IN (SELECT id FROM consensus_runs WHERE started_at < $1)",
                &[&cutoff],
            )
            .await
            .map_err(map)?;
        let loose_execs = tx
            .execute(
                "DELETE FROM agent_executions WHERE spawned_at < $1 AND run_id IS NULL AND completed_at IS NOT NULL",
                &[&cutoff],
            )
            .await
            .map_err(map)?;
        let runs = tx
            .execute(
                "DELETE FROM consensus_runs WHERE started_at < $1",
                &[&cutoff],
            )
            .await
            .map_err(map)?;
        tx.commit().await.map_err(map)?;
        let report = PruneReport {
            runs,
            outputs,
            executions: run_execs + loose_execs,
        };
        tracing::info!(runs = report.runs, outputs = report.outputs, url = %self.inner.url, "pruned store");
        Ok(report)
    }

    /// What [`PgStore::prune`] with this age would delete now, deleting nothing.
    pub async fn prunable(&self, older_than: Duration) -> Result<PruneReport> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        self.prunable_before(now_millis().saturating_sub(age)).await
    }

    /// What [`PgStore::prune_before`] with this cutoff would delete now: the same runs,
    /// outputs and executions, counted in one statement (one snapshot) and left in place.
    pub async fn prunable_before(&self, cutoff: UnixMillis) -> Result<PruneReport> {
        let rows = self
            .query_all("prunable", query("prunable"), &[&cutoff])
            .await?;
        let count = |i: usize| {
            rows.first()
                .map_or(0, |r| u64::try_from(r.get::<_, i64>(i)).unwrap_or(0))
        };
        Ok(PruneReport {
            runs: count(0),
            outputs: count(1),
            executions: count(2),
        })
    }

    /// The schema version recorded in `synod_schema`.
    pub async fn schema_version(&self) -> Result<i64> {
        let client = self.client_for("schema_version").await?;
        schema::current_version(self, &client).await
    }

    /// Checks the server answers and the schema is this build's (what `synod store check`
    /// runs on PostgreSQL; page-level checks are the server's job, e.g. `pg_amcheck`).
    pub async fn verify(&self) -> Result<()> {
        let version = self.schema_version().await?;
        schema::check_not_too_new(self, version)?;
        if version < SCHEMA_VERSION {
            return Err(Error::PgNeedsMigration {
                url: self.inner.url.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(())
    }
}

impl EvidenceStore for PgStore {
    fn execution_started<'a>(
        &'a self,
        agent: &'a str,
        spawned_at: UnixMillis,
    ) -> StoreFuture<'a, ExecutionId> {
        Box::pin(PgStore::execution_started(self, agent, spawned_at))
    }

    fn record_stage(&self, record: Arc<StageRecord>) -> StoreFuture<'_, RunId> {
        Box::pin(async move { self.record(&record).await })
    }

    fn location(&self) -> Option<&Path> {
        None
    }
}
