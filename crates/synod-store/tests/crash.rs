//! Crash safety: a child process records stages in a loop and prints each run id once its
//! commit has returned; the test SIGKILLs it at random moments, then reopens the database and
//! checks that it is intact and that every printed run is there with all its outputs and its
//! verdict.
//!
//! The child is this test binary itself, re-executed with `SYNOD_STORE_CRASH_CHILD` set.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{output, run};
use serde_json::{Value, json};
use synod_store::{NewOutput, Options, Page, RunId, Store};

const CHILD_ENV: &str = "SYNOD_STORE_CRASH_CHILD";
const ROUND_ENV: &str = "SYNOD_STORE_CRASH_ROUND";
const ROUNDS: u64 = 20;

fn outputs_for(round: u64, i: u64) -> Vec<NewOutput> {
    (0..3)
        .map(|a| {
            let mut o = output(&format!("agent{a}"), 1, a != 2, 10 * a + i % 7);
            // 4 KB outputs so the WAL fills and checkpoints happen while we kill.
            o.raw_output = format!("{round}:{i}:{a}:").repeat(4096 / 8);
            o
        })
        .collect()
}

fn verdict_for(round: u64, i: u64) -> Value {
    json!({"status": "ok", "round": round, "i": i, "agreements": [{"field": "/x", "value": i}]})
}

/// The writer: records stages forever, printing `COMMITTED <round> <i> <run id>` after each.
fn child(path: &Path, round: u64) -> ! {
    let store = Store::open(path, Options::default()).unwrap_or_else(|e| {
        eprintln!("child could not open the store: {e}");
        std::process::exit(3)
    });
    let mut stdout = std::io::stdout();
    for i in 0.. {
        let started = (round * 1_000_000 + i) as i64;
        let id = store
            .record_stage(
                &run("crash", "plan", started),
                &outputs_for(round, i),
                &verdict_for(round, i),
            )
            .unwrap_or_else(|e| {
                eprintln!("child could not record: {e}");
                std::process::exit(4)
            });
        // Only after the commit has returned.
        let _ = writeln!(stdout, "COMMITTED {round} {i} {id}");
        let _ = stdout.flush();
    }
    std::process::exit(0)
}

/// A small xorshift so the kill moments vary without a `rand` dependency.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn sigkill_never_loses_a_committed_run() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        let round = std::env::var(ROUND_ENV)
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        child(Path::new(&path), round);
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    drop(Store::open(&path, Options::default()).unwrap());
    let exe = std::env::current_exe().unwrap();
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut all: Vec<(u64, u64, RunId)> = Vec::new();

    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "sigkill_never_loses_a_committed_run",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .env(ROUND_ENV, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let committed = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let committed = Arc::clone(&committed);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let parts: Vec<&str> = line.split_whitespace().collect();
                    if let ["COMMITTED", r, i, id] = parts[..] {
                        let parsed = (r.parse::<u64>(), i.parse::<u64>(), id.parse::<i64>());
                        if let (Ok(r), Ok(i), Ok(id)) = parsed {
                            committed.lock().unwrap().push((r, i, RunId(id)));
                        }
                    }
                }
            })
        };
        let delay = 50 + next(&mut seed) % 250;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL; TerminateProcess (exit code 1) on Windows
        let status = child.wait().unwrap();
        let killed = if cfg!(windows) {
            status.code() == Some(1)
        } else {
            status.code().is_none()
        };
        assert!(
            killed,
            "round {round}: child ended by itself ({status}), see its stderr"
        );
        reader.join().unwrap();
        let committed = std::mem::take(&mut *committed.lock().unwrap());

        let store = Store::open(&path, Options::default()).unwrap();
        store
            .integrity_check()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));

        // Everything in the file, read in four queries.
        let runs: HashMap<RunId, Value> = store
            .history("crash", Page::first(u32::MAX))
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.verdict))
            .collect();
        let mut outputs: HashMap<(RunId, String), String> = HashMap::new();
        for agent in ["agent0", "agent1", "agent2"] {
            for o in store
                .outputs_for_agent(agent, Page::first(u32::MAX))
                .unwrap()
            {
                outputs.insert((o.run_id, o.agent.clone()), o.raw_output);
            }
        }
        // Every run whose commit returned is there, whole.
        for &(r, i, id) in all.iter().chain(&committed) {
            let verdict = runs
                .get(&id)
                .unwrap_or_else(|| panic!("round {round}: run {id} lost"));
            assert_eq!(verdict, &verdict_for(r, i), "run {id}");
            for want in outputs_for(r, i) {
                let got = outputs.get(&(id, want.agent.clone()));
                assert_eq!(
                    got,
                    Some(&want.raw_output),
                    "run {id}: output of {} lost or wrong",
                    want.agent
                );
            }
        }
        // This round's runs also through the per-run query.
        for &(_, _, id) in &committed {
            assert_eq!(store.outputs_for_run(id).unwrap().len(), 3, "run {id}");
        }
        // No partial run either: every run in the file has all three outputs.
        for id in runs.keys() {
            let n = ["agent0", "agent1", "agent2"]
                .iter()
                .filter(|a| outputs.contains_key(&(*id, (**a).to_owned())))
                .count();
            assert_eq!(n, 3, "run {id} is partial");
        }
        assert_eq!(outputs.len(), 3 * runs.len(), "outputs without a run");
        all.extend(committed);
    }
    assert!(
        all.len() as u64 >= ROUNDS,
        "too few commits observed ({}) to mean anything",
        all.len()
    );
    eprintln!("{} committed runs survived {ROUNDS} SIGKILLs", all.len());
}
