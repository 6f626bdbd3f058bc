//! The CLI on a PostgreSQL store (the synod-testpg fixture's server): `synod run` records a
//! stage there (`--store URL`), `history`, `show`, `stats` and `store check` read it back (the URL from
//! `SYNOD_STORE__URL` and `--set store.url=`), and a wrong password or an unreachable server is
//! one line, exit 2, with the password hidden and nothing written.
#![cfg(unix)]

mod run_support;

use assert_cmd::Command;
use run_support::Project;
use serde_json::Value;

fn database() -> synod_testpg::Database {
    synod_testpg::PgCluster::shared()
        .and_then(synod_testpg::PgCluster::database_blocking)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `synod ARGS` in the project with `SYNOD_STORE__URL=url`.
fn synod_with_env(project: &Project, url: &str, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("synod")
        .unwrap()
        .current_dir(project.path())
        .env_remove("RUST_LOG")
        .env("SYNOD_STORE__URL", url)
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

#[test]
fn a_stage_runs_and_reads_back_on_postgres() {
    let db = database();
    let (project, config) = Project::demo();
    let config = config.to_str().unwrap();
    let (code, report, stderr) = project.run_json(&[
        "--config",
        config,
        "--store",
        db.url(),
        "--spec",
        "PG-1",
        "--stage",
        "plan",
    ]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let run_id = report["run_id"].as_i64().expect("run_id");
    assert!(
        report["store_path"].is_null(),
        "a server has no file: {report}"
    );
    assert!(!project.store().exists(), "no SQLite file was created");

    let history = synod_with_env(
        &project,
        db.url(),
        &["history", "PG-1", "--json", "--config", config],
    );
    assert!(
        history.status.success(),
        "{}",
        String::from_utf8_lossy(&history.stderr)
    );
    let runs: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["id"], run_id);

    let set = format!("store.url={}", db.url());
    let shown = project.synod(&[
        "show",
        &run_id.to_string(),
        "--json",
        "--config",
        config,
        "--set",
        &set,
    ]);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["run"]["spec_id"], "PG-1");
    assert_eq!(
        shown["outputs"].as_array().unwrap().len(),
        4,
        "every attempt is kept"
    );

    let stats = synod_with_env(&project, db.url(), &["stats", "--json", "--config", config]);
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    let attempts: u64 = stats["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|agent| agent["attempts"].as_u64().expect("attempts"))
        .sum();
    assert_eq!(attempts, 4, "every stored attempt counts: {stats}");

    let check = synod_with_env(&project, db.url(), &["store", "check", "--config", config]);
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(out.starts_with("ok: postgres://synod:***@"), "{out}");

    let backup = synod_with_env(
        &project,
        db.url(),
        &["store", "backup", "x.db", "--config", config],
    );
    assert_eq!(backup.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&backup.stderr).contains("pg_dump"));
    assert!(!project.path().join("x.db").exists());

    // A dry run counts what the prune then deletes, on the server too.
    let prune = |extra: &[&str]| {
        let mut args = vec!["store", "prune", "--older-than", "0s", "--config", config];
        args.extend_from_slice(extra);
        let out = synod_with_env(&project, db.url(), &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let counts = ": 1 run(s), 4 output(s), 4 execution(s) older than 0s";
    let dry = prune(&["--dry-run"]);
    assert!(
        dry.starts_with("would prune postgres://synod:***@"),
        "{dry}"
    );
    assert!(dry.contains(counts), "{dry}");
    let pruned = prune(&[]);
    assert!(
        pruned.starts_with("pruned postgres://synod:***@"),
        "{pruned}"
    );
    assert!(pruned.contains(counts), "{pruned}");
    assert!(prune(&["--dry-run"]).contains(": 0 run(s), 0 output(s), 0 execution(s)"));
}

#[test]
fn a_wrong_password_or_an_unreachable_server_is_one_line_and_exit_2() {
    let db = database();
    let cluster = synod_testpg::PgCluster::shared().unwrap();
    let wrong = cluster.url_with_password(db.name(), "wrong-secret");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("postgres://synod:other-secret@127.0.0.1:{port}/x");
    let (project, config) = Project::demo();
    let config = config.to_str().unwrap();
    for (url, expected) in [
        (&wrong, "refused the login"),
        (&unreachable, "cannot reach PostgreSQL"),
    ] {
        for args in [
            vec![
                "run", "--config", config, "--store", url, "--spec", "PG-2", "--stage", "plan",
            ],
            vec!["history", "PG-2", "--config", config, "--store", url],
        ] {
            let out = project.synod(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(stderr.contains(expected), "{stderr}");
            assert!(
                !stderr.contains("secret"),
                "the password is hidden: {stderr}"
            );
            assert!(!project.store().exists(), "nothing was written");
        }
    }
}
