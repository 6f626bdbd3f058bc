//! Resilience state shared through the store: two Orchestrators on one store file stand for
//! two `synod worker` processes. A rate limit met by one makes the other wait for every
//! agent of the same `rate_limit_group`; a breaker opened by one is open for the other.
#![cfg(all(feature = "orchestrator", unix))]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use synod::orchestrator::{AgentOutcome, Orchestrator, Plan, StageEvent, SynodConfig};
use synod::store::{AsyncStore, HoldKind, Options, SharedHolds, now_millis};

struct Worker {
    orchestrator: Orchestrator,
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\ncat >/dev/null\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// An agent that appends the Unix time in milliseconds of each call to `calls`, then answers.
fn logging_agent(dir: &Path, name: &str, calls: &Path) -> PathBuf {
    script(
        dir,
        name,
        &format!(
            "date +%s%3N >> '{}'\necho '{{\"answer\": 42}}'",
            calls.display()
        ),
    )
}

fn calls(path: &Path) -> Vec<i64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

async fn worker(dir: &Path, store_file: &Path, toml_text: &str) -> Worker {
    let config: SynodConfig = toml::from_str(toml_text).unwrap();
    let plan = Plan::new(config, dir).unwrap();
    // Each worker opens the file itself, as a separate process would.
    let store = AsyncStore::open(store_file, Options::default())
        .await
        .unwrap();
    let holds: Arc<dyn SharedHolds> = Arc::new(store.clone());
    Worker {
        orchestrator: Orchestrator::with_plan(plan, store).shared_holds(holds),
    }
}

fn agent(name: &str, command: &Path, extra: &str) -> String {
    format!(
        "[[agents]]\nname = \"{name}\"\ncommand = \"{}\"\nretry = {{ max_attempts = 1 }}\n{extra}\n",
        command.display()
    )
}

#[tokio::test]
async fn a_rate_limit_met_by_one_worker_makes_the_other_wait_for_every_agent_of_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let store_file = dir.path().join("evidence.db");
    let limited = script(
        dir.path(),
        "limited.sh",
        "echo '429 Too Many Requests: retry after 2s' >&2\nexit 1",
    );
    let grouped_calls = dir.path().join("grouped.calls");
    let alone_calls = dir.path().join("alone.calls");
    let grouped = logging_agent(dir.path(), "grouped.sh", &grouped_calls);
    let alone = logging_agent(dir.path(), "alone.sh", &alone_calls);

    let first = worker(
        dir.path(),
        &store_file,
        &format!(
            "{}[[stages]]\nname = \"s\"\n",
            agent("claude-a", &limited, "rate_limit_group = \"anthropic-key\"")
        ),
    )
    .await;
    let before = now_millis();
    let report = first.orchestrator.run_stage("J-1", "s").await.unwrap();
    assert_eq!(
        report.agent("claude-a").unwrap().outcome,
        AgentOutcome::Failed
    );

    // The limit is in the store for the group, ending about 2 s after the failure.
    let probe = AsyncStore::open(&store_file, Options::default())
        .await
        .unwrap();
    let hold = probe
        .active_hold(HoldKind::RateLimited, "anthropic-key", now_millis())
        .await
        .unwrap()
        .expect("the rate limit is shared");
    assert!(hold.until >= before + 2_000, "{hold:?}");
    assert!(hold.reason.contains("claude-a"), "{hold:?}");
    assert!(hold.reason.contains("retry after 2s"), "{hold:?}");

    let second = worker(
        dir.path(),
        &store_file,
        &format!(
            "{}{}[[stages]]\nname = \"s\"\n",
            agent("claude-b", &grouped, "rate_limit_group = \"anthropic-key\""),
            agent("gemini", &alone, ""),
        ),
    )
    .await;
    let mut events = second.orchestrator.subscribe();
    let report = second.orchestrator.run_stage("J-2", "s").await.unwrap();
    assert_eq!(
        report.agent("claude-b").unwrap().outcome,
        AgentOutcome::Answered
    );
    assert_eq!(
        report.agent("gemini").unwrap().outcome,
        AgentOutcome::Answered
    );

