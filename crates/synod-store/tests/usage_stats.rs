//! Per-agent figures with what the CLIs reported: attempts, successes, p50/p95 duration,
//! summed tokens and cost, on both backends (SQLite, and PostgreSQL with the `postgres`
//! feature); on SQLite they are read from the covering index alone.

mod common;
#[path = "common/backend.rs"]
#[macro_use]
mod backend;

use common::{output, run, verdict};
use rusqlite::Connection;
use synod_store::{NewOutput, Options, Page, RunUsage, Store, Usage};

/// An attempt of `agent` lasting `duration_ms` that reported `usage` and `cost`.
fn reported(agent: &str, duration_ms: u64, usage: Option<Usage>, cost: Option<f64>) -> NewOutput {
    NewOutput {
        usage,
        cost_usd: cost,
        session_id: Some(format!("{agent}-session")),
        model: Some(format!("{agent}-model")),
        ..output(agent, 1, true, duration_ms)
    }
}

/// Durations 10, 20, ..., 100 ms for claude (tokens and cost on every attempt but one, one
/// failure), and two codex attempts with tokens and no cost; one agent reports nothing.
fn outputs() -> Vec<NewOutput> {
    let mut outputs: Vec<NewOutput> = (1..=10)
        .map(|i| {
            let usage = (i != 4).then(|| Usage::new(100 * i, 10 * i, i));
            let cost = (i != 4).then_some(0.25);
            reported("claude", 10 * i, usage, cost)
        })
        .collect();
    outputs[9] = NewOutput {
        exit_code: Some(1),
        error: Some("claude: API error 529: Overloaded".into()),
        ..outputs[9].clone()
    };
    outputs.push(reported("codex", 7, Some(Usage::new(120, 9, 30)), None));
    outputs.push(reported("codex", 3, Some(Usage::new(120, 9, 30)), None));
    outputs.push(output("plain", 1, true, 5));
    outputs
}

suite!(
    agent_stats_sum_tokens_and_cost_with_p50_and_p95,
    |fresh| async move {
        let store = fresh.store;
        store
            .record_stage(run("U", "plan", 1), outputs(), verdict(1))
            .await
            .unwrap();
        let stats = store.agent_stats().await.unwrap();
        let names: Vec<_> = stats.iter().map(|s| s.agent.as_str()).collect();
        assert_eq!(names, ["claude", "codex", "plain"]);

        let claude = &stats[0];
        assert_eq!((claude.attempts, claude.successes), (10, 9));
        assert_eq!(claude.p50_duration_ms, 50);
        assert_eq!(claude.p95_duration_ms, 100);
        // 1..=10 without 4: 51 hundreds of input tokens.
        assert_eq!(claude.usage, Usage::new(5_100, 510, 51));
        let cost = claude.cost_usd.unwrap();
        assert!((cost - 2.25).abs() < 1e-9, "{cost}");

        let codex = &stats[1];
        assert_eq!((codex.p50_duration_ms, codex.p95_duration_ms), (3, 7));
        assert_eq!(codex.usage, Usage::new(240, 18, 60));
        assert_eq!(codex.cost_usd, None, "codex reports no cost");

        let plain = &stats[2];
        assert_eq!(plain.usage, Usage::default());
        assert_eq!(plain.cost_usd, None);
        assert_eq!((plain.p50_duration_ms, plain.p95_duration_ms), (5, 5));
    }
);

suite!(
    history_usage_sums_each_run_of_the_page,
    |fresh| async move {
        let store = fresh.store;
        let first = store
            .record_stage(run("H", "plan", 1), outputs(), verdict(1))
            .await
            .unwrap();
        let plain = store
            .record_stage(
                run("H", "plan", 2),
                vec![output("plain", 1, true, 5)],
                verdict(2),
            )
            .await
            .unwrap();
        let empty = store
            .record_stage(run("H", "plan", 3), vec![], verdict(3))
            .await
            .unwrap();
        let other_spec = store
            .record_stage(run("OTHER", "plan", 4), outputs(), verdict(4))
            .await
            .unwrap();
        let mut usage = store.history_usage("H", Page::first(10)).await.unwrap();
        usage.sort_by_key(|u| u.run_id);
        let ids: Vec<_> = usage.iter().map(|u| u.run_id).collect();
        assert_eq!(
            ids,
            [first, plain],
            "no row for {empty} (no outputs) or {other_spec}"
        );
        let RunUsage {
            attempts,
            usage: tokens,
            cost_usd,
            ..
        } = usage[0];
        assert_eq!(attempts, 13);
        // claude's nine reporting attempts and codex's two.
        assert_eq!(tokens, Some(Usage::new(5_340, 528, 111)));
        assert!((cost_usd.unwrap() - 2.25).abs() < 1e-9);
        assert_eq!(
            (usage[1].attempts, usage[1].usage, usage[1].cost_usd),
            (1, None, None)
        );
        // The page is history's page: the newest run only.
        let newest = store.history_usage("H", Page::first(1)).await.unwrap();
        assert!(
            newest.is_empty(),
            "the newest run has no outputs: {newest:?}"
        );
        let second = store
            .history_usage(
                "H",
                Page {
                    offset: 1,
                    limit: 1,
                },
            )
            .await
            .unwrap();
        assert_eq!(second.iter().map(|u| u.run_id).collect::<Vec<_>>(), [plain]);
    }
);

/// The EXPLAIN QUERY PLAN lines of the public query `name`, its parameters bound to 1.
fn plan(conn: &Connection, name: &str) -> Vec<String> {
    let (_, sql) = synod_store::store::PUBLIC_QUERIES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap();
    let params = vec![1; sql.matches('?').count()];
    conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap()
        .query_map(rusqlite::params_from_iter(params), |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn history_usage_reads_only_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    let store = Store::open(&path, Options::default()).unwrap();
    store
        .record_stage(&run("U", "plan", 1), &outputs(), &verdict(1))
        .unwrap();
    let plan = plan(&Connection::open(&path).unwrap(), "history_usage");
    assert!(
        plan.iter()
            .any(|l| l.contains("COVERING INDEX agent_outputs_by_run")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .all(|l| !l.starts_with("SCAN ") || l.contains(" USING ")),
        "{plan:?}"
    );
}

#[test]
fn agent_stats_read_only_the_covering_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synod.db");
    let store = Store::open(&path, Options::default()).unwrap();
    store
        .record_stage(&run("U", "plan", 1), &outputs(), &verdict(1))
        .unwrap();
    let conn = Connection::open(&path).unwrap();
    let (_, sql) = synod_store::store::PUBLIC_QUERIES
        .iter()
        .find(|(name, _)| *name == "agent_stats")
        .unwrap();
    let plan: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap()
        .query_map([], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        plan,
        ["SCAN agent_outputs USING COVERING INDEX agent_outputs_by_agent"],
        "{sql}"
    );
}
