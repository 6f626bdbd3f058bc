//! The Orchestrator against real child processes and a real SQLite file.
#![cfg(feature = "orchestrator")]

use std::time::{Duration, Instant};

use synod::orchestrator::{
    AgentOutcome, AttemptStatus, Error, Orchestrator, Plan, Preset, StageEvent, StageStatus,
    SynodConfig,
};
use synod::resilience::BreakerState;
use synod::store::{Options, Store};
use tokio::sync::broadcast::Receiver;
use tokio_util::sync::CancellationToken;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn script(&self, name: &str, body: &str) {
        std::fs::write(self.dir.path().join(name), format!("#!/bin/sh\n{body}\n")).unwrap();
    }

    fn store(&self) -> Store {
        Store::open(self.dir.path().join("synod.db"), Options::default()).unwrap()
    }

    fn plan(&self, toml_text: &str) -> Result<Plan, Error> {
        let config: SynodConfig = toml::from_str(toml_text).unwrap();
        Plan::new(config, self.dir.path())
    }

    fn orchestrator(&self, toml_text: &str) -> Orchestrator {
        Orchestrator::with_plan(self.plan(toml_text).unwrap(), self.store().into_async())
    }
}

/// Every event until the orchestrator is gone.
async fn drain(mut rx: Receiver<StageEvent>) -> Vec<StageEvent> {
    let mut events = Vec::new();
    while let Ok(e) = rx.recv().await {
        events.push(e);
    }
    events
}

const ANSWER: &str = "cat >/dev/null; echo 'Sure.'; echo '```json'; echo \"{\\\"approach\\\": \\\"$1\\\"}\"; echo '```'";

fn agent(name: &str, script: &str, extra: &str) -> String {
    let timeout = if extra.contains("timeout =") {
        ""
    } else {
        "timeout = \"20s\"\n"
    };
    format!(
        "[[agents]]\nname = \"{name}\"\ncommand = \"sh\"\nargs = [\"{script}\", \"incremental\"]\n{timeout}kill_grace = \"200ms\"\n{extra}\n\n"
    )
}

#[tokio::test]
async fn events_arrive_in_order_and_everything_is_stored() {
    let fx = Fixture::new();
    fx.script("answer.sh", ANSWER);
    let orch = fx.orchestrator(&format!(
        "{}{}[[stages]]\nname = \"plan\"\nprompt = \"go\"\nconsensus = {{ decision_fields = [\"/approach\"] }}\n",
        agent("a", "answer.sh", ""),
        agent("b", "answer.sh", "")
    ));
    let rx = orch.subscribe();
    let report = orch.run_stage("S-1", "plan").await.unwrap();
    assert_eq!(report.status, StageStatus::Ok);
    assert_eq!(report.exit_code(), 0);
    assert_eq!(
        report.agent("a").unwrap().extracted.as_ref().unwrap()["approach"],
        "incremental"
    );
    drop(orch);

    let events = drain(rx).await;
    assert!(matches!(&events[0], StageEvent::StageStarted { agents, .. } if agents == &["a", "b"]));
    assert!(matches!(
        events.last(),
        Some(StageEvent::VerdictReady {
            status: StageStatus::Ok,
            run_id: Some(_)
        })
    ));
    for name in ["a", "b"] {
        let mine: Vec<&StageEvent> = events.iter().filter(|e| e.agent() == Some(name)).collect();
        assert!(
            matches!(mine[0], StageEvent::AgentStarted { attempt: 1, .. }),
            "{mine:?}"
        );
        assert!(
            matches!(
                mine[1],
                StageEvent::AttemptFinished {
                    attempt: 1,
                    status: AttemptStatus::Ok,
                    exit_code: Some(0),
                    class: None,
                    ..
                }
            ),
            "{mine:?}"
        );
        assert!(matches!(
            mine.last(),
            Some(StageEvent::AgentFinished {
                outcome: AgentOutcome::Answered,
                attempts: 1,
                ..
            })
        ));
    }

    // The run, its outputs, the verdict and the spec's stage, stored together.
    let store = fx.store();
    let run = store.latest_verdict("S-1", "plan").unwrap().unwrap();
    assert_eq!(Some(run.id), report.run_id);
    assert_eq!(
        report.agent("a").unwrap().attempts[0].status,
        AttemptStatus::Ok
    );
    assert_eq!(run.status, "ok");
    assert_eq!(run.verdict["status"], "ok");
    assert_eq!(store.outputs_for_run(run.id).unwrap().len(), 2);
    assert_eq!(store.spec("S-1").unwrap().unwrap().stage, "plan");
    // Every spawned process was tracked and completed.
    let executions = store.executions_for_run(run.id).unwrap();
    assert_eq!(executions.len(), 2);
    assert!(executions.iter().all(|e| e.completed_at.is_some()));
    assert!(store.unfinished_executions().unwrap().is_empty());
}

