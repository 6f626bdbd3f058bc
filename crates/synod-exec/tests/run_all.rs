//! `run_all` against real processes: bounded concurrency, order, cancellation.
// Runs Unix programs (sh, perl, /proc); Windows has its own tests in windows.rs.
#![cfg(unix)]

use std::time::Duration;

use synod_exec::{AgentCommand, Error, RunAllOptions, run_all, run_all_with};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_three_alive() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    // Each child logs "+" when it starts and "-" just before it exits (appends are atomic).
    let cmds: Vec<AgentCommand> = (0..20)
        .map(|i| {
            let script = format!(
                "echo + >> {log}; sleep 0.05; echo {i}; echo - >> {log}",
                log = log.display()
            );
            AgentCommand::new("sh").args(["-c", &script])
        })
        .collect();
    let results = run_all(&cmds, 3, &CancellationToken::new()).await;
    assert_eq!(results.len(), 20);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.as_ref().unwrap().stdout_lossy(), format!("{i}\n"));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let (mut alive, mut max, mut starts) = (0i32, 0i32, 0);
    for line in text.lines() {
        match line {
            "+" => {
                alive += 1;
                starts += 1;
            }
            "-" => alive -= 1,
            other => panic!("unexpected log line {other:?}"),
        }
        max = max.max(alive);
    }
    assert_eq!(starts, 20);
    assert!(max <= 3, "{max} alive at once");
    assert!(max >= 1);
}

#[tokio::test]
async fn cancelling_the_token_stops_running_and_pending_commands() {
    let token = CancellationToken::new();
    let cmds: Vec<AgentCommand> = (0..6)
        .map(|_| {
            AgentCommand::new("sleep")
                .arg("30")
                .kill_grace(Duration::from_millis(100))
        })
        .collect();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    });
    let results = run_all(cmds, 2, &token).await;
    assert_eq!(results.len(), 6);
    assert!(
        results.iter().all(|r| matches!(r, Err(Error::Cancelled))),
        "{results:?}"
    );
}

#[tokio::test]
async fn first_failure_cancels_the_rest_when_asked() {
    let mut cmds = vec![AgentCommand::new("sh").args(["-c", "sleep 0.1; exit 4"])];
    cmds.extend((0..4).map(|_| {
        AgentCommand::new("sleep")
            .arg("30")
            .kill_grace(Duration::from_millis(100))
    }));
    let opts = RunAllOptions::default().cancel_on_first_failure(true);
    let results = run_all_with(&cmds, 3, &CancellationToken::new(), opts).await;
    assert!(matches!(
        results[0],
        Err(Error::NonZeroExit { code: 4, .. })
    ));
    assert!(
        results[1..]
            .iter()
            .all(|r| matches!(r, Err(Error::Cancelled)))
    );

    // Without the option, a failure does not affect the others.
    let cmds = [
        AgentCommand::new("false"),
        AgentCommand::new("echo").arg("ok"),
    ];
    let results = run_all(cmds, 1, &CancellationToken::new()).await;
    assert!(matches!(
        results[0],
        Err(Error::NonZeroExit { code: 1, .. })
    ));
    assert_eq!(results[1].as_ref().unwrap().stdout, b"ok\n");
}

#[tokio::test]
async fn empty_input_and_zero_concurrency() {
    let none: Vec<AgentCommand> = Vec::new();
    assert!(run_all(none, 3, &CancellationToken::new()).await.is_empty());
    // Zero is treated as one.
    let results = run_all([AgentCommand::new("true")], 0, &CancellationToken::new()).await;
    assert!(results[0].is_ok());
}
