//! Agent presets in the Orchestrator: inferred from the program's name, unwrapping the real
//! CLIs' JSON envelopes (recorded transcripts of claude and codex replayed by a stand-in
//! program with the CLI's name), their structured errors as the attempt's cause, and the
//! rate-limit floor when a CLI states no retry time.
#![cfg(all(feature = "orchestrator", unix))]

mod replay;

use replay::replay;

use std::path::Path;
use std::time::Duration;

use synod::core::ErrorClass;
use synod::orchestrator::{
    AgentOutcome, AttemptStatus, Orchestrator, Plan, Preset, StageEvent, SynodConfig,
};
use synod::store::Store;

fn orchestrator(dir: &Path, toml_text: &str) -> Orchestrator {
    let config: SynodConfig = toml::from_str(toml_text).unwrap();
    let plan = Plan::new(config, dir).unwrap();
    Orchestrator::with_plan(plan, Store::open_in_memory().unwrap().into_async())
}

#[test]
fn a_preset_alone_is_a_complete_agent_and_the_program_name_picks_the_preset() {
    let config: SynodConfig = toml::from_str(
        "[[agents]]\nname = \"c\"\npreset = \"claude\"\n\n[[agents]]\nname = \"x\"\ncommand = \"/opt/npm/bin/codex\"\n\n[[agents]]\nname = \"s\"\ncommand = \"sh\"\nargs = [\"-c\", \"true\"]\n",
    )
    .unwrap();
    let plan = Plan::new(config, ".").unwrap();
    assert_eq!(plan.agent_preset("c"), Some(Preset::Claude));
    let (program, args) = plan.agent_command("c").unwrap();
    assert_eq!(program, "claude");
    assert_eq!(args, ["-p", "--output-format", "json"]);
    assert_eq!(plan.agent_preset("x"), Some(Preset::Codex));
    assert_eq!(plan.agent_command("x").unwrap().1[0], "exec");
    assert_eq!(plan.agent_preset("s"), Some(Preset::Generic));
    assert_eq!(plan.agent_command("s").unwrap().1, ["-c", "true"]);

    let err = Plan::new(
        toml::from_str("[[agents]]\nname = \"nothing\"\n").unwrap(),
        ".",
    )
    .unwrap_err();
    assert!(err.to_string().contains("preset"), "{err}");
}

#[tokio::test]
async fn the_answer_inside_claude_and_codex_envelopes_reaches_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let claude = replay(&dir.path().join("a"), "claude", "claude-json.ok");
    let codex = replay(&dir.path().join("b"), "codex", "codex-json.ok");
    let orch = orchestrator(
        dir.path(),
        &format!(
            "[[agents]]\nname = \"claude\"\ncommand = \"{}\"\n\n[[agents]]\nname = \"codex\"\ncommand = \"{}\"\n\n[[stages]]\nname = \"s\"\nprompt = \"go\"\n",
            claude.display(),
            codex.display()
        ),
    );
    let report = orch.run_stage("P-1", "s").await.unwrap();
    for agent in ["claude", "codex"] {
        let run = report.agent(agent).unwrap();
        assert_eq!(run.outcome, AgentOutcome::Answered, "{agent}: {run:?}");
        let answer = run.extracted.as_ref().unwrap();
        assert!(
            answer.get("type").is_none() && answer.get("session_id").is_none(),
            "{agent} answered with the CLI's envelope, not the model's answer: {answer}"
        );
    }
}

#[tokio::test]
async fn a_claude_401_is_permanent_with_its_api_error_as_cause_and_attempted_once() {
    let dir = tempfile::tempdir().unwrap();
    let claude = replay(dir.path(), "claude", "claude-json.e401");
    let orch = orchestrator(
        dir.path(),
        &format!(
            "[[agents]]\nname = \"claude\"\ncommand = \"{}\"\nretry = {{ max_attempts = 3, initial_delay = \"10ms\" }}\n\n[[stages]]\nname = \"s\"\n",
            claude.display()
        ),
    );
    let report = orch.run_stage("P-2", "s").await.unwrap();
    let run = report.agent("claude").unwrap();
    assert_eq!(run.outcome, AgentOutcome::Failed);
    assert_eq!(run.attempts.len(), 1, "a permanent failure is not retried");
    let attempt = &run.attempts[0];
    assert_eq!(attempt.status, AttemptStatus::Failed);
    assert_eq!(attempt.class, Some(ErrorClass::Permanent));
    let cause = attempt.error.as_deref().unwrap();
    assert!(
        cause.contains("401") || cause.to_lowercase().contains("api key"),
        "{cause}"
    );
}

