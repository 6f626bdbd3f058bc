//! The job queue on a PostgreSQL store (the synod-testpg fixture's server), as processes:
//! `synod submit` queues, two `synod worker --once` processes drain the queue side by side,
//! every job is recorded once, `synod jobs` and `synod history` read it back, and
//! `submit --wait` gives the verdict; a SIGKILLed worker's job is finished by another worker
//! once its lease expires, and recorded once; a rate limit or an open breaker met by one
//! worker holds the other workers back. No SQLite file is created.
#![cfg(unix)]

mod run_support;

use std::collections::HashSet;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use run_support::{Project, finished, text, wait_until};
use serde_json::Value;

const CONFIG: &str = r#"
[jobs]
lease = "5s"
poll = "50ms"

[[agents]]
name = "quick"
command = "sh"
args = ["-c", "cat >/dev/null; echo '{\"answer\": 42}'"]
timeout = "20s"

[[stages]]
name = "ask"
agents = ["quick"]
prompt = "Answer for {spec_id}."
"#;

/// [`CONFIG`] with a 1 s lease and a stage `slow` whose agent blocks while `DIR/hold`
/// exists (after leaving `DIR/started-SPEC-PID`).
fn held_config(dir: &std::path::Path) -> String {
    let dir = dir.display();
    CONFIG.replace("lease = \"5s\"", "lease = \"1s\"")
        + &format!(
            r#"
[[agents]]
name = "held"
command = "sh"
args = ["-c", '''cat >/dev/null; touch "{dir}/started-$SYNOD_SPEC_ID-$$"; while [ -e "{dir}/hold" ]; do sleep 0.02; done; echo '{{"answer": 42}}' ''']
timeout = "20s"
kill_grace = "100ms"

[[stages]]
name = "slow"
agents = ["held"]
prompt = "Answer for {{spec_id}}."
"#
        )
}

/// The job `id` as `synod jobs --json` lists it.
fn job(project: &Project, url: &str, id: i64) -> Value {
    let jobs = json_of(project, url, &["jobs", "--json"]);
    jobs.as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("job {id} is not listed: {jobs}"))
}

