//! Per-agent hooks: how an agent's output becomes an answer, and how its failures are
//! classified. The seam agent adapters plug into (a CLI that wraps its answer in a JSON
//! envelope, or reports a rate limit with exit code 0).
//!
//! An agent's hooks come from its preset ([`PresetHooks`]: `preset = "claude" | "gemini" |
//! "codex" | "generic"` in `[[agents]]`, inferred from the program's name when absent), which
//! reads the CLI's JSON envelope through synod-agents. [`GenericCli`] is the plain behaviour:
//! the answer is the JSON found in standard output (synod-consensus's extraction), and a
//! failure is classified by synod-exec (exit codes, "429", "retry after 30s", ...).
//! `Orchestrator::hooks` and `Orchestrator::default_hooks` put your own in their place.
//!
//! Hooks may also report what the CLI said about an attempt ([`AttemptMeta`]: session id,
//! model, tokens, cost) by overriding [`AgentHooks::parse_with_meta`] and
//! [`AgentHooks::failure_meta`]; the Orchestrator stores it with the attempt and puts it in the
//! attempt's report. [`PresetHooks`] report it for claude, gemini and codex, for failed
//! attempts too (a claude API error still reports its session and cost).
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
//!     fn parse(&self, stdout: &str, _stderr: &str) -> Parsed {
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
//! assert_eq!(Envelope.parse(r#"{"ok": true, "result": {"n": 1}}"#, ""), Parsed::Answer(json!({"n": 1})));
//! assert!(matches!(Envelope.parse(r#"{"ok": false, "result": "overloaded"}"#, ""), Parsed::Failed { .. }));
//! let hooks: Arc<dyn AgentHooks> = Arc::new(Envelope);
//! # let _ = hooks;
//! ```

use std::fmt;
use std::sync::LazyLock;

use serde_json::Value;
use synod_agents::{Preset, Reply};
use synod_consensus::{ExtractError, ExtractOptions};
use synod_core::{Classify, ErrorClass, Usage};

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

/// What an agent's CLI reported about one attempt besides its answer: the evidence kept with
/// the attempt (store, `--json` reports). Every part is optional; CLIs report different ones.
///
/// ```
/// use synod::core::Usage;
/// use synod::orchestrator::AttemptMeta;
///
/// let meta = AttemptMeta::default()
///     .with_session_id("4cda4259")
///     .with_usage(Usage::new(150, 9, 30))
///     .with_cost_usd(0.000666);
/// assert_eq!(meta.usage.map(|u| u.output_tokens), Some(9));
/// assert!(meta.model.is_none() && !meta.is_empty());
/// assert!(AttemptMeta::default().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct AttemptMeta {
    /// The CLI's session (claude, gemini) or thread (codex) id.
    pub session_id: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// Tokens used.
    pub usage: Option<Usage>,
    /// Cost in USD.
    pub cost_usd: Option<f64>,
}

impl AttemptMeta {
    /// With the CLI's session id.
    #[must_use]
    pub fn with_session_id(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// With the model that answered.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// With the tokens used.
    #[must_use]
    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = Some(usage);
        self
    }

    /// With the cost in USD.
    #[must_use]
    pub fn with_cost_usd(mut self, cost_usd: f64) -> Self {
        self.cost_usd = Some(cost_usd);
        self
    }

    /// Whether nothing was reported.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.session_id.is_none()
            && self.model.is_none()
            && self.usage.is_none()
            && self.cost_usd.is_none()
    }
}

impl From<Reply> for AttemptMeta {
    fn from(reply: Reply) -> Self {
        Self {
            session_id: reply.session_id,
            model: reply.model,
            usage: reply.usage,
            cost_usd: reply.cost_usd,
        }
    }
}

/// How one agent's output is read and its failures classified. Implementations must be
/// cheap to call; one of them runs once per attempt.
///
/// [`AgentHooks::parse`] and [`AgentHooks::classify`] are the two to write; hooks that also
/// know what the CLI reported about an attempt (session, model, tokens, cost) override
/// [`AgentHooks::parse_with_meta`] and [`AgentHooks::failure_meta`], which report nothing by
/// default.
pub trait AgentHooks: Send + Sync + fmt::Debug {
    /// The answer in `stdout` (standard error in `stderr`; both already redacted) after the
    /// process exited successfully.
    fn parse(&self, stdout: &str, stderr: &str) -> Parsed {
        GenericCli.parse(stdout, stderr)
    }

    /// [`AgentHooks::parse`] and what the CLI reported about the attempt, read in one pass
    /// (the Orchestrator calls this one). Default: `parse`, and nothing reported.
    fn parse_with_meta(&self, stdout: &str, stderr: &str) -> (Parsed, AttemptMeta) {
        (self.parse(stdout, stderr), AttemptMeta::default())
    }

    /// What the CLI reported in the output of a failed process (a non-zero exit, a timeout's
    /// partial output), such as the cost of a claude run that ended in an API error.
    /// Default: nothing.
    fn failure_meta(&self, error: &synod_exec::Error) -> AttemptMeta {
        let _ = error;
        AttemptMeta::default()
    }

