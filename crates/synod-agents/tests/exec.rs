//! [`Preset::classify`] on the errors synod-exec reports for real child processes: a
//! non-zero exit is read with the preset's parser (the cause from the CLI's structured
//! error), anything else keeps synod-exec's class and message.
#![cfg(unix)]

use std::path::PathBuf;
use std::time::Duration;

use synod_agents::Preset;
use synod_core::ErrorClass;
use synod_exec::{AgentCommand, run};

fn transcript(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(name)
}

/// `sh` replaying a transcript: its stdout and stderr files, then its exit code.
fn replay(name: &str) -> AgentCommand {
    let file = |ext: &str| transcript(&format!("{name}.{ext}")).display().to_string();
    let exit = std::fs::read_to_string(file("exit")).unwrap();
    AgentCommand::new("sh").args([
        "-c".to_owned(),
        format!("cat \"$0\"; cat \"$1\" >&2; exit {}", exit.trim()),
        file("stdout"),
        file("stderr"),
    ])
}

#[tokio::test(flavor = "current_thread")]
async fn a_gemini_401_exit_reads_the_error_json_on_stderr() {
    let err = run(&replay("gemini-json.e401")).await.unwrap_err();
    assert!(
        matches!(err, synod_exec::Error::NonZeroExit { code: 145, .. }),
        "{err}"
    );
    let f = Preset::Gemini.classify(&err);
    assert_eq!(f.class, ErrorClass::Permanent);
    assert_eq!(
        f.cause,
        "gemini: API error 401 UNAUTHENTICATED: API key not valid. Please pass a valid API key."
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_codex_429_exit_is_rate_limited_without_a_stated_wait() {
    let err = run(&replay("codex-text.e429")).await.unwrap_err();
    let f = Preset::Codex.classify(&err);
    assert_eq!(f.class, ErrorClass::RateLimited { retry_after: None });
    assert_eq!(
        f.cause,
        "codex: exceeded retry limit, last status: 429 Too Many Requests"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_successful_claude_run_is_parsed_from_its_output() {
    let out = run(&replay("claude-stream.ok")).await.unwrap();
    let reply = Preset::Claude
        .parse_success(&out.stdout_lossy(), &out.stderr_lossy())
        .unwrap();
    assert_eq!(reply.extract().unwrap()["score"], 7);
}

#[tokio::test(flavor = "current_thread")]
async fn a_missing_program_and_a_timeout_keep_synod_execs_class_and_message() {
    let err = run(&AgentCommand::new("/nonexistent/claude"))
        .await
        .unwrap_err();
    let f = Preset::infer("/nonexistent/claude").classify(&err);
    assert_eq!(f.class, ErrorClass::Permanent);
    assert!(
        f.cause.contains("/nonexistent/claude") && f.cause.contains("not found"),
        "{}",
        f.cause
    );

    let err = run(&AgentCommand::new("sleep")
        .arg("30")
        .timeout(Duration::from_millis(200)))
    .await
    .unwrap_err();
    let f = Preset::Codex.classify(&err);
    assert_eq!(f.class, ErrorClass::Transient);
    assert!(f.cause.contains("timed out"), "{}", f.cause);
}