fn database() -> synod_testpg::Database {
    synod_testpg::PgCluster::shared()
        .and_then(synod_testpg::PgCluster::database_blocking)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `synod ARGS` in the project, on the PostgreSQL store `url` (`SYNOD_STORE__URL`).
fn synod(project: &Project, url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("synod"));
    cmd.current_dir(project.path())
        .env_remove("RUST_LOG")
        .env("SYNOD_STORE__URL", url)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn json_of(project: &Project, url: &str, args: &[&str]) -> Value {
    let out = synod(project, url, args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn two_workers_on_postgres_record_each_job_once() {
    const JOBS: usize = 10;
    let db = database();
    let url = db.url();
    let project = Project::new(CONFIG);
    let mut ids = HashSet::new();
    for i in 0..JOBS {
        let spec = format!("PGJ-{i}");
        let out = synod(
            &project,
            url,
            &["submit", "--spec", &spec, "--stage", "ask"],
        )
        .output()
        .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let id: i64 = text(&out.stdout).trim().parse().expect("a job id");
        assert!(ids.insert(id), "job id {id} given twice");
    }
    let queued = json_of(&project, url, &["jobs", "--state", "queued", "--json"]);
    assert_eq!(queued.as_array().unwrap().len(), JOBS);

    let workers: Vec<Child> = ["pg-a", "pg-b"]
        .iter()
        .map(|name| {
            synod(
                &project,
                url,
                &["worker", "--once", "--concurrency", "2", "--name", name],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    let mut ran = Vec::new();
    for worker in workers {
        let out = finished(worker, Duration::from_secs(120));
        assert!(out.status.success(), "{}", text(&out.stderr));
        ran.extend(text(&out.stdout).lines().filter_map(|l| {
            l.strip_prefix("job ")?
                .split(' ')
                .next()?
                .parse::<i64>()
                .ok()
        }));
    }
    let distinct: HashSet<i64> = ran.iter().copied().collect();
    assert_eq!(ran.len(), JOBS, "each job ran once: {ran:?}");
    assert_eq!(distinct, ids);

    let jobs = json_of(&project, url, &["jobs", "--json"]);
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), JOBS);
    let mut runs = HashSet::new();
    for job in jobs {
        assert_eq!(job["state"], "done", "{job}");
        assert_eq!(job["tries"], 1, "{job}");
        assert!(
            runs.insert(job["run_id"].as_i64().expect("a run id")),
            "{job}"
        );
    }
    for i in 0..JOBS {
        let spec = format!("PGJ-{i}");
        let history = json_of(&project, url, &["history", &spec, "--json"]);
        assert_eq!(history.as_array().unwrap().len(), 1, "{spec}: {history}");
        assert_eq!(history[0]["status"], "ok");
    }

    // `submit --wait` waits for a worker and exits like `synod run`.
    let waiting = synod(
        &project,
        url,
        &["submit", "--spec", "PGW-1", "--stage", "ask", "--wait"],
    )
    .spawn()
    .unwrap();
    // A worker started before the job is queued would find the queue empty and leave.
    wait_until(
        Duration::from_secs(60),
        "submit --wait to queue its job",
        || {
            json_of(&project, url, &["jobs", "--state", "queued", "--json"])
                .as_array()
                .is_some_and(|jobs| !jobs.is_empty())
        },
    );
    let worker = synod(&project, url, &["worker", "--once"]).spawn().unwrap();
    let waited = finished(waiting, Duration::from_secs(120));
    let worker = finished(worker, Duration::from_secs(120));
    assert!(worker.status.success(), "{}", text(&worker.stderr));
    assert_eq!(waited.status.code(), Some(0), "{}", text(&waited.stderr));
    assert!(
        text(&waited.stdout).contains("Verdict: ok. Evidence: run"),
        "{}",
        text(&waited.stdout)
    );
    assert!(!project.store().exists(), "no SQLite file was created");
}

#[test]
fn a_sigkilled_workers_job_is_finished_by_another_worker_on_postgres() {
    let db = database();
    let url = db.url();
    let project = Project::new("");
    let dir = project.path();
    std::fs::write(dir.join("synod.toml"), held_config(dir)).unwrap();
    std::fs::write(dir.join("hold"), "").unwrap();
    let out = synod(
        &project,
        url,
        &["submit", "--spec", "PGK-1", "--stage", "slow"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id: i64 = text(&out.stdout).trim().parse().unwrap();
    let victim = synod(&project, url, &["worker", "--name", "victim"])
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(60), "the agent to start", || {
        std::fs::read_dir(dir).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("started-PGK-1-")
        })
    });
    assert_eq!(job(&project, url, id)["state"], "running");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(victim.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let _ = finished(victim, Duration::from_secs(10));
    // The agent may finish now; the dead worker cannot record it.
    std::fs::remove_file(dir.join("hold")).unwrap();
    let rescuer = synod(&project, url, &["worker", "--name", "rescuer"])
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(60), "the job to be done", || {
        job(&project, url, id)["state"] == "done"
    });
    let pid = nix::unistd::Pid::from_raw(i32::try_from(rescuer.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = finished(rescuer, Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let done = job(&project, url, id);
    assert_eq!(done["tries"], 2, "{done}");
    assert_eq!(done["lease_owner"], "rescuer#1", "{done}");
    let last_error = done["last_error"].as_str().unwrap();
    assert!(
        last_error.contains("lease of worker victim#1 expired"),
        "{last_error}"
    );
    let history = json_of(&project, url, &["history", "PGK-1", "--json"]);
    assert_eq!(
        history.as_array().unwrap().len(),
        1,
        "recorded exactly once"
    );
    assert_eq!(history[0]["id"], done["run_id"]);
}

/// Two `synod worker` processes on one PostgreSQL store: the first call of the shared agent
/// answers 429 with a 5 s retry time; the other worker, whose job needs the same agent, waits
/// for those 5 s before calling it (the agent logs its call times).
#[test]
fn a_rate_limit_met_by_one_worker_makes_the_other_worker_wait_on_postgres() {
    let db = database();
    let url = db.url();
    let project = Project::new("");
    let dir = project.path();
    let config = format!(
        r#"
[jobs]
lease = "30s"
poll = "50ms"

[[agents]]
name = "limited"
command = "sh"
args = ["-c", '''cat >/dev/null; date +%s%3N >> "{dir}/calls"; if mkdir "{dir}/limited.once" 2>/dev/null; then echo '429 Too Many Requests: retry after 5s' >&2; exit 1; fi; echo '{{"answer": 42}}' ''']
timeout = "20s"
retry = {{ max_attempts = 2, max_delay = "10s" }}

[[stages]]
name = "ask"
agents = ["limited"]
prompt = "Answer for {{spec_id}}."
"#,
        dir = dir.display()
    );
    std::fs::write(dir.join("synod.toml"), config).unwrap();
    for spec in ["RL-1", "RL-2"] {
        let out = synod(&project, url, &["submit", "--spec", spec, "--stage", "ask"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let calls = || -> Vec<i64> {
        std::fs::read_to_string(dir.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect()
    };
    let first = synod(&project, url, &["worker", "--once", "--name", "first"])
        .spawn()
        .unwrap();
    wait_until(
        Duration::from_secs(60),
        "the first call (answered 429)",
        || !calls().is_empty(),
    );
    let second = synod(&project, url, &["worker", "--once", "--name", "second"])
        .spawn()
        .unwrap();
    let (first, second) = (
        finished(first, Duration::from_secs(120)),
        finished(second, Duration::from_secs(120)),
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(second.status.success(), "{}", text(&second.stderr));
    let ran = |out: &Output| {
        text(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("job "))
            .count()
    };
    assert_eq!((ran(&first), ran(&second)), (1, 1), "one job each");
    let calls = calls();
    assert_eq!(
        calls.len(),
        3,
        "the 429, its retry, the other job: {calls:?}"
    );
    for later in &calls[1..] {
        assert!(
            *later >= calls[0] + 5_000,
            "an agent call {} ms after the 429, inside its 5 s: {calls:?}",
            later - calls[0]
        );
    }
    let jobs = json_of(&project, url, &["jobs", "--state", "done", "--json"]);
    assert_eq!(jobs.as_array().unwrap().len(), 2, "{jobs}");
}

/// A breaker opened by one `synod worker` (its agent's 503) is open for a worker started
/// afterwards on the same PostgreSQL store: that worker's job records the agent as skipped
/// without calling it.
#[test]
fn a_breaker_opened_by_one_worker_is_open_for_the_next_on_postgres() {
    let db = database();
    let url = db.url();
    let project = Project::new("");
    let dir = project.path();
    let config = format!(
        r#"
[breaker]
window_size = 1
minimum_calls = 1
failure_rate_threshold = 50
wait_in_open = "10m"
max_wait_in_open = "10m"

[[agents]]
name = "codex"
command = "sh"
args = ["-c", '''cat >/dev/null; date +%s%3N >> "{dir}/calls"; if [ -e "{dir}/down" ]; then echo 'HTTP 503 service unavailable' >&2; exit 1; fi; echo '{{"answer": 42}}' ''']
retry = {{ max_attempts = 1 }}

[[stages]]
name = "ask"
agents = ["codex"]
prompt = "Answer for {{spec_id}}."
"#,
        dir = dir.display()
    );
    std::fs::write(dir.join("synod.toml"), config).unwrap();
    std::fs::write(dir.join("down"), "").unwrap();
    let calls = || {
        std::fs::read_to_string(dir.join("calls"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let run_one = |spec: &str, name: &str| {
        let out = synod(&project, url, &["submit", "--spec", spec, "--stage", "ask"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let worker = synod(&project, url, &["worker", "--once", "--name", name])
            .spawn()
            .unwrap();
        let out = finished(worker, Duration::from_secs(120));
        assert!(out.status.success(), "{}", text(&out.stderr));
        json_of(&project, url, &["history", spec, "--json"])
    };
    run_one("BR-1", "first");
    assert_eq!(calls(), 1, "the first worker called the failing agent");

    // The agent is healthy again, but its breaker, opened by the first worker, is open.
    std::fs::remove_file(dir.join("down")).unwrap();
    let history = run_one("BR-2", "second");
    assert_eq!(
        calls(),
        1,
        "the second worker called the agent through an open breaker"
    );
    let run_id = history[0]["id"].as_i64().unwrap();
    let out = synod(&project, url, &["show", &run_id.to_string(), "--json"])
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert!(shown.contains("open in another process"), "{shown}");
}
