//! The job queue on both backends (a SQLite file, a PostgreSQL database), with workers racing
//! for it through stores of their own, as separate processes would: every job is claimed,
//! every job is recorded once, and a stale claim never records anything.

mod common;
#[path = "common/backend.rs"]
#[macro_use]
mod backend;

use std::sync::Arc;
use std::time::Duration;

use common::{output, run, verdict};
use synod_store::{
    AnyStore, ClaimedJob, Error, JobId, JobQueue, JobState, NewJob, Options, Page, StageRecord,
    now_millis,
};
use tokio::sync::Barrier;

const LEASE: Duration = Duration::from_secs(30);

fn record(job: &ClaimedJob, n: i64) -> Arc<StageRecord> {
    Arc::new(StageRecord::new(
        run(&job.job.spec_id, &job.job.stage, n),
        vec![output("a", 1, true, 5)],
        verdict(n),
    ))
}

/// Runs recorded for the specs `{prefix}0`, `{prefix}1`, ... up to the first with none.
async fn runs(store: &AnyStore, prefix: &str) -> usize {
    let mut total = 0;
    for i in 0.. {
        let n = store
            .history(format!("{prefix}{i}"), Page::first(10))
            .await
            .unwrap()
            .len();
        if n == 0 {
            return total;
        }
        total += n;
    }
    total
}

async fn history_len(store: &AnyStore, spec: &str) -> usize {
    store.history(spec, Page::first(10)).await.unwrap().len()
}

async fn open(location: &str) -> AnyStore {
    AnyStore::open(location, Options::default()).await.unwrap()
}

// Four workers, each with its own store (its own pool), drain 200 jobs: each job is done
// exactly once, with its own run.
suite!(racing_workers_record_every_job_once, |fresh| async move {
    const JOBS: usize = 200;
    const WORKERS: usize = 4;
    for i in 0..JOBS {
        fresh
            .store
            .submit(NewJob::new(format!("J{i}"), "plan"))
            .await
            .unwrap();
    }
    let start = Arc::new(Barrier::new(WORKERS));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (location, start) = (fresh.location.clone(), Arc::clone(&start));
        workers.push(tokio::spawn(async move {
            let store = open(&location).await;
            start.wait().await;
            let mut done = Vec::new();
            let mut n = 0;
            while let Some(job) = store.claim(&format!("w{w}"), LEASE).await.unwrap() {
                n += 1;
                let at = i64::try_from(w * 1_000_000 + n).unwrap();
                store.complete(&job, record(&job, at)).await.unwrap();
                done.push(job.id());
            }
            done
        }));
    }
    let mut all: Vec<JobId> = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    all.sort_unstable();
    let claimed = all.len();
    all.dedup();
    assert_eq!((claimed, all.len()), (JOBS, JOBS), "each job claimed once");
    assert_eq!(
        runs(&fresh.store, "J").await,
        JOBS,
        "each job recorded once"
    );
    let done = fresh
        .store
        .jobs(Some(JobState::Done), Page::first(1_000))
        .await
        .unwrap();
    assert_eq!(done.len(), JOBS);
    assert!(done.iter().all(|j| j.tries == 1 && j.run_id.is_some()));
});

