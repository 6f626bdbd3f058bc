//! `synod run` when agents fail: timeouts, permanent errors, rate limits, open breakers,
//! sequential hand-over, conflicts, Ctrl-C and SIGKILL.

mod run_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use run_support::{Project, agent, answers, config, outputs_of};

const PLAN: &str = r#"{"approach": "incremental", "steps": [{"id": "S1"}]}"#;

#[test]
fn a_timed_out_agent_gives_a_degraded_verdict_that_is_stored() {
    let good = answers(PLAN);
    let project = Project::new(&config(
        &[
            ("a", &good, ""),
            ("b", &good, ""),
            (
                "slow",
                "exec sleep 30",
                "timeout = \"300ms\"\nretry = { max_attempts = 1 }",
            ),
        ],
        "consensus = { decision_fields = [\"/approach\"] }",
    ));
    let started = Instant::now();
    let (code, report, stderr) = project.run_json(&["--spec", "T-1", "--stage", "s"]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the timeout did not stop the agent"
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["status"], "degraded");
    assert_eq!(agent(&report, "slow")["outcome"], "timed_out");

    let run_id = report["run_id"].as_i64().unwrap();
    let history = project.synod(&["history", "T-1", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(runs[0]["status"], "degraded");
    let shown = project.show(run_id);
    let slow = outputs_of(&shown, "slow");
    assert_eq!(slow.len(), 1);
    assert_eq!(slow[0]["status"], "timeout");
}

#[test]
fn an_invalid_api_key_is_attempted_exactly_once() {
    let good = answers(PLAN);
    let project = Project::new(&config(
        &[
            ("a", &good, ""),
            ("b", &good, ""),
            (
                "locked",
                "echo 'Error: 401 invalid api key' >&2; exit 1",
                "retry = { max_attempts = 5, initial_delay = \"10ms\" }",
            ),
        ],
        "",
    ));
    let (code, report, _) = project.run_json(&["--spec", "K-1", "--stage", "s"]);
    assert_eq!(code, 0);
    assert_eq!(report["status"], "degraded");
    let locked = agent(&report, "locked");
    assert_eq!(locked["outcome"], "failed");
    assert_eq!(locked["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(locked["attempts"][0]["class"], "permanent");
    assert!(
        locked["error"]
            .as_str()
            .unwrap()
            .contains("401 invalid api key")
    );

    // The store agrees: one attempt, no retry.
    let shown = project.show(report["run_id"].as_i64().unwrap());
    let rows = outputs_of(&shown, "locked");
    assert_eq!(rows.len(), 1, "{shown:#}");
    assert_eq!(rows[0]["attempt"], 1);
    assert_eq!(rows[0]["exit_code"], 1);
}

#[test]
fn a_rate_limited_agent_waits_its_retry_after() {
    let good = answers(PLAN);
    let limited = format!(
        "if [ \"$SYNOD_ATTEMPT\" = 1 ]; then echo '429 rate limit exceeded, retry after 1s' >&2; exit 1; fi; {good}"
    );
    let project = Project::new(&config(
        &[
            ("a", &good, ""),
            (
                "limited",
                &limited,
                "retry = { max_attempts = 3, initial_delay = \"10ms\", max_delay = \"5s\", jitter = \"none\" }",
            ),
        ],
        "consensus = { quorum = \"all\" }",
    ));
    let (code, report, stderr) = project.run_json(&["--spec", "R-1", "--stage", "s"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["status"], "ok");
    let limited = agent(&report, "limited");
    assert_eq!(limited["outcome"], "answered");
    assert_eq!(limited["attempts"][0]["class"], "rate_limited");
    // It waited the asked-for second (not the 10 ms backoff) before attempt 2.
    assert!(
        limited["duration_ms"].as_u64().unwrap() >= 1000,
        "{limited:#}"
    );
    assert!(
        stderr.contains("limited: failed") && stderr.contains("retry 2 in 1s"),
        "{stderr}"
    );
}

#[test]
fn an_agent_whose_breaker_opens_is_skipped_and_reported() {
    let good = answers(PLAN);
    // Two failures in a window of two open the breaker; the third attempt is refused.
    let project = Project::new(&format!(
        "{}\n[breaker]\nwindow_size = 2\nminimum_calls = 2\nfailure_rate_threshold = 50\nwait_in_open = \"60s\"\n",
        config(
            &[
                ("a", &good, ""),
                ("b", &good, ""),
                (
                    "flaky",
                    "echo '503 overloaded' >&2; exit 1",
                    "retry = { max_attempts = 5, initial_delay = \"10ms\", jitter = \"none\" }"
                ),
            ],
            "",
        )
        .replace("[breaker]\nminimum_calls = 50\nwindow_size = 50\n", "")
    ));
    let (code, report, stderr) = project.run_json(&["--spec", "B-1", "--stage", "s"]);
    assert_eq!(code, 0, "{stderr}");
    let flaky = agent(&report, "flaky");
    assert_eq!(flaky["outcome"], "skipped", "{flaky:#}");
    assert_eq!(flaky["attempts"].as_array().unwrap().len(), 2);
    assert!(flaky["error"].as_str().unwrap().contains("circuit breaker"));
    assert!(stderr.contains("flaky: skipped"), "{stderr}");
}

#[test]
fn sequential_mode_passes_earlier_outputs_forward() {
    let first = answers(r#"{"approach": "incremental", "note": "from-first"}"#);
    // The second agent echoes its prompt, which holds {previous_outputs}.
    let second = r#"cat; echo; printf '%s\n' '```json' '{"approach": "incremental"}' '```'"#;
    let project = Project::new(&config(
        &[("first", &first, ""), ("second", second, "")],
        "mode = \"sequential\"\nprompt = \"previous: {previous_outputs}\"",
    ));
    let (code, report, stderr) = project.run_json(&["--spec", "Q-1", "--stage", "s"]);
    assert_eq!(code, 0, "{stderr}");
    let shown = project.show(report["run_id"].as_i64().unwrap());
    let raw = outputs_of(&shown, "second")[0]["raw_output"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        raw.contains(r#""agent":"first""#) && raw.contains("from-first"),
        "{raw}"
    );
    let first_raw = outputs_of(&shown, "first")[0]["raw_output"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!first_raw.contains("from-second"));
}

#[test]
fn a_conflict_exits_1() {
    let project = Project::new(&config(
        &[
            ("a", &answers(r#"{"verdict": "pass"}"#), ""),
            ("b", &answers(r#"{"verdict": "fail"}"#), ""),
        ],
        "consensus = { decision_fields = [\"/verdict\"], quorum = \"all\" }",
    ));
    let (code, report, _) = project.run_json(&["--spec", "C-1", "--stage", "s"]);
    assert_eq!(code, 1);
    assert_eq!(report["status"], "conflict");
    // No quorum also exits 1.
    let project = Project::new(&config(
        &[
            ("a", "exit 3", "retry = { max_attempts = 1 }"),
            ("b", "exit 3", "retry = { max_attempts = 1 }"),
        ],
        "",
    ));
    let (code, report, _) = project.run_json(&["--spec", "N-1", "--stage", "s"]);
    assert_eq!(code, 1);
    assert_eq!(report["status"], "no_quorum");
}

#[test]
fn a_spec_id_that_cannot_name_a_run_is_refused_before_anything_starts() {
    let project = Project::new(&config(
        &[("a", &answers(PLAN), "")],
        "consensus = { decision_fields = [\"/approach\"] }",
    ));
    for (spec, why) in [
        ("", "it is empty"),
        ("A-1\nB-2", "it contains a control character"),
    ] {
        let out = project.synod(&["run", "--spec", spec, "--stage", "s"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{spec:?}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot run: invalid spec id {spec:?}: {why}")),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    assert!(
        !project.store().exists(),
        "nothing is created for a refused run"
    );
}

#[test]
fn a_zero_count_or_limit_is_refused_by_its_flag_before_anything_starts() {
    let project = Project::new(&config(
        &[("a", &answers(PLAN), "")],
        "consensus = { decision_fields = [\"/approach\"] }",
    ));
    for (args, flag) in [
        (&["history", "DEMO-1", "--limit", "0"][..], "--limit"),
        (&["jobs", "--limit", "0"][..], "--limit"),
        (
            &["worker", "--once", "--concurrency", "0"][..],
            "--concurrency",
        ),
        (
            &[
                "submit",
                "--spec",
                "D-1",
                "--stage",
                "s",
                "--max-tries",
                "0",
            ][..],
            "--max-tries",
        ),
        (&["store", "vacuum", "--pages", "0"][..], "--pages"),
        (
            &["doctor", "--offline", "--version-timeout", "0s"][..],
            "--version-timeout",
        ),
        (&["doctor", "--call-timeout", "0s"][..], "--call-timeout"),
    ] {
        let out = project.synod(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        assert!(stderr.contains('0'), "{args:?} names the value: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing is listed or run");
    }
    // A spec id (or 0) where a run id belongs is told what a run id is.
    for given in ["DEMO-1", "0"] {
        let out = project.synod(&["show", given]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{given}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid value '{given}'"))
                && stderr.contains("a run id is a whole number from 1 up"),
            "{stderr}"
        );
    }
    assert!(
        !project.store().exists(),
        "no command opened (or created) the store"
    );
    // 1 is the least, and is accepted: of two runs, the newest is listed.
    for _ in 0..2 {
        let (code, _, stderr) = project.run_json(&["--spec", "DEMO-1", "--stage", "s"]);
        assert_eq!(code, 0, "{stderr}");
    }
    let out = project.synod(&["history", "DEMO-1", "--limit", "1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
}

/// Agents that record their pid, then sleep (as `exec`, so the pid is the sleeper).
fn sleepers(project_dir: &Path) -> String {
    let body = |name: &str| {
        format!(
            "echo $$ > {}/{name}.pid; exec sleep 30",
            project_dir.display()
        )
    };
    config(
        &[
            ("one", &body("one"), "timeout = \"60s\""),
            ("two", &body("two"), "timeout = \"60s\""),
        ],
        "",
    )
}

fn wait_for_pids(dir: &Path, names: &[&str]) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pids: Vec<u32> = names
            .iter()
            .filter_map(|n| std::fs::read_to_string(dir.join(format!("{n}.pid"))).ok())
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        if pids.len() == names.len() {
            return pids;
        }
        assert!(Instant::now() < deadline, "agents did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Alive and not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

fn wait_dead(pids: &[u32], within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if pids.iter().all(|p| !alive(*p)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn spawn_run(project: &Project) -> std::process::Child {
    spawn_run_with(project, &["--json"])
}

fn spawn_run_with(project: &Project, extra: &[&str]) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("synod"))
        .current_dir(project.path())
        .args(["run", "--spec", "K-9", "--stage", "s"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn synod run")
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn every_stop_signal_cancels_cleanly_and_records_the_run_as_cancelled() {
    // Ctrl-C, SIGTERM, a closed terminal or ssh session (SIGHUP), Ctrl-\ (SIGQUIT).
    for sig in ["-INT", "-TERM", "-HUP", "-QUIT"] {
        let project = Project::new("");
        std::fs::write(project.path().join("synod.toml"), sleepers(project.path())).unwrap();
        let child = spawn_run(&project);
        let pids = wait_for_pids(project.path(), &["one", "two"]);
        signal(child.id(), sig);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{sig}: {stderr}");
        assert!(
            stderr.contains("interrupted, stopping the agents"),
            "{stderr}"
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["status"], "cancelled");
        assert_eq!(agent(&report, "one")["outcome"], "cancelled");
        assert!(
            wait_dead(&pids, Duration::from_secs(5)),
            "{sig}: agents survived"
        );
        let history = project.synod(&["history", "K-9", "--json"]);
        let runs: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
        assert_eq!(runs[0]["status"], "cancelled");
    }
}

#[test]
fn a_cancelled_run_reads_as_cancelled_not_as_the_partial_verdict() {
    let project = Project::new("");
    std::fs::write(project.path().join("synod.toml"), sleepers(project.path())).unwrap();
    let child = spawn_run_with(&project, &["--quiet"]);
    wait_for_pids(project.path(), &["one", "two"]);
    signal(child.id(), "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The partial consensus of no agent at all is `no_quorum`; the run itself was cancelled.
    assert!(
        stdout.starts_with("**Run cancelled** before every agent finished."),
        "{stdout}"
    );
    assert!(stdout.contains("Run 1 was cancelled"), "{stdout}");
    let show = project.synod(&["show", "1"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success(), "{text}");
    assert!(
        text.contains("· cancelled\n\n**Run cancelled** before"),
        "{text}"
    );
}

/// The watchdog that kills a SIGKILLed run's agents reads `/proc`: Linux only.
#[cfg(target_os = "linux")]
#[test]
fn sigkill_mid_stage_leaves_a_consistent_store_and_no_agent_alive() {
    let project = Project::new("");
    std::fs::write(project.path().join("synod.toml"), sleepers(project.path())).unwrap();
    let mut child = spawn_run(&project);
    let pids = wait_for_pids(project.path(), &["one", "two"]);
    signal(child.id(), "-KILL");
    let _ = child.wait();
    // The watchdog notices its parent is gone and kills the agents' process groups.
    assert!(
        wait_dead(&pids, Duration::from_secs(10)),
        "agents outlived a SIGKILLed synod run"
    );

    let check = project.synod(&["store", "check"]);
    let text = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(check.status.success(), "{text}");
    // The executions spawned before the kill are visible as never completed.
    assert!(
        text.contains("2 agent execution(s) never completed"),
        "{text}"
    );
    // All or nothing: the interrupted stage left no half-recorded run.
    let history = project.synod(&["history", "K-9", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 0);
}

#[test]
fn a_signal_during_a_retry_wait_returns_without_waiting_out_the_delay_or_kill_grace() {
    let project = Project::new("");
    let dir = project.path().display().to_string();
    // Fails fast as transient ("503"); the next attempt is a minute away, and the kill grace
    // is 30 s, so only a cancel that skips both returns quickly.
    let flaky =
        format!("echo attempt >> {dir}/attempts; echo '503 service unavailable' >&2; exit 1");
    std::fs::write(
        project.path().join("synod.toml"),
        config(
            &[(
                "flaky",
                &flaky,
                "kill_grace = \"30s\"\nretry = { max_attempts = 3, initial_delay = \"60s\", max_delay = \"60s\", jitter = \"none\" }",
            )],
            "",
        ),
    )
    .unwrap();
    let child = spawn_run(&project);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !project.path().join("attempts").exists() {
        assert!(Instant::now() < deadline, "the agent never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    let signalled = Instant::now();
    signal(child.id(), "-INT");
    let out = child.wait_with_output().unwrap();
    // Generous against a loaded machine, far below the 30 s grace and the 60 s delay.
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "took {:?}",
        signalled.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "cancelled");
    let flaky = agent(&report, "flaky");
    assert_eq!(flaky["outcome"], "cancelled");
    assert_eq!(flaky["attempts"].as_array().unwrap().len(), 1, "{flaky:#}");
    assert_eq!(flaky["attempts"][0]["class"], "transient");
    let attempts = std::fs::read_to_string(project.path().join("attempts")).unwrap();
    assert_eq!(attempts.lines().count(), 1);
}

/// Whether `pid`'s environment holds `SYNOD_WATCHDOG` (the marker the watchdog looks for).
#[cfg(target_os = "linux")]
fn carries_marker(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
        env.split(|b| *b == 0)
            .any(|v| v.starts_with(b"SYNOD_WATCHDOG="))
    })
}

/// The value of `SYNOD_WATCHDOG` in `pid`'s environment.
#[cfg(target_os = "linux")]
fn marker_of(pid: u32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|b| *b == 0).find_map(|v| {
        v.strip_prefix(b"SYNOD_WATCHDOG=")
            .map(|m| String::from_utf8_lossy(m).into_owned())
    })
}

/// The `--marker` of the `synod __watchdog --parent RUN` helper watching `run`.
#[cfg(target_os = "linux")]
fn watchdog_marker(run: u32) -> Option<String> {
    let parent = run.to_string();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let at = args.iter().position(|a| a == "__watchdog")?;
            match &args[at + 1..] {
                [p, pid, m, marker, ..] if p == "--parent" && *pid == parent && m == "--marker" => {
                    Some(marker.clone())
                }
                _ => None,
            }
        })
}

/// The session id of `pid` (field 6 of `/proc/PID/stat`).
#[cfg(target_os = "linux")]
fn session_of(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(3).map(str::to_owned)
}

/// A grandchild that cleared its environment and left the agent's session has no marker and
/// no group to kill: the watchdog still kills it, from the tree it recorded.
#[cfg(target_os = "linux")]
#[test]
fn sigkill_also_kills_a_grandchild_that_cleared_its_environment() {
    let project = Project::new("");
    let dir = project.path().display().to_string();
    let body = format!(
        "env -i setsid perl -e 'sleep 300' synod-watchdog-test & echo $! > {dir}/gc.pid; \
         echo $$ > {dir}/one.pid; exec sleep 30"
    );
    std::fs::write(
        project.path().join("synod.toml"),
        config(&[("one", &body, "timeout = \"60s\"")], ""),
    )
    .unwrap();
    let mut child = spawn_run(&project);
    let pids = wait_for_pids(project.path(), &["one", "gc"]);
    let (agent, grandchild) = (pids[0], pids[1]);
    // It really escaped: no marker, another session than the agent's. (Read once both have
    // exec'd: an environment read mid-exec can come back empty.)
    let deadline = Instant::now() + Duration::from_secs(20);
    let runs = |pid: u32, argv: &[u8]| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(argv))
    };
    while !runs(grandchild, b"perl\0-e\0sleep 300\0synod-watchdog-test\0")
        || !runs(agent, b"sleep\x0030\0")
    {
        assert!(
            Instant::now() < deadline,
            "the agent and its grandchild never ran"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(carries_marker(agent));
    // The agent carries the very marker its run's watchdog looks for.
    let marker = watchdog_marker(child.id()).expect("the run's watchdog is running");
    assert!(!marker.is_empty());
    assert_eq!(marker_of(agent), Some(marker));
    assert!(!carries_marker(grandchild));
    assert_ne!(session_of(agent), session_of(grandchild));

    signal(child.id(), "-KILL");
    let _ = child.wait();
    assert!(
        wait_dead(&[agent, grandchild], Duration::from_secs(10)),
        "the env-clearing grandchild outlived a SIGKILLed synod run"
    );
}

/// An agent that leaves a double-forking daemon behind and exits normally: `synod run` is a
/// child subreaper, so the daemon is reparented to it and stopped with its agent.
#[cfg(target_os = "linux")]
#[test]
fn a_daemon_left_by_an_agent_does_not_outlive_the_run() {
    let project = Project::new("");
    let dir = project.path().display().to_string();
    let daemon = format!(
        "perl -MPOSIX -e 'exit 0 if fork; POSIX::setsid(); exit 0 if fork; \
         open F, \">\", $ARGV[0] or die; print F \"$$\\n\"; close F; sleep 300' {dir}/daemon.pid; \
         while [ ! -s {dir}/daemon.pid ]; do sleep 0.01; done; {}",
        answers(PLAN)
    );
    std::fs::write(
        project.path().join("synod.toml"),
        config(&[("a", &daemon, ""), ("b", &answers(PLAN), "")], ""),
    )
    .unwrap();
    let (code, report, stderr) = project.run_json(&["--spec", "D-1", "--stage", "s"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(agent(&report, "a")["outcome"], "answered");
    let pid = wait_for_pids(project.path(), &["daemon"]);
    assert!(
        wait_dead(&pid, Duration::from_secs(10)),
        "the daemon outlived synod run"
    );
}

#[test]
fn a_missing_prompt_file_is_named_on_the_one_error_line() {
    let project = Project::new(&config(
        &[("a", &answers(PLAN), "")],
        "prompt_file = \"prompts/missing.md\"",
    ));
    // The plan reads prompt files, so `config check` finds it exactly as `run` does.
    for args in [
        &["run", "--spec", "P-1", "--stage", "s"][..],
        &["config", "check"][..],
    ] {
        let out = project.synod(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        let line = stderr.trim().lines().last().unwrap_or_default();
        assert!(
            line.starts_with("error: invalid config: cannot read prompt file"),
            "{stderr}"
        );
        assert!(line.contains("prompts/missing.md"), "{stderr}");
    }
    // -v: the same parts, one per line, none repeated.
    let out = project.synod(&["run", "--spec", "P-1", "--stage", "s", "-v"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let causes: Vec<&str> = stderr.lines().filter(|l| l.contains("caused by")).collect();
    assert_eq!(causes.len(), 2, "{stderr}");
    assert!(causes[0].contains("prompts/missing.md"), "{stderr}");
}

#[test]
fn a_prompt_file_or_standard_input_replaces_the_stage_prompt_byte_for_byte() {
    let project = Project::new(&config(
        &[("a", &format!("cat > got.txt; {}", answers(PLAN)), "")],
        "",
    ));
    let prompt = "Plan the migration.\n\n- keep `a` and 'b'\n- ünïcode — fine\n";
    std::fs::write(project.path().join("prompt.md"), prompt).unwrap();
    let got = || std::fs::read_to_string(project.path().join("got.txt")).unwrap();

    let run_with = |file: &str| {
        project.synod(&[
            "run",
            "--spec",
            "P-1",
            "--stage",
            "s",
            "--prompt-file",
            file,
        ])
    };

    let out = run_with("prompt.md");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(got(), prompt);

    let piped = assert_cmd::Command::cargo_bin("synod")
        .unwrap()
        .current_dir(project.path())
        .args(["run", "--spec", "P-1", "--stage", "s", "--prompt-file", "-"])
        .write_stdin("From a pipe.\n")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(piped.status.code(), Some(0), "{piped:?}");
    assert_eq!(got(), "From a pipe.\n");

    // The largest prompt file taken: exactly 16 MiB (one byte more is refused, below).
    let largest = "x".repeat(16 * 1024 * 1024);
    std::fs::write(project.path().join("largest.txt"), &largest).unwrap();
    let out = run_with("largest.txt");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(got() == largest, "the 16 MiB prompt arrived whole");
}

/// `RUST_LOG` turns on the diagnostic log, on stderr only: stdout keeps the JSON report.
#[test]
fn rust_log_writes_the_diagnostic_log_to_stderr() {
    let project = Project::new(&config(&[("a", &answers(PLAN), "")], ""));
    let out = assert_cmd::Command::cargo_bin("synod")
        .unwrap()
        .current_dir(project.path())
        .env("RUST_LOG", "synod_exec=debug")
        .args(["run", "--json", "--spec", "L-1", "--stage", "s"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DEBUG") && stderr.contains("spawned"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["spec_id"], "L-1");
    // Without it, nothing but the run's own words.
    let quiet = project.synod(&["run", "--json", "--spec", "L-2", "--stage", "s"]);
    assert!(
        !String::from_utf8_lossy(&quiet.stderr).contains("DEBUG"),
        "{quiet:?}"
    );
}

#[test]
fn a_prompt_file_that_cannot_be_used_is_refused_before_anything_is_stored() {
    let project = Project::new(&config(&[("a", &answers(PLAN), "")], ""));
    std::fs::write(project.path().join("latin1.txt"), b"caf\xe9\n").unwrap();
    std::fs::write(project.path().join("blank.txt"), " \n\n").unwrap();
    std::fs::write(
        project.path().join("huge.txt"),
        "x".repeat(16 * 1024 * 1024 + 1),
    )
    .unwrap();
    std::fs::create_dir(project.path().join("prompts")).unwrap();
    for (args, expected) in [
        (
            &["--prompt-file", "missing.md"][..],
            "cannot read the prompt file missing.md: ",
        ),
        (
            &["--prompt-file", "latin1.txt"][..],
            "the prompt file latin1.txt is not UTF-8 text (invalid byte at offset 3); save it as UTF-8",
        ),
        (
            &["--prompt-file", "blank.txt"][..],
            "the prompt given for stage \"s\" is empty",
        ),
        (
            &["--prompt-file", "huge.txt"][..],
            "the prompt file huge.txt is larger than 16 MiB; no agent takes a prompt that long",
        ),
        (
            &["--prompt-file", "prompts"][..],
            "cannot read the prompt file prompts: ",
        ),
        (
            &["--prompt", "x", "--prompt-file", "blank.txt"][..],
            "cannot be used with",
        ),
    ] {
        for command in ["run", "submit"] {
            let mut full = vec![command, "--spec", "P-2", "--stage", "s"];
            full.extend_from_slice(args);
            let out = project.synod(&full);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{full:?}: {stderr}");
            assert!(stderr.contains(expected), "{full:?}: {stderr}");
        }
    }
    // Standard input has the same bound: one byte past 16 MiB is refused, not cut.
    let piped = assert_cmd::Command::cargo_bin("synod")
        .unwrap()
        .current_dir(project.path())
        .args(["run", "--spec", "P-2", "--stage", "s", "--prompt-file", "-"])
        .write_stdin("x".repeat(16 * 1024 * 1024 + 1))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert_eq!(piped.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("standard input is larger than 16 MiB"),
        "{stderr}"
    );
    assert!(!project.store().exists(), "nothing was stored or queued");
}
