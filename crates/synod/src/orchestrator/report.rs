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

use synod_core::{ErrorClass, Usage};
use synod_store::RunId;

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
        f.pad(self.as_str())
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
        f.pad(match self {
            AgentOutcome::Answered => "answered",
            AgentOutcome::Invalid => "invalid",
            AgentOutcome::Failed => "failed",
            AgentOutcome::TimedOut => "timed out",
            AgentOutcome::Skipped => "skipped",
            AgentOutcome::Cancelled => "cancelled",
        })
    }
}

/// How one attempt ended (stored as the output's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttemptStatus {
    /// Exited successfully with a usable answer.
    Ok,
    /// Exited successfully, but the output held no usable answer.
    InvalidJson,
    /// Failed: a non-zero exit, or a failure the agent reported in its output.
    Failed,
    /// Stopped at its time limit.
    Timeout,
    /// Stopped because the run was cancelled.
    Cancelled,
    /// The program could not be started (not found, not executable).
    NotStarted,
    /// Not attempted: the agent's circuit breaker was open.
    Skipped,
    /// Exited successfully, but its answer did not match the stage's schema (the
    /// validation errors are in `error`).
    Invalid,
    /// A repair attempt (`repair = true`) whose answer matched the stage's schema.
    Repaired,
}

impl AttemptStatus {
    /// The stored / printed name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Ok => "ok",
            AttemptStatus::InvalidJson => "invalid_json",
            AttemptStatus::Failed => "failed",
            AttemptStatus::Timeout => "timeout",
            AttemptStatus::Cancelled => "cancelled",
            AttemptStatus::NotStarted => "not_started",
            AttemptStatus::Skipped => "skipped",
            AttemptStatus::Invalid => "invalid",
            AttemptStatus::Repaired => "repaired",
        }
    }
}

impl AttemptStatus {
    /// How a progress line says it (`claude: attempt 1 could not start, 2ms`); [`as_str`]
    /// is the stored name.
    ///
    /// [`as_str`]: AttemptStatus::as_str
    #[must_use]
    pub fn phrase(self) -> &'static str {
        match self {
            AttemptStatus::Ok => "answered",
            AttemptStatus::InvalidJson => "gave no usable answer",
            AttemptStatus::Failed => "failed",
            AttemptStatus::Timeout => "timed out",
            AttemptStatus::Cancelled => "was cancelled",
            AttemptStatus::NotStarted => "could not start",
            AttemptStatus::Skipped => "was skipped (circuit breaker open)",
            AttemptStatus::Invalid => "answered outside the stage's schema",
            AttemptStatus::Repaired => "was repaired to fit the stage's schema",
        }
    }
}

impl fmt::Display for AttemptStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One attempt of one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptReport {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// How it ended.
    pub status: AttemptStatus,
    /// Exit code, when the process exited normally.
    pub exit_code: Option<i32>,
    /// Wall time of the attempt in milliseconds.
    pub duration_ms: u64,
    /// The failure, one line (None on success).
    pub error: Option<String>,
    /// The failure's class (serialized `transient`, `rate_limited` or `permanent`).
    #[serde(with = "class_name", default)]
    pub class: Option<ErrorClass>,
    /// Bytes of standard output captured.
    pub stdout_bytes: usize,
    /// The CLI's session (or thread) id, when it reported one (also for a failed attempt).
    #[serde(default)]
    pub session_id: Option<String>,
    /// The model that answered, when the CLI reported it.
    #[serde(default)]
    pub model: Option<String>,
    /// Tokens and cost, when the CLI reported them (also for a failed attempt: claude
    /// reports the cost of a run that ended in an API error).
    #[serde(default)]
    pub usage: Option<AttemptUsage>,
}

/// Tokens and cost of one attempt, as its CLI reported them: `"usage": {"input_tokens",
/// "output_tokens", "cached_tokens", "cost_usd"}` in `--json` reports.
///
/// ```
/// use synod::core::Usage;
/// use synod::orchestrator::AttemptUsage;
///
/// let usage = AttemptUsage::new(Some(Usage::new(150, 9, 30)), Some(0.000666)).unwrap();
/// assert_eq!(
///     serde_json::to_value(usage)?,
///     serde_json::json!({"input_tokens": 150, "output_tokens": 9, "cached_tokens": 30, "cost_usd": 0.000666})
/// );
/// assert_eq!(AttemptUsage::new(None, None), None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AttemptUsage {
    /// Prompt tokens, including those served from a cache (0 when only a cost was reported).
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// The part of `input_tokens` read from a prompt cache.
    pub cached_tokens: u64,
    /// Cost in USD, when the CLI reports it (claude; gemini and codex report none).
    pub cost_usd: Option<f64>,
}