#[tokio::test]
async fn an_open_breaker_skips_the_agent_on_the_next_run() {
    let fx = Fixture::new();
    fx.script("answer.sh", ANSWER);
    fx.script("down.sh", "echo 'HTTP 503 service unavailable' >&2; exit 1");
    let orch = fx.orchestrator(&format!(
        "[breaker]\nwindow_size = 2\nminimum_calls = 2\nfailure_rate_threshold = 50\nwait_in_open = \"10m\"\nmax_wait_in_open = \"10m\"\n\n{}{}{}[[stages]]\nname = \"s\"\n",
        agent("a", "answer.sh", ""),
        agent("b", "answer.sh", ""),
        agent("down", "down.sh", "retry = { max_attempts = 2, initial_delay = \"10ms\", jitter = \"none\" }"),
    ));
    let first = orch.run_stage("S-2", "s").await.unwrap();
    let down = first.agent("down").unwrap();
    assert_eq!(down.outcome, AgentOutcome::Failed);
    assert_eq!(down.attempts.len(), 2);
    assert_eq!(orch.breaker_state("down"), Some(BreakerState::Open));
    assert_eq!(orch.breaker_state("a"), Some(BreakerState::Closed));

    let second = orch.run_stage("S-2", "s").await.unwrap();
    let down = second.agent("down").unwrap();
    assert_eq!(down.outcome, AgentOutcome::Skipped);
    assert!(down.attempts.is_empty());
    assert!(down.error.as_deref().unwrap().contains("circuit breaker"));
    assert_eq!(second.status, StageStatus::Degraded);
    // The skip is part of the evidence.
    let outputs = fx.store().outputs_for_run(second.run_id.unwrap()).unwrap();
    let skipped: Vec<_> = outputs.iter().filter(|o| o.agent == "down").collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].status, "skipped");
    assert_eq!(skipped[0].attempt, 0, "not attempted");
    assert_eq!(skipped[0].error, down.error, "the skip keeps its reason");
    // The parallel stage wrote its agents' execution rows at once, before they started: the
    // skipped agent's row is completed as never started, so none is left behind as a crash.
    let store = fx.store();
    let outcomes = |run_id| {
        let mut rows: Vec<(String, Option<String>)> = store
            .executions_for_run(run_id)
            .unwrap()
            .into_iter()
            .map(|e| (e.agent, e.outcome))
            .collect();
        rows.sort();
        rows
    };
    let some = |agent: &str, outcome: &str| (agent.to_owned(), Some(outcome.to_owned()));
    assert_eq!(
        outcomes(first.run_id.unwrap()),
        [
            some("a", "ok"),
            some("b", "ok"),
            some("down", "failed"),
            some("down", "failed")
        ]
    );
    assert_eq!(
        outcomes(second.run_id.unwrap()),
        [
            some("a", "ok"),
            some("b", "ok"),
            some("down", "not_started")
        ]
    );
    assert!(store.unfinished_executions().unwrap().is_empty());
}

#[tokio::test]
async fn a_breaker_that_opens_between_attempts_ends_the_retries_with_one_row_per_attempt() {
    let fx = Fixture::new();
    fx.script("down.sh", "echo 'HTTP 503 service unavailable' >&2; exit 1");
    let orch = fx.orchestrator(&format!(
        "[breaker]\nwindow_size = 1\nminimum_calls = 1\nfailure_rate_threshold = 50\nwait_in_open = \"10m\"\nmax_wait_in_open = \"10m\"\n\n{}[[stages]]\nname = \"s\"\n",
        agent("down", "down.sh", "retry = { max_attempts = 3, initial_delay = \"10ms\", jitter = \"none\" }"),
    ));
    let report = orch.run_stage("S-2", "s").await.unwrap();
    let down = report.agent("down").unwrap();
    assert_eq!(down.outcome, AgentOutcome::Skipped, "{down:?}");
    assert_eq!(
        down.attempts.len(),
        1,
        "the breaker refused the second attempt"
    );
    // The evidence holds the one attempt that ran, and no "not attempted" row besides it.
    let outputs = fx.store().outputs_for_run(report.run_id.unwrap()).unwrap();
    let rows: Vec<(u32, &str)> = outputs
        .iter()
        .map(|o| (o.attempt, o.status.as_str()))
        .collect();
    assert_eq!(rows, [(1, "failed")]);
}

