//! One configuration for the whole policy layer, read from `.synod/policy.json`.
//!
//! Every section and key is optional; a missing file means the defaults (commitlint
//! config-conventional rules, no pre-commit checks, push checks on `refs/heads/**` and
//! `refs/tags/**` with deletion refused, no doc rules).
//!
//! ```
//! use synod_policy::PolicyConfig;
//!
//! let config = PolicyConfig::from_json(r##"{
//!     "commit": { "forbidden-words": ["AI"], "header-max-length": 72 },
//!     "checks": { "budget-secs": 60, "checks": [
//!         { "name": "fmt", "command": "cargo", "args": ["fmt", "--check"], "files": "**/*.rs" }
//!     ] },
//!     "push": { "protected": ["refs/heads/main"], "allow-deletion": true },
//!     "docs": [ { "folders": "docs/SPEC-*", "files": [ { "name": "spec.md", "first-heading": "# Spec" } ] } ]
//! }"##, "inline").unwrap();
//! assert_eq!(config.commit.header_max_length, 72);
//! assert_eq!(config.checks.checks[0].name, "fmt");
//! assert!(config.push.allow_deletion);
//! assert!(PolicyConfig::from_json(r#"{"comit": {}}"#, "inline").is_err());
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checks::ChecksConfig;
use crate::docs::DocRule;
use crate::receive::PushConfig;
use crate::rules::CommitRules;
use crate::{Error, Result, io_err};

/// Where [`PolicyConfig::load`] looks, relative to the repository root.
pub const DEFAULT_PATH: &str = ".synod/policy.json";

/// The policy layer's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyConfig {
    /// Commit message rules.
    pub commit: CommitRules,
    /// Pre-commit checks.
    pub checks: ChecksConfig,
    /// Pre-receive / pre-push rules.
    pub push: PushConfig,
    /// Documentation structure rules.
    pub docs: Vec<DocRule>,
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
        config.commit.validate().map_err(|e| match e {
            Error::Config { message, .. } => Error::Config {
                source_name: source_name.to_owned(),
                message,
            },
            other => other,
        })?;
        Ok(config)
    }

    /// Reads `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when unreadable, [`Error::Config`] when invalid.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(io_err("read", path))?;
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