    /// The class of a failed attempt (non-zero exit, timeout, spawn failure), and its cause,
    /// one line, when the hooks know better than the error's own message (a CLI's structured
    /// error instead of its banner; `None`: the message).
    fn classify(&self, error: &synod_exec::Error) -> Classified {
        Classified {
            class: error.class(),
            cause: None,
        }
    }
}

/// How [`AgentHooks::classify`] judges a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// How to treat it.
    pub class: ErrorClass,
    /// What went wrong, one line (`None`: the error's own message).
    pub cause: Option<String>,
}

/// The default hooks: JSON extracted from prose, fences or the whole output; failures
/// classified by synod-exec.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenericCli;

impl AgentHooks for GenericCli {
    fn parse(&self, stdout: &str, _stderr: &str) -> Parsed {
        static OPTIONS: LazyLock<ExtractOptions> = LazyLock::new(ExtractOptions::cli_defaults);
        match synod_consensus::extract_json_with(stdout, &OPTIONS) {
            Ok(value) => Parsed::Answer(value),
            Err(e) => Parsed::Invalid(e),
        }
    }
}

/// The hooks of a synod-agents [`Preset`]: the answer out of the CLI's JSON envelope (a
/// failure it reports with exit 0, such as claude's `is_error`, is a failed attempt), and the
/// class and cause of a failure from its structured error, never a banner or a stack frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresetHooks {
    preset: Preset,
}

impl PresetHooks {
    /// The hooks of `preset`.
    #[must_use]
    pub fn new(preset: Preset) -> Self {
        Self { preset }
    }

    /// The preset.
    #[must_use]
    pub fn preset(&self) -> Preset {
        self.preset
    }
}

impl AgentHooks for PresetHooks {
    fn parse(&self, stdout: &str, stderr: &str) -> Parsed {
        self.parse_with_meta(stdout, stderr).0
    }

    fn parse_with_meta(&self, stdout: &str, stderr: &str) -> (Parsed, AttemptMeta) {
        match self.preset.parse_success(stdout, stderr) {
            Ok(reply) => {
                let parsed = match reply.extract() {
                    Ok(value) => Parsed::Answer(value),
                    Err(e) => Parsed::Invalid(e),
                };
                (parsed, AttemptMeta::from(reply))
            }
            // A failure reported with exit 0 (claude `is_error`) may still carry its cost.
            Err(failure) => (
                Parsed::Failed {
                    class: failure.class,
                    message: failure.cause,
                },
                self.preset.reported(stdout, stderr).into(),
            ),
        }
    }

    fn failure_meta(&self, error: &synod_exec::Error) -> AttemptMeta {
        error.output().map_or_else(AttemptMeta::default, |out| {
            self.preset
                .reported(&out.stdout_lossy(), &out.stderr_lossy())
                .into()
        })
    }

    fn classify(&self, error: &synod_exec::Error) -> Classified {
        let failure = self.preset.classify(error);
        Classified {
            class: failure.class,
            cause: Some(failure.cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_hooks_say_which_preset_they_are() {
        for preset in [
            Preset::Claude,
            Preset::Gemini,
            Preset::Codex,
            Preset::Generic,
        ] {
            assert_eq!(PresetHooks::new(preset).preset(), preset);
        }
    }

    #[test]
    fn meta_is_empty_only_when_every_field_is_missing() {
        assert!(AttemptMeta::default().is_empty());
        let each = [
            AttemptMeta::default().with_session_id("s-1"),
            AttemptMeta::default().with_model("m"),
            AttemptMeta::default().with_usage(Usage::default()),
            AttemptMeta::default().with_cost_usd(0.0),
        ];
        for meta in each {
            assert!(!meta.is_empty(), "{meta:?}");
        }
    }

    #[test]
    fn generic_cli_extracts_json_from_prose_and_says_why_when_there_is_none() {
        assert_eq!(
            GenericCli.parse("Sure. ```json\n{\"a\": 1}\n```", ""),
            Parsed::Answer(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            GenericCli.parse("no json here", ""),
            Parsed::Invalid(ExtractError::NoJson)
        );
    }

    #[test]
    fn a_claude_error_reported_with_exit_0_is_a_failed_attempt() {
        let hooks = PresetHooks::new(Preset::Claude);
        let ok = r#"{"type":"result","subtype":"success","is_error":false,"result":"{\"a\": 1}","session_id":"s"}"#;
        assert_eq!(
            hooks.parse(ok, ""),
            Parsed::Answer(serde_json::json!({"a": 1}))
        );
        let failed = r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: 401 invalid x-api-key","session_id":"s"}"#;
        assert!(
            matches!(
                hooks.parse(failed, ""),
                Parsed::Failed {
                    class: ErrorClass::Permanent,
                    ..
                }
            ),
            "{:?}",
            hooks.parse(failed, "")
        );
    }
}
