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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_id_may_be_exactly_the_longest_and_not_a_byte_longer() {
        assert!(check_spec_id(&"x".repeat(MAX_SPEC_ID_LEN)).is_ok());
        let err = check_spec_id(&"x".repeat(MAX_SPEC_ID_LEN + 1)).unwrap_err();
        assert!(err.to_string().contains("longer than 200 bytes"), "{err}");
        for bad in ["", " ", "A\nB", "A\u{7}B"] {
            assert!(
                matches!(check_spec_id(bad), Err(Error::InvalidSpecId { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn only_a_blank_prompt_given_is_refused() {
        assert!(check_prompt("plan", None).is_ok());
        assert!(check_prompt("plan", Some("Plan it.")).is_ok());
        assert!(matches!(
            check_prompt("plan", Some(" \n")),
            Err(Error::EmptyPrompt { stage }) if stage == "plan"
        ));
    }
}
