//! `run` against real processes: output, errors, caps, no deadlock.
// Runs Unix programs (sh, perl, /proc); Windows has its own tests in windows.rs.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use synod_core::{Classify, ErrorClass};
use synod_exec::{AgentCommand, Classifier, Error, run, run_with_cancel};
use tokio_util::sync::CancellationToken;

fn sh(script: &str) -> AgentCommand {
    AgentCommand::new("sh")
        .args(["-c", script])
        .kill_grace(Duration::from_millis(200))
}

#[tokio::test]
async fn collects_stdout_stderr_status_and_duration() {
    let out = run(&sh("printf 'out\\377'; printf err >&2")).await.unwrap();
    assert_eq!(out.stdout, b"out\xff");
    assert_eq!(out.stdout_lossy(), "out\u{fffd}");
    assert_eq!(out.stderr_lossy(), "err");
    assert!(out.status.success());
    assert!(out.success());
    assert_eq!(out.code(), Some(0));
    assert!(!out.stdout_truncated && !out.stderr_truncated);
    assert!(out.duration > Duration::ZERO);
    // Debug shows sizes and short tails, never a whole (possibly huge) output.
    let debug = format!("{out:?}");
    assert!(
        debug.contains("stdout_len: 4")
            && debug.contains("stderr_len: 3")
            && debug.contains("stderr_tail: \"err\""),
        "{debug}"
    );
}

#[tokio::test]
async fn env_modes_cwd_and_stdin() {
    let out = run(&sh("echo \"$PATH|${HOME:-unset}|$X\"; pwd")
        .env_allow(["PATH"])
        .env("X", "1")
        .cwd("/tmp"))
    .await
    .unwrap();
    let text = out.stdout_lossy();
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    assert!(first.ends_with("|unset|1"), "{first}");
    assert!(!first.starts_with('|'), "PATH was allowed: {first}");
    assert_eq!(lines.next(), Some("/tmp"));

    let out = run(&AgentCommand::new("/usr/bin/env")
        .env_clear()
        .env("ONLY", "me"))
    .await
    .unwrap();
    assert_eq!(out.stdout_lossy(), "ONLY=me\n");

    let out = run(&AgentCommand::new("/usr/bin/env")
        .env("GONE", "x")
        .env_remove("GONE"))
    .await
    .unwrap();
    assert!(!out.stdout_lossy().contains("GONE="));

    let out = run(&AgentCommand::new("cat").stdin(vec![1u8, 2, 3]))
        .await
        .unwrap();
    assert_eq!(out.stdout, [1, 2, 3]);
}

