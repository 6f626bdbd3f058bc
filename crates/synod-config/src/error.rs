//! The crate's error type: every message names the file and line, the environment variable
//! or the override that caused it, and says what to do.
//!
//! ```
//! use synod_config::{Error, Layer, Violation};
//!
//! let err = Error::Invalid {
//!     violations: vec![Violation {
//!         key: "agents.0.timeout".into(),
//!         layer: Some(Layer::Env { var: "SYNOD_AGENTS__0__TIMEOUT".into() }),
//!         message: "\"soon\" is not of type \"integer\"".into(),
//!     }],
//! };
//! assert!(err.to_string().contains("env SYNOD_AGENTS__0__TIMEOUT: agents.0.timeout"));
//! ```

use std::fmt;
use std::io;
use std::path::PathBuf;

use synod_core::{Classify, ErrorClass};

use crate::provenance::Layer;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while loading or watching configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required file does not exist. (A file that may be absent is added with
    /// [`Loader::optional_file`](crate::Loader::optional_file) instead.)
    #[error("config file {} not found: check the path or create the file", path.display())]
    MissingFile {
        /// The file that was expected.
        path: PathBuf,
    },
    /// A file exists but could not be read.
    #[error("cannot read config file {}: {source}; check that it is a readable file", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The watcher saw a watched file empty, which is what a save looks like half-way through
    /// (truncate, then write); the last good configuration stays in use until the file has
    /// content again. (A plain [`Loader::load`](crate::Loader::load) accepts empty files.)
    #[error(
        "config file {} is empty (a save in progress?); keeping the last good configuration",
        path.display()
    )]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The file's extension names no supported format.
    #[error(
        "config file {} has an unsupported extension: use .toml, .yaml, .yml or .json",
        path.display()
    )]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid TOML, YAML or JSON.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem (0 when the parser did not say).
        line: u32,
        /// 1-based column of the problem (0 when the parser did not say).
        column: u32,
        /// What the parser reported.
        message: String,
    },
    /// The merged configuration violates the schema or a semantic validator. Every violation is
    /// listed, each with the layer (file:line:column, env var, override) that set the value.
    #[error("{}", DisplayViolations(violations))]
    Invalid {
        /// All violations, in document order of their keys.
        violations: Vec<Violation>,
    },
    /// An override (`key.path=value`) is malformed or cannot be applied.
    #[error("override `{input}`: {message}")]
    Override {
        /// The override as given.
        input: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file declares a `version` newer than this program understands.
    #[error(
        "{}: config version {found} is newer than the newest this program supports ({supported}): upgrade synod or lower `version`",
        path.display()
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version it declares.
        found: u64,
        /// The newest supported version.
        supported: u64,
    },
    /// A file's `version` is malformed, or a migration step failed or is missing.
    #[error("{}: migrating from config version {from}: {message}", path.display())]
    Migration {
        /// The file.
        path: PathBuf,
        /// The version the failing step started from.
        from: u64,
        /// What went wrong.
        message: String,
    },
    /// The JSON Schema (generated or supplied) could not be compiled.
    #[error("the configuration schema does not compile: {message}")]
    Schema {
        /// The compiler's message.
        message: String,
    },
    /// The validated value could not be turned into the configuration type (or back).
    #[error("cannot convert the configuration: {message}")]
    Convert {
        /// serde's message.
        message: String,
    },
    /// The file watcher could not be started.
    #[error("cannot watch {}: {message}", path.display())]
    Watch {
        /// The directory that could not be watched.
        path: PathBuf,
        /// notify's message.
        message: String,
    },
}

impl Classify for Error {
    fn class(&self) -> ErrorClass {
        match self {
            // A read can fail passingly (EINTR, EAGAIN, a network file system hiccup).
            Error::Io { source, .. } => source.class(),
            // A save in progress, or a watcher hiccup: trying again later can succeed.
            Error::Watch { .. } | Error::EmptyFile { .. } => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }
}

/// One problem with one configuration key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The key, dotted (`agents.0.timeout`); empty for the document root.
    pub key: String,
    /// The layer that set the offending value, when one did.
    pub layer: Option<Layer>,
    /// What is wrong (values of secrets are never included).
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(layer) = &self.layer {
            write!(f, "{layer}: ")?;
        }
        let key = if self.key.is_empty() {
            "(root)"
        } else {
            &self.key
        };
        write!(f, "{key}: {}", self.message)
    }
}

struct DisplayViolations<'a>(&'a [Violation]);

impl fmt::Display for DisplayViolations<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "invalid configuration ({n} problem{}); fix each and reload:",
            if n == 1 { "" } else { "s" }
        )?;
        for v in self.0 {
            write!(f, "\n  {v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_classify_like_io() {
        let err = Error::Io {
            path: "a.toml".into(),
            source: io::Error::from(io::ErrorKind::Interrupted),
        };
        assert_eq!(
            err.class(),
            io::Error::from(io::ErrorKind::Interrupted).class()
        );
        assert_eq!(
            Error::MissingFile { path: "a".into() }.class(),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn invalid_lists_every_violation() {
        let err = Error::Invalid {
            violations: vec![
                Violation {
                    key: "a".into(),
                    layer: Some(Layer::Override),
                    message: "bad".into(),
                },
                Violation {
                    key: String::new(),
                    layer: None,
                    message: "worse".into(),
                },
            ],
        };
        let text = err.to_string();
        assert!(text.contains("2 problems"), "{text}");
        assert!(text.contains("override: a: bad"), "{text}");
        assert!(text.contains("(root): worse"), "{text}");
    }
}
