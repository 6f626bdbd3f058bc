//! No process survives a timeout, a cancellation, a dropped future, a dropped `Running`, or
//! `kill()`, including a background grandchild (that may even ignore SIGTERM).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{assert_group_gone, process_alive, read_pids};
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