#[tokio::test]
async fn agents_that_disagree_on_a_decision_are_a_conflict() {
    let fx = Fixture::new();
    fx.script("answer.sh", ANSWER);
    fx.script(
        "other.sh",
        "cat >/dev/null; echo '{\"approach\": \"rewrite\"}'",
    );
    let orch = fx.orchestrator(&format!(
        "{}{}[[stages]]\nname = \"plan\"\nprompt = \"go\"\nconsensus = {{ decision_fields = [\"/approach\"], quorum = \"all\" }}\n",
        agent("a", "answer.sh", ""),
        agent("b", "other.sh", "")
    ));
    let report = orch.run_stage("S-1", "plan").await.unwrap();
    assert_eq!(report.status, StageStatus::Conflict);
    assert_eq!(report.exit_code(), 1);
    let run = fx.store().latest_verdict("S-1", "plan").unwrap().unwrap();
    assert_eq!(run.status, "conflict");
}

#[tokio::test]
async fn each_attempt_sees_its_own_number_and_its_time_is_measured() {
    let fx = Fixture::new();
    // Fails until its third attempt; logs the number each attempt was given.
    fx.script(
        "third.sh",
        &format!(
            "cat >/dev/null; echo \"$1 $SYNOD_ATTEMPT\" >> '{log}'; sleep 0.05; [ \"$1\" = 3 ] || {{ echo 'HTTP 503' >&2; exit 1; }}; echo '{{\"n\": 3}}'",
            log = fx.dir.path().join("attempts.log").display()
        ),
    );
    let orch = fx.orchestrator(
        "[[agents]]\nname = \"x\"\ncommand = \"sh\"\nargs = [\"third.sh\", \"{attempt}\"]\nretry = { max_attempts = 3, initial_delay = \"5ms\", jitter = \"none\" }\n\n[[stages]]\nname = \"st\"\n",
    );
    let report = orch.run_stage("S-1", "st").await.unwrap();
    let x = report.agent("x").unwrap();
    assert_eq!(x.outcome, AgentOutcome::Answered);
    let log = std::fs::read_to_string(fx.dir.path().join("attempts.log")).unwrap();
    assert_eq!(log, "1 1\n2 2\n3 3\n");
    // Each attempt slept 50 ms; the agent's time covers all three.
    assert!(x.attempts.iter().all(|a| a.duration_ms >= 50), "{x:?}");
    assert!(x.duration_ms >= 150, "{x:?}");
}

#[tokio::test]
async fn the_shared_retry_budget_limits_retries_across_agents() {
    let fx = Fixture::new();
    fx.script("answer.sh", ANSWER);
    fx.script("flaky.sh", "echo 'connection reset by peer' >&2; exit 1");
    let retry = "retry = { max_attempts = 4, initial_delay = \"5ms\", jitter = \"none\" }";
    let orch = fx.orchestrator(&format!(
        "[budget]\ncapacity = 5\nretry_cost = 5\n\n{}{}{}[[stages]]\nname = \"s\"\nmode = \"sequential\"\n",
        agent("first", "flaky.sh", retry),
        agent("second", "flaky.sh", retry),
        agent("ok", "answer.sh", ""),
    ));
    assert_eq!(
        orch.budget_available(),
        Some(5),
        "a full bucket before the run"
    );
    assert_eq!(
        orch.config().budget.settings.capacity,
        5,
        "the orchestrator keeps the config it was built from"
    );
    let report = orch.run_stage("S-3", "s").await.unwrap();
    // One retry fits in the bucket; after that nobody retries.
    assert_eq!(report.agent("first").unwrap().attempts.len(), 2);
    assert_eq!(report.agent("second").unwrap().attempts.len(), 1);
    assert!(
        report
            .agent("second")
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("budget")
    );
    // The agent that answered at once put its success reward back.
    assert_eq!(orch.budget_available(), Some(1));
}

#[tokio::test]
async fn sequential_mode_feeds_earlier_answers_forward() {
    let fx = Fixture::new();
    fx.script("answer.sh", ANSWER);
    // Echoes its prompt, which is a JSON object built around {previous_outputs}.
    fx.script("echo.sh", "cat");
    let orch = fx.orchestrator(&format!(
        "{}{}[[stages]]\nname = \"s\"\nmode = \"sequential\"\nagents = [\"first\", \"echo\"]\nprompt = '{{\"seen\": {{previous_outputs}}, \"spec\": \"{{spec_id}}\"}}'\n",
        agent("first", "answer.sh", ""),
        agent("echo", "echo.sh", ""),
    ));
    let report = orch.run_stage("S-4", "s").await.unwrap();
    let seen = report.agent("echo").unwrap().extracted.clone().unwrap();
    assert_eq!(seen["spec"], "S-4");
    assert_eq!(seen["seen"][0]["agent"], "first");
    assert_eq!(seen["seen"][0]["output"]["approach"], "incremental");
}

