//! The job queue on a real file, with workers racing for it: every job is claimed, every job
//! is recorded once, and a stale claim never records anything.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{output, run, verdict};
use synod_store::{
    ClaimedJob, Error, JobState, NewJob, Options, Page, StageRecord, Store, now_millis,
};

const LEASE: Duration = Duration::from_secs(30);

fn record(job: &ClaimedJob, n: i64) -> StageRecord {
    StageRecord::new(
        run(&job.job.spec_id, &job.job.stage, n),
        vec![output("a", 1, true, 5)],
        verdict(n),
    )
}

fn count(store: &Store, spec_prefix: &str) -> usize {
    (0..)
        .map(|i| {
            store
                .history(&format!("{spec_prefix}{i}"), Page::first(10))
                .unwrap()
                .len()
        })
        .take_while(|&n| n > 0)
        .sum()
}

/// Four workers, each with its own store (its own pool, as separate processes would have),
/// drain 200 jobs: each job is done exactly once, with its own run.
#[test]
fn racing_workers_record_every_job_once() {
    const JOBS: usize = 200;
    const WORKERS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let submitter = Store::open(&path, Options::default()).unwrap();
    for i in 0..JOBS {
        submitter
            .submit_job(&NewJob::new(format!("J{i}"), "plan"))
            .unwrap();
    }
    let start = Arc::new(Barrier::new(WORKERS));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (path, start) = (path.clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                let store = Store::open(&path, Options::default()).unwrap();
                start.wait();
                let mut done = Vec::new();
                let mut n = 0;
                while let Some(job) = store.claim_job(&format!("w{w}"), LEASE).unwrap() {
                    assert!(store.heartbeat_job(&job, LEASE).unwrap());
                    n += 1;
                    let run_id = store.complete_job(&job, &record(&job, n)).unwrap();
                    done.push((job.id(), run_id));
                }
                done
            })
        })
        .collect();
    let mut jobs = HashSet::new();
    let mut runs = HashSet::new();
    let mut per_worker = Vec::new();
    for worker in workers {
        let done = worker.join().unwrap();
        per_worker.push(done.len());
        for (job, run) in done {
            assert!(jobs.insert(job), "job {job} completed twice");
            assert!(runs.insert(run), "run {run} recorded for two jobs");
        }
    }
    assert_eq!(
        jobs.len(),
        JOBS,
        "every job completed (per worker: {per_worker:?})"
    );
    assert_eq!(count(&submitter, "J"), JOBS, "one run per job");
    let done = submitter
        .jobs(Some(JobState::Done), Page::first(1_000))
        .unwrap();
    assert_eq!(done.len(), JOBS);
    assert!(done.iter().all(|j| j.tries == 1 && j.run_id.is_some()));
    assert!(
        submitter
            .jobs(Some(JobState::Queued), Page::first(10))
            .unwrap()
            .is_empty()
    );
}

/// Every job is held twice, by a stale claim (its lease expired) and a fresh one; both
/// holders race to complete it at once, from separate stores. Only the fresh claims record.
#[test]
fn stale_claims_racing_fresh_ones_record_nothing() {
    const JOBS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fence.db");
    let store = Store::open(&path, Options::default()).unwrap();
    for i in 0..JOBS {
        store
            .submit_job(&NewJob::new(format!("F{i}"), "plan"))
            .unwrap();
    }
    let now = now_millis();
    let stale: Vec<ClaimedJob> = (0..JOBS)
        .map(|_| store.claim_job_at("old", LEASE, now).unwrap().unwrap())
        .collect();
    let after = now + 31_000;
    let fresh: Vec<ClaimedJob> = (0..JOBS)
        .map(|_| store.claim_job_at("new", LEASE, after).unwrap().unwrap())
        .collect();
    assert!(store.claim_job_at("x", LEASE, after).unwrap().is_none());

    let start = Arc::new(Barrier::new(2));
    let race = |claims: Vec<ClaimedJob>| {
        let (path, start) = (path.clone(), Arc::clone(&start));
        std::thread::spawn(move || {
            let store = Store::open(&path, Options::default()).unwrap();
            start.wait();
            claims
                .iter()
                .map(|job| store.complete_job(job, &record(job, job.token)))
                .collect::<Vec<_>>()
        })
    };
    let (old, new) = (race(stale), race(fresh));
    for result in old.join().unwrap() {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, Error::LeaseLost { worker, .. } if worker == "old"),
            "{err}"
        );
    }
    for result in new.join().unwrap() {
        result.unwrap();
    }
    assert_eq!(count(&store, "F"), JOBS);
    for job in store.jobs(None, Page::first(100)).unwrap() {
        assert_eq!((job.state, job.tries), (JobState::Done, 2));
        assert_eq!(job.lease_owner.as_deref(), Some("new"));
    }
}

/// A job queued by one store is visible to a store opened later on the same file, and the
/// schema migrates an older file that has no jobs table.
#[test]
fn the_queue_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reopen.db");
    let id = {
        let store = Store::open(&path, Options::default()).unwrap();
        store
            .submit_job(&NewJob::new("R", "plan").prompt("again").max_tries(5))
            .unwrap()
    };
    let store = Store::open(&path, Options::default()).unwrap();
    let job = store.claim_job("w", LEASE).unwrap().unwrap();
    assert_eq!(job.id(), id);
    assert_eq!(job.job.prompt.as_deref(), Some("again"));
    assert_eq!(job.job.max_tries, 5);
    assert!(job.job.lease_until.unwrap() >= job.job.updated_at + 30_000);
}
