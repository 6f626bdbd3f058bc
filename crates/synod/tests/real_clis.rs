//! End to end against the real agent CLIs: `claude` (@anthropic-ai/claude-code 2.1.332),
//! `gemini` (@google/gemini-cli 0.61.0) and `codex` (@openai/codex 0.171.0), installed by the
//! tests themselves on first use (see `support`), run by the Orchestrator with their presets
//! against a stand-in of the three vendor APIs on 127.0.0.1 (`synod-agents/tests/standin.py`).
//!
//! Each test is one stage of real CLIs, with the stand-in playing one scenario: agreement,
//! disagreement, 429 once and always, 503/529 once and always, 401, a hung request, every
//! output mode, and a preset-only config. The stand-in logs every model request with its
//! arrival time: waits between attempts are asserted from those timestamps, and the count of
//! requests per attempt shows that synod, not the CLI, owns the retries.
#![cfg(all(feature = "orchestrator", target_os = "linux"))]

mod support;

use std::time::Duration;

use synod::core::ErrorClass;
use synod::orchestrator::{
    AgentOutcome, AgentRun, AttemptStatus, Orchestrator, Plan, StageReport, StageStatus,
    SynodConfig,
};
use synod::store::{AsyncStore, Store};

use support::{GEMINI_MODEL, MARKER, Sandbox, api_of, quote, standin};

const CLIS: [&str; 3] = ["claude", "gemini", "codex"];

/// A stage `review` of `agents` (TOML `[[agents]]` entries) with `stage` extra lines.
fn orchestrator(sandbox: &Sandbox, agents: &str, stage: &str) -> Orchestrator {
    orchestrator_on(
        sandbox,
        agents,
        stage,
        Store::open_in_memory().unwrap().into_async(),
    )
}

/// [`orchestrator`] storing into `store`.
fn orchestrator_on(
    sandbox: &Sandbox,
    agents: &str,
    stage: &str,
    store: AsyncStore,
) -> Orchestrator {
    let text = format!(
        "{agents}\n[[stages]]\nname = \"review\"\nprompt = \"Review the change and answer with JSON only: verdict and score.\"\n{stage}\n"
    );
    let config: SynodConfig =
        toml::from_str(&text).unwrap_or_else(|err| panic!("{err}\nin the config:\n{text}"));
    let plan = Plan::new(config, sandbox.dir.path()).unwrap_or_else(|err| panic!("{err}"));
    Orchestrator::with_plan(plan, store).agent_env(MARKER, &sandbox.tag)
}

/// The extra `[[agents]]` lines of `cli` in the failure tests: gemini names its model (its
/// model router retries 429 and 503 on its own whatever the settings say).
fn cli_args(cli: &str) -> String {
    if cli == "gemini" {
        format!(
            "args = [\"--skip-trust\", \"--output-format\", \"json\", \"-m\", {}]\n",
            quote(GEMINI_MODEL)
        )
    } else {
        String::new()
    }
}

/// The three CLIs as agents named after them, each against `scenario(cli)`, with `extra`.
fn three(sandbox: &Sandbox, scenario: impl Fn(&str) -> &'static str, extra: &str) -> String {
    CLIS.iter()
        .map(|cli| {
            sandbox.agent(
                cli,
                cli,
                scenario(cli),
                &format!("{}{extra}", cli_args(cli)),
            )
        })
        .collect()
}

fn agent<'r>(report: &'r StageReport, name: &str) -> &'r AgentRun {
    report
        .agent(name)
        .unwrap_or_else(|| panic!("no agent {name} in {report:#?}"))
}

/// Nothing but the stand-in was asked for anything (the CLIs' update checks, telemetry and
/// plugin downloads are off; any other request reaches the stand-in as the proxy, which
/// refuses it).
fn assert_stayed_local(sandbox: &Sandbox) {
    let escapes = standin().escapes(&sandbox.tag);
    assert!(
        escapes.is_empty(),
        "a CLI reached past 127.0.0.1: {escapes:?}"
    );
}

