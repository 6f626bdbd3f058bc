//! The crate's error type.

/// What can go wrong with synod-core's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A duration could not be read.
    #[error(
        "invalid duration {text:?}: {why}; write a number and a unit, e.g. \"250ms\", \"90s\", \"1m30s\", \"2h\" or \"30d\""
    )]
    InvalidDuration {
        /// The text that was given.
        text: String,
        /// What is wrong with it.
        why: String,
    },
}

/// `Result` with synod-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl crate::Classify for Error {
    fn class(&self) -> crate::ErrorClass {
        crate::ErrorClass::Permanent
    }
}
