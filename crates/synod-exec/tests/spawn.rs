//! `spawn`: line events from real processes, `wait`, timeouts.
// Runs Unix programs (sh, perl, /proc); Windows has its own tests in windows.rs.
#![cfg(unix)]

use std::time::Duration;

use futures::StreamExt;
use synod_exec::{AgentCommand, Bytes, Error, Event, spawn};

fn sh(script: &str) -> AgentCommand {
    AgentCommand::new("sh")
        .args(["-c", script])
        .kill_grace(Duration::from_millis(200))
}

async fn collect(cmd: &AgentCommand) -> Vec<Event> {
    spawn(cmd).unwrap().collect().await
}

#[tokio::test]
async fn lines_from_both_streams_then_exited() {
    let events = collect(&sh(
        "printf 'a\\nb\\r\\n\\n'; printf 'e1\\ne2' >&2; printf 'last'",
    ))
    .await;
    let stdout: Vec<&[u8]> = events
        .iter()
        .filter_map(|e| match e {
            Event::Stdout(l) => Some(&l[..]),
            _ => None,
        })
        .collect();
    assert_eq!(stdout, [&b"a"[..], b"b", b"", b"last"]);
    let stderr: Vec<String> = events
        .iter()
        .filter(|e| matches!(e, Event::Stderr(_)))
        .map(|e| e.line_lossy().unwrap().into_owned())
        .collect();
    assert_eq!(stderr, ["e1", "e2"]);
    match events.last() {
        Some(Event::Exited(status)) => assert!(status.success()),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Exited(_)))
            .count(),
        1
    );
}

#[tokio::test]
async fn long_lines_are_split_and_bytes_kept() {
    let events = collect(
        &sh("head -c 2500 /dev/zero | tr '\\0' x; printf '\\n\\377\\n'").max_line_len(1000),
    )
    .await;
    let lens: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Stdout(l) => Some(l.len()),
            _ => None,
        })
        .collect();
    assert_eq!(lens, [1000, 1000, 500, 1]);
    assert!(events.contains(&Event::Stdout(Bytes::from_static(&[0xff]))));
}

#[tokio::test]
async fn many_lines_arrive_in_order() {
    let events = collect(&AgentCommand::new("seq").arg("100000")).await;
    let mut n = 0u32;
    for e in &events {
        if let Event::Stdout(l) = e {
            n += 1;
            assert_eq!(l, n.to_string().as_bytes());
        }
    }
    assert_eq!(n, 100_000);
}

#[tokio::test]
async fn wait_collects_the_rest_and_reports_errors() {
    let mut running = spawn(&sh("echo first; echo second; echo oops >&2; exit 2")).unwrap();
    assert_eq!(
        running.next().await,
        Some(Event::Stdout(Bytes::from_static(b"first")))
    );
    let err = running.wait().await.unwrap_err();
    let Error::NonZeroExit {
        code,
        stderr_tail,
        output,
        ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!((*code, stderr_tail.as_str()), (2, "oops"));
    assert_eq!(output.stdout_lossy(), "second\n");

    let out = spawn(&AgentCommand::new("cat").stdin("x\ny\n"))
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(out.stdout, b"x\ny\n");
}

#[tokio::test]
async fn timeout_while_streaming() {
    let mut running = spawn(&sh("echo hi; sleep 30").timeout(Duration::from_millis(1000))).unwrap();
    assert_eq!(
        running.next().await,
        Some(Event::Stdout(Bytes::from_static(b"hi")))
    );
    let err = running.wait().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");

    // A child that finishes within its timeout is not stopped by it.
    let out = spawn(&sh("echo done").timeout(Duration::from_secs(60)))
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(out.stdout, b"done\n");
}

#[tokio::test]
async fn spawn_errors() {
    assert!(matches!(
        spawn(&AgentCommand::new("")),
        Err(Error::InvalidCommand { .. })
    ));
    assert!(matches!(
        spawn(&AgentCommand::new("synod-no-such-program-xyz")),
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_command_line_past_the_os_limit_is_refused_with_advice_not_retried() {
    use synod_core::{Classify, ErrorClass};
    // One argument past Linux's 128 KiB per-argument limit; past the 2 MiB total elsewhere.
    let prompt = "a".repeat(3_000_000);
    let cmd = AgentCommand::new("sh").args(["-c", "true", prompt.as_str()]);
    let err = spawn(&cmd).expect_err("refused");
    assert!(
        matches!(&err, Error::CommandLineTooLong { program, bytes }
            if program == "sh" && *bytes == 2 + 3 + 5 + 3_000_001),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(
        err.to_string(),
        "the command line of `sh` is too long for the operating system (3000011 bytes of \
         arguments): pass large input, such as a prompt, on standard input instead"
    );
    // `run` says the same.
    let err = synod_exec::run(&cmd).await.unwrap_err();
    assert!(matches!(err, Error::CommandLineTooLong { .. }), "{err:?}");

    // Another failure to start stays what it is: a file the kernel cannot execute.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk");
    std::fs::write(&junk, [0u8, 1, 2, 3, 0xff]).unwrap();
    let executable: std::fs::Permissions = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&junk, executable).unwrap();
    let err = spawn(&AgentCommand::new(&junk)).expect_err("not executable");
    assert!(
        matches!(&err, Error::Io { action: "spawning", source, .. }
            if source.raw_os_error() == Some(8)),
        "{err:?}"
    );
}

#[tokio::test]
async fn wait_without_events_keeps_bytes_exact() {
    let out = spawn(&sh("printf 'a\\r\\nb\\377'; printf 'no newline' >&2"))
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(out.stdout, b"a\r\nb\xff");
    assert_eq!(out.stderr, b"no newline");

    // Capped like `run`.
    let out = spawn(&sh("head -c 100000 /dev/zero").output_cap(100))
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert!(out.stdout_truncated);
    assert_eq!(out.stdout_dropped, 99_900);
}

#[tokio::test]
async fn a_process_that_leaves_the_group_cannot_hang_the_run() {
    // `setsid` moves the sleeper to its own session and group, still holding stdout.
    let cmd = sh("setsid sleep 3 & echo hi").kill_grace(Duration::from_millis(100));
    let started = std::time::Instant::now();
    let out = synod_exec::run(&cmd).await.unwrap();
    assert_eq!(out.stdout_lossy(), "hi\n");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A stream stays open while the pipe is held, until the caller stops it.
    let mut running = spawn(&cmd).unwrap();
    assert_eq!(
        running.next().await,
        Some(Event::Stdout(Bytes::from_static(b"hi")))
    );
    let started = std::time::Instant::now();
    // The leader may or may not have exited yet: either way kill returns its status.
    running.kill().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