/// A cause is one line naming the HTTP `status`, and neither a banner nor a stack frame.
fn assert_meaningful_cause(agent: &str, cause: &str, status: &str) {
    assert!(
        !cause.is_empty() && !cause.contains('\n'),
        "{agent}: {cause:?}"
    );
    assert!(
        cause.contains(status),
        "{agent}: the cause does not name the {status}: {cause:?}"
    );
    let lower = cause.to_lowercase();
    assert!(
        !lower.contains("openai codex v")
            && !lower.trim_start().starts_with("at ")
            && !lower.contains(".js:")
            && !lower.contains("warning:"),
        "{agent}: the cause is a banner, warning or stack frame: {cause:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_real_clis_that_agree_give_an_ok_verdict_with_their_answers_and_usage() {
    let sandbox = Sandbox::new("agree");
    let store = Store::open_in_memory().unwrap().into_async();
    let orch = orchestrator_on(
        &sandbox,
        &three(&sandbox, |_| "ok", "timeout = \"90s\"\n"),
        "consensus = { decision_fields = [\"/verdict\"], quorum = \"all\" }",
        store.clone(),
    );
    let report = orch.run_stage("E2E-1", "review").await.unwrap();
    assert_eq!(report.status, StageStatus::Ok, "{report:#?}");
    for cli in CLIS {
        let run = agent(&report, cli);
        assert_eq!(run.outcome, AgentOutcome::Answered, "{cli}: {run:#?}");
        assert_eq!(
            run.extracted,
            Some(serde_json::json!({"verdict": "approve", "score": 7})),
            "{cli} answered with its envelope, not the model's answer"
        );
        assert_eq!(run.attempts.len(), 1, "{cli}: {run:#?}");
        assert_eq!(run.attempts[0].status, AttemptStatus::Ok);
    }
    // What each CLI reported about the stand-in's usage (120 prompt tokens, 30 of them
    // cached, 9 generated; Anthropic counts the cache apart from `input_tokens`, and only
    // claude prices the run) reaches the report, its JSON and the store.
    let stored = store
        .outputs_for_run(report.run_id.expect("stored"))
        .await
        .unwrap();
    let json = serde_json::to_value(&report).unwrap();
    for (i, cli) in CLIS.iter().enumerate() {
        let attempt = &agent(&report, cli).attempts[0];
        let usage = attempt
            .usage
            .unwrap_or_else(|| panic!("{cli} reported no usage: {attempt:#?}"));
        let input = if *cli == "claude" { 150 } else { 120 };
        assert_eq!(
            (usage.input_tokens, usage.output_tokens, usage.cached_tokens),
            (input, 9, 30),
            "{cli}: {usage:?}"
        );
        assert_eq!(
            usage.cost_usd.is_some(),
            *cli == "claude",
            "{cli}: {usage:?}"
        );
        assert!(
            attempt.session_id.is_some(),
            "{cli}: no session id: {attempt:#?}"
        );
        // codex exec --json names no model in its events
        assert_eq!(
            attempt.model.is_some(),
            *cli != "codex",
            "{cli}: {attempt:#?}"
        );
        let reported = &json["agents"][i]["attempts"][0]["usage"];
        assert_eq!(reported["input_tokens"], input, "{cli}: {reported}");
        assert_eq!(reported["cached_tokens"], 30, "{cli}: {reported}");
        let row = stored
            .iter()
            .find(|o| o.agent == *cli)
            .unwrap_or_else(|| panic!("{cli}: no stored output"));
        assert_eq!(row.usage, Some(usage.tokens()), "{cli}: {row:#?}");
        assert_eq!(row.cost_usd, usage.cost_usd, "{cli}");
        assert_eq!(row.session_id, attempt.session_id, "{cli}");
    }
    for cli in CLIS {
        let requests = standin().requests_of(&sandbox.tag, api_of(cli));
        assert!(
            requests.iter().all(|r| r.status == "200") && !requests.is_empty(),
            "{cli}: {requests:?}"
        );
    }
    assert_eq!(json["status"], "ok");
    assert_stayed_local(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clis_that_disagree_on_the_decision_give_a_conflict() {
    let sandbox = Sandbox::new("disagree");
    let orch = orchestrator(
        &sandbox,
        &three(
            &sandbox,
            |cli| if cli == "gemini" { "reject" } else { "ok" },
            "timeout = \"90s\"\n",
        ),
        "consensus = { decision_fields = [\"/verdict\"], quorum = \"all\" }",
    );
    let report = orch.run_stage("E2E-2", "review").await.unwrap();
    assert_eq!(report.status, StageStatus::Conflict, "{report:#?}");
    assert_eq!(
        agent(&report, "gemini").extracted,
        Some(serde_json::json!({"verdict": "reject", "score": 2}))
    );
    for cli in CLIS {
        assert_eq!(agent(&report, cli).outcome, AgentOutcome::Answered, "{cli}");
    }
    let conflicts = serde_json::to_string(&report.verdict.conflicts).unwrap();
    assert!(conflicts.contains("/verdict"), "{conflicts}");
    assert_stayed_local(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_without_a_stated_time_is_retried_after_the_floor_and_then_answered() {
    const FLOOR: f64 = 4.0;
    let sandbox = Sandbox::new("e429once");
    let orch = orchestrator(
        &sandbox,
        &three(
            &sandbox,
            |_| "e429once",
            "timeout = \"90s\"\nrate_limit_floor = \"4s\"\nretry = { max_attempts = 2, initial_delay = \"10ms\", max_delay = \"30s\", jitter = \"none\" }\n",
        ),
        "",
    );
    let report = orch.run_stage("E2E-3", "review").await.unwrap();
    assert_eq!(report.status, StageStatus::Ok, "{report:#?}");
    for cli in CLIS {
        let run = agent(&report, cli);
        assert_eq!(run.outcome, AgentOutcome::Answered, "{cli}: {run:#?}");
        assert_eq!(run.attempts.len(), 2, "{cli}: {run:#?}");
        assert!(
            matches!(run.attempts[0].class, Some(ErrorClass::RateLimited { .. })),
            "{cli}: {run:#?}"
        );
        assert_meaningful_cause(
            cli,
            run.attempts[0].error.as_deref().unwrap_or_default(),
            "429",
        );
        let requests = standin().requests_of(&sandbox.tag, api_of(cli));
        assert_eq!(requests[0].status, "429", "{cli}: {requests:?}");
        let next = requests
            .get(1)
            .unwrap_or_else(|| panic!("{cli} made no second request: {requests:?}"));
        assert_eq!(next.status, "200", "{cli}: {requests:?}");
        let waited = next.t - requests[0].t;
        assert!(
            waited >= FLOOR,
            "{cli} was retried {waited:.2}s after its 429, before the {FLOOR}s floor"
        );
    }
    assert_stayed_local(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stated_retry_time_is_waited_and_one_past_the_max_delay_fails_fast() {
    // gemini relays the API's retry delay ("Please retry in Ns"); claude and codex state none
    // (they wait the floor, above).
    let sandbox = Sandbox::new("e429wait");
    let args = cli_args("gemini");
    let agents = [
        sandbox.agent(
            "gemini-wait",
            "gemini",
            "e429wait3once",
            &format!("{args}timeout = \"90s\"\nrate_limit_floor = \"1s\"\nretry = {{ max_attempts = 2, initial_delay = \"10ms\", max_delay = \"30s\", jitter = \"none\" }}\n"),
        ),
        sandbox.agent(
            "gemini-long",
            "gemini",
            "e429wait",
            &format!("{args}timeout = \"90s\"\nretry = {{ max_attempts = 3, initial_delay = \"10ms\", max_delay = \"5s\", jitter = \"none\" }}\n"),
        ),
    ]
    .concat();
    let orch = orchestrator(&sandbox, &agents, "");
    let report = orch.run_stage("E2E-11", "review").await.unwrap();

    let run = agent(&report, "gemini-wait");
    assert_eq!(run.outcome, AgentOutcome::Answered, "{run:#?}");
    assert_eq!(run.attempts.len(), 2, "{run:#?}");
    assert_eq!(
        run.attempts[0].class,
        Some(ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(3))
        }),
        "{run:#?}"
    );
    let requests: Vec<_> = standin()
        .requests_of(&sandbox.tag, "gemini")
        .into_iter()
        .filter(|r| r.scenario == "e429wait3once")
        .collect();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let waited = requests[1].t - requests[0].t;
    assert!(
        waited >= 3.0,
        "retried {waited:.2}s after a 429 that asked for 3s"
    );

    let run = agent(&report, "gemini-long");
    assert_eq!(run.outcome, AgentOutcome::Failed, "{run:#?}");
    assert_eq!(
        run.attempts.len(),
        1,
        "a 17s wait is past the 5s max delay: {run:#?}"
    );
    assert_eq!(
        run.attempts[0].class,
        Some(ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(17))
        }),
        "{run:#?}"
    );
    assert_meaningful_cause(
        "gemini-long",
        run.attempts[0].error.as_deref().unwrap_or_default(),
        "429",
    );
    assert_stayed_local(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_every_time_gives_up_rate_limited_after_the_attempts() {
    let sandbox = Sandbox::new("e429");
    let orch = orchestrator(
        &sandbox,
        &three(
            &sandbox,
            |_| "e429",
            "timeout = \"90s\"\nrate_limit_floor = \"1s\"\nretry = { max_attempts = 2, initial_delay = \"10ms\", max_delay = \"30s\", jitter = \"none\" }\n",
        ),
        "",
    );
    let report = orch.run_stage("E2E-4", "review").await.unwrap();
    assert_eq!(report.status, StageStatus::NoQuorum, "{report:#?}");
    for cli in CLIS {
        let run = agent(&report, cli);
        assert_eq!(run.outcome, AgentOutcome::Failed, "{cli}: {run:#?}");
        assert_eq!(run.attempts.len(), 2, "{cli}: {run:#?}");
        for attempt in &run.attempts {
            assert_eq!(attempt.status, AttemptStatus::Failed, "{cli}: {run:#?}");
            assert!(
                matches!(attempt.class, Some(ErrorClass::RateLimited { .. })),
                "{cli}: {run:#?}"
            );
            assert_meaningful_cause(cli, attempt.error.as_deref().unwrap_or_default(), "429");
        }
        // One request per attempt: the CLI's own retries are off.
        let requests = standin().requests_of(&sandbox.tag, api_of(cli));
        assert_eq!(requests.len(), 2, "{cli}: {requests:?}");
        let json = serde_json::to_value(run).unwrap();
        assert_eq!(json["attempts"][1]["class"], "rate_limited");
    }
    assert_stayed_local(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overload_once_is_retried_as_transient_and_then_answered() {
    let sandbox = Sandbox::new("e503once");
    let orch = orchestrator(
        &sandbox,
        &three(
            &sandbox,
            |cli| {
                if cli == "claude" {
                    "e529once"
                } else {
                    "e503once"
                }
            },
            "timeout = \"90s\"\nrate_limit_floor = \"60s\"\nretry = { max_attempts = 2, initial_delay = \"10ms\", max_delay = \"30s\", jitter = \"none\" }\n",
        ),
        "",
    );
    let report = orch.run_stage("E2E-5", "review").await.unwrap();
    assert_eq!(report.status, StageStatus::Ok, "{report:#?}");
    for cli in CLIS {
        let run = agent(&report, cli);
        assert_eq!(run.outcome, AgentOutcome::Answered, "{cli}: {run:#?}");
        assert_eq!(run.attempts.len(), 2, "{cli}: {run:#?}");
        assert_eq!(
            run.attempts[0].class,
            Some(ErrorClass::Transient),
            "{cli}: {run:#?}"
        );
        let failed = if cli == "claude" { "529" } else { "503" };
        assert_meaningful_cause(
            cli,
            run.attempts[0].error.as_deref().unwrap_or_default(),
            failed,
        );
        let statuses: Vec<String> = standin()
            .requests_of(&sandbox.tag, api_of(cli))
            .into_iter()
            .map(|r| r.status)
            .collect();
        assert_eq!(statuses.first().map(String::as_str), Some(failed), "{cli}");
        assert_eq!(statuses.get(1).map(String::as_str), Some("200"), "{cli}");
    }
    assert_stayed_local(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overload_every_time_gives_up_transient() {
    let sandbox = Sandbox::new("e503");
    let orch = orchestrator(
        &sandbox,
        &three(
            &sandbox,
            |cli| if cli == "claude" { "e529" } else { "e503" },
            "timeout = \"90s\"\nretry = { max_attempts = 2, initial_delay = \"10ms\", max_delay = \"30s\", jitter = \"none\" }\n",
        ),
        "",
    );
    let report = orch.run_stage("E2E-6", "review").await.unwrap();
    assert_eq!(report.status, StageStatus::NoQuorum, "{report:#?}");
    for cli in CLIS {
        let run = agent(&report, cli);
        assert_eq!(run.outcome, AgentOutcome::Failed, "{cli}: {run:#?}");
        assert_eq!(run.attempts.len(), 2, "{cli}: {run:#?}");
        for attempt in &run.attempts {
            assert_eq!(
                attempt.class,
                Some(ErrorClass::Transient),
                "{cli}: {run:#?}"
            );
            let failed = if cli == "claude" { "529" } else { "503" };
            assert_meaningful_cause(cli, attempt.error.as_deref().unwrap_or_default(), failed);
        }
        let requests = standin().requests_of(&sandbox.tag, api_of(cli));
        assert_eq!(
            requests.len(),
            2,
            "{cli}: one request per attempt: {requests:?}"
        );
    }
    assert_stayed_local(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_is_permanent_attempted_once_with_the_apis_message_as_cause() {
    let sandbox = Sandbox::new("e401");
    let orch = orchestrator(
        &sandbox,
        &three(
            &sandbox,
            |_| "e401",
            "timeout = \"90s\"\nretry = { max_attempts = 3, initial_delay = \"10ms\", jitter = \"none\" }\n",
        ),
        "",
    );
    let report = orch.run_stage("E2E-7", "review").await.unwrap();
    assert_eq!(report.status, StageStatus::NoQuorum, "{report:#?}");
    for cli in CLIS {
        let run = agent(&report, cli);
        assert_eq!(run.outcome, AgentOutcome::Failed, "{cli}: {run:#?}");
        assert_eq!(
            run.attempts.len(),
            1,
            "{cli}: a permanent failure is not retried"
        );
        let attempt = &run.attempts[0];
        assert_eq!(
            attempt.class,
            Some(ErrorClass::Permanent),
            "{cli}: {run:#?}"
        );
        let cause = attempt.error.as_deref().unwrap_or_default();
        assert_meaningful_cause(cli, cause, "401");
        assert!(
            cause.to_lowercase().contains("api key"),
            "{cli}: the cause does not say what failed: {cause:?}"
        );
        let requests = standin().requests_of(&sandbox.tag, api_of(cli));
        assert_eq!(requests.len(), 1, "{cli} retried on its own: {requests:?}");
    }
    assert_stayed_local(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_request_times_out_and_leaves_no_process_behind() {
    let sandbox = Sandbox::new("hang");
    let orch = orchestrator(
        &sandbox,
        &three(
            &sandbox,
            |_| "hang",
            "timeout = \"25s\"\nkill_grace = \"1s\"\nretry = { max_attempts = 1 }\n",
        ),
        "",
    );
    let report = orch.run_stage("E2E-8", "review").await.unwrap();
    assert_eq!(report.status, StageStatus::NoQuorum, "{report:#?}");
    for cli in CLIS {
        let run = agent(&report, cli);
        assert_eq!(run.outcome, AgentOutcome::TimedOut, "{cli}: {run:#?}");
        assert_eq!(run.attempts[0].status, AttemptStatus::Timeout, "{cli}");
        let requests = standin().requests_of(&sandbox.tag, api_of(cli));
        assert!(
            requests.iter().any(|r| r.status == "hang"),
            "{cli} timed out before its request reached the stand-in: {requests:?}"
        );
    }
    let left = sandbox.leftovers(Duration::from_secs(5));
    assert!(
        left.is_empty(),
        "processes of the timed-out CLIs still run: {left:#?}"
    );
    assert_stayed_local(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_output_mode_of_the_real_clis_gives_the_models_answer() {
    let sandbox = Sandbox::new("modes");
    let model = quote(GEMINI_MODEL);
    let modes: [(&str, &str, String); 5] = [
        (
            "claude-stream",
            "claude",
            "args = [\"-p\", \"--output-format\", \"stream-json\", \"--verbose\"]\n".to_owned(),
        ),
        ("claude-text", "claude", "args = [\"-p\"]\n".to_owned()),
        (
            "gemini-stream",
            "gemini",
            format!(
                "args = [\"--skip-trust\", \"--output-format\", \"stream-json\", \"-m\", {model}]\n"
            ),
        ),
        (
            "gemini-text",
            "gemini",
            format!("args = [\"--skip-trust\", \"-m\", {model}]\n"),
        ),
        (
            "codex-text",
            "codex",
            "args = [\"exec\", \"--skip-git-repo-check\", \"-\"]\n".to_owned(),
        ),
    ];
    let agents: String = modes
        .iter()
        .map(|(name, cli, args)| {
            sandbox.agent(name, cli, "ok", &format!("timeout = \"90s\"\n{args}"))
        })
        .collect();
    let orch = orchestrator(
        &sandbox,
        &agents,
        "consensus = { decision_fields = [\"/verdict\"], quorum = \"all\" }",
    );
    let report = orch.run_stage("E2E-9", "review").await.unwrap();
    for (name, _, _) in &modes {
        let run = agent(&report, name);
        assert_eq!(run.outcome, AgentOutcome::Answered, "{name}: {run:#?}");
        assert_eq!(
            run.extracted,
            Some(serde_json::json!({"verdict": "approve", "score": 7})),
            "{name}"
        );
    }
    assert_eq!(report.status, StageStatus::Ok, "{report:#?}");
    assert_stayed_local(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_schema_reaches_the_apis_of_claude_and_codex_and_every_answer_matches_it() {
    let sandbox = Sandbox::new("schema");
    let orch = orchestrator(
        &sandbox,
        &three(&sandbox, |_| "ok", "timeout = \"90s\"\n"),
        r#"schema = { type = "object", required = ["verdict", "score"], properties = { verdict = { type = "string", enum = ["approve", "reject"] }, score = { type = "integer" } }, additionalProperties = false }"#,
    );
    let report = orch.run_stage("E2E-12", "review").await.unwrap();
    assert_eq!(report.status, StageStatus::Ok, "{report:#?}");
    for cli in CLIS {
        let run = agent(&report, cli);
        assert_eq!(run.outcome, AgentOutcome::Answered, "{cli}: {run:#?}");
        assert_eq!(
            run.extracted,
            Some(serde_json::json!({"verdict": "approve", "score": 7})),
            "{cli}"
        );
        // claude (--json-schema: its StructuredOutput tool) and codex (--output-schema, given
        // a strict schema only: the Responses API's json_schema format) send the schema on;
        // gemini has no such option.
        let requests = standin().requests_of(&sandbox.tag, api_of(cli));
        assert_eq!(
            requests.iter().any(|r| r.schema),
            cli != "gemini",
            "{cli}: {requests:?}"
        );
    }
    assert_stayed_local(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_against_the_schema_is_sent_back_once_and_stays_invalid() {
    // The stand-in's score is 7, the schema asks for at least 8. claude checks its
    // StructuredOutput itself, is refused by the stand-in's text answer and ends with the
    // text; codex's API takes the schema but the stand-in ignores it: synod's own validation
    // catches both, asks once more (repair) and keeps both attempts. (gemini takes no schema:
    // its answers go through the same validation as codex's.)
    let sandbox = Sandbox::new("repair");
    let agents: String = ["claude", "codex"]
        .iter()
        .map(|cli| sandbox.agent(cli, cli, "ok", "timeout = \"90s\"\n"))
        .collect();
    let orch = orchestrator(
        &sandbox,
        &agents,
        r#"repair = true
schema = { type = "object", required = ["verdict", "score"], properties = { verdict = { type = "string" }, score = { type = "integer", minimum = 8 } }, additionalProperties = false }"#,
    );
    let report = orch.run_stage("E2E-13", "review").await.unwrap();
    assert_eq!(report.status, StageStatus::NoQuorum, "{report:#?}");
    for cli in ["claude", "codex"] {
        let run = agent(&report, cli);
        assert_eq!(run.outcome, AgentOutcome::Invalid, "{cli}: {run:#?}");
        let statuses: Vec<AttemptStatus> = run.attempts.iter().map(|a| a.status).collect();
        assert_eq!(
            statuses,
            [AttemptStatus::Invalid, AttemptStatus::Invalid],
            "{cli}: {run:#?}"
        );
        let error = run.attempts[1].error.as_deref().unwrap_or_default();
        assert!(error.contains("/score"), "{cli}: {error}");
        if cli == "codex" {
            // (claude makes three requests per run here: its own StructuredOutput check)
            let requests = standin().requests_of(&sandbox.tag, api_of(cli));
            assert_eq!(
                requests.len(),
                2,
                "the repair reached the API: {requests:?}"
            );
        }
    }
    assert_stayed_local(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preset_alone_runs_the_cli_found_on_path_headless() {
    let sandbox = Sandbox::new("preset");
    let agents: String = CLIS
        .iter()
        .map(|cli| sandbox.preset_only(cli, cli, "ok"))
        .collect();
    let orch = orchestrator(&sandbox, &agents, "");
    for cli in CLIS {
        let (program, args) = orch.plan().agent_command(cli).unwrap();
        assert_eq!(program, cli);
        assert!(!args.is_empty(), "{cli}: no headless default arguments");
    }
    let report = orch.run_stage("E2E-10", "review").await.unwrap();
    assert_eq!(report.status, StageStatus::Ok, "{report:#?}");
    for cli in CLIS {
        let run = agent(&report, cli);
        assert_eq!(run.outcome, AgentOutcome::Answered, "{cli}: {run:#?}");
        assert_eq!(
            run.extracted,
            Some(serde_json::json!({"verdict": "approve", "score": 7})),
            "{cli}"
        );
    }
    assert_stayed_local(&sandbox);
}
