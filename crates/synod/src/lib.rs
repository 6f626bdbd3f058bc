//! # synod
//!
//! Run several command-line AI agents (or any CLIs) side by side, make them survive failure,
//! reconcile what they said, and keep the evidence.
//!
//! `synod` is a facade: each layer is its own crate, re-exported here behind a cargo feature
//! named after it, so a tool pulls in only what it needs.
//!
//! ## Which feature for which job
//!
//! | you want to… | feature | module |
//! |---|---|---|
//! | spawn agent CLIs, stream their output, time them out, kill their whole process tree, run many at once | `exec` | [`exec`] |
//! | retry with backoff and jitter, share a retry budget, open a circuit breaker on a failing agent | `resilience` | [`resilience`] |
//! | keep runs, agent outputs and verdicts in SQLite (WAL, pooled, migrated, maintained) | `store` | [`store`] |
//! | load layered, validated, explainable config and hot-reload it | `config` | [`config`] |
//! | log in with the OAuth 2.0 device flow and keep tokens fresh and private | `auth` | [`auth`] |
//! | check Conventional Commits messages and documentation structure (pure: no tokio, no processes) | `policy` | [`policy`] |
//! | also install git hooks, run pre-commit checks and pre-receive / pre-push checks (runs git through `exec`) | `policy-hooks` | [`policy`] (`hooks`, `checks`, `receive`) |
//! | turn several agents' JSON into one deterministic verdict (no I/O) | `consensus` (default) | [`consensus`] |
//! | run the real agent CLIs (claude, gemini, codex): headless defaults, answers and usage out of their JSON envelopes, failures classified from their structured errors | `agents` | [`agents`] |
//! | all of the above wired together: run a stage of agents end to end | `orchestrator` | [`orchestrator`] |
//! | everything | `full` | |
//!
//! Only `consensus` is on by default: it is pure, small and useful alone.
//!
//! ```toml
//! [dependencies]
//! synod = { version = "0.1", features = ["exec", "resilience"] }
//! ```
//!
//! ## A complete example
//!
//! Three agents answer one prompt; the facade checks the config once, runs them in parallel
//! (each behind its circuit breaker, with retries drawing on a shared budget), reconciles
//! their JSON and keeps the evidence (features `orchestrator`, or `full`):
//!
//! ```
//! # #[cfg(feature = "orchestrator")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use synod::orchestrator::{Orchestrator, Plan, StageStatus, SynodConfig};
//! use synod::store::Store;
//!
//! let config: SynodConfig = toml::from_str(r#"
//!     [[agents]]
//!     name = "claude"
//!     command = "sh"
//!     args = ['-c', 'cat >/dev/null; echo "{\"approach\": \"incremental\"}"']
//!     timeout = "10m"
//!     retry = { max_attempts = 3, initial_delay = "1s", max_delay = "30s" }
//!
//!     [[agents]]
//!     name = "gemini"
//!     command = "sh"
//!     args = ['-c', 'echo "I agree, step by step. {\"approach\": \"incremental\"}"']
//!
//!     [[agents]]
//!     name = "codex"
//!     command = "sh"
//!     args = ['-c', 'echo "{\"approach\": \"rewrite\"}"']
//!
//!     [[stages]]
//!     name = "plan"
//!     prompt = "Plan {spec_id}; answer in JSON."
//!     consensus = { decision_fields = ["/approach"], quorum = "majority" }
//! "#)?;
//! let plan = Plan::new(config, ".")?;  // every check `synod config check` makes
//! let orchestrator = Orchestrator::with_plan(plan, Store::open_in_memory()?.into_async());
//! let report = orchestrator.run_stage("SPEC-1", "plan").await?;
//! assert_eq!(report.status, StageStatus::Ok); // 2 of 3 agree on "incremental"
//! println!("{}", report.verdict.to_markdown());
//! # Ok(()) }
//! # #[cfg(not(feature = "orchestrator"))]
//! # fn main() {}
//! ```
//!
//! Every layer keeps one error enum (`Error`, `#[non_exhaustive]`) whose messages name the
//! offending value, path, key or line; errors that can come from I/O implement
//! [`Classify`] so retries know what is worth retrying. The shared vocabulary (error classes,
//! the one duration grammar, secrets) is in [`core`] under every feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

/// The shared vocabulary of every layer (always available): [`ErrorClass`] / [`Classify`],
/// [`HumanDuration`](core::HumanDuration) and its grammar, [`Secret`](core::Secret).
#[doc(inline)]
pub use synod_core as core;
pub use synod_core::{Classify, ErrorClass};

#[cfg(feature = "exec")]
#[cfg_attr(docsrs, doc(cfg(feature = "exec")))]
#[doc(inline)]
pub use synod_exec as exec;

#[cfg(feature = "resilience")]
#[cfg_attr(docsrs, doc(cfg(feature = "resilience")))]
#[doc(inline)]
pub use synod_resilience as resilience;

#[cfg(feature = "store")]
#[cfg_attr(docsrs, doc(cfg(feature = "store")))]
#[doc(inline)]
pub use synod_store as store;

#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
#[doc(inline)]
pub use synod_config as config;

#[cfg(feature = "auth")]
#[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
#[doc(inline)]
pub use synod_auth as auth;

#[cfg(feature = "policy")]
#[cfg_attr(docsrs, doc(cfg(feature = "policy")))]
#[doc(inline)]
pub use synod_policy as policy;

#[cfg(feature = "consensus")]
#[cfg_attr(docsrs, doc(cfg(feature = "consensus")))]
#[doc(inline)]
pub use synod_consensus as consensus;

#[cfg(feature = "agents")]
#[cfg_attr(docsrs, doc(cfg(feature = "agents")))]
#[doc(inline)]
pub use synod_agents as agents;

#[cfg(feature = "orchestrator")]
#[cfg_attr(docsrs, doc(cfg(feature = "orchestrator")))]
pub mod orchestrator;

/// The names most programs need, for `use synod::prelude::*`.
///
/// ```
/// # #[cfg(feature = "orchestrator")] {
/// use synod::prelude::*;
/// let config = SynodConfig::default();
/// assert!(config.validate().is_ok());
/// # }
/// ```
pub mod prelude {
    #[cfg(feature = "consensus")]
    pub use crate::consensus::{StageSpec, Verdict, extract_json, synthesize};
    #[cfg(feature = "exec")]
    pub use crate::exec::AgentCommand;
    #[cfg(feature = "orchestrator")]
    pub use crate::orchestrator::{
        LoadedConfig, Mode, Orchestrator, Plan, StageEvent, StageReport, StageStatus, SynodConfig,
    };
    #[cfg(feature = "resilience")]
    pub use crate::resilience::{Classify, ErrorClass, RetryPolicy};
    #[cfg(feature = "store")]
    pub use crate::store::Store;
}

/// The README's code blocks, compiled and run as doctests so they cannot rot.
#[cfg(all(doctest, feature = "full"))]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
