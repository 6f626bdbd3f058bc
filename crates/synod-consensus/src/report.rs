//! One agent's contribution to a stage: [`AgentReport`], its extracted JSON or why there is
//! none.
//!
//! ```
//! use serde_json::json;
//! use synod_consensus::{AgentReport, ExtractOptions};
//!
//! let ok = AgentReport::ok("claude", json!({"audit_verdict": "pass"}));
//! let failed = AgentReport::failed("codex", "timed out after 300 s");
//! let parsed = AgentReport::from_output("gemini", "```json\n{\"audit_verdict\": \"PASS\"}\n```", &ExtractOptions::default());
//! assert!(ok.value().is_some());
//! assert!(failed.value().is_none());
//! assert_eq!(parsed.value(), Some(&json!({"audit_verdict": "PASS"})));
//! ```

use serde_json::Value;

use crate::error::ExtractError;
use crate::extract::{ExtractOptions, extract_json_with};

/// What an agent delivered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// The agent answered and its JSON was extracted.
    Ok(Value),
    /// The agent did not answer: it failed, timed out, its breaker was open, ... (the reason
    /// is shown in the verdict as given, so keep secrets out of it).
    Failed(String),
    /// The agent answered but no usable JSON could be extracted.
    Extraction(ExtractError),
}

/// An agent's name and [`Outcome`].
#[derive(Debug, Clone, PartialEq)]
pub struct AgentReport {
    /// The agent's name, as in the expected agents list.
    pub agent: String,
    /// What it delivered.
    pub outcome: Outcome,
}

impl AgentReport {
    /// An agent whose JSON was extracted.
    pub fn ok(agent: impl Into<String>, value: Value) -> Self {
        Self {
            agent: agent.into(),
            outcome: Outcome::Ok(value),
        }
    }

    /// An agent that failed to answer, with a human-readable reason.
    pub fn failed(agent: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            agent: agent.into(),
            outcome: Outcome::Failed(reason.into()),
        }
    }

    /// An agent whose output was rejected by extraction.
    pub fn rejected(agent: impl Into<String>, error: ExtractError) -> Self {
        Self {
            agent: agent.into(),
            outcome: Outcome::Extraction(error),
        }
    }

    /// The report for an extraction result.
    pub fn from_extraction(agent: impl Into<String>, result: Result<Value, ExtractError>) -> Self {
        match result {
            Ok(value) => Self::ok(agent, value),
            Err(error) => Self::rejected(agent, error),
        }
    }

    /// Extracts JSON from an agent's raw output and wraps the result.
    pub fn from_output(agent: impl Into<String>, raw: &str, options: &ExtractOptions) -> Self {
        Self::from_extraction(agent, extract_json_with(raw, options))
    }

    /// The extracted JSON, if any.
    pub fn value(&self) -> Option<&Value> {
        match &self.outcome {
            Outcome::Ok(value) => Some(value),
            _ => None,
        }
    }
}
