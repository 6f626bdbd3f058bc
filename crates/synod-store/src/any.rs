//! [`AnyStore`]: one async interface over both backends. A `postgres://` or `postgresql://`
//! location picks PostgreSQL (feature `postgres`), anything else is a SQLite file.
//!
//! ```
//! use serde_json::json;
//! use synod_store::{AnyStore, NewRun, Options, Page};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let location = dir.path().join("synod.db").display().to_string();
//! let store = AnyStore::open(&location, Options::default()).await?;
//! let run = NewRun {
//!     spec_id: "S".into(),
//!     stage: "plan".into(),
//!     started_at: 1,
//!     finished_at: 2,
//!     status: "ok".into(),
//! };
//! store.record_stage(run, Vec::new(), json!({"status": "ok"})).await?;
//! assert_eq!(store.history("S", Page::first(5)).await?.len(), 1);
//! assert_eq!(store.backend(), "SQLite");
//! # Ok::<(), synod_store::Error>(())
//! # }).unwrap();
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::AsyncStore;
use crate::error::{Error, Result};
use crate::evidence::{EvidenceStore, StageRecord, StoreFuture};
use crate::holds::{Hold, HoldKind, SharedHolds};
use crate::jobs::{ClaimedJob, Job, JobId, JobQueue, JobState, NewJob};
use crate::model::{
    AgentStats, Execution, ExecutionId, NewOutput, NewRun, Page, PruneReport, Run, RunId, RunUsage,
    Spec, StoredOutput, UnixMillis,
};
use crate::options::Options;
#[cfg(feature = "postgres")]
use crate::pg::{PgOptions, PgStore};

/// Either backend, behind one async API. Cheap to clone.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// The embedded SQLite store.
    Sqlite(AsyncStore),
    /// A PostgreSQL server.
    #[cfg(feature = "postgres")]
    Postgres(PgStore),
}

/// Whether `location` is a PostgreSQL URL (`postgres://`, `postgresql://`).
fn names_postgres(location: &str) -> bool {
    let lower = location.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// What a PostgreSQL URL gives in a build without the `postgres` feature.
#[cfg(not(feature = "postgres"))]
fn no_postgres(location: &str) -> Error {
    Error::PgUrl {
        url: location
            .split('@')
            .next_back()
            .unwrap_or(location)
            .to_owned(),
        detail: "this synod was built without PostgreSQL support".to_owned(),
    }
}

macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($s) => $e,
        }
    };
}

macro_rules! sqlite_only {
    ($self:ident, $op:literal, $hint:literal, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(_) => Err(Error::Unsupported {
                operation: $op,
                backend: "PostgreSQL",
                hint: $hint,
            }),
        }
    };
}

impl AnyStore {
    /// Opens `location` for reading and writing: a PostgreSQL URL connects (migrating the
    /// schema; the pool gets `options.pool_size` connections); anything else is a SQLite
    /// file ([`AsyncStore::open`]).
    pub async fn open(location: &str, options: Options) -> Result<AnyStore> {
        if names_postgres(location) {
            #[cfg(feature = "postgres")]
            {
                let pg = PgOptions::default().with_pool_size(options.pool_size as usize);
                return PgStore::connect(location, pg).await.map(AnyStore::Postgres);
            }
            #[cfg(not(feature = "postgres"))]
            return Err(no_postgres(location));
        }
        AsyncStore::open(location, options)
            .await
            .map(AnyStore::Sqlite)
    }

    /// Opens `location` for reading: SQLite read-only ([`AsyncStore::open_read_only`]);
    /// PostgreSQL without migrating (an older schema gives [`Error::PgNeedsMigration`]).
    pub async fn open_read_only(location: &str, options: Options) -> Result<AnyStore> {
        if names_postgres(location) {
            #[cfg(feature = "postgres")]
            {
                let pg = PgOptions::read_only().with_pool_size(options.pool_size as usize);
                return PgStore::connect(location, pg).await.map(AnyStore::Postgres);
            }
            #[cfg(not(feature = "postgres"))]
            return Err(no_postgres(location));
        }
        AsyncStore::open_read_only(location, options)
            .await
            .map(AnyStore::Sqlite)
    }

