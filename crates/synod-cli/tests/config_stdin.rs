//! `--config -`: a config piped in (generated, templated, kept out of files because it holds
//! keys) works like a file, errors name it `<stdin>`, and it cannot share standard input with
//! `--prompt-file -`.

mod run_support;

use std::time::Duration;

use run_support::{Project, answers, config, text};

/// `synod ARGS` in the project directory with `input` on standard input.
fn piped(project: &Project, args: &[&str], input: impl Into<Vec<u8>>) -> std::process::Output {
    assert_cmd::Command::cargo_bin("synod")
        .expect("synod binary")
        .current_dir(project.path())
        .env_remove("RUST_LOG")
        .args(args)
        .write_stdin(input)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run synod")
}

#[test]
fn a_piped_config_runs_a_stage_and_is_named_stdin() {
    // The project's own synod.toml has no stage `s`: only the piped config can run it.
    let project = Project::new("[store]\npath = \"file.db\"\n");
    let piped_config = config(&[("a", &answers(r#"{"ok": true}"#), "")], "");

    let out = piped(
        &project,
        &["config", "check", "--config", "-"],
        piped_config.clone(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("ok: <stdin>\n"),
        "{}",
        text(&out.stdout)
    );

    let out = piped(
        &project,
        &[
            "run", "--spec", "P-1", "--stage", "s", "--config", "-", "--json",
        ],
        piped_config,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["status"], "ok");
    // The store path is the piped config's default, from the current directory.
    assert!(project.store().is_file());
    assert!(!project.path().join("file.db").exists());
}

#[test]
fn a_bad_piped_config_is_an_error_naming_stdin_and_the_line() {
    let project = Project::new("");
    let out = piped(
        &project,
        &["config", "check", "--config", "-"],
        "[jobs]\nmax_tries = 0\n",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("<stdin>:2:1") && stderr.contains("jobs.max_tries"),
        "{stderr}"
    );

    let out = piped(
        &project,
        &["config", "check", "--config", "-"],
        b"x = \"\xff\"\n".to_vec(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("standard input is not UTF-8 text (invalid byte at offset 5)"),
        "{stderr}"
    );
}

#[test]
fn the_config_and_the_prompt_cannot_both_come_from_stdin() {
    let project = Project::new(&config(&[("a", &answers("{}"), "")], ""));
    for command in ["run", "submit"] {
        let out = piped(
            &project,
            &[
                command,
                "--spec",
                "P-1",
                "--stage",
                "s",
                "--config",
                "-",
                "--prompt-file",
                "-",
            ],
            "ignored",
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains(
                "--config - and --prompt-file - both read standard input; give one of them a file"
            ),
            "{command}: {stderr}"
        );
        assert!(
            !project.store().exists(),
            "{command}: nothing was stored or queued"
        );
    }
}
