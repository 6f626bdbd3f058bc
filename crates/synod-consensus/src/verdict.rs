//! The outcome of a stage: [`Verdict`] and its parts, serializable and renderable as Markdown.
//!
//! Every list in a verdict is in a fixed order (agents by name, subjects in spec order then
//! by normalized key, positions by support then by normalized value, "absent" first), so
//! serializing the same verdict always gives the same bytes.
//!
//! ```
//! use serde_json::json;
//! use synod_consensus::{synthesize, AgentReport, StageSpec, Status};
//!
//! let spec = StageSpec::new().decide("/audit_verdict");
//! let verdict = synthesize(
//!     &spec,
//!     &["claude", "codex"],
//!     &[AgentReport::ok("claude", json!({"audit_verdict": "pass"}))],
//! ).unwrap();
//! assert_eq!(verdict.status, Status::NoQuorum);
//! assert_eq!(verdict.status.as_str(), "no_quorum");
//! let text = serde_json::to_string(&verdict).unwrap();
//! let back: synod_consensus::Verdict = serde_json::from_str(&text).unwrap();
//! assert_eq!(back, verdict);
//! assert!(verdict.to_markdown().contains("missing: codex"));
//! ```

use std::fmt::{self, Write as _};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The stage's overall result. See [`synthesize`](mod@crate::synthesize) for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Quorum held, nothing in conflict, every expected agent answered validly.
    Ok,
    /// Quorum held and nothing in conflict, but some expected agent is missing or invalid.
    Degraded,
    /// Quorum held, but some decision field or list item has no winning position.
    Conflict,
    /// Fewer valid agents than the quorum.
    NoQuorum,
}

impl Status {
    /// `"ok"`, `"degraded"`, `"conflict"` or `"no_quorum"` (the serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Degraded => "degraded",
            Status::Conflict => "conflict",
            Status::NoQuorum => "no_quorum",
        }
    }

    /// `true` for [`Ok`](Status::Ok) and [`Degraded`](Status::Degraded): the stage may proceed.
    pub fn is_success(self) -> bool {
        matches!(self, Status::Ok | Status::Degraded)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an agreement or conflict is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Subject {
    /// A decision field.
    Field {
        /// Its JSON pointer.
        pointer: String,
    },
    /// One item of a list field, matched across agents by its key.
    Item {
        /// The list's JSON pointer.
        list: String,
        /// The item's normalized key in canonical text (strings trimmed, lowercased, quoted).
        key: String,
    },
    /// An entry the aggregator agent reported in its own `consensus` object.
    Reported,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Field { pointer } => write!(f, "`{pointer}`"),
            Subject::Item { list, key } => write!(f, "`{list}` item {}", cut(key)),
            Subject::Reported => f.write_str("reported by aggregator"),
        }
    }
}

/// How strongly an agreement is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Strength {
    /// Every valid agent holds the position.
    Unanimous,
    /// A quorum, but not every valid agent, holds it.
    Majority,
    /// Not computed: the aggregator agent said so.
    Reported,
}

/// Where an agreement or conflict comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Source {
    /// Computed by synod from the agents' outputs. Only these decide the status.
    Computed,
    /// Copied from the aggregator's `consensus.agreements` / `consensus.conflicts`.
    Aggregator,
}

/// One distinct position and the agents holding it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// The value as the alphabetically first agent holding it wrote it. `None` (the field is
    /// omitted in JSON) means "absent": the field was missing or the list item not included.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub value: Option<Value>,
    /// The agents holding it, sorted.
    pub agents: Vec<String>,
}

/// A position held by a quorum of valid agents and by more agents than any other position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// What was agreed on.
    pub subject: Subject,
    /// The agreed value (see [`Position::value`]; `None` for a list item means the quorum
    /// agreed *not* to include it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub value: Option<Value>,
    /// The agents holding it, sorted.
    pub agents: Vec<String>,
    /// Unanimous, majority, or reported by the aggregator.
    pub strength: Strength,
    /// The other positions, if any (most support first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dissent: Vec<Position>,
    /// Computed or reported by the aggregator.
    pub source: Source,
}

/// A subject with no winning position: each distinct position with its agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// What is disputed.
    pub subject: Subject,
    /// Every position, most support first, then by normalized value ("absent" first).
    pub positions: Vec<Position>,
    /// Computed or reported by the aggregator.
    pub source: Source,
}

/// An expected agent that reported but cannot vote, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidAgent {
    /// The agent's name.
    pub agent: String,
    /// Why it cannot vote.
    pub reason: InvalidReason,
}

/// Why an agent cannot vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvalidReason {
    /// The agent failed to answer.
    Failed {
        /// The reason given in [`AgentReport::failed`](crate::AgentReport::failed).
        message: String,
    },
    /// Its output held no usable JSON.
    Extraction {
        /// The [`ExtractError`](crate::ExtractError) message.
        message: String,
    },
    /// Its JSON lacks a required field.
    MissingRequiredField {
        /// The first missing required pointer, in spec order.
        pointer: String,
    },
    /// A list field is present but not an array.
    NotAnArray {
        /// The list field's pointer.
        pointer: String,
    },
    /// The agent reported more than once in the same stage; none of its reports is used.
    DuplicateReport {
        /// How many reports it sent.
        count: usize,
    },
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidReason::Failed { message } => write!(f, "failed: {message}"),
            InvalidReason::Extraction { message } => write!(f, "unusable output: {message}"),
            InvalidReason::MissingRequiredField { pointer } => {
                write!(f, "missing required field `{pointer}`")
            }
            InvalidReason::NotAnArray { pointer } => write!(f, "`{pointer}` is not an array"),
            InvalidReason::DuplicateReport { count } => {
                write!(f, "reported {count} times in one stage")
            }
        }
    }
}