    // The other agent of the group was called only once the limit was over...
    let grouped = calls(&grouped_calls);
    assert_eq!(grouped.len(), 1);
    assert!(
        grouped[0] >= hold.until,
        "called at {} before the shared limit ended at {}",
        grouped[0],
        hold.until
    );
    // ...and said why it waited; an agent of another key did not wait.
    let mut waited = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let StageEvent::AgentWaiting { agent, reason, .. } = event {
            waited.push((agent, reason));
        }
    }
    assert_eq!(waited.len(), 1, "{waited:?}");
    assert_eq!(waited[0].0, "claude-b");
    assert!(waited[0].1.contains("claude-a"), "{waited:?}");
    assert_eq!(calls(&alone_calls).len(), 1);
}

#[tokio::test]
async fn a_breaker_opened_by_one_worker_is_open_for_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let store_file = dir.path().join("evidence.db");
    let down = script(
        dir.path(),
        "down.sh",
        "echo 'HTTP 503 service unavailable' >&2\nexit 1",
    );
    let healthy_calls = dir.path().join("healthy.calls");
    let healthy = logging_agent(dir.path(), "healthy.sh", &healthy_calls);
    let breaker = "[breaker]\nwindow_size = 1\nminimum_calls = 1\nfailure_rate_threshold = 50\nwait_in_open = \"10m\"\nmax_wait_in_open = \"10m\"\n\n";

    let first = worker(
        dir.path(),
        &store_file,
        &format!(
            "{breaker}{}[[stages]]\nname = \"s\"\n",
            agent("codex", &down, "")
        ),
    )
    .await;
    let report = first.orchestrator.run_stage("B-1", "s").await.unwrap();
    assert_eq!(report.agent("codex").unwrap().outcome, AgentOutcome::Failed);

    // A fresh process whose own breaker of `codex` is closed, with a healthy codex.
    let second = worker(
        dir.path(),
        &store_file,
        &format!(
            "{breaker}{}[[stages]]\nname = \"s\"\n",
            agent("codex", &healthy, "")
        ),
    )
    .await;
    let report = second.orchestrator.run_stage("B-2", "s").await.unwrap();
    let codex = report.agent("codex").unwrap();
    assert_eq!(codex.outcome, AgentOutcome::Skipped, "{codex:?}");
    let why = codex.error.as_deref().unwrap();
    assert!(why.contains("open in another process"), "{why}");
    assert!(why.contains("503"), "{why}");
    assert!(calls(&healthy_calls).is_empty(), "the agent was called");

    // Without shared holds (a process on another store), the same agent is called.
    let config: SynodConfig = toml::from_str(&format!(
        "{breaker}{}[[stages]]\nname = \"s\"\n",
        agent("codex", &healthy, "")
    ))
    .unwrap();
    let alone = Orchestrator::with_plan(
        Plan::new(config, dir.path()).unwrap(),
        AsyncStore::open_in_memory().await.unwrap(),
    );
    let report = alone.run_stage("B-3", "s").await.unwrap();
    assert_eq!(
        report.agent("codex").unwrap().outcome,
        AgentOutcome::Answered
    );
    assert_eq!(calls(&healthy_calls).len(), 1);
}

#[tokio::test]
async fn a_failure_that_leaves_the_breaker_closed_is_not_shared_as_open() {
    let dir = tempfile::tempdir().unwrap();
    let store_file = dir.path().join("evidence.db");
    let down = script(
        dir.path(),
        "down.sh",
        "echo 'HTTP 503 service unavailable' >&2\nexit 1",
    );
    let first = worker(
        dir.path(),
        &store_file,
        &format!(
            "[breaker]\nwindow_size = 5\nminimum_calls = 5\n\n{}[[stages]]\nname = \"s\"\n",
            agent("codex", &down, "")
        ),
    )
    .await;
    let report = first.orchestrator.run_stage("B-1", "s").await.unwrap();
    assert_eq!(report.agent("codex").unwrap().outcome, AgentOutcome::Failed);
    assert_eq!(
        first.orchestrator.breaker_state("codex"),
        Some(synod::resilience::BreakerState::Closed)
    );

    let probe = AsyncStore::open(&store_file, Options::default())
        .await
        .unwrap();
    let hold = probe
        .active_hold(HoldKind::BreakerOpen, "codex", now_millis())
        .await
        .unwrap();
    assert!(hold.is_none(), "{hold:?}");
}