    /// `SQLite` or `PostgreSQL`.
    #[must_use]
    pub fn backend(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "SQLite",
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(_) => "PostgreSQL",
        }
    }

    /// Where the store is, for messages: the file, or the URL with its password hidden.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            AnyStore::Sqlite(s) => s.blocking().path().display().to_string(),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.url().to_owned(),
        }
    }

    /// The SQLite store, if this is one.
    #[must_use]
    pub fn as_sqlite(&self) -> Option<&AsyncStore> {
        match self {
            AnyStore::Sqlite(s) => Some(s),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(_) => None,
        }
    }

    /// Records a run, its outputs, its verdict and the spec's stage, all or nothing.
    pub async fn record_stage(
        &self,
        run: NewRun,
        outputs: Vec<NewOutput>,
        verdict: Value,
    ) -> Result<RunId> {
        both!(self, s => s.record_stage(run, outputs, verdict).await)
    }

    /// Appends outputs to an existing run.
    pub async fn record_outputs(&self, run_id: RunId, outputs: Vec<NewOutput>) -> Result<usize> {
        both!(self, s => s.record_outputs(run_id, outputs).await)
    }

    /// Records that a process was spawned for `agent`.
    pub async fn execution_started(
        &self,
        agent: impl Into<String>,
        spawned_at: UnixMillis,
    ) -> Result<ExecutionId> {
        both!(self, s => s.execution_started(agent, spawned_at).await)
    }

    /// Records how an execution ended; returns whether it existed.
    pub async fn execution_finished(
        &self,
        id: ExecutionId,
        completed_at: UnixMillis,
        outcome: impl Into<String>,
        run_id: Option<RunId>,
    ) -> Result<bool> {
        both!(self, s => s.execution_finished(id, completed_at, outcome, run_id).await)
    }

    /// The most recent run of `stage` for `spec_id`.
    pub async fn latest_verdict(
        &self,
        spec_id: impl Into<String>,
        stage: impl Into<String>,
    ) -> Result<Option<Run>> {
        both!(self, s => s.latest_verdict(spec_id, stage).await)
    }

    /// One run by id.
    pub async fn run(&self, run_id: RunId) -> Result<Option<Run>> {
        both!(self, s => s.run(run_id).await)
    }

    /// A spec's runs, newest first.
    pub async fn history(&self, spec_id: impl Into<String>, page: Page) -> Result<Vec<Run>> {
        both!(self, s => s.history(spec_id, page).await)
    }

    /// A run's outputs in recording order.
    pub async fn outputs_for_run(&self, run_id: RunId) -> Result<Vec<StoredOutput>> {
        both!(self, s => s.outputs_for_run(run_id).await)
    }

    /// An agent's outputs, newest first.
    pub async fn outputs_for_agent(
        &self,
        agent: impl Into<String>,
        page: Page,
    ) -> Result<Vec<StoredOutput>> {
        both!(self, s => s.outputs_for_agent(agent, page).await)
    }

    /// A spec's current stage.
    pub async fn spec(&self, spec_id: impl Into<String>) -> Result<Option<Spec>> {
        both!(self, s => s.spec(spec_id).await)
    }

    /// Per-agent figures, sorted by agent name.
    pub async fn agent_stats(&self) -> Result<Vec<AgentStats>> {
        both!(self, s => s.agent_stats().await)
    }

    /// Tokens and cost of each run on a [`AnyStore::history`] page.
    pub async fn history_usage(
        &self,
        spec_id: impl Into<String>,
        page: Page,
    ) -> Result<Vec<RunUsage>> {
        both!(self, s => s.history_usage(spec_id, page).await)
    }

    /// Executions spawned but never finished, oldest first.
    pub async fn unfinished_executions(&self) -> Result<Vec<Execution>> {
        both!(self, s => s.unfinished_executions().await)
    }

    /// The executions attached to a run.
    pub async fn executions_for_run(&self, run_id: RunId) -> Result<Vec<Execution>> {
        both!(self, s => s.executions_for_run(run_id).await)
    }

    /// Deletes runs older than `older_than` with their outputs and executions.
    pub async fn prune(&self, older_than: Duration) -> Result<PruneReport> {
        both!(self, s => s.prune(older_than).await)
    }

    /// Deletes runs with `started_at < cutoff` with their outputs and executions.
    pub async fn prune_before(&self, cutoff: UnixMillis) -> Result<PruneReport> {
        both!(self, s => s.prune_before(cutoff).await)
    }

    /// What [`AnyStore::prune`] with this age would delete now, deleting nothing.
    pub async fn prunable(&self, older_than: Duration) -> Result<PruneReport> {
        both!(self, s => s.prunable(older_than).await)
    }

    /// What [`AnyStore::prune_before`] with this cutoff would delete now, deleting nothing.
    pub async fn prunable_before(&self, cutoff: UnixMillis) -> Result<PruneReport> {
        both!(self, s => s.prunable_before(cutoff).await)
    }

    /// The schema version.
    pub async fn schema_version(&self) -> Result<i64> {
        both!(self, s => s.schema_version().await)
    }

    /// The guard before maintenance: SQLite's damage mark and quick check; on PostgreSQL,
    /// that the server answers with this build's schema.
    pub async fn verify(&self) -> Result<()> {
        both!(self, s => s.verify().await)
    }

    /// A full check: SQLite's `integrity_check`; on PostgreSQL the same as
    /// [`AnyStore::verify`] (page checks are the server's: `pg_amcheck`).
    pub async fn integrity_check(&self) -> Result<()> {
        match self {
            AnyStore::Sqlite(s) => s.integrity_check().await,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.verify().await,
        }
    }

    /// SQLite's online backup; on PostgreSQL, [`Error::Unsupported`] (use `pg_dump`).
    pub async fn backup_to(&self, dest: impl Into<std::path::PathBuf>) -> Result<()> {
        sqlite_only!(self, "backup", "back a PostgreSQL store up with pg_dump", s => s.backup_to(dest).await)
    }

    /// [`JobQueue::claim`] at the time `now` (leases expiring before `now` are expired), for
    /// tools and tests that decide the time themselves.
    pub async fn claim_job_at(
        &self,
        worker: &str,
        lease: Duration,
        now: UnixMillis,
    ) -> Result<Option<ClaimedJob>> {
        match self {
            AnyStore::Sqlite(s) => {
                let worker = worker.to_owned();
                s.call("claim_job", move |s| s.claim_job_at(&worker, lease, now))
                    .await
            }
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.claim_job_at(worker, lease, now).await,
        }
    }

    /// [`JobQueue::heartbeat`] at the time `now`.
    pub async fn heartbeat_job_at(
        &self,
        job: &ClaimedJob,
        lease: Duration,
        now: UnixMillis,
    ) -> Result<bool> {
        match self {
            AnyStore::Sqlite(s) => {
                let job = job.clone();
                s.call("heartbeat_job", move |s| {
                    s.heartbeat_job_at(&job, lease, now)
                })
                .await
            }
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.heartbeat_job_at(job, lease, now).await,
        }
    }

    /// SQLite's incremental vacuum; on PostgreSQL, [`Error::Unsupported`] (autovacuum's job).
    pub async fn incremental_vacuum(&self, pages: u32) -> Result<u64> {
        sqlite_only!(self, "vacuum", "PostgreSQL's autovacuum reclaims space (or run VACUUM)", s => s.incremental_vacuum(pages).await)
    }
}

