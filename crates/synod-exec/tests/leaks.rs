//! No process survives a timeout, a cancellation, a dropped future, a dropped `Running`, or
//! `kill()`, including a background grandchild (that may even ignore SIGTERM), and
//! grandchildren that left the process group and session (`setsid`) or cleared their
//! environment (`env -i`). (This process is not a subreaper: the cases where an agent exits
//! and orphans its descendants are in `subreaper.rs`.)
// Runs Unix programs (sh, perl, /proc); Windows has its own tests in windows.rs.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    SETSID_CHILDREN, STUBBORN_SETSID_CHILD, agent_script, assert_group_gone, assert_marker_gone,
    marked_alive, pids_in, process_alive, read_pids, unique_marker,
};
use futures::StreamExt;
use synod_exec::{AgentCommand, Error, run, run_with_cancel, spawn};
use tokio_util::sync::CancellationToken;

/// `sh` (the group leader) records its pid and its background grandchild's pid, then waits.
fn family(pidfile: &Path, ignore_term: bool) -> AgentCommand {
    let trap = if ignore_term { "trap '' TERM; " } else { "" };
    let script = format!(
        "{trap}sleep 300 & echo \"$$ $!\" > {}; sleep 300",
        pidfile.display()
    );
    AgentCommand::new("sh")
        .args(["-c", &script])
        .kill_grace(Duration::from_millis(150))
}

async fn assert_family_gone(pidfile: &Path) {
    let pids = read_pids(pidfile, 2).await;
    assert_group_gone(pids[0]).await;
    for pid in pids {
        assert!(!process_alive(pid), "process {pid} survived");
    }
}

#[tokio::test]
async fn timeout_stops_the_whole_group() {
    for ignore_term in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pids");
        // Long enough for `sh` to write its pid file even on a loaded machine.
        let cmd = family(&pidfile, ignore_term).timeout(Duration::from_millis(1000));
        let err = run(&cmd).await.unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        assert_family_gone(&pidfile).await;
    }
}

#[tokio::test]
async fn cancellation_stops_the_whole_group() {
    for ignore_term in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pids");
        let token = CancellationToken::new();
        let cancel = token.clone();
        let watch = pidfile.clone();
        tokio::spawn(async move {
            read_pids(&watch, 2).await;
            cancel.cancel();
        });
        let err = run_with_cancel(&family(&pidfile, ignore_term), &token)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err}");
        assert_family_gone(&pidfile).await;
    }
}

#[tokio::test]
async fn dropping_the_run_future_stops_the_whole_group() {
    for ignore_term in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pids");
        let cmd = family(&pidfile, ignore_term);
        tokio::select! {
            r = run(&cmd) => panic!("finished early: {r:?}"),
            _ = read_pids(&pidfile, 2) => {}
        }
        // The run future is dropped here; a background task stops the group.
        assert_family_gone(&pidfile).await;
    }
}

#[tokio::test]
async fn dropping_a_running_child_stops_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let running = spawn(&family(&pidfile, true)).unwrap();
    let pids = read_pids(&pidfile, 2).await;
    assert_eq!(running.pid(), pids[0].unsigned_abs());
    drop(running);
    assert_family_gone(&pidfile).await;
}

#[tokio::test]
async fn kill_stops_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let running = spawn(&family(&pidfile, false)).unwrap();
    read_pids(&pidfile, 2).await;
    let status = running.kill().await.unwrap();
    assert!(!status.success());
    assert_family_gone(&pidfile).await;
}

#[tokio::test]
async fn stop_token_stops_a_streaming_child() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let mut running = spawn(&family(&pidfile, false)).unwrap();
    read_pids(&pidfile, 2).await;
    running.stop_token().cancel();
    let mut last = None;
    while let Some(event) = running.next().await {
        last = Some(event);
    }
    assert!(
        matches!(last, Some(synod_exec::Event::Exited(_))),
        "{last:?}"
    );
    assert!(matches!(running.wait().await, Err(Error::Cancelled)));
    assert_family_gone(&pidfile).await;
}

#[test]
fn dropping_the_runtime_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cmd = family(&pidfile, true).kill_grace(Duration::from_secs(60));
    rt.block_on(async {
        tokio::select! {
            r = run(&cmd) => panic!("finished early: {r:?}"),
            _ = read_pids(&pidfile, 2) => {}
        }
    });
    // The graceful stop task never gets to run: its guard SIGKILLs the group.
    drop(rt);
    let check = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    check.block_on(assert_family_gone(&pidfile));
}

/// An agent that starts a `setsid` child and an `env -i setsid` child, then sleeps.
fn escaping(dir: &Path, marker: &str) -> AgentCommand {
    agent_script(&format!("{SETSID_CHILDREN}\nexec sleep 300"), dir, marker)
}

/// The escaping children did start, and none is left.
async fn assert_escapees_gone(dir: &Path, marker: &str) {
    let pids = pids_in(dir, &["setsid", "envi"]).await;
    assert_marker_gone(marker).await;
    for pid in pids {
        assert!(!process_alive(pid), "process {pid} survived");
    }
}

