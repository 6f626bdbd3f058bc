//! Tokens and cost in the evidence as the CLI shows it: `synod run` replays recorded output of
//! the real claude, gemini and codex (stand-in programs carrying the CLI's name, so the
//! presets read their envelopes) into a store file; `synod show`, `synod history` and
//! `synod stats` read the figures back, as text and as JSON.
#![cfg(unix)]

mod run_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use run_support::{Project, outputs_of};
use serde_json::{Value, json};

/// An executable `DIR/BIN_NAME` in the project printing the recorded `transcript` of
/// synod-agents' tests and exiting with its recorded code.
fn replay(project: &Project, dir: &str, bin_name: &str, transcript: &str) -> PathBuf {
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join("../synod-agents/tests/transcripts");
    let file = |ext: &str| recorded.join(format!("{transcript}.{ext}"));
    let exit = std::fs::read_to_string(file("exit")).unwrap();
    let dir = project.path().join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join(bin_name);
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\ncat >/dev/null\ncat '{}'\ncat '{}' >&2\nexit {}\n",
            file("stdout").display(),
            file("stderr").display(),
            exit.trim()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// A project with claude, gemini and codex answering (recorded JSON output), and a claude
/// whose key is refused (`denied`: an `is_error` envelope with its session and cost).
fn project() -> Project {
    let project = Project::new("");
    let agents = [
        ("claude", "claude", "claude-json.ok"),
        ("gemini", "gemini", "gemini-json.ok"),
        ("codex", "codex", "codex-json.ok"),
        ("denied", "claude", "claude-json.e401"),
    ];
    let mut config = String::new();
    for (name, program, transcript) in agents {
        let bin = replay(&project, name, program, transcript);
        config.push_str(&format!(
            "[[agents]]\nname = \"{name}\"\ncommand = \"{}\"\nretry = {{ max_attempts = 1 }}\n\n",
            bin.display()
        ));
    }
    config.push_str("[[stages]]\nname = \"review\"\nprompt = \"Review {spec_id}.\"\n");
    std::fs::write(project.path().join("synod.toml"), config).unwrap();
    project
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap()
}

/// Runs the stage for `spec`; returns the run id and the `--json` report.
fn run(project: &Project, spec: &str) -> (i64, Value) {
    let (code, report, stderr) = project.run_json(&["--spec", spec, "--stage", "review"]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    (report["run_id"].as_i64().unwrap(), report)
}

const CLAUDE_USAGE: &str =
    r#"{"input_tokens": 150, "output_tokens": 9, "cached_tokens": 30, "cost_usd": 0.000666}"#;

#[test]
fn run_and_show_carry_each_attempts_usage_session_and_model() {
    let project = project();
    let (run_id, report) = run(&project, "USE-1");
    let claude_usage: Value = serde_json::from_str(CLAUDE_USAGE).unwrap();
    let attempt = |agent: &str| {
        report["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == agent)
            .unwrap()["attempts"][0]
            .clone()
    };
    assert_eq!(attempt("claude")["usage"], claude_usage);
    assert_eq!(attempt("claude")["model"], "claude-opus-5-5");
    assert_eq!(
        attempt("gemini")["usage"],
        json!({"input_tokens": 240, "output_tokens": 18, "cached_tokens": 60, "cost_usd": null})
    );
    assert_eq!(attempt("denied")["status"], "failed");
    assert_eq!(
        attempt("denied")["usage"],
        json!({"input_tokens": 0, "output_tokens": 0, "cached_tokens": 0, "cost_usd": 0.0})
    );

    // show --json: the same shape per stored attempt, with the session id.
    let shown = project.show(run_id);
    let claude = outputs_of(&shown, "claude")[0];
    assert_eq!(claude["usage"], claude_usage);
    assert_eq!(claude["session_id"], attempt("claude")["session_id"]);
    assert_eq!(claude["session_id"].as_str().map(str::len), Some(36));
    assert!(claude.get("cost_usd").is_none(), "cost is inside usage");
    assert_eq!(outputs_of(&shown, "codex")[0]["usage"]["input_tokens"], 120);
    assert!(outputs_of(&shown, "denied")[0]["session_id"].is_string());

    // show: a line per attempt with tokens and cost, and the run's total.
    let text = stdout(&project.synod(&["show", &run_id.to_string()]));
    assert!(
        text.contains("tokens 150 in / 9 out (30 cached)  cost $0.0007  model claude-opus-5-5"),
        "{text}"
    );
    assert!(
        text.contains("tokens 240 in / 18 out (60 cached)  cost -"),
        "{text}"
    );
    // 150 + 240 + 120 + 0 in, 9 + 18 + 9 out, 30 + 60 + 30 cached.
    assert!(
        text.contains("total: 4 attempts, tokens 510 in / 36 out (120 cached), cost $0.0007"),
        "{text}"
    );
}

#[test]
fn history_lists_each_runs_tokens_and_cost() {
    let project = project();
    let (first, _) = run(&project, "USE-2");
    let (second, _) = run(&project, "USE-2");
    let runs = json_of(&project.synod(&["history", "USE-2", "--json"]));
    let ids: Vec<i64> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [second, first]);
    for run in runs.as_array().unwrap() {
        assert_eq!(
            run["usage"],
            json!({"input_tokens": 510, "output_tokens": 36, "cached_tokens": 120, "cost_usd": 0.000666})
        );
    }
    let text = stdout(&project.synod(&["history", "USE-2"]));
    let header = text.lines().next().unwrap();
    assert!(
        header.contains("took") && header.contains("tokens") && header.contains("cost"),
        "{text}"
    );
    // Each row says how long its run took, rounded in the duration grammar (`23ms`), not as
    // seconds with one decimal (which showed a 23 ms run as `0.0`).
    for run in runs.as_array().unwrap() {
        let millis = run["finished_at"].as_i64().unwrap() - run["started_at"].as_i64().unwrap();
        let took = synod::core::duration::format_duration_rounded(
            std::time::Duration::from_millis(u64::try_from(millis).unwrap()),
        );
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{} ", run["id"])))
            .unwrap();
        assert!(row.contains(&format!(" {took} ")), "{row}");
        assert!(!row.contains(" 0.0 "), "{row}");
    }
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("510 in / 36 out (120 cached)") && l.contains("$0.0007"))
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
}

#[test]
fn stats_gives_per_agent_attempts_success_rate_percentiles_tokens_and_cost() {
    let project = project();
    run(&project, "USE-3");
    run(&project, "USE-4");
    let stats = json_of(&project.synod(&["stats", "--json"]));
    let agents = stats["agents"].as_array().unwrap();
    let names: Vec<&str> = agents
        .iter()
        .map(|a| a["agent"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["claude", "codex", "denied", "gemini"]);
    let of = |name: &str| agents.iter().find(|a| a["agent"] == name).unwrap();
    let claude = of("claude");
    assert_eq!(claude["attempts"], 2);
    assert_eq!(claude["success_rate"], 1.0);
    assert_eq!(
        claude["usage"],
        json!({"input_tokens": 300, "output_tokens": 18, "cached_tokens": 60, "cost_usd": 0.001332})
    );
    assert!(
        claude["p50_duration_ms"].as_u64().unwrap() <= claude["p95_duration_ms"].as_u64().unwrap()
    );
    assert_eq!(of("denied")["success_rate"], 0.0);
    assert_eq!(of("denied")["usage"]["cost_usd"], 0.0);
    assert_eq!(of("codex")["usage"]["cost_usd"], Value::Null);
    assert_eq!(of("codex")["usage"]["input_tokens"], 240);

    let text = stdout(&project.synod(&["stats"]));
    let header = text.lines().next().unwrap();
    for column in [
        "agent", "attempts", "success", "p50 ms", "p95 ms", "tokens", "cost",
    ] {
        assert!(header.contains(column), "{column}: {text}");
    }
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row: {text}"))
            .to_owned()
    };
    assert!(line("claude").contains("100.0%"), "{text}");
    assert!(
        line("claude").contains("300 in / 18 out (60 cached)"),
        "{text}"
    );
    assert!(line("claude").contains("$0.0013"), "{text}");
    assert!(line("denied").contains("0.0%"), "{text}");
    assert!(line("denied").contains("0 in / 0 out"), "{text}");
    assert!(
        line("gemini").contains("480 in / 36 out (120 cached)"),
        "{text}"
    );
    assert!(line("gemini").trim_end().ends_with('-'), "no cost: {text}");
}

#[test]
fn stats_on_an_empty_store_says_so() {
    let project = project();
    // A store whose attempts are all gone: one run, then pruned.
    run(&project, "USE-5");
    let pruned = project.synod(&["store", "prune", "--older-than", "0s"]);
    stdout(&pruned);
    let text = stdout(&project.synod(&["stats"]));
    assert!(text.starts_with("no attempts recorded in "), "{text}");
    assert_eq!(
        json_of(&project.synod(&["stats", "--json"])),
        json!({"agents": []})
    );
}

#[test]
fn show_gives_an_attempt_its_figures_line_when_the_cli_reported_any_one_of_them() {
    let project = Project::new("");
    // Claude envelopes that each carry one figure: tokens, cost, model or session.
    let reported = [
        ("tokens", r#""usage":{"input_tokens":5,"output_tokens":2}"#),
        ("cost", r#""total_cost_usd":0.5"#),
        ("model", r#""modelUsage":{"claude-x":{"outputTokens":2}}"#),
        ("session", r#""session_id":"s-1""#),
    ];
    let mut config = String::new();
    for (name, field) in reported {
        let dir = project.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("claude");
        let envelope = format!(
            r#"{{"type":"result","subtype":"success","is_error":false,"result":"{{\"answer\": 1}}",{field}}}"#
        );
        std::fs::write(
            &bin,
            format!("#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '{envelope}'\n"),
        )
        .unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        config.push_str(&format!(
            "[[agents]]\nname = \"{name}\"\ncommand = \"{}\"\n\n",
            bin.display()
        ));
    }
    config.push_str("[[stages]]\nname = \"review\"\nprompt = \"Review {spec_id}.\"\n");
    std::fs::write(project.path().join("synod.toml"), config).unwrap();
    let (run_id, _) = run(&project, "USE-9");

    let text = stdout(&project.synod(&["show", &run_id.to_string()]));
    for line in [
        "tokens 5 in / 2 out  cost -\n",
        "tokens -  cost $0.5000\n",
        "tokens -  cost -  model claude-x\n",
        "tokens -  cost -  session s-1\n",
    ] {
        assert!(text.contains(line), "{line:?} is missing:\n{text}");
    }
    assert!(
        text.contains("total: 4 attempts, tokens 5 in / 2 out, cost $0.5000"),
        "{text}"
    );
}
