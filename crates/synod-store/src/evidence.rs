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

    /// Records that a process was spawned for each of `agents` in one go (their ids in that
    /// order), e.g. every agent of a parallel stage before they start. A backend that cannot
    /// do better than one [`execution_started`](Self::execution_started) per agent returns an
    /// empty list (the default): the caller then records each while it starts. The SQLite
    /// store writes them in one transaction.
    fn executions_started<'a>(
        &'a self,
        agents: &'a [&'a str],
        spawned_at: UnixMillis,
    ) -> StoreFuture<'a, Vec<ExecutionId>> {
        let _ = (agents, spawned_at);
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// Stores the run, its outputs and verdict, moves the spec to the run's stage, and
    /// completes the record's executions, all or nothing (the SQLite store and PostgreSQL
    /// each write it in one transaction).
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

    fn executions_started<'a>(
        &'a self,
        agents: &'a [&'a str],
        spawned_at: UnixMillis,
    ) -> StoreFuture<'a, Vec<ExecutionId>> {
        let agents: Vec<String> = agents.iter().map(|a| (*a).to_owned()).collect();
        Box::pin(self.call("executions_started", move |store| {
            let agents: Vec<&str> = agents.iter().map(String::as_str).collect();
            store.executions_started(&agents, spawned_at)
        }))
    }

    fn record_stage(&self, record: Arc<StageRecord>) -> StoreFuture<'_, RunId> {
        Box::pin(self.call("record_stage", move |store| store.record_evidence(&record)))
    }

    fn location(&self) -> Option<&Path> {
        let path = self.blocking().path();
        (path != Path::new(":memory:")).then_some(path)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A backend with only the required methods: it does not batch.
    #[derive(Debug)]
    struct OneByOne(AsyncStore);

    impl EvidenceStore for OneByOne {
        fn execution_started<'a>(
            &'a self,
            agent: &'a str,
            spawned_at: UnixMillis,
        ) -> StoreFuture<'a, ExecutionId> {
            EvidenceStore::execution_started(&self.0, agent, spawned_at)
        }

        fn record_stage(&self, record: Arc<StageRecord>) -> StoreFuture<'_, RunId> {
            EvidenceStore::record_stage(&self.0, record)
        }

        fn location(&self) -> Option<&Path> {
            None
        }
    }

    fn run() -> NewRun {
        NewRun {
            spec_id: "S-1".into(),
            stage: "plan".into(),
            started_at: 1_000,
            finished_at: 2_000,
            status: "ok".into(),
        }
    }

    #[tokio::test]
    async fn the_sqlite_store_starts_a_batch_and_completes_it_with_the_run() {
        let store = AsyncStore::open_in_memory().await.unwrap();
        let evidence: &dyn EvidenceStore = &store;
        let ids = evidence
            .executions_started(&["alpha", "beta", "gamma"], 1_000)
            .await
            .unwrap();
        assert_eq!(ids.len(), 3);
        assert_eq!(store.blocking().unfinished_executions().unwrap().len(), 3);
        let mut record = StageRecord::new(run(), vec![], json!({"status": "ok"}));
        for (id, outcome) in ids.iter().zip(["ok", "failed", "not_started"]) {
            record = record.execution(*id, outcome);
        }
        let run_id = evidence.record_stage(Arc::new(record)).await.unwrap();
        let rows: Vec<(String, Option<i64>, Option<String>)> = store
            .executions_for_run(run_id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.agent, e.completed_at, e.outcome))
            .collect();
        assert_eq!(
            rows,
            [
                ("alpha".to_owned(), Some(2_000), Some("ok".to_owned())),
                ("beta".to_owned(), Some(2_000), Some("failed".to_owned())),
                (
                    "gamma".to_owned(),
                    Some(2_000),
                    Some("not_started".to_owned())
                ),
            ]
        );
        assert!(store.blocking().unfinished_executions().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_backend_that_does_not_batch_starts_nothing_at_once() {
        let store = AsyncStore::open_in_memory().await.unwrap();
        let evidence = OneByOne(store.clone());
        let ids = evidence
            .executions_started(&["alpha", "beta"], 1_000)
            .await
            .unwrap();
        assert!(ids.is_empty());
        assert!(store.blocking().unfinished_executions().unwrap().is_empty());
    }
}
