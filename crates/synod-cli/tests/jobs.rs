//! `synod submit`, `synod worker` and `synod jobs` as processes on one store: many workers,
//! a SIGKILLed worker, a job that keeps failing, a SIGTERMed worker.
#![cfg(unix)]

mod run_support;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use run_support::{KillOnDrop, Project, finished, text, wait_until};

/// An agent that answers at once, and one that blocks while `DIR/hold` exists (after
/// leaving `DIR/started-SPEC-PID`).
fn config(dir: &Path, extra: &str) -> String {
    let dir = dir.display();
    format!(
        r#"
[jobs]
lease = "1s"
poll = "50ms"
grace = "30s"
{extra}

[[agents]]
name = "quick"
command = "sh"
args = ["-c", "cat >/dev/null; echo '{{\"answer\": 42}}'"]
timeout = "20s"
kill_grace = "100ms"

[[agents]]
name = "held"
command = "sh"
args = ["-c", '''cat >/dev/null; touch "{dir}/started-$SYNOD_SPEC_ID-$$"; while [ -e "{dir}/hold" ]; do sleep 0.02; done; echo '{{"answer": 42}}' ''']
timeout = "20s"
kill_grace = "100ms"

[[stages]]
name = "ask"
agents = ["quick"]
prompt = "Answer for {{spec_id}}."

[[stages]]
name = "slow"
agents = ["held"]
prompt = "Answer for {{spec_id}}."
"#
    )
}

fn synod_bin() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("synod"));
    cmd.env_remove("RUST_LOG");
    cmd
}

fn spawn_worker(project: &Project, args: &[&str]) -> KillOnDrop {
    synod_bin()
        .current_dir(project.path())
        .arg("worker")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn synod worker")
        .into()
}

/// `synod submit --wait` for `spec`'s `stage`, running until the job is done or dead.
fn submit_waiting(project: &Project, spec: &str, stage: &str) -> KillOnDrop {
    synod_bin()
        .current_dir(project.path())
        .args(["submit", "--spec", spec, "--stage", stage, "--wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn synod submit --wait")
        .into()
}

fn submit(project: &Project, spec: &str, stage: &str, extra: &[&str]) -> i64 {
    let mut args = vec!["submit", "--spec", spec, "--stage", stage];
    args.extend_from_slice(extra);
    let out = project.synod(&args);
    assert!(
        out.status.success(),
        "submit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("submit prints the job id")
}

fn db(project: &Project) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open_with_flags(
        project.store(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

/// (state, tries, run_id, last_error, lease_owner) of a job.
fn job_row(
    project: &Project,
    id: i64,
) -> (String, i64, Option<i64>, Option<String>, Option<String>) {
    db(project)
        .query_row(
            "SELECT state, tries, run_id, last_error, lease_owner FROM jobs WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap()
}

fn runs_of(project: &Project, spec: &str) -> i64 {
    db(project)
        .query_row(
            "SELECT count(*) FROM consensus_runs WHERE spec_id = ?1",
            [spec],
            |r| r.get(0),
        )
        .unwrap()
}

fn started(dir: &Path, spec: &str) -> Vec<u32> {
    let prefix = format!("started-{spec}-");
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix(&prefix)?.parse().ok()
        })
        .collect()
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, sig).unwrap();
}

#[test]
fn four_workers_record_a_hundred_jobs_once_each() {
    const JOBS: usize = 100;
    let project = Project::new("");
    std::fs::write(
        project.path().join("synod.toml"),
        config(project.path(), ""),
    )
    .unwrap();
    let ids: Vec<i64> = (0..JOBS)
        .map(|i| submit(&project, &format!("J-{i}"), "ask", &[]))
        .collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), JOBS);
    let workers: Vec<KillOnDrop> = (0..4)
        .map(|w| {
            spawn_worker(
                &project,
                &["--once", "--concurrency", "2", "--name", &format!("w{w}")],
            )
        })
        .collect();
    let mut done_lines = 0;
    for worker in workers {
        let out = finished(worker, Duration::from_secs(120));
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{}", text(&out.stderr));
        done_lines += stdout.lines().filter(|l| l.contains(": done: run")).count();
        assert!(
            !stdout.contains("lost") && !stdout.contains("failed"),
            "{stdout}"
        );
    }
    assert_eq!(done_lines, JOBS, "the workers report each job once");
    let conn = db(&project);
    let (runs, specs): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT spec_id) FROM consensus_runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((runs, specs), (100, 100), "100 runs, none twice, none lost");
    let (done, distinct_runs, tries): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT run_id), max(tries) FROM jobs WHERE state = 'done'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((done, distinct_runs, tries), (100, 100, 1));
    // Each job's run is the run of its own spec.
    let mismatched: i64 = conn
        .query_row(
            "SELECT count(*) FROM jobs j JOIN consensus_runs r ON r.id = j.run_id \
             WHERE r.spec_id != j.spec_id OR r.stage != j.stage",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(mismatched, 0);
    let listed = project.synod(&["jobs", "--state", "done", "--limit", "500", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), JOBS);
}