impl AttemptUsage {
    /// The usage of an attempt whose CLI reported `tokens` and `cost_usd`; `None` when it
    /// reported neither.
    #[must_use]
    pub fn new(tokens: Option<Usage>, cost_usd: Option<f64>) -> Option<Self> {
        if tokens.is_none() && cost_usd.is_none() {
            return None;
        }
        let tokens = tokens.unwrap_or_default();
        Some(Self {
            input_tokens: tokens.input_tokens,
            output_tokens: tokens.output_tokens,
            cached_tokens: tokens.cached_tokens,
            cost_usd,
        })
    }

    /// The token counts.
    #[must_use]
    pub fn tokens(&self) -> Usage {
        Usage::new(self.input_tokens, self.output_tokens, self.cached_tokens)
    }
}

/// `Option<ErrorClass>` as `"transient"`, `"rate_limited"`, `"permanent"` or null.
pub(crate) mod class_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use synod_core::ErrorClass;

    /// The class's name.
    pub(crate) fn name(class: ErrorClass) -> &'static str {
        match class {
            ErrorClass::Transient => "transient",
            ErrorClass::RateLimited { .. } => "rate_limited",
            _ => "permanent",
        }
    }

    pub(crate) fn serialize<S: Serializer>(
        class: &Option<ErrorClass>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match class {
            Some(class) => s.serialize_str(name(*class)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<ErrorClass>, D::Error> {
        let Some(name) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        match name.as_str() {
            "transient" => Ok(Some(ErrorClass::Transient)),
            "rate_limited" => Ok(Some(ErrorClass::RateLimited { retry_after: None })),
            "permanent" => Ok(Some(ErrorClass::Permanent)),
            other => Err(serde::de::Error::custom(format!(
                "unknown error class {other:?}; expected transient, rate_limited or permanent"
            ))),
        }
    }
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
    pub run_id: Option<RunId>,
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
    /// The file holding the evidence (None for in-memory and server stores).
    pub store_path: Option<PathBuf>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_status_has_its_exit_code_and_stored_name() {
        let all = [
            (StageStatus::Ok, 0, "ok"),
            (StageStatus::Degraded, 0, "degraded"),
            (StageStatus::Conflict, 1, "conflict"),
            (StageStatus::NoQuorum, 1, "no_quorum"),
            (StageStatus::Cancelled, 130, "cancelled"),
        ];
        for (status, code, name) in all {
            assert_eq!((status.exit_code(), status.as_str()), (code, name));
            assert_eq!(status.to_string(), name);
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                name,
                "stored as printed"
            );
        }
    }

    #[test]
    fn each_attempt_status_has_a_stored_name_and_a_phrase() {
        let all = [
            (AttemptStatus::Ok, "ok", "answered"),
            (
                AttemptStatus::InvalidJson,
                "invalid_json",
                "gave no usable answer",
            ),
            (AttemptStatus::Failed, "failed", "failed"),
            (AttemptStatus::Timeout, "timeout", "timed out"),
            (AttemptStatus::Cancelled, "cancelled", "was cancelled"),
            (AttemptStatus::NotStarted, "not_started", "could not start"),
            (
                AttemptStatus::Skipped,
                "skipped",
                "was skipped (circuit breaker open)",
            ),
            (
                AttemptStatus::Invalid,
                "invalid",
                "answered outside the stage's schema",
            ),
            (
                AttemptStatus::Repaired,
                "repaired",
                "was repaired to fit the stage's schema",
            ),
        ];
        for (status, name, phrase) in all {
            assert_eq!((status.as_str(), status.phrase()), (name, phrase));
            assert_eq!(status.to_string(), name);
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                name,
                "stored as printed"
            );
        }
    }

    #[test]
    fn error_classes_are_written_and_read_by_name() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Row {
            #[serde(with = "class_name")]
            class: Option<ErrorClass>,
        }
        let rate_limited = ErrorClass::RateLimited { retry_after: None };
        for (class, name) in [
            (Some(ErrorClass::Transient), "\"transient\""),
            (Some(rate_limited), "\"rate_limited\""),
            (Some(ErrorClass::Permanent), "\"permanent\""),
            (None, "null"),
        ] {
            let row = Row { class };
            let text = serde_json::to_string(&row).unwrap();
            assert_eq!(text, format!("{{\"class\":{name}}}"));
            assert_eq!(serde_json::from_str::<Row>(&text).unwrap(), row);
        }
        let err = serde_json::from_str::<Row>("{\"class\":\"sometimes\"}").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown error class \"sometimes\""),
            "{err}"
        );
    }
}
