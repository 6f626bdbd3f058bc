//! Execution rows in batches: every process of a parallel stage recorded as started in one
//! write transaction, and every one completed in one, instead of one transaction per process
//! (each costs a writer-lock turn, a WAL append and, through [`AsyncStore`](crate::AsyncStore),
//! a trip to the blocking pool).
//!
//! ```
//! use synod_store::{ExecutionId, Store};
//!
//! let store = Store::open_in_memory()?;
//! let ids = store.executions_started(&["claude", "gemini", "codex"], 1_000)?;
//! assert_eq!(ids.len(), 3);
//! assert_eq!(store.unfinished_executions()?.len(), 3);
//! let done: Vec<(ExecutionId, String)> = ids.iter().map(|id| (*id, "ok".to_owned())).collect();
//! assert_eq!(store.executions_finished(&done, 2_000, None)?, 3);
//! assert!(store.unfinished_executions()?.is_empty());
//! # Ok::<(), synod_store::Error>(())
//! ```

use rusqlite::params;

use crate::error::Result;
use crate::model::{ExecutionId, RunId, UnixMillis};
use crate::store::{SQL_FINISH_EXECUTION, Store};

const SQL_INSERT_EXECUTION: &str =
    "INSERT INTO agent_executions (agent, spawned_at) VALUES (?1, ?2)";

impl Store {
    /// Records that a process was spawned for each of `agents` (before their run exists), in
    /// one transaction: all rows or none. Their ids, in the order of `agents`.
    pub fn executions_started(
        &self,
        agents: &[&str],
        spawned_at: UnixMillis,
    ) -> Result<Vec<ExecutionId>> {
        let _span =
            tracing::debug_span!("store.executions_started", count = agents.len()).entered();
        if agents.is_empty() {
            return Ok(Vec::new());
        }
        self.write("executions_started", |tx| {
            let mut stmt = tx.prepare_cached(SQL_INSERT_EXECUTION)?;
            agents
                .iter()
                .map(|agent| stmt.insert(params![agent, spawned_at]).map(ExecutionId))
                .collect()
        })
    }

