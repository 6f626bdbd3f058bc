//! Processes this program starts itself (not through synod-exec) are never taken for an
//! agent's descendants: without the subreaper setting, a child of ours that left our process
//! group while an agent ran is the embedder's, and outlives the agent. (Its own test binary:
//! it must not be a subreaper, and no other agent may run beside it.)
// Runs Unix programs (sh, sleep, /proc); Windows has its own tests in windows.rs.
#![cfg(target_os = "linux")]

use std::os::unix::process::CommandExt;
use std::time::Duration;

use synod_exec::{AgentCommand, run};

#[tokio::test]
async fn a_child_the_embedder_started_during_a_run_outlives_the_agent() {
    assert!(
        !synod_exec::is_subreaper(),
        "a process is not a subreaper until it asks to be"
    );
    let dir = tempfile::tempdir().unwrap();
    let (started, go) = (dir.path().join("started"), dir.path().join("go"));
    let agent = AgentCommand::new("sh")
        .args([
            "-c",
            "touch \"$1\"; while [ ! -e \"$2\" ]; do sleep 0.01; done",
            "agent",
        ])
        .arg(&started)
        .arg(&go)
        .kill_grace(Duration::from_millis(200));
    let agent_run = tokio::spawn(async move { run(&agent).await });
    while !started.exists() {
        tokio::task::yield_now().await;
        std::thread::yield_now();
    }

    // Started after the agent, in a process group of its own, by this program itself.
    let mut own = std::process::Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .unwrap();
    std::fs::write(&go, "").unwrap();
    agent_run.await.unwrap().unwrap();

    let still_running = matches!(own.try_wait(), Ok(None));
    assert!(
        still_running,
        "synod-exec stopped a process it did not start"
    );
    own.kill().unwrap();
    own.wait().unwrap();
}
