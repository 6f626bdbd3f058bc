//! Per-agent hooks: how an agent's output becomes an answer, and how its failures are
//! classified. The seam agent adapters plug into (a CLI that wraps its answer in a JSON
//! envelope, or reports a rate limit with exit code 0).
//!
//! [`GenericCli`] is the default: the answer is the JSON found in standard output
//! (synod-consensus's extraction), and a failure is classified by synod-exec (exit codes,
//! "429", "retry after 30s", ...).
//!
//! ```
//! use std::sync::Arc;
//! use serde_json::json;
//! use synod::core::ErrorClass;
//! use synod::consensus::ExtractError;
//! use synod::orchestrator::{AgentHooks, Parsed};
//!
//! /// An agent printing `{"ok": bool, "result": ...}`.
//! #[derive(Debug)]
//! struct Envelope;
//!
//! impl AgentHooks for Envelope {
//!     fn parse(&self, stdout: &str) -> Parsed {
//!         match serde_json::from_str::<serde_json::Value>(stdout) {
//!             Ok(v) if v["ok"] == true => Parsed::Answer(v["result"].clone()),
//!             Ok(v) => Parsed::Failed {
//!                 class: ErrorClass::Transient,
//!                 message: format!("the agent reported an error: {}", v["result"]),
//!             },
//!             Err(e) => Parsed::Invalid(ExtractError::Unusable { message: format!("not an envelope: {e}") }),
//!         }
//!     }
//! }
//!
//! assert_eq!(Envelope.parse(r#"{"ok": true, "result": {"n": 1}}"#), Parsed::Answer(json!({"n": 1})));
//! assert!(matches!(Envelope.parse(r#"{"ok": false, "result": "overloaded"}"#), Parsed::Failed { .. }));
//! let hooks: Arc<dyn AgentHooks> = Arc::new(Envelope);
//! # let _ = hooks;
//! ```

use std::fmt;
use std::sync::LazyLock;

use serde_json::Value;
use synod_consensus::{ExtractError, ExtractOptions};
use synod_core::{Classify, ErrorClass};

/// What an agent's standard output (after a successful exit) amounts to.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Parsed {
    /// The agent's answer.
    Answer(Value),
    /// No usable answer (not retried: the agent ran and said something unusable);
    /// [`ExtractError::Unusable`] carries an adapter's own reason.
    Invalid(ExtractError),
    /// The agent reported a failure in its output: handled like a failed attempt of this
    /// class (retried, waited for, or given up on; counted by its circuit breaker).
    Failed {
        /// How to treat it.
        class: ErrorClass,
        /// What went wrong, one line.
        message: String,
    },
}

/// How one agent's output is read and its failures classified. Implementations must be
/// cheap to call; both methods run once per attempt.
pub trait AgentHooks: Send + Sync + fmt::Debug {
    /// The answer in `stdout` (already redacted) after the process exited successfully.
    fn parse(&self, stdout: &str) -> Parsed {
        GenericCli.parse(stdout)
    }

    /// The class of a failed attempt (non-zero exit, timeout, spawn failure).
    fn classify(&self, error: &synod_exec::Error) -> ErrorClass {
        error.class()
    }
}

/// The default hooks: JSON extracted from prose, fences or the whole output; failures
/// classified by synod-exec.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenericCli;

impl AgentHooks for GenericCli {
    fn parse(&self, stdout: &str) -> Parsed {
        static OPTIONS: LazyLock<ExtractOptions> = LazyLock::new(ExtractOptions::cli_defaults);
        match synod_consensus::extract_json_with(stdout, &OPTIONS) {
            Ok(value) => Parsed::Answer(value),
            Err(e) => Parsed::Invalid(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_cli_extracts_json_from_prose_and_says_why_when_there_is_none() {
        assert_eq!(
            GenericCli.parse("Sure. ```json\n{\"a\": 1}\n```"),
            Parsed::Answer(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            GenericCli.parse("no json here"),
            Parsed::Invalid(ExtractError::NoJson)
        );
    }
}
