//! With this process a child subreaper, descendants that an agent orphans (a `setsid` child
//! of an agent that exits, a double-forking daemon, an `env -i` child) are stopped and reaped
//! when the agent finishes, times out, is cancelled or is dropped. (Its own test binary: the
//! subreaper setting is process-wide, and the tests run one at a time so that an orphan has
//! exactly one candidate owner.)
// Runs Unix programs (sh, perl, /proc); Windows has its own tests in windows.rs.
#![cfg(unix)]
#![cfg(target_os = "linux")]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    DAEMON, SETSID_CHILDREN, STUBBORN_SETSID_CHILD, agent_script, assert_marker_gone, my_children,
    pids_in, process_alive, unique_marker,
};
use synod_exec::{AgentCommand, CancellationToken, Error, become_subreaper, run, run_with_cancel};
use tokio::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::const_new(());

/// One test at a time, with this process a subreaper.
async fn exclusive() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().await;
    assert!(become_subreaper().unwrap());
    assert!(synod_exec::is_subreaper());
    guard
}

const NAMES: [&str; 3] = ["setsid", "envi", "daemon"];

/// An agent that starts a `setsid` child, an `env -i setsid` child and a double-forking
/// daemon, waits until all three run, then runs `tail`.
fn orphaning(dir: &Path, marker: &str, tail: &str) -> AgentCommand {
    let body = format!(
        "{SETSID_CHILDREN}{DAEMON}\n\
         while [ ! -s \"$1/setsid\" ] || [ ! -s \"$1/envi\" ] || [ ! -s \"$1/daemon\" ]; do sleep 0.01; done\n\
         {tail}"
    );
    agent_script(&body, dir, marker)
}

/// The three started, none is alive, and none is left as our zombie.
async fn assert_all_gone_and_reaped(dir: &Path, marker: &str) {
    let pids = pids_in(dir, &NAMES).await;
    assert_marker_gone(marker).await;
    for pid in &pids {
        assert!(!process_alive(*pid), "process {pid} survived");
    }
    // Whatever was reparented to us was reaped (bounded: a dropped run reaps in the
    // background).
    for _ in 0..1000 {
        if my_children().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("children left behind: {:?}", my_children());
}

#[tokio::test]
async fn orphans_of_an_agent_that_exits_are_stopped_and_reaped() {
    let _serial = exclusive().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("exit");
    let cmd =
        orphaning(dir.path(), &marker, "echo started; exit 0").timeout(Duration::from_secs(30));
    let out = run(&cmd).await.unwrap();
    assert_eq!(out.stdout_lossy(), "started\n");
    // Stopped and reaped before `run` returned.
    assert!(
        marker_free_now(&marker),
        "{:?}",
        common::marked_alive(&marker)
    );
    assert!(my_children().is_empty(), "{:?}", my_children());
    assert_all_gone_and_reaped(dir.path(), &marker).await;
}

/// An agent that starts a `setsid` child and exits as soon as the child has left its group
/// and session, usually before any poll could record it: the quick check after its exit (no
/// `/proc` table read when nothing is left) must see the orphan reparented to us, so the full
/// scan still runs, claims and stops it.
#[tokio::test]
async fn an_orphan_of_an_agent_that_exits_at_once_is_stopped_and_reaped() {
    const QUICK: &str = r#"pipe R, W; if (!fork) { close R; POSIX::setsid(); close W; exec "perl", "-e", "sleep 300", $ARGV[0]; exit 1 } close W; <R>; exit 0"#;
    let _serial = exclusive().await;
    for round in 0..10 {
        let marker = unique_marker(&format!("quick{round}"));
        let cmd = AgentCommand::new("perl")
            .args(["-MPOSIX", "-e", QUICK, &marker])
            .kill_grace(Duration::from_millis(150))
            .timeout(Duration::from_secs(30));
        run(&cmd).await.unwrap();
        assert!(
            marker_free_now(&marker),
            "round {round}: {:?}",
            common::marked_alive(&marker)
        );
        assert!(my_children().is_empty(), "{:?}", my_children());
    }
}

#[tokio::test]
async fn an_orphan_that_ignores_sigterm_is_killed_and_reaped_before_run_returns() {
    let _serial = exclusive().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("stubborn");
    let body = format!(
        "{STUBBORN_SETSID_CHILD}\nwhile [ ! -s \"$1/stubborn\" ]; do sleep 0.01; done\nexit 0"
    );
    run(&agent_script(&body, dir.path(), &marker))
        .await
        .unwrap();
    // SIGKILLed once the grace ran out, and waited for until it died and was reaped.
    assert!(
        marker_free_now(&marker),
        "{:?}",
        common::marked_alive(&marker)
    );
    assert!(my_children().is_empty(), "{:?}", my_children());
}

#[tokio::test]
async fn an_untracked_run_does_not_wait_out_its_grace_for_a_zombie_in_its_group() {
    // Tracking off, as a subreaper: the agent orphans a member of its group, which is
    // reparented to us, stopped with the group, and stays our zombie (only tracked
    // descendants are reaped). A group whose members are all zombies is gone: were it taken
    // for alive, the run would wait out its hour of grace.
    let _serial = exclusive().await;
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("member");
    let script = format!("(sleep 300 & echo $! > \"{}\"); exit 0", pidfile.display());
    let cmd = AgentCommand::new("sh")
        .args(["-c", &script])
        .track_descendants(false)
        .kill_grace(Duration::from_secs(3600));
    run(&cmd).await.unwrap();
    let pid = common::read_pids(&pidfile, 1).await[0];
    let member = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(member, nix::sys::signal::Signal::SIGKILL);
    nix::sys::wait::waitpid(member, None).unwrap();
}

#[tokio::test]
async fn a_tracked_run_does_not_wait_out_its_grace_for_a_zombie_in_its_group() {
    // As above with tracking on: the orphaned member is stopped, and its zombie no longer
    // counts as a live member of the group; it is reaped before `run` returns.
    let _serial = exclusive().await;
    let cmd = AgentCommand::new("sh")
        .args(["-c", "(sleep 300 &); exit 0"])
        .kill_grace(Duration::from_secs(3600));
    run(&cmd).await.unwrap();
    assert!(my_children().is_empty(), "{:?}", my_children());
}

fn marker_free_now(marker: &str) -> bool {
    common::marked_alive(marker).is_empty()
}

#[tokio::test]
async fn orphans_die_with_a_timeout() {
    let _serial = exclusive().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("timeout");
    let cmd = orphaning(dir.path(), &marker, "exec sleep 300").timeout(Duration::from_secs(3));
    let err = run(&cmd).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_all_gone_and_reaped(dir.path(), &marker).await;
}

#[tokio::test]
async fn orphans_die_with_a_cancellation() {
    let _serial = exclusive().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("cancel");
    let token = CancellationToken::new();
    let cancel = token.clone();
    let watch = dir.path().to_owned();
    tokio::spawn(async move {
        pids_in(&watch, &NAMES).await;
        cancel.cancel();
    });
    let cmd = orphaning(dir.path(), &marker, "exec sleep 300");
    let err = run_with_cancel(&cmd, &token).await.unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_all_gone_and_reaped(dir.path(), &marker).await;
}

#[tokio::test]
async fn orphans_die_with_a_dropped_future() {
    let _serial = exclusive().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("drop");
    let cmd = orphaning(dir.path(), &marker, "exec sleep 300");
    tokio::select! {
        r = run(&cmd) => panic!("finished early: {r:?}"),
        _ = pids_in(dir.path(), &NAMES) => {}
    }
    assert_all_gone_and_reaped(dir.path(), &marker).await;
}
