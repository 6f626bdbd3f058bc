//! The orchestrator's error type.

use std::path::PathBuf;

use synod_core::{Classify, ErrorClass};

/// Everything that can stop a stage from running at all. (Agent failures are not errors:
/// they are reported per agent in the [`StageReport`](super::StageReport).)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is inconsistent.
    #[error("invalid config at `{key}`: {message}")]
    InvalidConfig {
        /// Dotted key of the offending value, e.g. `agents.1.retry.max_attempts`.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The stage asked for is not in the config.
    #[error("unknown stage {stage:?}; {}", defined_stages(known))]
    UnknownStage {
        /// The stage asked for.
        stage: String,
        /// The stages the config defines.
        known: String,
    },
    /// The prompt passed in to replace the stage's own is blank (an unset shell variable, an
    /// empty file): the agents would get nothing to work on.
    #[error(
        "the prompt given for stage {stage:?} is empty; pass the prompt text, or leave the prompt out to use the stage's own"
    )]
    EmptyPrompt {
        /// The stage.
        stage: String,
    },
    /// A spec id that cannot name a run: empty, too long, or with control characters.
    #[error("invalid spec id {spec_id:?}: {reason}; name the spec like PROJ-123")]
    InvalidSpecId {
        /// The id as given.
        spec_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Loading `synod.toml` failed.
    #[error("cannot load the config")]
    Config(#[from] synod_config::Error),
    /// The evidence store failed.
    #[error("evidence store")]
    Store(#[from] synod_store::Error),
    /// The stage ran but the store refused to record it (disk full, read-only, busy past the
    /// timeout); its run, outputs and verdict were written to `path` instead.
    #[error(
        "the stage ran but could not be stored; its outputs and verdict are kept in {}",
        path.display()
    )]
    NotRecorded {
        /// The JSON file holding the run, every attempt's output and the verdict.
        path: PathBuf,
        /// Why the store refused.
        #[source]
        source: Box<synod_store::Error>,
    },
    /// A prompt file could not be read.
    #[error("cannot read prompt file {path}")]
    PromptFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An internal task ended abnormally (a bug); the message says which.
    #[error("internal error: {0}")]
    Internal(String),
}

/// `Result` with the orchestrator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Classify for Error {
    fn class(&self) -> ErrorClass {
        match self {
            Error::Store(e) => e.class(),
            Error::NotRecorded { source, .. } => source.class(),
            _ => ErrorClass::Permanent,
        }
    }
}

/// What [`Error::UnknownStage`] says the config has.
fn defined_stages(known: &str) -> String {
    if known.is_empty() {
        "the config defines no stages: add a [[stages]] table (`synod init` writes a starter synod.toml)".to_owned()
    } else {
        format!("the config defines: {known}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_failures_keep_their_class_and_the_rest_are_permanent() {
        let busy = || synod_store::Error::Busy {
            operation: "record_stage",
            timeout: None,
        };
        assert_eq!(Error::Store(busy()).class(), ErrorClass::Transient);
        let kept = Error::NotRecorded {
            path: PathBuf::from("unsaved/S-1.json"),
            source: Box::new(busy()),
        };
        assert_eq!(kept.class(), ErrorClass::Transient);
        assert_eq!(Error::Internal("x".into()).class(), ErrorClass::Permanent);
    }

    #[test]
    fn an_unknown_stage_lists_the_stages_or_says_how_to_add_one() {
        let unknown = |known: &str| {
            Error::UnknownStage {
                stage: "review".into(),
                known: known.into(),
            }
            .to_string()
        };
        assert_eq!(
            unknown("plan, build"),
            "unknown stage \"review\"; the config defines: plan, build"
        );
        assert!(
            unknown("").ends_with("the config defines no stages: add a [[stages]] table (`synod init` writes a starter synod.toml)"),
            "{}",
            unknown("")
        );
    }
}
