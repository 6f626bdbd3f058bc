//! The records written to and read from the store.
//!
//! Timestamps are `i64` milliseconds since the Unix epoch (UTC), stored as SQLite integers;
//! [`now_millis`] gives the current one.
//!
//! ```
//! use synod_store::{NewOutput, NewRun, Usage, now_millis};
//!
//! let started = now_millis();
//! let run = NewRun {
//!     spec_id: "SPEC-1".into(),
//!     stage: "plan".into(),
//!     started_at: started,
//!     finished_at: started + 1_500,
//!     status: "ok".into(),
//! };
//! let output = NewOutput {
//!     agent: "claude".into(),
//!     attempt: 1,
//!     exit_code: Some(0),
//!     duration_ms: 1_400,
//!     status: "ok".into(),
//!     raw_output: "{\"plan\": []}".into(),
//!     parsed_json: Some(serde_json::json!({"plan": []})),
//!     error: None,
//!     usage: Some(Usage::new(1_200, 85, 1_000)),
//!     cost_usd: Some(0.0042),
//!     ..NewOutput::default()
//! };
//! assert!(output.succeeded());
//! assert!(run.finished_at > run.started_at);
//! ```

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use synod_core::Usage;

/// Milliseconds since the Unix epoch, UTC.
pub type UnixMillis = i64;

/// The current time as [`UnixMillis`] (0 if the clock is before 1970).
#[must_use]
pub fn now_millis() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The id of a recorded consensus run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The id of an agent execution (see [`Store::execution_started`](crate::Store::execution_started)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExecutionId(pub i64);

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A consensus run to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRun {
    /// The spec the stage ran for.
    pub spec_id: String,
    /// The stage name.
    pub stage: String,
    /// When the stage started.
    pub started_at: UnixMillis,
    /// When the verdict was reached; also becomes the spec's `updated_at`.
    pub finished_at: UnixMillis,
    /// The verdict's status (e.g. `ok`, `degraded`, `conflict`, `no_quorum`).
    pub status: String,
}

/// One agent attempt to record with its run (every attempt, including failed ones).
///
/// What the agent's CLI reported about the attempt (`session_id`, `model`, `usage`,
/// `cost_usd`) is optional; `..Default::default()` leaves it out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewOutput {
    /// The agent's name.
    pub agent: String,
    /// The attempt number, starting at 1.
    pub attempt: u32,
    /// The process exit code; `None` when it was killed by a signal or never started.
    pub exit_code: Option<i32>,
    /// Wall time of the attempt.
    pub duration_ms: u64,
    /// The attempt's status as the caller names it (e.g. `ok`, `timeout`, `invalid_json`).
    pub status: String,
    /// What the agent printed (lossily decoded if it was not UTF-8).
    pub raw_output: String,
    /// The JSON extracted from the output, if any.
    pub parsed_json: Option<Value>,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    /// The CLI's session (or thread) id, when it reported one.
    #[serde(default)]
    pub session_id: Option<String>,
    /// The model that answered, when the CLI reported it.
    #[serde(default)]
    pub model: Option<String>,
    /// Tokens the attempt used, when the CLI reported them.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Cost in USD, when the CLI reported it.
    #[serde(default)]
    pub cost_usd: Option<f64>,
}

impl NewOutput {
    /// Whether this attempt counts as a success in [`AgentStats`]: exit code 0 and no error.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && self.error.is_none()
    }
}

/// A recorded consensus run with its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Run {
    /// The run's id.
    pub id: RunId,
    /// The spec.
    pub spec_id: String,
    /// The stage.
    pub stage: String,
    /// When the stage started.
    pub started_at: UnixMillis,
    /// When the verdict was reached.
    pub finished_at: UnixMillis,
    /// The verdict's status.
    pub status: String,
    /// The verdict, as recorded.
    pub verdict: Value,
}

