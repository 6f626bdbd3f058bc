//! synod-consensus: decide what several agents agree on, deterministically and explainably.
//!
//! Through the facade this crate is `synod::consensus` (`synod = { version = "0.1", features = ["consensus"] }`);
//! the examples here use its own name, `synod_consensus::…`, which `synod::consensus::…` replaces one for one.
//!
//! A pure functional core — no I/O, no async, no clock:
//!
//! 1. [`extract_json`] / [`extract_json_with`] find the JSON answer in an agent CLI's raw
//!    output (a fenced ```` ```json ```` block, else the last balanced object found by a
//!    string-aware scanner) and reject empty, truncated, too short or template-echo outputs,
//!    each with its own [`ExtractError`].
//! 2. A [`StageSpec`] (deserializable from config) names required fields, decision fields,
//!    keyed list fields, a [`Quorum`] and an optional aggregator agent.
//! 3. [`synthesize()`] turns the expected agents' [`AgentReport`]s into a [`Verdict`]:
//!    [`Status`] `ok | degraded | conflict | no_quorum`, agreements with their supporters,
//!    conflicts with every position, missing and invalid agents. The same input always
//!    serializes to the same bytes, whatever the order of the reports.
//! 4. [`Verdict::to_markdown`] renders a short human report.
//!
//! ```
//! use synod_consensus::{
//!     extract_json, synthesize, AgentReport, ListField, Quorum, StageSpec, Status,
//! };
//!
//! let outputs = [
//!     ("claude", "Here is my audit.\n```json\n{\"audit_verdict\": \"pass\", \"risks\": [{\"risk\": \"N+1 queries\"}]}\n```"),
//!     ("codex", "{\"audit_verdict\": \"Pass\", \"risks\": [{\"risk\": \"n+1 queries \"}]}\ntokens used: 812"),
//!     ("gemini", "I could not finish."),
//! ];
//! let reports: Vec<AgentReport> = outputs
//!     .iter()
//!     .map(|(agent, raw)| AgentReport::from_extraction(*agent, extract_json(raw)))
//!     .collect();
//!
//! let spec = StageSpec::new()
//!     .require("/audit_verdict")
//!     .decide("/audit_verdict")
//!     .list(ListField::new("/risks", "/risk"))
//!     .with_quorum(Quorum::Majority);
//! let verdict = synthesize(&spec, &["claude", "codex", "gemini"], &reports)?;
//!
//! assert_eq!(verdict.status, Status::Degraded); // gemini gave no JSON, the other two agree
//! assert_eq!(verdict.invalid_agents[0].agent, "gemini");
//! println!("{}", verdict.to_markdown());
//! # Ok::<(), synod_consensus::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod error;
pub mod extract;
mod normalize;
pub mod report;
pub mod spec;
pub mod synthesize;
pub mod verdict;

pub use error::{Error, ExtractError, Result, SpecError};
pub use extract::{ExtractOptions, extract_json, extract_json_with};
pub use report::{AgentReport, Outcome};
pub use spec::{ListField, Quorum, StageSpec};
pub use synthesize::synthesize;
pub use verdict::{
    Agreement, Conflict, InvalidAgent, InvalidReason, Position, Source, Status, Strength, Subject,
    Verdict,
};