#[tokio::test]
async fn not_found() {
    let err = run(&AgentCommand::new("synod-no-such-program-xyz"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { program } if program == "synod-no-such-program-xyz"),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn permission_denied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script.sh");
    std::fs::write(&path, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = run(&AgentCommand::new(&path)).await.unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn invalid_commands_fail_before_spawning() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("spawned");
    let script = format!("touch {}", marker.display());
    for cmd in [
        AgentCommand::new(""),
        sh(&script).arg("a\0b"),
        sh(&script).env("K", "v\0"),
        sh(&script).cwd(dir.path().join("missing")),
    ] {
        let err = run(&cmd).await.unwrap_err();
        assert!(matches!(err, Error::InvalidCommand { .. }), "{err}");
        assert_eq!(err.class(), ErrorClass::Permanent);
    }
    assert!(
        !marker.exists(),
        "nothing may be spawned for an invalid command"
    );
}

#[tokio::test]
async fn non_zero_exit_keeps_output_and_classifies() {
    let err = run(&sh(
        "echo result; echo 'Error: 429 rate limited, retry after 3s' >&2; exit 7",
    ))
    .await
    .unwrap_err();
    let Error::NonZeroExit {
        code,
        stderr_tail,
        output,
        ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(*code, 7);
    assert!(stderr_tail.contains("429"), "{stderr_tail}");
    assert_eq!(output.stdout_lossy(), "result\n");
    assert_eq!(output.code(), Some(7));
    assert!(!output.success());
    assert_eq!(
        err.output()
            .map(|o| o.stdout_lossy().into_owned())
            .as_deref(),
        Some("result\n")
    );
    assert_eq!(
        err.class(),
        ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(3))
        }
    );
    assert!(err.to_string().contains("code 7"), "{err}");

    // Errors printed on stdout only are classified too.
    let err = run(&sh("echo 'invalid api key'; exit 1"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);

    // A per-command classifier.
    let strict = Classifier::empty(ErrorClass::Permanent);
    let err = run(&sh("echo 503 >&2; exit 1").classifier(strict))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn signaled() {
    let err = run(&sh("kill -9 $$")).await.unwrap_err();
    assert!(matches!(err, Error::Signaled { signal: 9, .. }), "{err}");
    assert!(err.to_string().contains("SIGKILL"), "{err}");
    assert_eq!(err.class(), ErrorClass::Transient);
    let output = err.output().expect("a signalled run keeps its output");
    assert_eq!(output.code(), None);
    assert!(!output.success());
}

#[tokio::test]
async fn timeout_keeps_partial_output() {
    let err = run(&sh("echo started; sleep 30").timeout(Duration::from_millis(1000)))
        .await
        .unwrap_err();
    let Error::Timeout { after, partial, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(*after, Duration::from_millis(1000));
    assert_eq!(partial.stdout_lossy(), "started\n");
    assert_eq!(
        err.output()
            .map(|o| o.stdout_lossy().into_owned())
            .as_deref(),
        Some("started\n")
    );
    assert_eq!(err.class(), ErrorClass::Transient);
    assert!(
        err.is_timeout(),
        "a retry budget must charge a timeout as one"
    );
}

#[tokio::test]
async fn cancellation() {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        t.cancel();
    });
    let err = run_with_cancel(&sh("sleep 30"), &token).await.unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");

    // The builder option works the same way.
    let token = CancellationToken::new();
    token.cancel();
    let err = run(&sh("sleep 30").cancel_token(token)).await.unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
}

#[tokio::test]
async fn a_run_cancelled_before_it_starts_spawns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    let touch = sh(&format!("touch '{}'", marker.display()));
    let fired = CancellationToken::new();
    fired.cancel();

    // Either token alone stops it: the caller's or the command's own.
    let err = run_with_cancel(&touch, &fired).await.unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    let err = run(&touch.clone().cancel_token(fired.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    let err = run_with_cancel(
        &touch.clone().cancel_token(fired.clone()),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert!(err.output().is_none());
    assert!(
        !marker.exists(),
        "a cancelled run must not start its program"
    );
    // Nothing is even looked up: a missing program is not reported.
    let err = run(&AgentCommand::new("/definitely/not/a/program").cancel_token(fired.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    let err = run_with_cancel(&AgentCommand::new("/definitely/not/a/program"), &fired)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");

    run_with_cancel(&touch, &CancellationToken::new())
        .await
        .unwrap();
    assert!(marker.exists());
}

#[tokio::test]
async fn a_child_that_stops_reading_stdin_early_is_not_an_error() {
    // 1 MiB is more than a pipe holds: the write is still going when `head` exits.
    let out = run(&sh("head -c 3").stdin(vec![b'y'; 1 << 20]))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"yyy");
}

#[tokio::test]
async fn output_cap_keeps_head_and_tail() {
    let script = "echo HEAD; head -c 1000000 /dev/zero | tr '\\0' x; echo; echo TAIL";
    let out = run(&sh(script).output_cap(1000)).await.unwrap();
    assert!(out.stdout_truncated);
    let text = out.stdout_lossy();
    assert!(text.starts_with("HEAD\nxxx"), "{}", &text[..20]);
    assert!(
        text.ends_with("xxx\nTAIL\n"),
        "{}",
        &text[text.len() - 20..]
    );
    assert!(
        text.contains(&format!("{} bytes dropped", out.stdout_dropped)),
        "{text}"
    );
    assert_eq!(out.stdout_dropped, 1_000_011 - 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_both_pipes_while_reading_stdin() {
    // 10 MB in; 50 MB to stdout and 50 MB to stderr, interleaved with reading stdin.
    let input = vec![b'i'; 10_000_000];
    let script = "(head -c 50000000 /dev/zero) >&2 & \
                  head -c 50000000 /dev/zero & \
                  n=$(wc -c); wait; echo \"read=$n\" >&2";
    let out = run(&sh(script)
        .stdin(input)
        .output_cap(64 << 20)
        .timeout(Duration::from_secs(60)))
    .await
    .unwrap();
    assert_eq!(out.stdout.len(), 50_000_000);
    assert_eq!(out.stderr.len(), 50_000_000 + "read=10000000\n".len());
    assert!(out.stderr_lossy().ends_with("read=10000000\n"));
}

#[tokio::test]
async fn leftover_background_processes_are_stopped_after_exit() {
    // The leader exits at once but leaves a child holding the pipes.
    let out = run(&sh("sleep 30 & echo done").kill_grace(Duration::from_millis(100)))
        .await
        .unwrap();
    assert_eq!(out.stdout_lossy(), "done\n");
    assert!(out.duration < Duration::from_secs(20), "{:?}", out.duration);
}