/// A recorded agent attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredOutput {
    /// The row id (increases with recording order).
    pub id: i64,
    /// The run it belongs to.
    pub run_id: RunId,
    /// The agent's name.
    pub agent: String,
    /// The attempt number.
    pub attempt: u32,
    /// The exit code, if the process exited.
    pub exit_code: Option<i32>,
    /// Wall time of the attempt.
    pub duration_ms: u64,
    /// The attempt's status.
    pub status: String,
    /// What the agent printed.
    pub raw_output: String,
    /// The extracted JSON, if any.
    pub parsed_json: Option<Value>,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    /// The CLI's session (or thread) id, when it reported one.
    #[serde(default)]
    pub session_id: Option<String>,
    /// The model that answered, when the CLI reported it.
    #[serde(default)]
    pub model: Option<String>,
    /// Tokens the attempt used, when the CLI reported them.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Cost in USD, when the CLI reported it.
    #[serde(default)]
    pub cost_usd: Option<f64>,
}

/// A spec's current stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Spec {
    /// The spec.
    pub spec_id: String,
    /// The stage of its most recently finished run.
    pub stage: String,
    /// When that run finished.
    pub updated_at: UnixMillis,
}

/// Tokens and cost of one run, summed over its attempts (see
/// [`Store::history_usage`](crate::Store::history_usage)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunUsage {
    /// The run.
    pub run_id: RunId,
    /// Its recorded attempts.
    pub attempts: u64,
    /// Tokens summed over the attempts whose CLI reported them; `None` when none did.
    pub usage: Option<Usage>,
    /// Cost in USD summed over the attempts whose CLI reported one; `None` when none did.
    pub cost_usd: Option<f64>,
}

/// Per-agent figures over every recorded attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AgentStats {
    /// The agent's name.
    pub agent: String,
    /// Distinct runs the agent took part in.
    pub runs: u64,
    /// Recorded attempts (outputs).
    pub attempts: u64,
    /// Attempts that succeeded (exit code 0 and no error).
    pub successes: u64,
    /// `successes / attempts`.
    pub success_rate: f64,
    /// Mean attempt duration.
    pub mean_duration_ms: f64,
    /// Median attempt duration (nearest rank: the smallest duration with at least half of
    /// the attempts at or below it).
    pub p50_duration_ms: u64,
    /// 95th percentile attempt duration (nearest rank).
    pub p95_duration_ms: u64,
    /// Tokens summed over the attempts whose CLI reported them (zero when none did).
    pub usage: Usage,
    /// Cost in USD summed over the attempts whose CLI reported one; `None` when none did
    /// (gemini and codex report no cost).
    pub cost_usd: Option<f64>,
}

/// An agent execution: a process spawned for an agent, tracked from spawn to completion so
/// executions that never completed (a crash of synod itself) can be found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Execution {
    /// The execution's id.
    pub id: ExecutionId,
    /// The agent's name.
    pub agent: String,
    /// The run the execution was attached to, once known.
    pub run_id: Option<RunId>,
    /// When the process was spawned.
    pub spawned_at: UnixMillis,
    /// When it completed, if it did.
    pub completed_at: Option<UnixMillis>,
    /// How it ended (caller's vocabulary), if it did.
    pub outcome: Option<String>,
}

/// A page of a newest-first listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Rows to skip.
    pub offset: u32,
    /// Most rows to return.
    pub limit: u32,
}

impl Page {
    /// The first `limit` rows.
    #[must_use]
    pub fn first(limit: u32) -> Page {
        Page { offset: 0, limit }
    }

    /// The page after this one.
    #[must_use]
    pub fn next(self) -> Page {
        Page {
            offset: self.offset.saturating_add(self.limit),
            limit: self.limit,
        }
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::first(50)
    }
}

/// What [`Store::prune`](crate::Store::prune) deleted, or what
/// [`Store::prunable`](crate::Store::prunable) found it would delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PruneReport {
    /// Consensus runs deleted.
    pub runs: u64,
    /// Agent outputs deleted with them.
    pub outputs: u64,
    /// Agent executions deleted (those of the deleted runs, and completed ones without a run
    /// that were spawned before the cutoff).
    pub executions: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_advance() {
        let page = Page::first(10).next().next();
        assert_eq!(
            page,
            Page {
                offset: 20,
                limit: 10
            }
        );
        assert_eq!(
            Page {
                offset: u32::MAX,
                limit: 5
            }
            .next()
            .offset,
            u32::MAX
        );
    }

    #[test]
    fn now_is_after_2020() {
        assert!(now_millis() > 1_577_836_800_000);
    }
}
