//! Onboarding: `synod init` writes presets for the agent CLIs found on `PATH` (stub
//! executables named like them), and `synod doctor` checks each configured agent — program
//! found, `--version`, a tiny authenticated call read by its preset (stubs replaying the
//! real CLIs' recorded transcripts) — with one fix per problem and exit 0 / 1 / 2.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt as _;

fn transcript(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../synod-agents/tests/transcripts")
        .join(name)
}

fn script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// `synod ARGS` in `dir` with `PATH` set to `path`.
fn synod(dir: &Path, path: &str, args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::cargo_bin("synod")
        .unwrap()
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .output()
        .unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn init_writes_presets_only_for_the_clis_on_path() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    let claude = script(&bin, "claude", "exit 0\n", 0o755);
    let codex = script(&bin, "codex", "exit 0\n", 0o755);
    // Not executable: not a CLI anyone can run.
    script(&bin, "gemini", "exit 0\n", 0o644);
    let (code, stdout, stderr) = synod(
        dir.path(),
        bin.to_str().unwrap(),
        &["init", "--path", "conf/synod.toml"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!(
            "found claude ({}), codex ({})",
            claude.display(),
            codex.display()
        )),
        "{stdout}"
    );
    let text = std::fs::read_to_string(dir.path().join("conf/synod.toml")).unwrap();
    assert!(
        text.contains("name = \"claude\"\npreset = \"claude\""),
        "{text}"
    );
    assert!(
        text.contains("name = \"codex\"\npreset = \"codex\""),
        "{text}"
    );
    assert!(!text.contains("name = \"gemini\""), "{text}");
    assert!(text.contains("agents = [\"claude\", \"codex\"]"), "{text}");

    let (code, stdout, stderr) = synod(
        dir.path(),
        bin.to_str().unwrap(),
        &["config", "check", "--config", "conf/synod.toml"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("stage plan (parallel): claude, codex"),
        "{stdout}"
    );
}

#[test]
fn init_with_no_cli_on_path_writes_all_three_as_examples_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, stdout, stderr) = synod(dir.path(), empty.to_str().unwrap(), &["init"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("none of claude, gemini or codex is on PATH"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(dir.path().join("synod.toml")).unwrap();
    assert!(
        text.starts_with("# None of claude, gemini or codex"),
        "{text}"
    );
    for name in ["claude", "gemini", "codex"] {
        assert!(text.contains(&format!("name = \"{name}\"")), "{text}");
    }
    // An existing file is kept.
    let (code, _, stderr) = synod(dir.path(), empty.to_str().unwrap(), &["init"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--force"), "{stderr}");
    // A directory is no file to write, even with --force.
    std::fs::create_dir(dir.path().join("conf")).unwrap();
    let (code, _, stderr) = synod(
        dir.path(),
        empty.to_str().unwrap(),
        &["init", "--force", "--path", "conf"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: conf is a directory; give the file to write, e.g. --path {}",
            Path::new("conf").join("synod.toml").display()
        )
    );
    assert!(dir.path().join("conf").is_dir());
}

/// A stand-in `claude` in `dir`: `--version` prints the real CLI's version line; otherwise
/// it keeps its stdin and retry setting and replays the recorded transcript `replay`.
fn claude_stub(dir: &Path, replay: &str) -> PathBuf {
    let exit = std::fs::read_to_string(transcript(&format!("{replay}.exit")))
        .map_or_else(|_| "0".to_owned(), |s| s.trim().to_owned());
    script(
        &dir.join("bin"),
        "claude",
        &format!(
            "if [ \"$1\" = --version ]; then echo '2.1.332 (Claude Code)'; exit 0; fi\n\
             cat > '{out}/stdin'\necho \"$CLAUDE_CODE_MAX_RETRIES\" > '{out}/retries'\n\
             cat '{stdout}'\ncat '{stderr}' >&2\nexit {exit}\n",
            out = dir.display(),
            stdout = transcript(&format!("{replay}.stdout")).display(),
            stderr = transcript(&format!("{replay}.stderr")).display(),
        ),
        0o755,
    )
}

fn write_config(dir: &Path, agents: &str) {
    std::fs::write(dir.join("synod.toml"), agents).unwrap();
}

#[test]
fn doctor_passes_a_cli_that_answers_its_version_and_the_authenticated_call() {
    let dir = tempfile::tempdir().unwrap();
    let claude = claude_stub(dir.path(), "claude-json.ok");
    write_config(
        dir.path(),
        &format!(
            "[[agents]]\nname = \"main\"\ncommand = \"{}\"\n",
            claude.display()
        ),
    );
    let (code, stdout, stderr) = synod(dir.path(), "/usr/bin:/bin", &["doctor"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("ok    main: program: {}", claude.display()).as_str(),
            "ok    main: version: 2.1.332",
            "ok    main: call: authenticated call answered (model claude-opus-5-5)",
            "all checks passed",
        ]
    );
    // The call went through the preset's own command line: prompt on stdin, retries off.
    let stdin = std::fs::read_to_string(dir.path().join("stdin")).unwrap();
    assert_eq!(stdin, "Reply with the single word OK.");
    let retries = std::fs::read_to_string(dir.path().join("retries")).unwrap();
    assert_eq!(retries.trim(), "0");

    // --offline makes no call.
    std::fs::remove_file(dir.path().join("stdin")).unwrap();
    let (code, stdout, _) = synod(dir.path(), "/usr/bin:/bin", &["doctor", "--offline"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("skip  main: call: --offline"), "{stdout}");
    assert!(
        !dir.path().join("stdin").exists(),
        "--offline ran the CLI's call"
    );
}

#[test]
fn doctor_names_the_fix_for_a_401_and_for_a_missing_program() {
    let dir = tempfile::tempdir().unwrap();
    let claude = claude_stub(dir.path(), "claude-json.e401");
    write_config(
        dir.path(),
        &format!(
            "[[agents]]\nname = \"main\"\ncommand = \"{}\"\n\n\
             [[agents]]\nname = \"gone\"\npreset = \"gemini\"\ncommand = \"gemini-not-installed\"\n",
            claude.display()
        ),
    );
    let (code, stdout, stderr) = synod(dir.path(), "/usr/bin:/bin", &["doctor"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("ok    main: version: 2.1.332"), "{stdout}");
    assert!(
        stdout.contains(
            "FAIL  main: call: claude: API error 401: Invalid API key · Fix external API key (permanent failure)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("      fix: set ANTHROPIC_API_KEY (in the environment or the agent's env) or run `claude login`"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "FAIL  gone: program: `gemini-not-installed` not found (PATH, or the path as given)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "      fix: install it (npm install -g @google/gemini-cli) or set agents.1.command to the program's path"
        ),
        "{stdout}"
    );
    assert!(stdout.ends_with("2 problems found\n"), "{stdout}");
}

#[test]
fn doctor_checks_the_script_a_generic_agent_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("agents")).unwrap();
    std::fs::write(dir.path().join("agents/review.py"), "print('{}')\n").unwrap();
    write_config(
        dir.path(),
        "[[agents]]\nname = \"here\"\ncommand = \"sh\"\nargs = [\"-c\", \"run.sh\", \"x\"]\n\n\
         [[agents]]\nname = \"found\"\ncommand = \"sh\"\nargs = [\"-x\", \"agents/review.py\", \"{prompt}\"]\n\n\
         [[agents]]\nname = \"moved\"\ncommand = \"sh\"\ncwd = \"agents\"\nargs = [\"review.py\", \"agents/review.py\"]\n",
    );
    let (code, stdout, stderr) = synod(dir.path(), "/usr/bin:/bin", &["doctor", "--offline"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(": script: "))
        .collect();
    let root = std::path::absolute(dir.path()).unwrap();
    assert_eq!(
        lines,
        [
            // `-c`'s code is not a file, so `here` has no script line.
            format!(
                "ok    found: script: {}",
                root.join("agents/review.py").display()
            )
            .as_str(),
            format!(
                "ok    moved: script: {}",
                root.join("agents/review.py").display()
            )
            .as_str(),
            format!(
                "FAIL  moved: script: `agents/review.py` (agents.2.args.1) is not a file in {}",
                root.join("agents").display()
            )
            .as_str(),
        ]
    );
    assert!(
        stdout.contains("      fix: create it, or correct agents.2.args.1 (a relative path is read from the agent's working directory, agents.2.cwd, by default the config's directory)"),
        "{stdout}"
    );
    assert!(stdout.ends_with("1 problem found\n"), "{stdout}");
}

#[test]
fn without_a_config_check_and_run_say_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = synod(dir.path(), "/usr/bin:/bin", &["config", "check"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "ok: built-in defaults\n  \
         no agents: add [[agents]] tables (`synod init` writes a starter synod.toml)\n  \
         no stages: add [[stages]] tables naming the agents that answer each\n  \
         store: .synod/synod.db\n"
    );
    let (code, _, stderr) = synod(
        dir.path(),
        "/usr/bin:/bin",
        &["run", "--spec", "S-1", "--stage", "plan"],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unknown stage \"plan\"; the config defines no stages: add a [[stages]] table (`synod init` writes a starter synod.toml)"),
        "{stderr}"
    );
}

#[test]
fn doctor_exits_2_for_a_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "[[agents]]\nname = \"a\"\ncomand = \"x\"\n");
    let (code, stdout, stderr) = synod(dir.path(), "/usr/bin:/bin", &["doctor"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("comand"), "{stderr}");
}

#[test]
fn a_config_file_that_is_not_there_points_at_synod_init() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["config", "check", "--config", "missing.toml"][..],
        &[
            "run",
            "-c",
            "missing.toml",
            "--spec",
            "X-1",
            "--stage",
            "plan",
        ][..],
    ] {
        let (code, stdout, stderr) = synod(dir.path(), "/usr/bin:/bin", args);
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert_eq!(
            stderr.trim_end(),
            "error: cannot load the config (`synod init` writes a starter synod.toml): config file missing.toml not found: check the path or create the file",
            "{args:?}"
        );
    }
    assert!(!dir.path().join("missing.toml").exists());
}

#[test]
fn init_keeps_the_starters_comments_above_a_cli_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    script(&bin, "gemini", "exit 0\n", 0o755);
    let (code, _, stderr) = synod(dir.path(), bin.to_str().unwrap(), &["init"]);
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(dir.path().join("synod.toml")).unwrap();
    // The paragraph about presets sits above claude's block, which is left out.
    assert!(!text.contains("name = \"claude\""), "{text}");
    assert!(
        text.contains("# A preset knows how to run its CLI headlessly")
            && text.contains(
                "own retries turned off so the budget and breakers above are the one retry owner"
            )
            && text.contains("[[agents]]\nname = \"gemini\""),
        "{text}"
    );
}

/// A stub of `name` (`preset`'s CLI) that answers `--version` with `version` and replays
/// `replay` for the call.
fn preset_stub(dir: &Path, name: &str, version: &str, replay: &str) -> PathBuf {
    let exit = std::fs::read_to_string(transcript(&format!("{replay}.exit")))
        .map_or_else(|_| "0".to_owned(), |s| s.trim().to_owned());
    script(
        &dir.join(name),
        name.split('-').next().unwrap(),
        &format!(
            "if [ \"$1\" = --version ]; then printf '{version}'; exit 0; fi\n\
             cat >/dev/null\ncat '{stdout}'\ncat '{stderr}' >&2\nexit {exit}\n",
            stdout = transcript(&format!("{replay}.stdout")).display(),
            stderr = transcript(&format!("{replay}.stderr")).display(),
        ),
        0o755,
    )
}

#[test]
fn doctor_names_one_fix_per_kind_of_failed_call_and_per_missing_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let agents = [
        (
            "gemini-401",
            "gemini",
            preset_stub(d, "gemini-401", "0.9.1\\n", "gemini-json.e401"),
        ),
        (
            "codex-401",
            "codex",
            preset_stub(d, "codex-401", "codex-cli 0.55.0\\n", "codex-json.e401"),
        ),
        (
            "claude-429",
            "claude",
            preset_stub(
                d,
                "claude-429",
                "\\n  no number here  \\nsecond line\\n",
                "claude-json.e429",
            ),
        ),
        (
            "claude-503",
            "claude",
            preset_stub(d, "claude-503", "2.1.332\\n", "claude-json.e503"),
        ),
        (
            "claude-slow",
            "claude",
            script(
                &d.join("claude-slow"),
                "claude",
                "if [ \"$1\" = --version ]; then echo 2.1.332; exit 0; fi\nexec sleep 30\n",
                0o755,
            ),
        ),
        // The CLI's own words say "timeout" (not "timed out").
        (
            "claude-timeout",
            "claude",
            script(
                &d.join("claude-timeout"),
                "claude",
                "if [ \"$1\" = --version ]; then echo 2.1.332; exit 0; fi\n\
                 echo 'Error: request timeout' >&2; exit 1\n",
                0o755,
            ),
        ),
    ];
    let mut config = String::new();
    for (name, preset, command) in &agents {
        config.push_str(&format!(
            "[[agents]]\nname = \"{name}\"\npreset = \"{preset}\"\ncommand = \"{}\"\n\n",
            command.display()
        ));
    }
    for (name, preset) in [("claude-gone", "claude"), ("codex-gone", "codex")] {
        config.push_str(&format!(
            "[[agents]]\nname = \"{name}\"\npreset = \"{preset}\"\ncommand = \"{name}-not-installed\"\n\n"
        ));
    }
    config.push_str("[[agents]]\nname = \"off\"\ncommand = \"true\"\nenabled = false\n");
    write_config(d, &config);
    let (code, stdout, stderr) = synod(d, "/usr/bin:/bin", &["doctor", "--call-timeout", "1s"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    for line in [
        "      fix: set GEMINI_API_KEY (in the environment or the agent's env) or run `gemini` once to log in",
        "      fix: set OPENAI_API_KEY (in the environment or the agent's env) or run `codex login`",
        "ok    claude-429: version: answered, without a version number: no number here\n",
        "      fix: the account is rate-limited or out of quota: wait, or check its plan and usage",
        "      fix: a transient failure (network, overload): run `synod doctor` again; if it persists, check the network and the vendor's status page",
        "      fix: no answer within 1s: check the network and any base URL set for the CLI, or pass a longer --call-timeout",
        "      fix: install it (npm install -g @anthropic-ai/claude-code) or set agents.6.command to the program's path",
        "      fix: install it (npm install -g @openai/codex) or set agents.7.command to the program's path",
        "skip  off: agent: disabled (enabled = false)",
        "8 problems found",
    ] {
        assert!(stdout.contains(line), "{line:?} is missing:\n{stdout}");
    }
    // The call that outlived --call-timeout, and the one whose CLI said "timeout".
    assert_eq!(
        stdout.matches("      fix: no answer within 1s").count(),
        2,
        "{stdout}"
    );
}
