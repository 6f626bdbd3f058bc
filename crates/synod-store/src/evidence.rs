//! [`EvidenceStore`]: what a run of agents needs from an evidence store, as a trait, so the
//! Orchestrator takes any backend (the SQLite [`AsyncStore`], a server database, a test
//! double) instead of one concrete type.
//!
//! ```
//! use std::sync::Arc;
//! use serde_json::json;
//! use synod_store::{AsyncStore, EvidenceStore, NewRun, StageRecord};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synod_store::Error> {
//! let store = AsyncStore::open_in_memory().await?;
//! let evidence: &dyn EvidenceStore = &store;
//! let execution = evidence.execution_started("claude", 1_000).await?;
//! let run = NewRun {
//!     spec_id: "S-1".into(),
//!     stage: "plan".into(),
//!     started_at: 1_000,
//!     finished_at: 2_000,
//!     status: "ok".into(),
//! };
//! let id = evidence
//!     .record_stage(Arc::new(
//!         StageRecord::new(run, vec![], json!({"status": "ok"})).execution(execution, "ok"),
//!     ))
//!     .await?;
//! assert_eq!(store.executions_for_run(id).await?.len(), 1);
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AsyncStore, ExecutionId, NewOutput, NewRun, Result, RunId, UnixMillis};

/// A boxed, sendable future (what [`EvidenceStore`]'s methods return).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A finished stage to store: the run, every attempt's output, the verdict, and the
/// executions started for it with the outcome each ended with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StageRecord {
    /// The run.
    pub run: NewRun,
    /// Every attempt of every agent.
    pub outputs: Vec<NewOutput>,
    /// The verdict, as JSON.
    pub verdict: Value,
    /// Executions (see [`EvidenceStore::execution_started`]) to complete with this run.
    pub executions: Vec<(ExecutionId, String)>,
}

impl StageRecord {
    /// A record without executions.
    #[must_use]
    pub fn new(run: NewRun, outputs: Vec<NewOutput>, verdict: Value) -> Self {
        Self {
            run,
            outputs,
            verdict,
            executions: Vec::new(),
        }
    }

    /// Adds an execution that ended with `outcome` (`ok`, `timeout`, ...).
    #[must_use]
    pub fn execution(mut self, id: ExecutionId, outcome: impl Into<String>) -> Self {
        self.executions.push((id, outcome.into()));
        self
    }
}

/// Where the evidence of agent runs goes. Implemented by [`AsyncStore`]; other backends
/// implement it to take its place behind the Orchestrator.
pub trait EvidenceStore: Send + Sync + fmt::Debug {
    /// Records that a process was spawned for `agent`, before its run exists (so a crash of
    /// the caller leaves an execution without a completion).
    fn execution_started<'a>(
        &'a self,
        agent: &'a str,
        spawned_at: UnixMillis,
    ) -> StoreFuture<'a, ExecutionId>;

    /// Stores the run, its outputs and verdict, and moves the spec to the run's stage, all
    /// or nothing; then completes the record's executions (a failure there is logged, not
    /// returned: the run is stored).
    /// The record is shared so the caller can keep it (to save it elsewhere should the
    /// store refuse it) without copying every output.
    fn record_stage(&self, record: Arc<StageRecord>) -> StoreFuture<'_, RunId>;

    /// The file the evidence is kept in, when it is a local file (None for in-memory and
    /// server stores). Used to keep a stage the store refused beside it.
    fn location(&self) -> Option<&Path>;
}

impl EvidenceStore for AsyncStore {
    fn execution_started<'a>(
        &'a self,
        agent: &'a str,
        spawned_at: UnixMillis,
    ) -> StoreFuture<'a, ExecutionId> {
        Box::pin(AsyncStore::execution_started(self, agent, spawned_at))
    }

    fn record_stage(&self, record: Arc<StageRecord>) -> StoreFuture<'_, RunId> {
        Box::pin(self.call("record_stage", move |store| {
            let StageRecord {
                run,
                outputs,
                verdict,
                executions,
            } = &*record;
            let run_id = store.record_stage(run, outputs, verdict)?;
            for (id, outcome) in executions {
                if let Err(err) =
                    store.execution_finished(*id, run.finished_at, outcome, Some(run_id))
                {
                    tracing::warn!(error = %err, execution = %id, "cannot mark execution finished");
                }
            }
            Ok(run_id)
        }))
    }

    fn location(&self) -> Option<&Path> {
        let path = self.blocking().path();
        (path != Path::new(":memory:")).then_some(path)
    }
}
