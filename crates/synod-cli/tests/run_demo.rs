//! `synod run` on the repository's demo config, and the commands that read the evidence.

mod run_support;

use run_support::{Project, agent, outputs_of};

#[test]
fn demo_plan_succeeds_retries_beta_and_keeps_the_evidence() {
    let (project, config) = Project::demo();
    let config = config.to_str().unwrap();
    let (code, report, stderr) =
        project.run_json(&["--config", config, "--spec", "DEMO-1", "--stage", "plan"]);
    assert_eq!(code, 0, "stderr: {stderr}");

    // The JSON report's shape.
    assert_eq!(report["status"], "ok");
    assert_eq!(report["spec_id"], "DEMO-1");
    assert_eq!(report["stage"], "plan");
    assert_eq!(report["mode"], "parallel");
    let run_id = report["run_id"].as_i64().expect("run_id");
    assert!(report["store_path"].as_str().unwrap().ends_with("synod.db"));
    assert_eq!(report["agents"].as_array().unwrap().len(), 3);
    assert_eq!(report["verdict"]["status"], "ok");
    assert!(
        !report["verdict"]["agreements"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // gamma's dissent on step S3 is visible in the verdict.
    assert!(
        report["verdict"]
            .to_string()
            .contains("Write a man page for the flag")
    );

    // beta failed transiently once, then answered; the retry was announced.
    let beta = agent(&report, "beta");
    assert_eq!(beta["outcome"], "answered");
    assert_eq!(beta["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(beta["attempts"][0]["class"], "transient");
    assert!(
        stderr.contains("beta: failed") && stderr.contains("retry 2 in 200ms"),
        "{stderr}"
    );
    for name in ["alpha", "gamma"] {
        assert_eq!(
            agent(&report, name)["attempts"].as_array().unwrap().len(),
            1
        );
        assert_eq!(agent(&report, name)["extracted"]["approach"], "incremental");
    }

    // Evidence: the run is in the history, with every attempt's output.
    let history = project.synod(&["history", "DEMO-1", "--json"]);
    assert!(history.status.success());
    let runs: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["id"], run_id);
    assert_eq!(runs[0]["status"], "ok");

    let shown = project.show(run_id);
    assert_eq!(shown["outputs"].as_array().unwrap().len(), 4);
    let beta_rows = outputs_of(&shown, "beta");
    assert_eq!(beta_rows[0]["status"], "failed");
    assert!(
        beta_rows[0]["raw_output"]
            .as_str()
            .unwrap()
            .contains("503 service overloaded")
    );
    assert_eq!(beta_rows[1]["status"], "ok");
    assert!(beta_rows[1]["parsed_json"]["steps"].is_array());

    // Human-readable forms.
    let table = project.synod(&["history", "DEMO-1"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("plan"));
    let show = project.synod(&["show", &run_id.to_string()]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("Status: ok") && text.contains("beta") && text.contains("#2"),
        "{text}"
    );

    let check = project.synod(&["store", "check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn demo_plan_prints_the_verdict_and_where_the_evidence_is() {
    let (project, config) = Project::demo();
    let out = project.synod(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--spec",
        "DEMO-7",
        "--stage",
        "plan",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("**Status: ok**"), "{stdout}");
    assert!(
        stdout.contains("Evidence: run 1 in .synod/synod.db"),
        "{stdout}"
    );
    // Plain progress lines on stderr when it is not a terminal.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[synod] verdict: ok (run 1)"), "{stderr}");
}

#[test]
fn usage_and_config_errors_exit_2_with_one_line() {
    let (project, config) = Project::demo();
    let config = config.to_str().unwrap();

    let missing_spec = project.synod(&["run", "--config", config, "--stage", "plan"]);
    assert_eq!(missing_spec.status.code(), Some(2));

    let unknown_stage =
        project.synod(&["run", "--config", config, "--spec", "D", "--stage", "nope"]);
    assert_eq!(unknown_stage.status.code(), Some(2));
    let err = String::from_utf8_lossy(&unknown_stage.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("\"nope\"") && err.contains("plan, tasks"),
        "{err}"
    );

    let bad = Project::new("[[agents]]\nname = \"a\"\ncommand = \"true\"\ntimeout = \"soon\"\n");
    let out = bad.synod(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("soon") && !err.contains("panicked"), "{err}");
    // -v shows the cause chain on several lines.
    let verbose = bad.synod(&["-v", "config", "check"]);
    assert!(String::from_utf8_lossy(&verbose.stderr).contains("caused by"));

    // Reading commands do not create a store.
    let no_store = project.synod(&["history", "DEMO-1"]);
    assert_eq!(no_store.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_store.stderr).contains("no evidence store"));
    assert!(!project.store().exists());

    let missing_file = project.synod(&[
        "run",
        "--config",
        "/nonexistent/synod.toml",
        "--spec",
        "D",
        "--stage",
        "plan",
    ]);
    assert_eq!(missing_file.status.code(), Some(2));
}

#[test]
fn config_commands_explain_and_schema() {
    let (project, config) = Project::demo();
    let config = config.to_str().unwrap();
    let check = project.synod(&["config", "check", "--config", config]);
    assert!(check.status.success());
    assert!(String::from_utf8_lossy(&check.stdout).contains("stage plan"));

    let explain = assert_cmd::Command::cargo_bin("synod")
        .unwrap()
        .current_dir(project.path())
        .env("SYNOD_AGENTS__0__TIMEOUT", "7s")
        .args(["config", "explain", "agents.0.timeout", "--config", config])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(
        text.contains("\"7s\"") && text.contains("SYNOD_AGENTS__0__TIMEOUT"),
        "{text}"
    );

    let schema = project.synod(&["config", "schema"]);
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert!(schema.to_string().contains("prompt_via"));
}

#[test]
fn init_writes_a_loadable_starter() {
    let project = Project::new("");
    std::fs::remove_file(project.path().join("synod.toml")).unwrap();
    assert!(project.synod(&["init"]).status.success());
    assert!(project.synod(&["config", "check"]).status.success());
    // Refuses to overwrite.
    assert_eq!(project.synod(&["init"]).status.code(), Some(2));
}

#[test]
fn store_maintenance_commands() {
    let (project, config) = Project::demo();
    let config = config.to_str().unwrap();
    let (code, _, _) =
        project.run_json(&["--config", config, "--spec", "DEMO-2", "--stage", "plan"]);
    assert_eq!(code, 0);
    assert!(project.synod(&["store", "vacuum"]).status.success());
    let backup = project.path().join("backup.db");
    assert!(
        project
            .synod(&["store", "backup", backup.to_str().unwrap()])
            .status
            .success()
    );
    let from_backup = project.synod(&[
        "history",
        "DEMO-2",
        "--json",
        "--store",
        backup.to_str().unwrap(),
    ]);
    let runs: serde_json::Value = serde_json::from_slice(&from_backup.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let prune = project.synod(&["store", "prune", "--older-than", "30d"]);
    assert!(String::from_utf8_lossy(&prune.stdout).contains("0 run(s)"));
    let history_len = || {
        let history = project.synod(&["history", "DEMO-2", "--json"]);
        let runs: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
        runs.as_array().unwrap().len()
    };
    // A dry run counts what would go, and deletes nothing.
    let dry = project.synod(&["store", "prune", "--older-than", "0s", "--dry-run"]);
    assert!(dry.status.success());
    let dry = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(dry.starts_with("would prune "), "{dry}");
    assert!(
        dry.contains(": 1 run(s), 4 output(s), 4 execution(s) older than 0s; nothing was deleted"),
        "{dry}"
    );
    assert_eq!(history_len(), 1);
    let prune_all = project.synod(&["store", "prune", "--older-than", "0s"]);
    assert!(prune_all.status.success());
    let pruned = String::from_utf8_lossy(&prune_all.stdout).into_owned();
    assert!(
        pruned.contains(": 1 run(s), 4 output(s), 4 execution(s) older than 0s"),
        "{pruned}"
    );
    assert_eq!(history_len(), 0);
}

/// The commands a finished run suggests work when pasted into a shell: they name the store
/// the run used (not the default one) and quote a spec id with spaces and quotes.
#[cfg(unix)]
#[test]
fn the_suggested_follow_up_commands_read_the_same_store() {
    use run_support::{answers, config};
    let project = Project::new(&config(&[("a", &answers(r#"{"ok": true}"#), "")], ""));
    let spec = "it's SPEC 1";
    let out = project.synod(&[
        "run",
        "--spec",
        spec,
        "--stage",
        "s",
        "--set",
        "store.busy_timeout=9s",
        "--set",
        "jobs.grace=0s",
        "--store",
        "other dir/x.db",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!project.store().exists(), "the default store was not used");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Verdict: ok. Evidence: run 1 in other dir/x.db"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let commands: Vec<&str> = line.split('`').skip(1).step_by(2).collect();
    assert_eq!(
        commands,
        [
            // The store's settings are repeated (a plain word unquoted); others are not.
            "synod show 1 --set store.busy_timeout=9s --store 'other dir/x.db'",
            r#"synod history 'it'\''s SPEC 1' --set store.busy_timeout=9s --store 'other dir/x.db'"#,
        ]
    );
    let synod = assert_cmd::cargo::cargo_bin("synod");
    for command in commands {
        let pasted = command.replacen("synod", &synod.to_string_lossy(), 1);
        let ran = std::process::Command::new("sh")
            .args(["-c", &pasted])
            .current_dir(project.path())
            .output()
            .expect("sh runs");
        let text = String::from_utf8_lossy(&ran.stdout);
        assert!(
            ran.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&ran.stderr)
        );
        assert!(text.contains("ok"), "{command}: {text}");
    }
}
