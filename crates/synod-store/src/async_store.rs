//! [`AsyncStore`]: the store for async callers. Every call runs the blocking operation on
//! tokio's blocking pool (`spawn_blocking`) against the same pool and caches as the
//! [`Store`] it wraps.
//!
//! ```
//! use serde_json::json;
//! use synod_store::{AsyncStore, NewRun};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = AsyncStore::open_in_memory().await?;
//! let run = NewRun {
//!     spec_id: "SPEC-2".into(),
//!     stage: "plan".into(),
//!     started_at: 10,
//!     finished_at: 20,
//!     status: "ok".into(),
//! };
//! let id = store.record_stage(run, Vec::new(), json!({"status": "ok"})).await?;
//! let latest = store.latest_verdict("SPEC-2", "plan").await?;
//! assert_eq!(latest.map(|r| r.id), Some(id));
//! # Ok::<(), synod_store::Error>(())
//! # }).unwrap();
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::{
    AgentStats, Execution, ExecutionId, NewOutput, NewRun, Page, PruneReport, Run, RunId, RunUsage,
    Spec, StoredOutput, UnixMillis,
};
use crate::options::Options;
use crate::store::Store;

/// Async facade over [`Store`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct AsyncStore {
    store: Store,
}

impl AsyncStore {
    /// Wraps a store.
    #[must_use]
    pub fn new(store: Store) -> AsyncStore {
        AsyncStore { store }
    }

    /// The blocking store behind this one (same pool).
    #[must_use]
    pub fn blocking(&self) -> &Store {
        &self.store
    }