    /// Records how each execution in `finished` ended (`(id, outcome)`), and optionally the
    /// run they belong to, in one transaction. Returns how many of them existed.
    pub fn executions_finished(
        &self,
        finished: &[(ExecutionId, String)],
        completed_at: UnixMillis,
        run_id: Option<RunId>,
    ) -> Result<usize> {
        let _span =
            tracing::debug_span!("store.executions_finished", count = finished.len()).entered();
        if finished.is_empty() {
            return Ok(0);
        }
        self.write("executions_finished", |tx| {
            let mut stmt = tx.prepare_cached(SQL_FINISH_EXECUTION)?;
            let mut found = 0;
            for (id, outcome) in finished {
                found += stmt.execute(params![id.0, completed_at, outcome, run_id.map(|r| r.0)])?;
            }
            Ok(found)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn started_rows_get_distinct_ids_in_order_and_finish_together() {
        let store = Store::open_in_memory().unwrap();
        let single = store.execution_started("first", 10).unwrap();
        let ids = store.executions_started(&["a", "b", "c"], 20).unwrap();
        assert_eq!(
            ids,
            [
                ExecutionId(single.0 + 1),
                ExecutionId(single.0 + 2),
                ExecutionId(single.0 + 3)
            ]
        );
        let unfinished = store.unfinished_executions().unwrap();
        let agents: Vec<(&str, i64)> = unfinished
            .iter()
            .map(|e| (e.agent.as_str(), e.spawned_at))
            .collect();
        assert_eq!(agents, [("first", 10), ("a", 20), ("b", 20), ("c", 20)]);

        let done = [
            (ids[0], "ok".to_owned()),
            (ids[2], "timeout".to_owned()),
            (ExecutionId(9_999), "ok".to_owned()),
        ];
        assert_eq!(store.executions_finished(&done, 30, None).unwrap(), 2);
        assert_eq!(unfinished_ids(&store), [single, ids[1]]);
    }

    #[test]
    fn finishing_with_a_run_attaches_the_rows_to_it() {
        let store = Store::open_in_memory().unwrap();
        let ids = store.executions_started(&["a", "b"], 5).unwrap();
        let run_id = store
            .record_stage(&plan_run(), &[], &serde_json::json!({"status": "ok"}))
            .unwrap();
        let done = [(ids[1], "failed".to_owned()), (ids[0], "ok".to_owned())];
        assert_eq!(
            store.executions_finished(&done, 9, Some(run_id)).unwrap(),
            2
        );
        assert_eq!(
            completed(&store, run_id),
            [
                (ids[0], Some(run_id), Some(9), Some("ok".to_owned())),
                (ids[1], Some(run_id), Some(9), Some("failed".to_owned())),
            ]
        );
    }

    type Completed = (ExecutionId, Option<RunId>, Option<i64>, Option<String>);

    /// The ids of the executions nobody completed, oldest first.
    fn unfinished_ids(store: &Store) -> Vec<ExecutionId> {
        store
            .unfinished_executions()
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect()
    }

    /// The executions of `run_id`: id, run, completion time and outcome.
    fn completed(store: &Store, run_id: RunId) -> Vec<Completed> {
        store
            .executions_for_run(run_id)
            .unwrap()
            .into_iter()
            .map(|e| (e.id, e.run_id, e.completed_at, e.outcome))
            .collect()
    }

    fn plan_run() -> crate::NewRun {
        crate::NewRun {
            spec_id: "S-1".into(),
            stage: "plan".into(),
            started_at: 5,
            finished_at: 9,
            status: "ok".into(),
        }
    }

    #[test]
    fn a_whole_record_completes_its_executions_with_the_run_and_skips_unknown_ones() {
        let store = Store::open_in_memory().unwrap();
        let ids = store.executions_started(&["a", "b", "c"], 5).unwrap();
        let record = crate::StageRecord::new(plan_run(), vec![], serde_json::json!({}))
            .execution(ids[1], "failed")
            .execution(ids[0], "ok")
            .execution(ExecutionId(9_999), "ok");
        let run_id = store.record_evidence(&record).unwrap();
        assert_eq!(
            completed(&store, run_id),
            [
                (ids[0], Some(run_id), Some(9), Some("ok".to_owned())),
                (ids[1], Some(run_id), Some(9), Some("failed".to_owned())),
            ]
        );
        assert_eq!(unfinished_ids(&store), [ids[2]]);
        let spec = store.spec("S-1").unwrap().expect("the spec moved");
        assert_eq!((spec.stage.as_str(), spec.updated_at), ("plan", 9));
    }

    #[test]
    fn a_record_whose_executions_cannot_be_completed_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evidence.db");
        let store = Store::open(&path, crate::Options::default()).unwrap();
        let ids = store.executions_started(&["a"], 5).unwrap();
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TRIGGER refuse_completion BEFORE UPDATE ON agent_executions \
                 BEGIN SELECT RAISE(ABORT, 'completion refused'); END;",
            )
            .unwrap();
        let record = crate::StageRecord::new(plan_run(), vec![], serde_json::json!({}))
            .execution(ids[0], "ok");
        let err = store.record_evidence(&record).unwrap_err();
        assert!(err.to_string().contains("completion refused"), "{err}");
        assert!(store.latest_verdict("S-1", "plan").unwrap().is_none());
        assert!(store.spec("S-1").unwrap().is_none());
        assert_eq!(store.unfinished_executions().unwrap().len(), 1);
    }

    #[test]
    fn empty_batches_write_nothing() {
        let store = Store::open_in_memory().unwrap();
        assert!(store.executions_started(&[], 1).unwrap().is_empty());
        assert_eq!(store.executions_finished(&[], 1, None).unwrap(), 0);
        assert!(store.unfinished_executions().unwrap().is_empty());
    }
}