#[test]
fn a_sigkilled_workers_job_is_finished_by_another_worker_and_recorded_once() {
    let project = Project::new("");
    let dir = project.path();
    std::fs::write(dir.join("synod.toml"), config(dir, "")).unwrap();
    std::fs::write(dir.join("hold"), "").unwrap();
    let id = submit(&project, "K-1", "slow", &[]);
    let victim = spawn_worker(&project, &["--name", "victim"]);
    wait_until(Duration::from_secs(30), "the agent to start", || {
        !started(dir, "K-1").is_empty()
    });
    assert_eq!(job_row(&project, id).0, "running");
    signal(&victim, nix::sys::signal::Signal::SIGKILL);
    let _ = finished(victim, Duration::from_secs(10));
    // Once its lease runs out, `synod jobs` says why the job still reads `running`.
    wait_until(
        Duration::from_secs(30),
        "the victim's lease to run out",
        || text(&project.synod(&["jobs"]).stdout).contains("note: job "),
    );
    let listing = text(&project.synod(&["jobs"]).stdout);
    let note = listing.lines().find(|l| l.starts_with("note: ")).unwrap();
    assert!(
        note.starts_with(&format!("note: job {id}'s lease ran out "))
            && note.ends_with(" ago: victim#1 stopped renewing it; the next `synod worker` takes it over (try 2 of 3)"),
        "{note}"
    );
    // The agent may finish now; the dead worker cannot record it.
    std::fs::remove_file(dir.join("hold")).unwrap();
    let rescuer = spawn_worker(&project, &["--name", "rescuer"]);
    wait_until(Duration::from_secs(30), "the job to be done", || {
        job_row(&project, id).0 == "done"
    });
    signal(&rescuer, nix::sys::signal::Signal::SIGTERM);
    let out = finished(rescuer, Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (state, tries, run, last_error, owner) = job_row(&project, id);
    assert_eq!((state.as_str(), tries), ("done", 2));
    assert!(run.is_some());
    assert_eq!(owner.as_deref(), Some("rescuer#1"));
    let last_error = last_error.unwrap();
    assert!(
        last_error.contains("lease of worker victim#1 expired"),
        "{last_error}"
    );
    assert_eq!(runs_of(&project, "K-1"), 1, "recorded exactly once");
    assert!(text(&out.stdout).contains(&format!("job {id} K-1/slow (try 2 of 3")));
}

#[test]
fn a_job_that_keeps_failing_ends_dead_with_its_last_error() {
    let project = Project::new("");
    let dir = project.path();
    std::fs::write(dir.join("synod.toml"), config(dir, "max_tries = 2")).unwrap();
    // The workers' config does not know the stage the job was submitted for.
    let worker_config = config(dir, "max_tries = 2").replace("name = \"ask\"", "name = \"asked\"");
    std::fs::write(dir.join("worker.toml"), worker_config).unwrap();
    let id = submit(&project, "D-1", "ask", &[]);
    let out = finished(
        spawn_worker(&project, &["--once", "-c", "worker.toml"]),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("failed (queued)"), "{stdout}");
    assert!(stdout.contains("failed (dead)"), "{stdout}");
    let (state, tries, run, last_error, _) = job_row(&project, id);
    assert_eq!((state.as_str(), tries, run), ("dead", 2, None));
    let last_error = last_error.unwrap();
    assert!(
        last_error.starts_with("try 2 of 2: unknown stage \"ask\""),
        "{last_error}"
    );

    let listed = project.synod(&["jobs", "--state", "dead"]);
    let listing = text(&listed.stdout);
    assert!(listed.status.success());
    assert!(
        listing.contains("dead") && listing.contains("D-1") && listing.contains("unknown stage"),
        "{listing}"
    );
    let header = listing.lines().next().unwrap();
    let row = listing.lines().find(|l| l.contains("D-1")).unwrap();
    let tries_end = header.find("tries").unwrap() + "tries".len();
    assert_eq!(
        row.get(tries_end - 3..tries_end),
        Some("2/2"),
        "the state column is padded, so the columns line up:\n{listing}"
    );
    assert!(text(&project.synod(&["jobs", "--state", "done"]).stdout).contains("no done jobs"));

    // `submit --wait` on a job that dies: exit 2 with the last error.
    let waiting = submit_waiting(&project, "D-2", "ask");
    wait_until(Duration::from_secs(30), "job D-2 to be queued", || {
        db(&project)
            .query_row("SELECT count(*) FROM jobs WHERE spec_id = 'D-2'", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0)
            == 1
    });
    let out = finished(
        spawn_worker(&project, &["--once", "-c", "worker.toml"]),
        Duration::from_secs(60),
    );
    assert!(out.status.success());
    let waited = finished(waiting, Duration::from_secs(30));
    assert_eq!(waited.status.code(), Some(2));
    let stderr = text(&waited.stderr);
    assert!(
        stderr.contains("is dead after 2 tries") && stderr.contains("unknown stage"),
        "{stderr}"
    );
}

#[test]
fn submit_wait_says_what_it_waits_for_and_gives_up_after_its_timeout() {
    let project = Project::new("");
    let dir = project.path();
    std::fs::write(dir.join("synod.toml"), config(dir, "")).unwrap();
    // No worker runs: the job stays queued, and the wait ends at its timeout.
    let out = project.synod(&[
        "submit",
        "--spec",
        "W-0",
        "--stage",
        "ask",
        "--wait",
        "--timeout",
        "300ms",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let id: i64 = text(&out.stdout).trim().parse().unwrap();
    assert!(
        stderr.contains(&format!(
            "[synod] job {id}: queued, waiting for a worker (`synod worker` runs it)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "error: job {id} was not finished after 300ms; it stays in the queue"
        )),
        "{stderr}"
    );
    assert_eq!(job_row(&project, id).0, "queued");
    // `--timeout` belongs to `--wait`.
    let out = project.synod(&[
        "submit",
        "--spec",
        "W-0",
        "--stage",
        "ask",
        "--timeout",
        "1s",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--wait"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn submit_wait_prints_the_verdict_and_exits_like_run() {
    let project = Project::new("");
    let dir = project.path();
    std::fs::write(dir.join("synod.toml"), config(dir, "")).unwrap();
    let waiting = submit_waiting(&project, "W-1", "ask");
    let worker = spawn_worker(&project, &[]);
    let waited = finished(waiting, Duration::from_secs(60));
    signal(&worker, nix::sys::signal::Signal::SIGTERM);
    let worker = finished(worker, Duration::from_secs(30));
    assert!(worker.status.success(), "{}", text(&worker.stderr));
    let stdout = text(&waited.stdout);
    assert_eq!(waited.status.code(), Some(0), "{}", text(&waited.stderr));
    let mut lines = stdout.lines();
    let id: i64 = lines.next().unwrap().parse().unwrap();
    assert!(stdout.contains("Verdict: ok. Evidence: run"), "{stdout}");
    assert_eq!(job_row(&project, id).0, "done");
    // An unknown stage is refused before anything is queued.
    let out = project.synod(&["submit", "--spec", "W-2", "--stage", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown stage \"nope\""));
    // So is a spec id that cannot name a run.
    let out = project.synod(&["submit", "--spec", " ", "--stage", "ask"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot submit: invalid spec id \" \": it is empty"),
        "{}",
        text(&out.stderr)
    );
    let listing = project.synod(&["jobs"]);
    assert!(
        !text(&listing.stdout).contains("W-2"),
        "{}",
        text(&listing.stdout)
    );
    // An unreachable PostgreSQL store is one clear line naming it, exit 2, nothing queued.
    for args in [
        &["submit", "--spec", "W-3", "--stage", "ask"][..],
        &["worker", "--once"][..],
        &["jobs"][..],
    ] {
        let mut args = args.to_vec();
        args.extend(["--store", "postgres://synod:secret@127.0.0.1:9/synod"]);
        let out = project.synod(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot open the store postgres://synod:***@127.0.0.1:9/synod"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("secret"), "{args:?}: {stderr}");
    }
    assert_eq!(runs_of(&project, "W-3"), 0);
}

#[test]
fn sigterm_hands_a_running_job_back_or_lets_it_finish() {
    let project = Project::new("");
    let dir = project.path();
    std::fs::write(dir.join("synod.toml"), config(dir, "")).unwrap();
    std::fs::write(dir.join("hold"), "").unwrap();

    // No grace: the agents are stopped and the job handed back, its try not counted.
    let id = submit(&project, "T-1", "slow", &[]);
    let worker = spawn_worker(&project, &["--set", "jobs.grace=0s", "--name", "leaving"]);
    wait_until(Duration::from_secs(30), "the agent to start", || {
        !started(dir, "T-1").is_empty()
    });
    signal(&worker, nix::sys::signal::Signal::SIGTERM);
    let out = finished(worker, Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("handed back"),
        "{}",
        text(&out.stdout)
    );
    let (state, tries, run, _, _) = job_row(&project, id);
    assert_eq!((state.as_str(), tries, run), ("queued", 0, None));
    assert_eq!(runs_of(&project, "T-1"), 0, "nothing recorded");

    // With grace: the running job finishes and is recorded before the worker exits.
    let worker = spawn_worker(&project, &["--name", "staying"]);
    wait_until(Duration::from_secs(30), "the agent to start again", || {
        started(dir, "T-1").len() == 2
    });
    signal(&worker, nix::sys::signal::Signal::SIGTERM);
    std::fs::remove_file(dir.join("hold")).unwrap();
    let out = finished(worker, Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (state, tries, run, _, owner) = job_row(&project, id);
    assert_eq!((state.as_str(), tries), ("done", 1));
    assert!(run.is_some());
    assert_eq!(owner.as_deref(), Some("staying#1"));
    assert_eq!(runs_of(&project, "T-1"), 1);
}

#[test]
fn a_blank_prompt_is_refused_by_run_and_submit_before_anything_is_stored() {
    let project = Project::new("");
    std::fs::write(
        project.path().join("synod.toml"),
        config(project.path(), ""),
    )
    .unwrap();
    let first = submit(&project, "E-1", "ask", &["--prompt", "Answer for E-1."]);
    // `--prompt "$UNSET"`: the agents would get nothing to work on.
    for command in ["run", "submit"] {
        for blank in ["", "  \n"] {
            let out = project.synod(&[
                command, "--spec", "E-2", "--stage", "ask", "--prompt", blank,
            ]);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
            assert!(
                stderr.contains("the prompt given for stage \"ask\" is empty"),
                "{command}: {stderr}"
            );
        }
    }
    assert_eq!(runs_of(&project, "E-2"), 0);
    let jobs: i64 = db(&project)
        .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(jobs, 1, "only job {first} is queued");
    let out = project.synod(&["run", "--spec", "E-2", "--stage", "ask", "--prompt", "Go."]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runs_of(&project, "E-2"), 1);
}

#[test]
fn submit_wait_names_the_worker_running_the_job_and_exits_1_on_a_failed_verdict() {
    let project = Project::new("");
    let dir = project.path();
    let mut toml = config(dir, "");
    toml.push_str(
        "\n[[agents]]\nname = \"failing\"\ncommand = \"sh\"\n\
         args = [\"-c\", \"cat >/dev/null; exit 3\"]\nretry = { max_attempts = 1 }\n\n\
         [[stages]]\nname = \"broken\"\nagents = [\"failing\"]\nprompt = \"Go.\"\n",
    );
    std::fs::write(dir.join("synod.toml"), toml).unwrap();
    std::fs::write(dir.join("hold"), "").unwrap();

    let mut waiting = submit_waiting(&project, "N-1", "slow");
    // The waiter's stderr, line by line, as it polls.
    let (lines, said) = std::sync::mpsc::channel();
    let stderr = std::io::BufReader::new(waiting.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        for line in std::io::BufRead::lines(stderr).map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    // A worker without --name is named after its host and process id.
    let worker: KillOnDrop = synod_bin()
        .current_dir(dir)
        .env("HOSTNAME", "jobhost")
        .arg("worker")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    let name = format!("jobhost:{}", worker.id());
    let running = format!("running on {name}#1 (try 1 of 3)");
    let mut heard = Vec::new();
    while !heard.iter().any(|l: &String| l.contains(&running)) {
        match said.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => heard.push(line),
            Err(e) => panic!("no {running:?} from submit --wait ({e}): {heard:#?}"),
        }
    }
    std::fs::remove_file(dir.join("hold")).unwrap();
    let waited = finished(waiting, Duration::from_secs(60));
    reader.join().unwrap();
    assert_eq!(waited.status.code(), Some(0), "{heard:#?}");

    // A run that reaches no verdict exits 1, as `synod run` does.
    let out = project.synod(&["submit", "--spec", "N-2", "--stage", "broken", "--wait"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Verdict: no_quorum. Evidence: run"),
        "{}",
        text(&out.stdout)
    );

    signal(&worker, nix::sys::signal::Signal::SIGTERM);
    let worker = finished(worker, Duration::from_secs(30));
    assert!(
        text(&worker.stderr).starts_with(&format!("synod worker {name}: 1 slot(s)")),
        "{}",
        text(&worker.stderr)
    );
}