    pub(crate) async fn call<T, F>(&self, operation: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T> + Send + 'static,
    {
        let store = self.store.clone();
        spawn(operation, move || f(&store)).await
    }

    /// [`Store::open`] on the blocking pool.
    pub async fn open(path: impl Into<PathBuf>, options: Options) -> Result<AsyncStore> {
        let path = path.into();
        spawn("open", move || Store::open(path, options))
            .await
            .map(AsyncStore::new)
    }

    /// [`Store::open_read_only`] on the blocking pool.
    pub async fn open_read_only(path: impl Into<PathBuf>, options: Options) -> Result<AsyncStore> {
        let path = path.into();
        spawn("open_read_only", move || {
            Store::open_read_only(path, options)
        })
        .await
        .map(AsyncStore::new)
    }

    /// [`Store::open_in_memory`] on the blocking pool.
    pub async fn open_in_memory() -> Result<AsyncStore> {
        spawn("open_in_memory", Store::open_in_memory)
            .await
            .map(AsyncStore::new)
    }

    /// [`Store::record_stage`].
    pub async fn record_stage(
        &self,
        run: NewRun,
        outputs: Vec<NewOutput>,
        verdict: Value,
    ) -> Result<RunId> {
        self.call("record_stage", move |s| {
            s.record_stage(&run, &outputs, &verdict)
        })
        .await
    }

    /// [`Store::record_outputs`].
    pub async fn record_outputs(&self, run_id: RunId, outputs: Vec<NewOutput>) -> Result<usize> {
        self.call("record_outputs", move |s| {
            s.record_outputs(run_id, &outputs)
        })
        .await
    }

    /// [`Store::execution_started`].
    pub async fn execution_started(
        &self,
        agent: impl Into<String>,
        spawned_at: UnixMillis,
    ) -> Result<ExecutionId> {
        let agent = agent.into();
        self.call("execution_started", move |s| {
            s.execution_started(&agent, spawned_at)
        })
        .await
    }

    /// [`Store::execution_finished`].
    pub async fn execution_finished(
        &self,
        id: ExecutionId,
        completed_at: UnixMillis,
        outcome: impl Into<String>,
        run_id: Option<RunId>,
    ) -> Result<bool> {
        let outcome = outcome.into();
        self.call("execution_finished", move |s| {
            s.execution_finished(id, completed_at, &outcome, run_id)
        })
        .await
    }

    /// [`Store::latest_verdict`].
    pub async fn latest_verdict(
        &self,
        spec_id: impl Into<String>,
        stage: impl Into<String>,
    ) -> Result<Option<Run>> {
        let (spec_id, stage) = (spec_id.into(), stage.into());
        self.call("latest_verdict", move |s| {
            s.latest_verdict(&spec_id, &stage)
        })
        .await
    }

    /// [`Store::run`].
    pub async fn run(&self, run_id: RunId) -> Result<Option<Run>> {
        self.call("run", move |s| s.run(run_id)).await
    }

    /// [`Store::history`].
    pub async fn history(&self, spec_id: impl Into<String>, page: Page) -> Result<Vec<Run>> {
        let spec_id = spec_id.into();
        self.call("history", move |s| s.history(&spec_id, page))
            .await
    }

    /// [`Store::outputs_for_run`].
    pub async fn outputs_for_run(&self, run_id: RunId) -> Result<Vec<StoredOutput>> {
        self.call("outputs_for_run", move |s| s.outputs_for_run(run_id))
            .await
    }

    /// [`Store::outputs_for_agent`].
    pub async fn outputs_for_agent(
        &self,
        agent: impl Into<String>,
        page: Page,
    ) -> Result<Vec<StoredOutput>> {
        let agent = agent.into();
        self.call("outputs_for_agent", move |s| {
            s.outputs_for_agent(&agent, page)
        })
        .await
    }

    /// [`Store::spec`].
    pub async fn spec(&self, spec_id: impl Into<String>) -> Result<Option<Spec>> {
        let spec_id = spec_id.into();
        self.call("spec", move |s| s.spec(&spec_id)).await
    }

    /// [`Store::agent_stats`].
    pub async fn agent_stats(&self) -> Result<Vec<AgentStats>> {
        self.call("agent_stats", Store::agent_stats).await
    }

    /// [`Store::history_usage`].
    pub async fn history_usage(
        &self,
        spec_id: impl Into<String>,
        page: Page,
    ) -> Result<Vec<RunUsage>> {
        let spec_id = spec_id.into();
        self.call("history_usage", move |s| s.history_usage(&spec_id, page))
            .await
    }

    /// [`Store::unfinished_executions`].
    pub async fn unfinished_executions(&self) -> Result<Vec<Execution>> {
        self.call("unfinished_executions", Store::unfinished_executions)
            .await
    }

    /// [`Store::executions_for_run`].
    pub async fn executions_for_run(&self, run_id: RunId) -> Result<Vec<Execution>> {
        self.call("executions_for_run", move |s| s.executions_for_run(run_id))
            .await
    }

    /// [`Store::prune`].
    pub async fn prune(&self, older_than: Duration) -> Result<PruneReport> {
        self.call("prune", move |s| s.prune(older_than)).await
    }

    /// [`Store::prunable`].
    pub async fn prunable(&self, older_than: Duration) -> Result<PruneReport> {
        self.call("prunable", move |s| s.prunable(older_than)).await
    }

    /// [`Store::prunable_before`].
    pub async fn prunable_before(&self, cutoff: UnixMillis) -> Result<PruneReport> {
        self.call("prunable_before", move |s| s.prunable_before(cutoff))
            .await
    }

    /// [`Store::prune_before`].
    pub async fn prune_before(&self, cutoff: UnixMillis) -> Result<PruneReport> {
        self.call("prune_before", move |s| s.prune_before(cutoff))
            .await
    }

    /// [`Store::incremental_vacuum`].
    pub async fn incremental_vacuum(&self, pages: u32) -> Result<u64> {
        self.call("incremental_vacuum", move |s| s.incremental_vacuum(pages))
            .await
    }

    /// [`Store::integrity_check`].
    pub async fn integrity_check(&self) -> Result<()> {
        self.call("integrity_check", Store::integrity_check).await
    }

    /// [`Store::quick_check`].
    pub async fn quick_check(&self) -> Result<()> {
        self.call("quick_check", Store::quick_check).await
    }

    /// [`Store::verify`].
    pub async fn verify(&self) -> Result<()> {
        self.call("verify", Store::verify).await
    }

    /// [`Store::backup_to`].
    pub async fn backup_to(&self, dest: impl Into<PathBuf>) -> Result<()> {
        let dest = dest.into();
        self.call("backup_to", move |s| s.backup_to(&dest)).await
    }

    /// [`Store::checkpoint`].
    pub async fn checkpoint(&self) -> Result<bool> {
        self.call("checkpoint", Store::checkpoint).await
    }

    /// [`Store::schema_version`].
    pub async fn schema_version(&self) -> Result<i64> {
        self.call("schema_version", Store::schema_version).await
    }
}

async fn spawn<T, F>(operation: &'static str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(join) => Err(Error::Task {
            operation,
            detail: if join.is_panic() {
                "it panicked".to_owned()
            } else {
                "it was cancelled (runtime shutting down)".to_owned()
            },
        }),
    }
}