#[tokio::test]
async fn prompt_as_argument_placeholders_and_agent_environment() {
    let fx = Fixture::new();
    fx.script(
        "args.sh",
        "printf '{\"prompt\": \"%s\", \"spec\": \"%s\", \"stage\": \"%s\", \"attempt\": \"%s\", \"extra\": \"%s\"}\\n' \"$1\" \"$SYNOD_SPEC_ID\" \"$SYNOD_STAGE\" \"$SYNOD_ATTEMPT\" \"$EXTRA\"",
    );
    let orch = fx
        .orchestrator(
            "[[agents]]\nname = \"x\"\ncommand = \"sh\"\nargs = [\"args.sh\", \"{prompt}\"]\nprompt_via = \"arg\"\nenv = { EXTRA = \"for {spec_id}\" }\n\n[[stages]]\nname = \"st\"\nprompt = \"do {stage}\"\n",
        )
        .agent_env("IGNORED_BY_SCRIPT", "1");
    let report = orch.run_stage("S-5", "st").await.unwrap();
    let got = report.agent("x").unwrap().extracted.clone().unwrap();
    assert_eq!(got["prompt"], "do st");
    assert_eq!(got["spec"], "S-5");
    assert_eq!(got["stage"], "st");
    assert_eq!(got["attempt"], "1");
    assert_eq!(got["extra"], "for S-5");
}

#[tokio::test]
async fn a_prompt_too_long_for_the_command_line_is_not_started_and_not_retried() {
    let fx = Fixture::new();
    fx.script("args.sh", "echo '{\"approach\": \"incremental\"}'");
    let orch = fx.orchestrator(
        "[[agents]]\nname = \"x\"\ncommand = \"sh\"\nargs = [\"args.sh\", \"{prompt}\"]\nprompt_via = \"arg\"\nretry = { max_attempts = 3, initial_delay = \"5ms\" }\n\n[[stages]]\nname = \"st\"\n",
    );
    let prompt = "p".repeat(3_000_000);
    let report = orch
        .run_stage_with("S-9", "st", Some(&prompt), &CancellationToken::new())
        .await
        .unwrap();
    let x = report.agent("x").unwrap();
    assert_eq!(x.outcome, AgentOutcome::Failed);
    assert_eq!(x.attempts.len(), 1, "a permanent error is not retried");
    assert_eq!(x.attempts[0].status, AttemptStatus::NotStarted);
    let error = x.error.as_deref().unwrap();
    assert!(
        error.contains("too long for the operating system")
            && error.contains("on standard input instead"),
        "{error}"
    );
}

#[tokio::test]
async fn a_plain_programs_failure_names_its_exit_code_and_its_last_words() {
    let fx = Fixture::new();
    fx.script(
        "fails.sh",
        "echo 'thinking...'; echo 'disk quota exceeded' >&2; exit 3",
    );
    let orch = fx.orchestrator(
        "[[agents]]\nname = \"x\"\ncommand = \"sh\"\nargs = [\"fails.sh\"]\nretry = { max_attempts = 1 }\n\n[[stages]]\nname = \"st\"\n",
    );
    let report = orch.run_stage("S-3", "st").await.unwrap();
    let x = report.agent("x").unwrap();
    assert_eq!(x.outcome, AgentOutcome::Failed);
    assert_eq!(x.attempts[0].exit_code, Some(3));
    assert_eq!(
        x.attempts[0].error.as_deref(),
        Some("exited with code 3: disk quota exceeded")
    );
    // The evidence keeps all it said: stdout, then stderr under a marker.
    let run = fx.store().latest_verdict("S-3", "st").unwrap().unwrap();
    let outputs = fx.store().outputs_for_run(run.id).unwrap();
    assert_eq!(
        outputs[0].raw_output,
        "thinking...\n--- stderr ---\ndisk quota exceeded\n"
    );

    // Without a newline at the end of stdout, or with nothing on stderr.
    fx.script(
        "partial.sh",
        "printf 'half a line'; echo 'boom' >&2; exit 3",
    );
    fx.script("silent.sh", "printf 'no stderr'; echo '  ' >&2; exit 3");
    for (script, raw) in [
        ("partial.sh", "half a line\n--- stderr ---\nboom\n"),
        ("silent.sh", "no stderr"),
    ] {
        let orch = fx.orchestrator(&format!(
            "[[agents]]\nname = \"x\"\ncommand = \"sh\"\nargs = [\"{script}\"]\nretry = {{ max_attempts = 1 }}\n\n[[stages]]\nname = \"st\"\n"
        ));
        let report = orch.run_stage("S-3", "st").await.unwrap();
        let outputs = fx.store().outputs_for_run(report.run_id.unwrap()).unwrap();
        assert_eq!(outputs[0].raw_output, raw, "{script}");
    }
}