/// The synthesized result of a stage. Serialize it with serde (byte-identical for the same
/// input) or render it with [`to_markdown`](Self::to_markdown).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The overall result.
    pub status: Status,
    /// The number of valid agents a quorum needs (from the spec's [`Quorum`](crate::Quorum)).
    pub quorum: usize,
    /// The expected agents, sorted.
    pub expected_agents: Vec<String>,
    /// The agents whose output counted, sorted.
    pub valid_agents: Vec<String>,
    /// Agreed positions: computed ones first (decision fields in spec order, then list items
    /// per list in spec order, by key), then the aggregator's.
    pub agreements: Vec<Agreement>,
    /// Subjects without a winning position, in the same order.
    pub conflicts: Vec<Conflict>,
    /// Expected agents without a report, sorted.
    pub missing_agents: Vec<String>,
    /// Expected agents whose report cannot vote, sorted by agent.
    pub invalid_agents: Vec<InvalidAgent>,
    /// Reports from agents that were not expected (ignored), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unexpected_agents: Vec<String>,
    /// `false` when some agent was invalid because a required field was missing.
    pub required_fields_ok: bool,
}

/// At most this many agreements and conflicts are listed in Markdown.
const MARKDOWN_LIMIT: usize = 25;
/// Values longer than this are cut in Markdown.
const VALUE_LIMIT: usize = 80;

impl Verdict {
    /// Conflicts synod computed (those that decide the status), without the aggregator's.
    pub fn computed_conflicts(&self) -> impl Iterator<Item = &Conflict> {
        self.conflicts
            .iter()
            .filter(|c| c.source == Source::Computed)
    }

    /// A short human report: status line, agreements, conflicts with who said what, missing
    /// and invalid agents. Long lists are cut after 25 entries.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "**Status: {}** ({} of {} agents valid, quorum {})",
            self.status,
            self.valid_agents.len(),
            self.expected_agents.len(),
            self.quorum
        );
        if !self.missing_agents.is_empty() {
            let _ = writeln!(out, "\n- missing: {}", self.missing_agents.join(", "));
        }
        if !self.invalid_agents.is_empty() {
            out.push('\n');
            for invalid in &self.invalid_agents {
                let _ = writeln!(out, "- invalid: {} ({})", invalid.agent, invalid.reason);
            }
        }
        if !self.required_fields_ok {
            let _ = writeln!(out, "\nSome agents lacked required fields.");
        }
        if !self.conflicts.is_empty() {
            let _ = writeln!(out, "\n### Conflicts ({})\n", self.conflicts.len());
            for conflict in self.conflicts.iter().take(MARKDOWN_LIMIT) {
                let by = match conflict.source {
                    Source::Computed => "",
                    Source::Aggregator => " (reported by aggregator)",
                };
                // A computed conflict without positions: no valid answer to decide it from.
                let unanswered =
                    conflict.positions.is_empty() && conflict.source == Source::Computed;
                let note = if unanswered { ": no valid answer" } else { "" };
                let _ = writeln!(out, "- {}{by}{note}", conflict.subject);
                for position in &conflict.positions {
                    let _ = writeln!(
                        out,
                        "  - {}: {}",
                        render(position.value.as_ref()),
                        position.agents.join(", ")
                    );
                }
            }
            more(&mut out, self.conflicts.len());
        }
        if !self.agreements.is_empty() {
            let _ = writeln!(out, "\n### Agreements ({})\n", self.agreements.len());
            for agreement in self.agreements.iter().take(MARKDOWN_LIMIT) {
                let strength = match agreement.strength {
                    Strength::Unanimous => "unanimous",
                    Strength::Majority => "majority",
                    Strength::Reported => "reported by aggregator",
                };
                let _ = write!(
                    out,
                    "- {}: {} ({strength}: {})",
                    agreement.subject,
                    render(agreement.value.as_ref()),
                    agreement.agents.join(", ")
                );
                for position in &agreement.dissent {
                    let _ = write!(
                        out,
                        "; {} said {}",
                        position.agents.join(", "),
                        render(position.value.as_ref())
                    );
                }
                out.push('\n');
            }
            more(&mut out, self.agreements.len());
        }
        out
    }
}

fn more(out: &mut String, total: usize) {
    if total > MARKDOWN_LIMIT {
        let _ = writeln!(out, "- ... and {} more", total - MARKDOWN_LIMIT);
    }
}

fn render(value: Option<&Value>) -> String {
    match value {
        Some(value) => format!("`{}`", cut(&value.to_string())),
        None => "(absent)".to_owned(),
    }
}

/// `text`, or its first [`VALUE_LIMIT`] characters and `...`.
fn cut(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(VALUE_LIMIT) {
        None => std::borrow::Cow::Borrowed(text),
        Some((end, _)) => std::borrow::Cow::Owned(format!("{}...", &text[..end])),
    }
}

/// Deserializes a present field (even `null`) as `Some`, so `None` round-trips as "absent".
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}
