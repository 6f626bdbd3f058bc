//! `synod run` on a terminal: one live line per agent on stderr, ending in its outcome,
//! instead of the plain `[synod] …` event lines that pipes and CI logs get.
#![cfg(unix)]

mod run_support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::pty::{Winsize, openpty};
use run_support::{Project, answers, config, finished, text};

/// `synod ARGS` in `project` with stderr on a pseudo-terminal (200 columns): its exit code,
/// stdout, and everything drawn on the terminal with the escape sequences removed.
fn on_terminal(project: &Project, args: &[&str]) -> (Option<i32>, String, String) {
    let size = Winsize {
        ws_row: 50,
        ws_col: 200,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&size), None).expect("openpty");
    let child = Command::new(assert_cmd::cargo::cargo_bin("synod"))
        .current_dir(project.path())
        .env_remove("RUST_LOG")
        .env("TERM", "xterm-256color")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(pty.slave))
        .spawn()
        .expect("spawn synod");
    // The terminal is read while synod runs (a full pty would block its writes) until its
    // last writer closes it (EIO on Linux).
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut drawn = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = master.read(&mut chunk) {
            drawn.extend_from_slice(&chunk[..n]);
        }
        drawn
    });
    let out = finished(child, Duration::from_secs(60));
    let drawn = reader.join().expect("pty reader");
    (
        out.status.code(),
        text(&out.stdout),
        without_escapes(&text(&drawn)),
    )
}

/// The text of a terminal stream without its CSI sequences (cursor moves, colours).
fn without_escapes(drawn: &str) -> String {
    let mut plain = String::with_capacity(drawn.len());
    let mut chars = drawn.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn each_agent_gets_a_live_line_that_ends_in_its_outcome() {
    let flaky = "cat >/dev/null; if [ -e tried ]; then echo '{\"answer\": 42}'; \
                 else touch tried; echo '503 service overloaded' >&2; exit 1; fi";
    let slow = format!("sleep 0.5; {}", answers("{\"answer\": 42}"));
    let limited = "cat >/dev/null; echo '429 Too Many Requests: retry after 6s' >&2; exit 1";
    let grouped = answers("{\"answer\": 42}");
    let mut toml = config(
        &[
            ("slow", &slow, ""),
            (
                "flaky",
                flaky,
                "retry = { max_attempts = 2, initial_delay = \"300ms\", jitter = \"none\" }",
            ),
            ("chatty", "cat >/dev/null; echo 'no JSON here'", ""),
            (
                "broken",
                "cat >/dev/null; exit 3",
                "retry = { max_attempts = 1 }",
            ),
            ("grouped", &grouped, "rate_limit_group = \"key\""),
        ],
        "",
    );
    toml.push_str(&format!(
        "\n[[agents]]\nname = \"limited\"\ncommand = \"sh\"\nargs = [\"-c\", '''{limited}''']\n\
         rate_limit_group = \"key\"\nretry = {{ max_attempts = 1 }}\n\n\
         [[stages]]\nname = \"first\"\nagents = [\"limited\"]\nprompt = \"Go.\"\n"
    ));
    let project = Project::new(&toml);
    // `limited` meets a rate limit of its group, which `grouped` then waits out.
    let first = project.synod(&["run", "--spec", "T-1", "--stage", "first", "--quiet"]);
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));

    let (code, stdout, drawn) = on_terminal(&project, &["run", "--spec", "T-1", "--stage", "s"]);
    // The lines are redrawn many times; a failure shows the last frames.
    let tail: String = drawn
        .chars()
        .skip(drawn.chars().count().saturating_sub(3000))
        .collect();
    assert_eq!(code, Some(0), "{tail}");
    assert!(stdout.contains("Evidence: run 2"), "{stdout}");
    // The stage's start and the verdict are printed as lines above the live ones.
    assert!(
        drawn.contains("T-1/s: running slow, flaky, chatty, broken, grouped"),
        "{tail}"
    );
    assert!(drawn.contains("verdict: degraded (run 2)"), "{tail}");
    // Each agent's line: waiting, running, retrying or waiting out a limit, then its outcome.
    for shown in [
        "slow         ",
        "running (attempt 1)",
        "retry 2 in 300ms: ",
        "for a shared rate limit: ",
        "✔ answered (1 attempt(s))",
        "✔ answered (2 attempt(s))",
        "⚠ invalid (1 attempt(s))",
        "✘ failed (1 attempt(s))",
    ] {
        assert!(
            drawn.contains(shown),
            "{shown:?} is not on the terminal:\n{tail}"
        );
    }
    // No plain event lines: those are for pipes.
    for plain in [
        "[synod]",
        "attempt 1 started",
        "attempt 1 answered",
        "; retry 2 in",
        "grouped: waits",
        "after 1 attempt(s)",
    ] {
        assert!(!drawn.contains(plain), "{plain:?} on the terminal:\n{tail}");
    }
}

#[test]
fn quiet_draws_nothing_on_the_terminal() {
    let project = Project::new(&config(&[("one", &answers("{\"answer\": 42}"), "")], ""));
    let (code, stdout, drawn) = on_terminal(
        &project,
        &["run", "--spec", "T-2", "--stage", "s", "--quiet"],
    );
    assert_eq!(code, Some(0), "{drawn}");
    assert!(stdout.contains("**Status: ok**"), "{stdout}");
    assert_eq!(drawn, "", "--quiet drew on the terminal");
}
