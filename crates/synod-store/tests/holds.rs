//! Holds shared through the store: what one process learns about an agent, every process
//! sharing the store respects. The suite runs on both backends (SQLite, and PostgreSQL with
//! the `postgres` feature); the SQLite-only behaviours (two handles on one file, read-only
//! opens) follow.

#[path = "common/backend.rs"]
#[macro_use]
mod backend;

use synod_store::{AnyStore, AsyncStore, Hold, HoldKind, Options, SharedHolds, Store};

fn hold(kind: HoldKind, key: &str, until: i64, reason: &str) -> Hold {
    Hold::new(kind, key, until, reason)
}

suite!(
    a_hold_is_in_force_until_it_ends_and_keyed_by_kind_and_key,
    |fresh| async move {
        let store = &fresh.store;
        let until = store
            .hold(hold(
                HoldKind::RateLimited,
                "anthropic",
                10_000,
                "429: retry after 5s",
            ))
            .await
            .unwrap();
        assert_eq!(until, 10_000);
        // Another handle on the same store (another worker) sees it.
        let other = AnyStore::open(&fresh.location, Options::default())
            .await
            .unwrap();
        let seen = other
            .active_hold(HoldKind::RateLimited, "anthropic", 9_999)
            .await
            .unwrap();
        assert_eq!(
            seen,
            Some(hold(
                HoldKind::RateLimited,
                "anthropic",
                10_000,
                "429: retry after 5s"
            ))
        );
        // It ends at `until` exactly, and is keyed by kind and key.
        for (kind, key, now) in [
            (HoldKind::RateLimited, "anthropic", 10_000),
            (HoldKind::BreakerOpen, "anthropic", 0),
            (HoldKind::RateLimited, "openai", 0),
        ] {
            assert_eq!(
                other.active_hold(kind, key, now).await.unwrap(),
                None,
                "{kind} {key} {now}"
            );
        }
    }
);

suite!(
    a_hold_only_moves_forward_and_keeps_the_reason_of_the_later_end,
    |fresh| async move {
        let store = &fresh.store;
        let key = "gemini";
        let set = |until: i64, reason: &'static str| {
            store.hold(hold(HoldKind::BreakerOpen, key, until, reason))
        };
        assert_eq!(set(5_000, "opened by worker a").await.unwrap(), 5_000);
        // An earlier end (a slower worker reporting an older failure) does not shorten it.
        assert_eq!(set(4_000, "opened by worker b").await.unwrap(), 5_000);
        let kept = store
            .active_hold(HoldKind::BreakerOpen, key, 0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (kept.until, kept.reason.as_str()),
            (5_000, "opened by worker a")
        );
        // A later one extends it, with its own reason.
        assert_eq!(set(7_000, "opened by worker c").await.unwrap(), 7_000);
        let kept = store
            .active_hold(HoldKind::BreakerOpen, key, 6_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (kept.until, kept.reason.as_str()),
            (7_000, "opened by worker c")
        );
    }
);

suite!(
    active_holds_lists_those_in_force_soonest_end_first,
    |fresh| async move {
        let store = &fresh.store;
        for (kind, key, until) in [
            (HoldKind::RateLimited, "openai", 3_000),
            (HoldKind::BreakerOpen, "codex", 2_000),
            (HoldKind::RateLimited, "anthropic", 1_000),
        ] {
            store.hold(hold(kind, key, until, "why")).await.unwrap();
        }
        let keys: Vec<(HoldKind, String)> = store
            .active_holds(1_000)
            .await
            .unwrap()
            .into_iter()
            .map(|h| (h.kind, h.key))
            .collect();
        assert_eq!(
            keys,
            vec![
                (HoldKind::BreakerOpen, "codex".to_owned()),
                (HoldKind::RateLimited, "openai".to_owned()),
            ]
        );
        assert!(store.active_holds(3_000).await.unwrap().is_empty());
    }
);

#[tokio::test]
async fn two_handles_on_one_file_share_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.db");
    let writer = AsyncStore::open(&path, Options::default()).await.unwrap();
    let reader = AsyncStore::open(&path, Options::default()).await.unwrap();
    writer
        .hold(hold(HoldKind::RateLimited, "anthropic", 10_000, "429"))
        .await
        .unwrap();
    let seen = reader
        .active_hold(HoldKind::RateLimited, "anthropic", 0)
        .await
        .unwrap();
    assert_eq!(seen.map(|h| h.until), Some(10_000));
}

#[test]
fn a_read_only_store_refuses_to_set_a_hold_and_still_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.db");
    let store = Store::open(&path, Options::default()).unwrap();
    store
        .set_hold(&hold(HoldKind::RateLimited, "anthropic", 9_000, "429"))
        .unwrap();
    drop(store);
    let read_only = Store::open_read_only(&path, Options::default()).unwrap();
    assert!(
        read_only
            .set_hold(&hold(HoldKind::RateLimited, "anthropic", 99_000, "429"))
            .is_err()
    );
    assert_eq!(
        read_only
            .active_hold(HoldKind::RateLimited, "anthropic", 0)
            .unwrap()
            .map(|h| h.until),
        Some(9_000)
    );
}

#[test]
fn kinds_have_stable_names() {
    assert_eq!(HoldKind::RateLimited.to_string(), "rate_limited");
    assert_eq!(HoldKind::BreakerOpen.as_str(), "breaker_open");
    assert_eq!(
        serde_json::to_string(&HoldKind::BreakerOpen).unwrap(),
        "\"breaker_open\""
    );
}
