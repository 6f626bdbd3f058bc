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
    SETSID_CHILDREN, agent_script, assert_group_gone, assert_marker_gone, marked_alive, pids_in,
    process_alive, read_pids, unique_marker,
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