// Every job is held twice, by a stale claim (its lease expired) and a fresh one; both
// holders race to complete it at once, from separate stores. Only the fresh claims record.
suite!(
    stale_claims_racing_fresh_ones_record_nothing,
    |fresh| async move {
        const JOBS: usize = 40;
        let store = &fresh.store;
        for i in 0..JOBS {
            store
                .submit(NewJob::new(format!("F{i}"), "plan"))
                .await
                .unwrap();
        }
        let now = now_millis();
        let mut stale = Vec::new();
        for _ in 0..JOBS {
            stale.push(
                store
                    .claim_job_at("old", LEASE, now)
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        let after = now + 31_000;
        let mut current = Vec::new();
        for _ in 0..JOBS {
            current.push(
                store
                    .claim_job_at("new", LEASE, after)
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        assert!(
            store
                .claim_job_at("x", LEASE, after)
                .await
                .unwrap()
                .is_none()
        );

        let start = Arc::new(Barrier::new(2));
        let race = |claims: Vec<ClaimedJob>| {
            let (location, start) = (fresh.location.clone(), Arc::clone(&start));
            tokio::spawn(async move {
                let store = open(&location).await;
                start.wait().await;
                let mut results = Vec::new();
                for job in &claims {
                    results.push(store.complete(job, record(job, job.token)).await);
                }
                results
            })
        };
        let (old, new) = (race(stale), race(current));
        for result in old.await.unwrap() {
            let err = result.unwrap_err();
            assert!(
                matches!(&err, Error::LeaseLost { worker, .. } if worker == "old"),
                "{err}"
            );
        }
        for result in new.await.unwrap() {
            result.unwrap();
        }
        assert_eq!(runs(store, "F").await, JOBS);
        for job in store.jobs(None, Page::first(100)).await.unwrap() {
            assert_eq!((job.state, job.tries), (JobState::Done, 2));
            assert_eq!(job.lease_owner.as_deref(), Some("new"));
        }
    }
);

// Claims go oldest first, count tries and carry the job; listings are newest first.
suite!(claims_go_oldest_first_and_count_tries, |fresh| async move {
    let store = &fresh.store;
    let a = store.submit(NewJob::new("S", "plan")).await.unwrap();
    let b = store
        .submit(NewJob::new("T", "review").prompt("p").max_tries(1))
        .await
        .unwrap();
    let first = store.claim("w1", LEASE).await.unwrap().unwrap();
    let second = store.claim("w2", LEASE).await.unwrap().unwrap();
    assert_eq!((first.id(), second.id()), (a, b));
    assert_eq!(
        (second.job.spec_id.as_str(), second.job.stage.as_str()),
        ("T", "review")
    );
    assert_eq!(second.job.prompt.as_deref(), Some("p"));
    assert_eq!(first.job.prompt, None);
    assert_eq!(
        (first.job.tries, first.job.max_tries, first.job.state),
        (1, 3, JobState::Running)
    );
    assert_eq!(first.job.lease_owner.as_deref(), Some("w1"));
    assert_eq!(first.worker, "w1");
    assert!(first.token > 0);
    let lease_ms = first.job.lease_until.unwrap() - first.job.updated_at;
    assert_eq!(lease_ms, 30_000, "the lease runs from the claim");
    assert!(store.claim("w3", LEASE).await.unwrap().is_none());
    let running = store
        .jobs(Some(JobState::Running), Page::first(10))
        .await
        .unwrap();
    assert_eq!(running.iter().map(|j| j.id).collect::<Vec<_>>(), [b, a]);
    assert!(
        store
            .jobs(Some(JobState::Queued), Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    let paged = store.jobs(None, Page::first(1).next()).await.unwrap();
    assert_eq!(paged.iter().map(|j| j.id).collect::<Vec<_>>(), [a]);
    assert_eq!(
        store.job(a).await.unwrap().unwrap().state,
        JobState::Running
    );
    assert_eq!(store.job(JobId(987_654)).await.unwrap(), None);
});

// A lease that expires is claimed again with a new token and a note naming the old worker;
// the old worker's heartbeat, completion, failure and hand-back are fenced off.
suite!(
    an_expired_lease_is_claimed_again_and_fences_the_first_worker,
    |fresh| async move {
        let store = &fresh.store;
        let id = store.submit(NewJob::new("S", "plan")).await.unwrap();
        let now = now_millis();
        let first = store.claim_job_at("w1", LEASE, now).await.unwrap().unwrap();
        assert!(
            store
                .claim_job_at("w2", LEASE, now + 29_999)
                .await
                .unwrap()
                .is_none(),
            "not expired yet"
        );
        let later = now + 30_001;
        let second = store
            .claim_job_at("w2", LEASE, later)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((second.id(), second.job.tries), (id, 2));
        assert!(second.token > first.token);
        assert_eq!(
            second.job.last_error.as_deref(),
            Some(
                "try 1 of 3: the lease of worker w1 expired (the worker died or stopped heartbeating)"
            )
        );
        assert!(!store.heartbeat_job_at(&first, LEASE, later).await.unwrap());
        let err = store.complete(&first, record(&first, 1)).await.unwrap_err();
        assert!(
            matches!(err, Error::LeaseLost { job, .. } if job == id.0),
            "{err}"
        );
        assert!(err.to_string().contains("w1"), "{err}");
        assert_eq!(
            history_len(store, "S").await,
            0,
            "a fenced completion writes nothing"
        );
        assert_eq!(
            store.spec("S").await.unwrap(),
            None,
            "not even the spec's stage"
        );
        assert!(matches!(
            store.fail(&first, "late").await.unwrap_err(),
            Error::LeaseLost { .. }
        ));
        assert!(!store.release(&first).await.unwrap());
        let run_id = store.complete(&second, record(&second, 2)).await.unwrap();
        let done = store.job(id).await.unwrap().unwrap();
        assert_eq!((done.state, done.run_id), (JobState::Done, Some(run_id)));
        assert_eq!(done.lease_until, None);
        assert!(matches!(
            store
                .complete(&second, record(&second, 3))
                .await
                .unwrap_err(),
            Error::LeaseLost { .. }
        ));
        assert_eq!(history_len(store, "S").await, 1);
        assert_eq!(store.spec("S").await.unwrap().unwrap().stage, "plan");
    }
);

// A heartbeat moves the lease forward from its own time.
suite!(
    a_heartbeat_keeps_the_job_from_being_claimed_again,
    |fresh| async move {
        let store = &fresh.store;
        store.submit(NewJob::new("S", "plan")).await.unwrap();
        let now = now_millis();
        let job = store.claim_job_at("w1", LEASE, now).await.unwrap().unwrap();
        assert!(
            store.heartbeat(&job, LEASE).await.unwrap(),
            "a live lease is renewed"
        );
        assert!(
            store
                .heartbeat_job_at(&job, LEASE, now + 20_000)
                .await
                .unwrap()
        );
        assert!(
            store
                .claim_job_at("w2", LEASE, now + 31_000)
                .await
                .unwrap()
                .is_none(),
            "the heartbeat extended the lease"
        );
        let held = store.job(job.id()).await.unwrap().unwrap();
        assert_eq!(held.lease_until, Some(now + 50_000));
        let again = store.claim_job_at("w2", LEASE, now + 50_001).await.unwrap();
        assert_eq!(again.map(|j| j.job.tries), Some(2));
        assert!(!store.heartbeat(&job, LEASE).await.unwrap(), "fenced off");
    }
);

// A failed try puts the job back until its tries are used up; then it is dead with its last
// error, and never claimed again.
suite!(
    failures_requeue_until_the_tries_are_used_up,
    |fresh| async move {
        let store = &fresh.store;
        let id = store
            .submit(NewJob::new("S", "plan").max_tries(2))
            .await
            .unwrap();
        let one = store.claim("w", LEASE).await.unwrap().unwrap();
        assert_eq!(store.fail(&one, "boom 1").await.unwrap(), JobState::Queued);
        let queued = store.job(id).await.unwrap().unwrap();
        assert_eq!((queued.state, queued.lease_until), (JobState::Queued, None));
        assert_eq!(queued.last_error.as_deref(), Some("try 1 of 2: boom 1"));
        let two = store.claim("w", LEASE).await.unwrap().unwrap();
        assert_eq!(two.job.tries, 2);
        assert_eq!(store.fail(&two, "boom 2").await.unwrap(), JobState::Dead);
        let dead = store.job(id).await.unwrap().unwrap();
        assert_eq!(dead.state, JobState::Dead);
        assert_eq!(dead.last_error.as_deref(), Some("try 2 of 2: boom 2"));
        assert!(store.claim("w", LEASE).await.unwrap().is_none());
        let listed = store
            .jobs(Some(JobState::Dead), Page::first(5))
            .await
            .unwrap();
        assert_eq!(listed.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
    }
);

// A job whose lease expires with no try left goes to dead, and the claim takes the next job.
suite!(
    an_expired_lease_with_no_try_left_is_dead,
    |fresh| async move {
        let store = &fresh.store;
        let dead = store
            .submit(NewJob::new("S", "plan").max_tries(1))
            .await
            .unwrap();
        let next = store.submit(NewJob::new("T", "plan")).await.unwrap();
        let now = now_millis();
        store.claim_job_at("w1", LEASE, now).await.unwrap().unwrap();
        let claimed = store
            .claim_job_at("w2", LEASE, now + 60_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id(), next, "the dead job is skipped");
        assert_eq!(claimed.job.last_error, None);
        let job = store.job(dead).await.unwrap().unwrap();
        assert_eq!((job.state, job.lease_until), (JobState::Dead, None));
        assert_eq!(
            job.last_error.as_deref(),
            Some(
                "try 1 of 1: the lease of worker w1 expired (the worker died or stopped heartbeating)"
            )
        );
    }
);

// A hand-back queues the job again without using a try, and fences the worker off.
suite!(release_hands_back_without_using_a_try, |fresh| async move {
    let store = &fresh.store;
    let id = store.submit(NewJob::new("S", "plan")).await.unwrap();
    let claimed = store.claim("w1", LEASE).await.unwrap().unwrap();
    assert!(store.release(&claimed).await.unwrap());
    let job = store.job(id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.tries, job.lease_until),
        (JobState::Queued, 0, None)
    );
    assert!(!store.heartbeat(&claimed, LEASE).await.unwrap());
    assert!(!store.release(&claimed).await.unwrap());
    let again = store.claim("w2", LEASE).await.unwrap().unwrap();
    assert_eq!((again.job.tries, again.worker.as_str()), (1, "w2"));
});

// Completing a job finishes the executions it started, in the same write.
suite!(
    completion_finishes_the_executions_with_the_run,
    |fresh| async move {
        let store = &fresh.store;
        store.submit(NewJob::new("S", "plan")).await.unwrap();
        let job = store.claim("w", LEASE).await.unwrap().unwrap();
        let execution = store.execution_started("a", 1).await.unwrap();
        let rec = StageRecord::new(
            run("S", "plan", 7),
            vec![output("a", 1, true, 5), output("b", 1, false, 9)],
            verdict(7),
        )
        .execution(execution, "ok");
        let run_id = store.complete(&job, Arc::new(rec)).await.unwrap();
        let executions = store.executions_for_run(run_id).await.unwrap();
        assert_eq!(executions.len(), 1);
        assert_eq!(executions[0].outcome.as_deref(), Some("ok"));
        assert!(store.unfinished_executions().await.unwrap().is_empty());
        let outputs = store.outputs_for_run(run_id).await.unwrap();
        assert_eq!(
            outputs.iter().map(|o| o.agent.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            store.run(run_id).await.unwrap().unwrap().verdict,
            verdict(7)
        );
    }
);

// Bad input is refused with an error naming it, and writes nothing.
suite!(
    bad_input_is_refused_with_a_clear_error,
    |fresh| async move {
        let store = &fresh.store;
        let err = store
            .submit(NewJob::new("S", "plan").max_tries(0))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("max_tries = 0"), "{err}");
        assert!(store.jobs(None, Page::first(5)).await.unwrap().is_empty());
        let err = store.claim("w", Duration::ZERO).await.unwrap_err();
        assert!(err.to_string().contains("lease"), "{err}");
        let err = "paused".parse::<JobState>().unwrap_err();
        assert!(err.to_string().contains("\"paused\""), "{err}");
    }
);

// A job queued through one store is claimed through a store opened later.
suite!(the_queue_survives_reopening, |fresh| async move {
    let id = {
        let store = open(&fresh.location).await;
        store
            .submit(NewJob::new("R", "plan").prompt("again").max_tries(5))
            .await
            .unwrap()
    };
    let store = open(&fresh.location).await;
    let job = store.claim("w", LEASE).await.unwrap().unwrap();
    assert_eq!(job.id(), id);
    assert_eq!(job.job.prompt.as_deref(), Some("again"));
    assert_eq!(job.job.max_tries, 5);
});

#[test]
fn a_job_id_prints_as_its_number() {
    assert_eq!(JobId(42).to_string(), "42");
    assert_eq!(format!("job {}", JobId(-7)), "job -7");
}

#[test]
fn a_job_state_prints_as_its_name_and_fills_a_table_column() {
    assert_eq!(JobState::Queued.to_string(), "queued");
    assert_eq!(
        format!("[{:<8}|{:>8}]", JobState::Done, JobState::Dead),
        "[done    |    dead]"
    );
}