#[tokio::test]
async fn cancellation_stops_every_agent_and_records_the_run_as_cancelled() {
    let fx = Fixture::new();
    fx.script("sleep.sh", "exec sleep 30");
    let orch = fx.orchestrator(&format!(
        "{}{}[[stages]]\nname = \"s\"\n",
        agent("a", "sleep.sh", "timeout = \"60s\""),
        agent("b", "sleep.sh", "timeout = \"60s\""),
    ));
    let mut rx = orch.subscribe();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        let mut started = 0;
        while let Ok(e) = rx.recv().await {
            if matches!(e, StageEvent::AgentStarted { .. }) {
                started += 1;
                if started == 2 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    trigger.cancel();
                }
            }
        }
    });
    let clock = Instant::now();
    let report = orch
        .run_stage_with("S-6", "s", None, &cancel)
        .await
        .unwrap();
    assert!(
        clock.elapsed() < Duration::from_secs(15),
        "cancellation did not stop the agents"
    );
    assert_eq!(report.status, StageStatus::Cancelled);
    assert_eq!(report.exit_code(), 130);
    assert!(
        report
            .agents
            .iter()
            .all(|a| a.outcome == AgentOutcome::Cancelled)
    );
    for agent in &report.agents {
        let last = agent.attempts.last().unwrap();
        assert_eq!(last.status, AttemptStatus::Cancelled, "{agent:?}");
    }
    let run = fx.store().latest_verdict("S-6", "s").unwrap().unwrap();
    assert_eq!(run.status, "cancelled");
}

#[tokio::test]
async fn configuration_mistakes_are_found_when_the_plan_is_built_not_by_a_run() {
    let fx = Fixture::new();
    let orch = fx
        .orchestrator("[[agents]]\nname = \"a\"\ncommand = \"true\"\n\n[[stages]]\nname = \"s\"\n");
    let err = orch.run_stage("S", "nope").await.unwrap_err();
    assert!(matches!(err, Error::UnknownStage { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "unknown stage \"nope\"; the config defines: s"
    );
    // A config without stages says what to add rather than listing nothing.
    let bare = fx.orchestrator("[[agents]]\nname = \"a\"\ncommand = \"true\"\n");
    let err = bare.run_stage("S", "plan").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown stage \"plan\"; the config defines no stages: add a [[stages]] table (`synod init` writes a starter synod.toml)"
    );

    let err = fx
        .plan("[[agents]]\nname = \"a\"\ncommand = \"true\"\nenabled = false\n\n[[stages]]\nname = \"s\"\n")
        .unwrap_err();
    assert!(
        err.to_string().contains("no enabled agents")
            && err.to_string().contains("stages.0.agents"),
        "{err}"
    );
    let err = fx
        .plan("[[agents]]\nname = \"a\"\ncommand = \"true\"\n\n[[stages]]\nname = \"s\"\nprompt_file = \"missing.md\"\n")
        .unwrap_err();
    assert!(
        matches!(err, Error::PromptFile { .. }) && err.to_string().contains("missing.md"),
        "{err}"
    );
    // A prompt file that is not UTF-8 names its key, the file and the first bad byte.
    std::fs::write(fx.dir.path().join("latin1.md"), b"Plan the caf\xe9 menu.\n").unwrap();
    let err = fx
        .plan("[[agents]]\nname = \"a\"\ncommand = \"true\"\n\n[[stages]]\nname = \"s\"\nprompt_file = \"latin1.md\"\n")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "invalid config at `stages.0.prompt_file`: {} is not UTF-8 text (invalid byte at offset 12); save it as UTF-8",
            fx.dir.path().join("latin1.md").display()
        )
    );

    let bad: SynodConfig =
        toml::from_str("[[stages]]\nname = \"s\"\nagents = [\"ghost\"]\n").unwrap();
    assert!(Orchestrator::new(bad, fx.store().into_async()).is_err());
}

#[test]
fn a_mode_prints_as_synod_toml_spells_it() {
    use synod::orchestrator::Mode;
    for mode in [Mode::Parallel, Mode::Sequential] {
        let spelled = serde_json::to_value(mode).unwrap();
        assert_eq!(spelled, mode.as_str(), "{mode:?}");
    }
    assert_eq!(Mode::Sequential.as_str(), "sequential");
}

#[test]
fn a_spec_id_must_be_a_printable_name_of_at_most_200_bytes() {
    use synod::orchestrator::{Error, MAX_SPEC_ID_LEN, check_spec_id};
    let reason = |id: &str| match check_spec_id(id) {
        Err(Error::InvalidSpecId { spec_id, reason }) => {
            assert_eq!(spec_id, id);
            Some(reason)
        }
        Err(other) => panic!("{other:?}"),
        Ok(()) => None,
    };
    assert_eq!(reason("PROJ-123"), None);
    assert_eq!(reason("spec ü 7"), None);
    assert_eq!(reason(&"x".repeat(MAX_SPEC_ID_LEN)), None);
    assert_eq!(reason(""), Some("it is empty"));
    assert_eq!(reason(" \t"), Some("it is empty"));
    assert_eq!(
        reason(&"x".repeat(MAX_SPEC_ID_LEN + 1)),
        Some("it is longer than 200 bytes")
    );
    assert_eq!(reason("A\tB"), Some("it contains a control character"));
    assert_eq!(reason("A\u{7f}"), Some("it contains a control character"));
    let err = check_spec_id("").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid spec id \"\": it is empty; name the spec like PROJ-123"
    );
}

