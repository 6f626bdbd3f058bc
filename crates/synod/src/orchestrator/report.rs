//! What a stage run returns: the verdict, each agent's outcome and attempts, and where the
//! evidence is stored. Serializes to the JSON `synod run --json` prints.
//!
//! ```
//! use synod::orchestrator::StageStatus;
//!
//! assert_eq!(StageStatus::Degraded.exit_code(), 0);
//! assert_eq!(StageStatus::Conflict.exit_code(), 1);
//! assert_eq!(StageStatus::Cancelled.to_string(), "cancelled");
//! ```

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::config::Mode;

/// The outcome of a stage as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    /// Every agent answered and agreed where it mattered.
    Ok,
    /// A decision was reached, but some agents were missing or invalid.
    Degraded,
    /// Agents disagreed on a decision field.
    Conflict,
    /// Too few valid answers for the stage's quorum.
    NoQuorum,
    /// The run was cancelled before it finished.
    Cancelled,
}

impl StageStatus {
    /// The `synod run` exit code: 0 ok or degraded, 1 conflict or no quorum, 130 cancelled.
    #[must_use]
    pub fn exit_code(self) -> u8 {
        match self {
            StageStatus::Ok | StageStatus::Degraded => 0,
            StageStatus::Conflict | StageStatus::NoQuorum => 1,
            StageStatus::Cancelled => 130,
        }
    }

    /// The stored / printed name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Ok => "ok",
            StageStatus::Degraded => "degraded",
            StageStatus::Conflict => "conflict",
            StageStatus::NoQuorum => "no_quorum",
            StageStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for StageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one agent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentOutcome {
    /// Exited 0 and its output held usable JSON.
    Answered,
    /// Exited 0 but no usable JSON could be extracted.
    Invalid,
    /// Every attempt failed (or a permanent failure stopped retries).
    Failed,
    /// The last attempt ran out of time.
    TimedOut,
    /// Its circuit breaker refused it: not run at all, or stopped between retries once the
    /// breaker opened. (An empty retry budget is `Failed`, with the reason in `error`.)
    Skipped,
    /// Stopped because the run was cancelled.
    Cancelled,
}

impl fmt::Display for AgentOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AgentOutcome::Answered => "answered",
            AgentOutcome::Invalid => "invalid",
            AgentOutcome::Failed => "failed",
            AgentOutcome::TimedOut => "timed out",
            AgentOutcome::Skipped => "skipped",
            AgentOutcome::Cancelled => "cancelled",
        })
    }
}

/// One attempt of one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptReport {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Exit code, when the process exited normally.
    pub exit_code: Option<i32>,
    /// Wall time of the attempt in milliseconds.
    pub duration_ms: u64,
    /// The failure, one line (None on success).
    pub error: Option<String>,
    /// `transient`, `rate_limited` or `permanent` for a failure.
    pub class: Option<String>,
    /// Bytes of standard output captured.
    pub stdout_bytes: usize,
}

/// One agent's part in a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRun {
    /// Agent name.
    pub name: String,
    /// How it ended.
    pub outcome: AgentOutcome,
    /// Every attempt, in order.
    pub attempts: Vec<AttemptReport>,
    /// The JSON extracted from its final answer.
    pub extracted: Option<serde_json::Value>,
    /// Why it has no usable answer (failure, extraction problem, skip reason).
    pub error: Option<String>,
    /// Milliseconds from its first start to its end.
    pub duration_ms: u64,
}

/// The result of [`Orchestrator::run_stage`](super::Orchestrator::run_stage).
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// Id of the stored run (None only if storing was impossible because the run was
    /// cancelled before anything could be written).
    pub run_id: Option<i64>,
    /// Spec worked on.
    pub spec_id: String,
    /// Stage name.
    pub stage: String,
    /// How the agents were run.
    pub mode: Mode,
    /// The stage's status.
    pub status: StageStatus,
    /// The consensus verdict.
    pub verdict: synod_consensus::Verdict,
    /// Each agent, in stage order.
    pub agents: Vec<AgentRun>,
    /// Milliseconds the whole stage took.
    pub duration_ms: u64,
    /// The database holding the evidence.
    pub store_path: PathBuf,
}

impl StageReport {
    /// Process exit code for this report (see [`StageStatus::exit_code`]).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        self.status.exit_code()
    }

    /// The agent called `name`.
    #[must_use]
    pub fn agent(&self, name: &str) -> Option<&AgentRun> {
        self.agents.iter().find(|a| a.name == name)
    }
}