impl EvidenceStore for AnyStore {
    fn execution_started<'a>(
        &'a self,
        agent: &'a str,
        spawned_at: UnixMillis,
    ) -> StoreFuture<'a, ExecutionId> {
        both!(self, s => EvidenceStore::execution_started(s, agent, spawned_at))
    }

    fn executions_started<'a>(
        &'a self,
        agents: &'a [&'a str],
        spawned_at: UnixMillis,
    ) -> StoreFuture<'a, Vec<ExecutionId>> {
        both!(self, s => EvidenceStore::executions_started(s, agents, spawned_at))
    }

    fn record_stage(&self, record: Arc<StageRecord>) -> StoreFuture<'_, RunId> {
        both!(self, s => EvidenceStore::record_stage(s, record))
    }

    fn location(&self) -> Option<&Path> {
        both!(self, s => EvidenceStore::location(s))
    }
}

impl SharedHolds for AnyStore {
    fn hold(&self, hold: Hold) -> StoreFuture<'_, UnixMillis> {
        both!(self, s => SharedHolds::hold(s, hold))
    }

    fn active_hold<'a>(
        &'a self,
        kind: HoldKind,
        key: &'a str,
        now: UnixMillis,
    ) -> StoreFuture<'a, Option<Hold>> {
        both!(self, s => SharedHolds::active_hold(s, kind, key, now))
    }

    fn active_holds(&self, now: UnixMillis) -> StoreFuture<'_, Vec<Hold>> {
        both!(self, s => SharedHolds::active_holds(s, now))
    }
}

impl JobQueue for AnyStore {
    fn submit(&self, job: NewJob) -> StoreFuture<'_, JobId> {
        both!(self, s => JobQueue::submit(s, job))
    }

    fn claim<'a>(
        &'a self,
        worker: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, Option<ClaimedJob>> {
        both!(self, s => JobQueue::claim(s, worker, lease))
    }

    fn heartbeat<'a>(&'a self, job: &'a ClaimedJob, lease: Duration) -> StoreFuture<'a, bool> {
        both!(self, s => JobQueue::heartbeat(s, job, lease))
    }

    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob,
        record: Arc<StageRecord>,
    ) -> StoreFuture<'a, RunId> {
        both!(self, s => JobQueue::complete(s, job, record))
    }

    fn fail<'a>(&'a self, job: &'a ClaimedJob, error: &'a str) -> StoreFuture<'a, JobState> {
        both!(self, s => JobQueue::fail(s, job, error))
    }

    fn release<'a>(&'a self, job: &'a ClaimedJob) -> StoreFuture<'a, bool> {
        both!(self, s => JobQueue::release(s, job))
    }

    fn jobs(&self, state: Option<JobState>, page: Page) -> StoreFuture<'_, Vec<Job>> {
        both!(self, s => JobQueue::jobs(s, state, page))
    }

    fn job(&self, id: JobId) -> StoreFuture<'_, Option<Job>> {
        both!(self, s => JobQueue::job(s, id))
    }
}

impl From<AsyncStore> for AnyStore {
    fn from(store: AsyncStore) -> Self {
        AnyStore::Sqlite(store)
    }
}

#[cfg(feature = "postgres")]
impl From<PgStore> for AnyStore {
    fn from(store: PgStore) -> Self {
        AnyStore::Postgres(store)
    }
}