/// A token cancelled as soon as both escaping children have written their pid files.
fn cancel_once_both_children_started(dir: &std::path::Path) -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    let watch = dir.to_owned();
    tokio::spawn(async move {
        pids_in(&watch, &["setsid", "envi"]).await;
        cancel.cancel();
    });
    token
}

#[tokio::test]
async fn setsid_and_env_clearing_children_die_with_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("timeout");
    // Long enough for both children to start even on a loaded machine.
    let cmd = escaping(dir.path(), &marker).timeout(Duration::from_secs(3));
    let err = run(&cmd).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_escapees_gone(dir.path(), &marker).await;
}

#[tokio::test]
async fn setsid_and_env_clearing_children_die_with_a_cancellation() {
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("cancel");
    let token = cancel_once_both_children_started(dir.path());
    let err = run_with_cancel(&escaping(dir.path(), &marker), &token)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_escapees_gone(dir.path(), &marker).await;
}

#[tokio::test]
async fn setsid_and_env_clearing_children_die_with_a_dropped_future() {
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("drop");
    let cmd = escaping(dir.path(), &marker);
    tokio::select! {
        r = run(&cmd) => panic!("finished early: {r:?}"),
        _ = pids_in(dir.path(), &["setsid", "envi"]) => {}
    }
    assert_escapees_gone(dir.path(), &marker).await;
}

#[tokio::test]
async fn setsid_and_env_clearing_children_die_with_a_dropped_running_child() {
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("drop-running");
    let running = spawn(&escaping(dir.path(), &marker)).unwrap();
    pids_in(dir.path(), &["setsid", "envi"]).await;
    drop(running);
    assert_escapees_gone(dir.path(), &marker).await;
}

#[tokio::test]
async fn setsid_children_recorded_while_the_agent_ran_die_when_it_exits() {
    // Not a subreaper: once the agent exits they are init's, found only because the scans
    // made while it ran recorded them. It runs on for a second after both started, across
    // several scans (at most 250 ms apart).
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("exits");
    let body = format!(
        "{SETSID_CHILDREN}\n\
         while [ ! -s \"$1/setsid\" ] || [ ! -s \"$1/envi\" ]; do sleep 0.01; done\n\
         sleep 1"
    );
    run(&agent_script(&body, dir.path(), &marker))
        .await
        .unwrap();
    assert_escapees_gone(dir.path(), &marker).await;
}

#[tokio::test]
async fn a_stopped_agent_is_continued_so_it_can_exit_gracefully() {
    // It stops itself (SIGSTOP), then times out: the SIGTERM must come with a SIGCONT, or it
    // could only be SIGKILLed once the grace ran out, its cleanup never run. The cleanup
    // takes a moment (a loop of shell builtins, no child to signal), well within the grace.
    let dir = tempfile::tempdir().unwrap();
    let cleaned = dir.path().join("cleaned");
    let script = format!(
        "trap 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo done > \"{}\"; exit 0' TERM; \
         kill -STOP $$; sleep 300",
        cleaned.display()
    );
    let cmd = AgentCommand::new("sh")
        .args(["-c", &script])
        .timeout(Duration::from_secs(1))
        .kill_grace(Duration::from_secs(5));
    let err = run(&cmd).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(&cleaned).ok().as_deref(),
        Some("done\n"),
        "the agent was not given its grace"
    );
}

#[tokio::test]
async fn a_descendant_outside_the_group_that_ignores_sigterm_is_killed_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("stubborn");
    let body = format!("{STUBBORN_SETSID_CHILD}\nexec sleep 300");
    let token = CancellationToken::new();
    let cancel = token.clone();
    let watch = dir.path().to_owned();
    tokio::spawn(async move {
        pids_in(&watch, &["stubborn"]).await;
        cancel.cancel();
    });
    let err = run_with_cancel(&agent_script(&body, dir.path(), &marker), &token)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    let pid = pids_in(dir.path(), &["stubborn"]).await[0];
    assert_marker_gone(&marker).await;
    assert!(!process_alive(pid), "process {pid} survived");
}

#[tokio::test]
async fn an_untracked_run_that_leaves_nothing_does_not_wait_out_its_grace() {
    // An hour of grace: were the empty group taken for alive, this would not return.
    let out = run(&AgentCommand::new("sh")
        .args(["-c", "echo ok"])
        .track_descendants(false)
        .kill_grace(Duration::from_secs(3600)))
    .await
    .unwrap();
    assert_eq!(out.stdout_lossy(), "ok\n");
}

#[tokio::test]
async fn without_tracking_only_the_group_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("untracked");
    let token = cancel_once_both_children_started(dir.path());
    let cmd = escaping(dir.path(), &marker).track_descendants(false);
    assert!(!cmd.get_track_descendants());
    let err = run_with_cancel(&cmd, &token).await.unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    // The children that left the group survive: what tracking is for.
    let pids = pids_in(dir.path(), &["setsid", "envi"]).await;
    for pid in &pids {
        assert!(
            process_alive(*pid),
            "process {pid} was stopped without tracking"
        );
    }
    assert_eq!(marked_alive(&marker).len(), 2);
    for pid in pids {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert_marker_gone(&marker).await;
}
