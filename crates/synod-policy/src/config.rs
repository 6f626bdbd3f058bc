//! One configuration for the whole policy layer, read from `.synod/policy.json`.
//!
//! Every section and key is optional; a missing file means the defaults (commitlint
//! config-conventional rules, no pre-commit checks, push checks on `refs/heads/**` and
//! `refs/tags/**` with deletion refused, no doc rules, inputs up to 1 MiB).
//!
//! This module is pure (no git, no processes, no tokio) and is available without the `hooks`
//! feature, so the pre-commit and push sections ([`ChecksConfig`], [`CheckSpec`],
//! [`PushConfig`]) are defined here; they are also re-exported where they are used
//! (`checks::ChecksConfig`, `receive::PushConfig`) when `hooks` is on.
//!
//! ```
//! use synod_policy::PolicyConfig;
//!
//! let config = PolicyConfig::from_json(r##"{
//!     "max-input-bytes": 65536,
//!     "commit": { "forbidden-words": ["AI"], "header-max-length": 72 },
//!     "checks": { "budget-secs": 60, "checks": [
//!         { "name": "fmt", "command": "cargo", "args": ["fmt", "--check"], "files": "**/*.rs" }
//!     ] },
//!     "push": { "protected": ["refs/heads/main"], "allow-deletion": true },
//!     "docs": [ { "folders": "docs/SPEC-*", "files": [ { "name": "spec.md", "first-heading": "# Spec" } ] } ]
//! }"##, "inline").unwrap();
//! assert_eq!(config.max_input_bytes, 65536);
//! assert_eq!(PolicyConfig::default().max_input_bytes, 1024 * 1024);
//! assert_eq!(config.commit.header_max_length, 72);
//! assert_eq!(config.checks.checks[0].name, "fmt");
//! assert!(config.push.allow_deletion);
//! assert!(PolicyConfig::from_json(r#"{"comit": {}}"#, "inline").is_err());
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::docs::DocRule;
use crate::input::{DEFAULT_MAX_INPUT_BYTES, read_limited, too_large};
use crate::rules::CommitRules;
use crate::{Error, Result, io_err};

/// Where [`PolicyConfig::load`] looks, relative to the repository root.
pub const DEFAULT_PATH: &str = ".synod/policy.json";

/// The largest policy configuration file read (1 MiB, not configurable).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The policy layer's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyConfig {
    /// The most bytes read from any one input: a message file, stdin, a pushed commit's
    /// message, a checked document (`max-input-bytes`, default 1 MiB, at least 1).
    pub max_input_bytes: u64,
    /// Commit message rules.
    pub commit: CommitRules,
    /// Pre-commit checks.
    pub checks: ChecksConfig,
    /// Pre-receive / pre-push rules.
    pub push: PushConfig,
    /// Documentation structure rules.
    pub docs: Vec<DocRule>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            commit: CommitRules::default(),
            checks: ChecksConfig::default(),
            push: PushConfig::default(),
            docs: Vec::new(),
        }
    }
}

impl PolicyConfig {
    /// Parses JSON; `source_name` names the origin in errors.
    ///
    /// # Errors
    /// [`Error::Config`] with serde's message (it names the key, line and column).
    pub fn from_json(text: &str, source_name: &str) -> Result<Self> {
        let config: Self = serde_json::from_str(text).map_err(|e| Error::Config {
            source_name: source_name.to_owned(),
            message: e.to_string(),
        })?;
        if config.max_input_bytes == 0 {
            return Err(Error::Config {
                source_name: source_name.to_owned(),
                message: "max-input-bytes must be at least 1 (the default is 1048576, 1 MiB)"
                    .to_owned(),
            });
        }
        config.commit.validate().map_err(|e| match e {
            Error::Config { message, .. } => Error::Config {
                source_name: source_name.to_owned(),
                message,
            },
            other => other,
        })?;
        Ok(config)
    }

    /// Reads `path` (at most [`MAX_CONFIG_BYTES`]).
    ///
    /// # Errors
    /// [`Error::Io`] when unreadable, [`Error::TooLarge`] when bigger than
    /// [`MAX_CONFIG_BYTES`], [`Error::Config`] when invalid.
    pub fn from_file(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(io_err("open", path))?;
        let bytes = read_limited(file, MAX_CONFIG_BYTES, path).map_err(|e| match e {
            Error::TooLarge {
                source_name, limit, ..
            } => too_large(
                &source_name,
                limit,
                "a policy configuration is never that big; check that --config or \
                 $SYNOD_POLICY_CONFIG names the right file",
            ),
            other => other,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| Error::Config {
            source_name: path.display().to_string(),
            message: format!(
                "not UTF-8 text (invalid byte at offset {}); save it as UTF-8 JSON",
                e.utf8_error().valid_up_to()
            ),
        })?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// Reads `<root>/.synod/policy.json` when it exists, else returns the defaults.
    ///
    /// # Errors
    /// As [`PolicyConfig::from_file`].
    pub fn load(root: &Path) -> Result<Self> {
        let path: PathBuf = root.join(DEFAULT_PATH);
        if path.is_file() {
            Self::from_file(&path)
        } else {
            Ok(Self::default())
        }
    }
}

/// One configured check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CheckSpec {
    /// Short name shown in the summary.
    pub name: String,
    /// The program.
    pub command: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Per-check timeout in seconds (capped by the overall budget).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Run only when a staged file matches this glob.
    #[serde(default)]
    pub files: Option<String>,
}

impl CheckSpec {
    /// A check without timeout or file filter.
    #[must_use]
    pub fn new(name: &str, command: &str, args: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            command: command.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            timeout_secs: None,
            files: None,
        }
    }
}

/// The pre-commit configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ChecksConfig {
    /// The checks, shown in this order.
    pub checks: Vec<CheckSpec>,
    /// Overall time budget in seconds: checks still running then are stopped.
    pub budget_secs: u64,
    /// How many checks run at once (default: available parallelism).
    pub max_parallel: Option<usize>,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        Self {
            checks: Vec::new(),
            budget_secs: 300,
            max_parallel: None,
        }
    }
}

/// Push rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct PushConfig {
    /// Ref globs whose new commits are checked (and whose deletion may be refused).
    pub protected: Vec<String>,
    /// Whether deleting a protected ref is allowed.
    pub allow_deletion: bool,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            protected: vec!["refs/heads/**".into(), "refs/tags/**".into()],
            allow_deletion: false,
        }
    }
}
