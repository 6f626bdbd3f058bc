//! Layered, validated, explainable configuration with hot reload that never applies a bad edit.
//!
//! Through the facade this crate is `synod::config` (`synod = { version = "0.1", features = ["config"] }`);
//! the examples here use its own name, `synod_config::…`, which `synod::config::…` replaces one for one.
//!
//! - [`Loader`] merges, lowest precedence first: `T::default()` < files (TOML, YAML or JSON by
//!   extension, each required or optional, in the order added; [`Loader::text`] adds text that
//!   is not a file, e.g. read from stdin, under a name) < environment (`SYNOD_` prefix,
//!   `__` between nesting levels) < explicit `key.path=value` overrides.
//! - [`Loaded::explain`] tells where every value came from, like `git config --show-origin`:
//!   the final value, the winning [`Layer`] and every layer that set it.
//! - The JSON Schema generated from `T` ([`schema()`]) is compiled once and every violation is
//!   reported (not only the first), each with `file:line:column` or the environment variable
//!   that set the offending value. Misspelt keys are violations, with a "did you mean" hint.
//! - A top-level `version` with registered forward migrations.
//! - [`Watcher`] reloads on change, validates off the caller's thread and swaps atomically; a
//!   bad edit keeps the last good configuration.
//! - [`Secret`] values are redacted everywhere they could be printed.
//!
//! Line and column positions: TOML and JSON report an exact `line:column` for every key and
//! array element; YAML reports them for block-style mappings and `- ` sequences, and gives the
//! enclosing key's position for values inside flow collections (`{a: 1}`, `[1, 2]`).
//! Environment values name their variable, overrides say `override`.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use synod_config::{JsonSchema, Loader, Secret};
//!
//! #[derive(Debug, Serialize, Deserialize, JsonSchema)]
//! #[serde(default)]
//! struct Config {
//!     /// Agent settings.
//!     agents: Vec<Agent>,
//!     api_token: Option<Secret>,
//! }
//!
//! #[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
//! #[serde(deny_unknown_fields)]
//! struct Agent {
//!     name: String,
//!     timeout_secs: u32,
//! }
//!
//! impl Default for Config {
//!     fn default() -> Self {
//!         Config { agents: vec![], api_token: None }
//!     }
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("synod.toml");
//! std::fs::write(&file, "[[agents]]\nname = \"claude\"\ntimeout_secs = 30\n")?;
//!
//! let loaded = Loader::<Config>::new()
//!     .file(&file)
//!     .env_source([("SYNOD_AGENTS__0__TIMEOUT_SECS", "60")])
//!     .load()?;
//! assert_eq!(loaded.value.agents[0].timeout_secs, 60);
//! let why = loaded.explain("agents.0.timeout_secs").expect("known key");
//! assert_eq!(why.to_string(),
//!     format!("agents.0.timeout_secs = 60  (env SYNOD_AGENTS__0__TIMEOUT_SECS)\n  set by: {}:3:1; env SYNOD_AGENTS__0__TIMEOUT_SECS", file.display()));
//!
//! // A typo is reported with its file, line and column.
//! std::fs::write(&file, "[[agents]]\nname = \"claude\"\ntimeout_sec = 30\n")?;
//! let err = Loader::<Config>::new().file(&file).env_source::<_, String, String>([]).load().unwrap_err();
//! assert!(err.to_string().contains(":3:1: agents.0.timeout_sec: unknown key `timeout_sec`; did you mean `timeout_secs`?"), "{err}");
//!
//! // Text that is not a file (piped in, generated) loads the same, named in errors.
//! let piped = "[[agents]]\nname = \"gemini\"\ntimeout_secs = 10\n";
//! let loaded = Loader::<Config>::new().text("<stdin>", piped).env_source::<_, String, String>([]).load()?;
//! assert_eq!(loaded.explain("agents.0.name").expect("known key").winner.to_string(), "<stdin>:2:1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Types deriving [`JsonSchema`] through this crate's re-export (for crates that do not depend
//! on `schemars` themselves) add `#[schemars(crate = "synod_config::schemars")]` (or
//! `"synod::config::schemars"` through the facade).
//!
//! # Windows and macOS
//!
//! Pure Rust: builds and behaves the same on Windows and macOS (file watching through
//! `notify`: `ReadDirectoryChangesW` on Windows, FSEvents on macOS). One difference: the
//! [`Warning::ReadableSecrets`] warning reads Unix mode bits, so it is never given on Windows,
//! where a file's privacy is its ACL (a file in the user's profile is private to the user,
//! SYSTEM and Administrators).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
mod format;
pub mod loader;
pub mod provenance;
pub mod schema;
pub mod secret;
pub mod watch;

pub use error::{Error, Result, Violation};
pub use loader::{Issue, Loaded, Loader};
pub use provenance::{Explanation, Layer, Warning};
pub use schema::{CompiledSchema, schema};
pub use secret::{REDACTED, Secret};
pub use watch::{ReloadEvent, WatchOptions, Watcher};

/// Re-exported so users can derive [`JsonSchema`] without their own `schemars` dependency.
pub use schemars;
pub use schemars::JsonSchema;