#[tokio::test]
async fn a_stage_with_an_empty_spec_id_is_refused_before_any_agent_runs() {
    let fx = Fixture::new();
    fx.script("answer.sh", &format!("touch ran; {ANSWER}"));
    let orch = fx.orchestrator(&format!(
        "{}[[stages]]\nname = \"plan\"\n",
        agent("a", "answer.sh", "")
    ));
    let rx = orch.subscribe();
    let err = orch.run_stage("", "plan").await.unwrap_err();
    assert!(matches!(err, Error::InvalidSpecId { .. }), "{err:?}");
    assert!(!fx.dir.path().join("ran").exists());
    // The same stage with a valid id runs the agent (which leaves `ran`).
    orch.run_stage("S-9", "plan").await.unwrap();
    assert!(fx.dir.path().join("ran").exists());
    drop(orch);
    let events = drain(rx).await;
    assert!(
        matches!(&events[0], StageEvent::StageStarted { spec_id, .. } if spec_id == "S-9"),
        "no event for the refused stage: {events:?}"
    );
    assert!(
        fx.store()
            .history("", synod::store::Page::first(10))
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_blank_prompt_passed_in_is_refused_before_any_agent_runs() {
    let fx = Fixture::new();
    fx.script("answer.sh", &format!("cat > got; {ANSWER}"));
    let orch = fx.orchestrator(&format!(
        "{}[[stages]]\nname = \"plan\"\nprompt = \"Plan {{spec_id}}.\"\n",
        agent("a", "answer.sh", "")
    ));
    let cancel = CancellationToken::new();
    for blank in ["", " \n\t"] {
        let err = orch
            .run_stage_with("S-1", "plan", Some(blank), &cancel)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::EmptyPrompt { stage } if stage == "plan"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the prompt given for stage \"plan\" is empty; pass the prompt text, or leave the prompt out to use the stage's own"
        );
    }
    assert!(!fx.dir.path().join("got").exists(), "an agent ran");
    assert!(
        fx.store()
            .history("S-1", synod::store::Page::first(10))
            .unwrap()
            .is_empty()
    );
    // A prompt given replaces the stage's; none given uses it.
    orch.run_stage_with("S-1", "plan", Some("Review S-1."), &cancel)
        .await
        .unwrap();
    let got = std::fs::read_to_string(fx.dir.path().join("got")).unwrap();
    assert_eq!(got, "Review S-1.");
    orch.run_stage_with("S-1", "plan", None, &cancel)
        .await
        .unwrap();
    let got = std::fs::read_to_string(fx.dir.path().join("got")).unwrap();
    assert_eq!(got, "Plan S-1.");
}

#[test]
fn statuses_print_as_their_names_and_fill_a_table_column() {
    assert_eq!(
        format!(
            "[{:<9}|{:>10}|{:<4}]",
            StageStatus::Degraded,
            AgentOutcome::TimedOut,
            AttemptStatus::Ok
        ),
        "[degraded | timed out|ok  ]"
    );
}

#[tokio::test]
async fn an_agent_past_its_timeout_is_stopped_retried_and_reported_as_timed_out() {
    let fx = Fixture::new();
    fx.script("hang.sh", "cat >/dev/null; sleep 30");
    let orch = fx.orchestrator(&format!(
        "{}[[stages]]\nname = \"st\"\nprompt = \"go\"\n",
        agent(
            "slow",
            "hang.sh",
            "timeout = \"200ms\"\nretry = { max_attempts = 2, initial_delay = \"10ms\", jitter = \"none\" }"
        )
    ));
    let rx = orch.subscribe();
    let report = orch.run_stage("S-1", "st").await.unwrap();
    drop(orch);

    let slow = report.agent("slow").unwrap();
    assert_eq!(slow.outcome, AgentOutcome::TimedOut);
    assert_eq!(slow.attempts.len(), 2);
    assert!(
        slow.attempts
            .iter()
            .all(|a| a.status == AttemptStatus::Timeout),
        "{slow:?}"
    );
    // The retry is announced with the number of the attempt about to start.
    let retries: Vec<(u32, Duration)> = drain(rx)
        .await
        .iter()
        .filter_map(|e| match e {
            StageEvent::AgentRetrying { attempt, delay, .. } => Some((*attempt, *delay)),
            _ => None,
        })
        .collect();
    assert_eq!(retries, [(2, Duration::from_millis(10))]);
}

#[tokio::test]
async fn agents_run_one_at_a_time_have_each_start_recorded_when_it_happens() {
    let fx = Fixture::new();
    fx.script("answer.sh", &format!("sleep 0.05; {ANSWER}"));
    // A parallel stage over its concurrency, and a sequential one.
    for (spec, how) in [
        ("S-1", "max_concurrency = 1"),
        ("S-2", "mode = \"sequential\""),
    ] {
        let orch = fx.orchestrator(&format!(
            "{}{}[[stages]]\nname = \"st\"\nprompt = \"go\"\n{how}\n",
            agent("a", "answer.sh", ""),
            agent("b", "answer.sh", "")
        ));
        let report = orch.run_stage(spec, "st").await.unwrap();
        assert_eq!(report.status, StageStatus::Ok);

        let mut executions = fx
            .store()
            .executions_for_run(report.run_id.unwrap())
            .unwrap();
        executions.sort_by_key(|e| e.spawned_at);
        let [first, second] = &executions[..] else {
            panic!("{how}: {executions:?}")
        };
        // The second agent was spawned after the first ended (it sleeps 50 ms), and its row
        // says so (rows written up front for the whole stage would carry one start time).
        assert!(
            second.spawned_at >= first.spawned_at + 50,
            "{how}: {executions:?}"
        );
    }
}

#[tokio::test]
async fn with_tracking_off_no_execution_rows_are_written() {
    let fx = Fixture::new();
    fx.script("answer.sh", ANSWER);
    let orch = fx
        .orchestrator(&format!(
            "{}{}[[stages]]\nname = \"st\"\nprompt = \"go\"\n",
            agent("a", "answer.sh", ""),
            agent("b", "answer.sh", "")
        ))
        .track_executions(false);
    let report = orch.run_stage("S-1", "st").await.unwrap();
    assert_eq!(report.status, StageStatus::Ok);
    let store = fx.store();
    assert!(
        store
            .executions_for_run(report.run_id.unwrap())
            .unwrap()
            .is_empty()
    );
    assert!(store.unfinished_executions().unwrap().is_empty());
}

#[tokio::test]
async fn a_plan_answers_what_each_agent_and_stage_will_run() {
    let fx = Fixture::new();
    std::fs::create_dir(fx.dir.path().join("sub")).unwrap();
    let plan = fx
        .plan(
            r#"
[[agents]]
name = "a"
command = "sh"
args = ["-c", 'echo "$SYNOD_AGENT $SYNOD_SPEC_ID $SYNOD_STAGE $TONE"; cat']
env = { TONE = "dry" }
retry = { max_attempts = 4 }

[[agents]]
name = "b"
command = "/usr/local/bin/claude"
cwd = "sub"

[[agents]]
name = "off"
command = "true"
enabled = false
env = { API_TOKEN = "tok-0123456789" }

[[agents]]
name = "argv"
command = "sh"
args = ["-c", 'printf "%s|" "$@"', "sh"]
prompt_via = "arg"

[[agents]]
name = "argv2"
command = "sh"
args = ["-c", 'printf "%s|" "$@"', "sh", "<{prompt}>"]
prompt_via = "arg"

[[stages]]
name = "s"
agents = ["b", "off", "a"]
required = ["x"]

[[stages]]
name = "t"
"#,
        )
        .unwrap();

    assert_eq!(plan.stage_agents("s"), Some(vec!["b", "a"]));
    assert_eq!(
        plan.stage_agents("t"),
        Some(vec!["a", "b", "argv", "argv2"])
    );
    assert_eq!(plan.stage_agents("u"), None);
    assert_eq!(plan.agent_retry("a").map(|r| r.max_attempts()), Some(4));
    assert!(plan.agent_retry("ghost").is_none());
    assert_eq!(
        plan.agent_preset("b"),
        Some(Preset::Claude),
        "from the program's name"
    );
    assert_eq!(plan.agent_preset("a"), Some(Preset::Generic));
    assert_eq!(plan.agent_preset("ghost"), None);
    let (program, args) = plan.agent_command("a").unwrap();
    assert_eq!((program, args.len()), ("sh", 2));
    assert!(plan.agent_command("ghost").is_none());
    assert_eq!(
        plan.agent_cwd("b"),
        Some(fx.dir.path().join("sub").as_path())
    );
    assert_eq!(plan.agent_cwd("a"), Some(fx.dir.path()));
    assert!(
        plan.stage_schema("s").is_some(),
        "`required` makes a schema"
    );
    assert!(plan.stage_schema("t").is_none());
    assert!(plan.stage_schema("u").is_none());
    assert!(plan.breaker("a").is_some() && plan.breaker("ghost").is_none());
    assert!(plan.budget().is_some());
    assert_eq!(plan.base_dir(), fx.dir.path());
    assert_eq!(plan.config().agents.len(), 5);
    assert_eq!(
        plan.redactor().redact("token tok-0123456789"),
        "token [REDACTED]",
        "even a disabled agent's secrets"
    );

    // The probe runs the agent as a stage would, outside any stage.
    let probe = plan.probe_command("a", "ping").unwrap();
    let out = synod::exec::run(&probe).await.unwrap();
    assert_eq!(out.stdout_lossy(), "a doctor doctor dry\nping");
    assert!(plan.probe_command("ghost", "ping").is_none());
    // A prompt passed as an argument goes last, unless the arguments place it.
    for (agent, said) in [("argv", "ping|"), ("argv2", "<ping>|")] {
        let probe = plan.probe_command(agent, "ping").unwrap();
        let out = synod::exec::run(&probe).await.unwrap();
        assert_eq!(out.stdout_lossy(), said, "{agent}");
    }

    let off = fx
        .plan("[breaker]\nenabled = false\n[budget]\nenabled = false\n[[agents]]\nname = \"a\"\ncommand = \"true\"\n")
        .unwrap();
    assert!(off.breaker("a").is_none() && off.budget().is_none());
}

/// A file store that refuses every stage record (as a full disk would).
#[derive(Debug)]
struct RefusingStore {
    inner: synod::store::AsyncStore,
    file: std::path::PathBuf,
}

impl synod::store::EvidenceStore for RefusingStore {
    fn execution_started<'a>(
        &'a self,
        agent: &'a str,
        at: synod::store::UnixMillis,
    ) -> synod::store::StoreFuture<'a, synod::store::ExecutionId> {
        synod::store::EvidenceStore::execution_started(&self.inner, agent, at)
    }

    fn record_stage(
        &self,
        _: std::sync::Arc<synod::store::StageRecord>,
    ) -> synod::store::StoreFuture<'_, synod::store::RunId> {
        Box::pin(std::future::ready(Err(synod::store::Error::Busy {
            operation: "record_stage",
            timeout: None,
        })))
    }

    fn location(&self) -> Option<&std::path::Path> {
        Some(&self.file)
    }
}

