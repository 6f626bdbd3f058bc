//! What a caller passes in to start a stage: the spec id (the key of every run, job and
//! verdict in the store) and a prompt to use instead of the stage's own.

use super::error::{Error, Result};

/// The longest spec id, in bytes.
pub const MAX_SPEC_ID_LEN: usize = 200;

/// Checks that `spec_id` can name a spec's runs: not empty or only whitespace, at most
/// [`MAX_SPEC_ID_LEN`] bytes, no control characters (a newline would split the id across
/// the lines of `synod history` and the logs). Every stage run checks it before anything
/// starts; call it to refuse an id early, e.g. before queueing a job.
///
/// ```
/// use synod::orchestrator::{Error, check_spec_id};
///
/// assert!(check_spec_id("PROJ-123").is_ok());
/// assert!(matches!(check_spec_id(" "), Err(Error::InvalidSpecId { .. })));
/// ```
pub fn check_spec_id(spec_id: &str) -> Result<()> {
    let reason = if spec_id.trim().is_empty() {
        "it is empty"
    } else if spec_id.len() > MAX_SPEC_ID_LEN {
        "it is longer than 200 bytes"
    } else if spec_id.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(Error::InvalidSpecId {
        spec_id: spec_id.to_owned(),
        reason,
    })
}

/// Checks a prompt passed in to replace `stage`'s own: `None` (use the stage's) is fine, text
/// that is empty or only whitespace (an unset shell variable, an empty file) is refused, since
/// the agents would get nothing to work on. Every stage run checks it before anything starts;
/// call it to refuse a prompt early, e.g. before queueing a job.
///
/// ```
/// use synod::orchestrator::{Error, check_prompt};
///
/// assert!(check_prompt("plan", None).is_ok());
/// assert!(check_prompt("plan", Some("Plan PROJ-1.")).is_ok());
/// assert!(matches!(check_prompt("plan", Some(" \n")), Err(Error::EmptyPrompt { .. })));
/// ```
pub fn check_prompt(stage: &str, prompt: Option<&str>) -> Result<()> {
    if prompt.is_some_and(|given| given.trim().is_empty()) {
        return Err(Error::EmptyPrompt {
            stage: stage.to_owned(),
        });
    }
    Ok(())
}