#[tokio::test]
async fn an_error_claude_reports_in_its_envelope_fails_the_attempt_even_with_exit_code_zero() {
    let dir = tempfile::tempdir().unwrap();
    let claude = dir.path().join("claude");
    let envelope = r#"{"type":"result","subtype":"success","is_error":true,"api_error_status":401,"result":"Invalid API key · Fix external API key"}"#;
    std::fs::write(
        &claude,
        format!("#!/bin/sh\ncat >/dev/null\necho '{envelope}'\nexit 0\n"),
    )
    .unwrap();
    let executable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
    std::fs::set_permissions(&claude, executable).unwrap();
    let orch = orchestrator(
        dir.path(),
        &format!(
            "[[agents]]\nname = \"claude\"\ncommand = \"{}\"\nretry = {{ max_attempts = 3, initial_delay = \"10ms\" }}\n\n[[stages]]\nname = \"s\"\n",
            claude.display()
        ),
    );
    let report = orch.run_stage("P-2", "s").await.unwrap();
    let run = report.agent("claude").unwrap();
    assert_eq!(run.outcome, AgentOutcome::Failed);
    assert_eq!(run.attempts.len(), 1, "a 401 is not retried");
    let attempt = &run.attempts[0];
    assert_eq!(
        (attempt.status, attempt.exit_code),
        (AttemptStatus::Failed, Some(0))
    );
    let cause = attempt.error.as_deref().unwrap();
    assert!(cause.contains("Invalid API key"), "{cause}");
    // The agent's one-line error leads with the same cause, then says why it stopped.
    let error = run.error.as_deref().unwrap();
    assert!(error.starts_with(&format!("{cause} (")), "{error}");
}

#[tokio::test]
async fn a_rate_limit_without_a_stated_time_waits_the_floor_not_the_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let codex = replay(dir.path(), "codex", "codex-json.e429");
    let orch = orchestrator(
        dir.path(),
        &format!(
            "[[agents]]\nname = \"codex\"\ncommand = \"{}\"\nrate_limit_floor = \"300ms\"\nretry = {{ max_attempts = 2, initial_delay = \"1ms\", max_delay = \"1s\", jitter = \"none\" }}\n\n[[stages]]\nname = \"s\"\n",
            codex.display()
        ),
    );
    let mut events = orch.subscribe();
    let report = orch.run_stage("P-3", "s").await.unwrap();
    let run = report.agent("codex").unwrap();
    assert_eq!(run.attempts.len(), 2, "{run:?}");
    assert!(
        matches!(run.attempts[0].class, Some(ErrorClass::RateLimited { .. })),
        "{run:?}"
    );
    let mut delay = None;
    while let Ok(event) = events.try_recv() {
        if let StageEvent::AgentRetrying { delay: d, .. } = event {
            delay = Some(d);
        }
    }
    assert!(
        delay.is_some_and(|d| d >= Duration::from_millis(300)),
        "waited {delay:?}, not the 300ms floor"
    );
}

#[tokio::test]
async fn gemini_gets_a_private_settings_file_that_turns_its_own_retries_off() {
    let dir = tempfile::tempdir().unwrap();
    let orch = orchestrator(
        dir.path(),
        r#"
[[agents]]
name = "g"
preset = "gemini"
command = "sh"
args = ['-c', '''cat >/dev/null; f="$GEMINI_CLI_SYSTEM_SETTINGS_PATH"; test -n "$f" && grep -q '"maxAttempts": 1' "$f" && test "$(stat -c %a "${f%/*}")" = 700 && echo '{"response": "{\"settings\": \"private\"}"}' ''']

[[stages]]
name = "s"
"#,
    );
    let report = orch.run_stage("P-4", "s").await.unwrap();
    let run = report.agent("g").unwrap();
    assert_eq!(run.outcome, AgentOutcome::Answered, "{run:?}");
    assert_eq!(run.extracted.as_ref().unwrap()["settings"], "private");
}