#[tokio::test]
async fn a_stage_the_store_refuses_is_kept_beside_it_under_a_safe_name() {
    let fx = Fixture::new();
    fx.script("answer.sh", ANSWER);
    let store = RefusingStore {
        inner: fx.store().into_async(),
        file: fx.dir.path().join("synod.db"),
    };
    let orch = Orchestrator::with_shared_store(
        fx.plan(&format!(
            "{}[[stages]]\nname = \"st\"\nprompt = \"go\"\n",
            agent("a", "answer.sh", "")
        ))
        .unwrap(),
        std::sync::Arc::new(store),
    );
    let err = orch.run_stage("PROJ-1_a b/c", "st").await.unwrap_err();

    let Error::NotRecorded { path, source } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(**source, synod::store::Error::Busy { .. }),
        "{source:?}"
    );
    assert_eq!(
        synod::core::Classify::class(&err),
        synod::core::ErrorClass::Transient
    );
    let unsaved = fx.dir.path().join("unsaved");
    assert_eq!(path.parent(), Some(unsaved.as_path()));
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("PROJ-1_a_b_c-st-") && name.ends_with(".json"),
        "{name}"
    );
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(kept["run"]["spec_id"], "PROJ-1_a b/c");
    assert_eq!(kept["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(kept["verdict"]["status"], "ok");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            (mode(&unsaved), mode(path)),
            (0o700, 0o600),
            "agent evidence is private"
        );
    }
}

