//! `synod run` shares what it learns about an agent's rate limit with every later (or
//! concurrent) `synod run` and `synod worker` on the same store.
#![cfg(unix)]

mod run_support;

use std::time::{SystemTime, UNIX_EPOCH};

use run_support::{Project, agent};

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[test]
fn a_rate_limit_met_by_one_run_makes_the_next_run_wait_for_every_agent_of_the_group() {
    let config = "\
[[agents]]
name = \"claude-a\"
command = \"sh\"
args = [\"-c\", \"cat >/dev/null; echo '429 Too Many Requests: retry after 2s' >&2; exit 1\"]
rate_limit_group = \"anthropic-key\"
retry = { max_attempts = 1 }

[[agents]]
name = \"claude-b\"
command = \"sh\"
args = [\"-c\", \"cat >/dev/null; date +%s%3N > called-at; echo '{\\\"answer\\\": 42}'\"]
rate_limit_group = \"anthropic-key\"

[[stages]]
name = \"first\"
agents = [\"claude-a\"]

[[stages]]
name = \"second\"
agents = [\"claude-b\"]
";
    let project = Project::new(config);
    let before = now_ms();
    let (code, report, stderr) = project.run_json(&["--spec", "J-1", "--stage", "first"]);
    assert_ne!(code, 0, "{stderr}");
    assert_eq!(
        agent(&report, "claude-a")["attempts"][0]["class"],
        "rate_limited"
    );

    let out = project.synod(&["run", "--spec", "J-1", "--stage", "second"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("claude-b: waits") && stderr.contains("claude-a"),
        "the wait is announced with its cause: {stderr}"
    );
    let called_at: i64 = std::fs::read_to_string(project.path().join("called-at"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        called_at >= before + 2_000,
        "claude-b was called {} ms after the first run started, inside the 2 s limit",
        called_at - before
    );
}
