//! The fallback for any failure without a structured error: the meaningful line of the
//! output (stderr first), classified by synod-exec's default rules.

use synod_core::ErrorClass;

use crate::text;
use crate::{Failure, Preset};

pub(crate) fn parse_failure(
    preset: Preset,
    stdout: &str,
    stderr: &str,
    exit_code: Option<i32>,
) -> Failure {
    let line = text::cause_line(stderr).or_else(|| text::cause_line(stdout));
    let program = preset_program(preset);
    match line {
        Some(line) => {
            let class = match text::http_status_in(line) {
                Some(status) => text::status_class(status, text::retry_after_in(line)),
                None => text::classify_text(line),
            };
            // A preset names its CLI; any other program's line is only worth its exit code.
            let cause = match (preset, exit_code) {
                (Preset::Generic, Some(code)) => format!("exited with code {code}: {line}"),
                _ => format!("{program}: {line}"),
            };
            Failure::new(class, cause)
        }
        None => {
            let how = exit_code.map_or_else(
                || "was stopped".to_owned(),
                |code| format!("exited with code {code}"),
            );
            Failure::new(
                ErrorClass::Transient,
                format!("{program} {how} without saying why"),
            )
        }
    }
}

fn preset_program(preset: Preset) -> &'static str {
    match preset {
        Preset::Generic => "agent",
        other => other.name(),
    }
}