#[tokio::test]
async fn credentials_an_agent_prints_never_reach_the_evidence() {
    let fx = Fixture::new();
    let key = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz";
    fx.script(
        "leaky.sh",
        &format!("cat >/dev/null; echo 'using {key}'; echo '{{\"answer\": 1}}'"),
    );
    fx.script(
        "leaky_fail.sh",
        &format!("cat >/dev/null; echo 'auth with {key} refused' >&2; exit 3"),
    );
    let orch = fx.orchestrator(&format!(
        "{}{}[[stages]]\nname = \"st\"\nprompt = \"go\"\n",
        agent("ok", "leaky.sh", ""),
        agent("bad", "leaky_fail.sh", "retry = { max_attempts = 1 }")
    ));
    let report = orch.run_stage("S-1", "st").await.unwrap();
    let bad = report.agent("bad").unwrap();
    let error = bad.attempts[0].error.as_deref().unwrap();
    assert!(
        error.contains("[REDACTED]") && !error.contains(key),
        "{error}"
    );

    let outputs = fx.store().outputs_for_run(report.run_id.unwrap()).unwrap();
    assert_eq!(outputs.len(), 2);
    for output in &outputs {
        assert!(!output.raw_output.contains(key), "{output:?}");
        assert!(output.raw_output.contains("[REDACTED]"), "{output:?}");
    }
}
