//! Holds shared through one store file: what one process learns about an agent, every
//! process sharing the file respects.

use synod_store::{AsyncStore, Hold, HoldKind, Options, SharedHolds, Store};

fn hold(kind: HoldKind, key: &str, until: i64, reason: &str) -> Hold {
    Hold::new(kind, key, until, reason)
}

#[tokio::test]
async fn a_hold_set_through_one_handle_is_seen_through_another_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.db");
    let writer = AsyncStore::open(&path, Options::default()).await.unwrap();
    let reader = AsyncStore::open(&path, Options::default()).await.unwrap();

    let until = writer
        .hold(hold(
            HoldKind::RateLimited,
            "anthropic",
            10_000,
            "429: retry after 5s",
        ))
        .await
        .unwrap();
    assert_eq!(until, 10_000);

    let seen = reader
        .active_hold(HoldKind::RateLimited, "anthropic", 9_999)
        .await
        .unwrap()
        .expect("in force before its end");
    assert_eq!(
        seen,
        hold(
            HoldKind::RateLimited,
            "anthropic",
            10_000,
            "429: retry after 5s"
        )
    );
    // Ends at `until` exactly, and is keyed by kind and key.
    assert_eq!(
        reader
            .active_hold(HoldKind::RateLimited, "anthropic", 10_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        reader
            .active_hold(HoldKind::BreakerOpen, "anthropic", 0)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        reader
            .active_hold(HoldKind::RateLimited, "openai", 0)
            .await
            .unwrap(),
        None
    );
}

#[test]
fn a_hold_only_moves_forward_and_keeps_the_reason_of_the_later_end() {
    let store = Store::open_in_memory().unwrap();
    let key = "gemini";
    assert_eq!(
        store
            .set_hold(&hold(
                HoldKind::BreakerOpen,
                key,
                5_000,
                "opened by worker a"
            ))
            .unwrap(),
        5_000
    );
    // An earlier end (a slower worker reporting an older failure) does not shorten it.
    assert_eq!(
        store
            .set_hold(&hold(
                HoldKind::BreakerOpen,
                key,
                4_000,
                "opened by worker b"
            ))
            .unwrap(),
        5_000
    );
    let kept = store
        .active_hold(HoldKind::BreakerOpen, key, 0)
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.until, kept.reason.as_str()),
        (5_000, "opened by worker a")
    );
    // A later one extends it, with its own reason.
    assert_eq!(
        store
            .set_hold(&hold(
                HoldKind::BreakerOpen,
                key,
                7_000,
                "opened by worker c"
            ))
            .unwrap(),
        7_000
    );
    let kept = store
        .active_hold(HoldKind::BreakerOpen, key, 6_000)
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.until, kept.reason.as_str()),
        (7_000, "opened by worker c")
    );
}

#[test]
fn active_holds_lists_those_in_force_soonest_end_first() {
    let store = Store::open_in_memory().unwrap();
    store
        .set_hold(&hold(HoldKind::RateLimited, "openai", 3_000, "429"))
        .unwrap();
    store
        .set_hold(&hold(HoldKind::BreakerOpen, "codex", 2_000, "breaker"))
        .unwrap();
    store
        .set_hold(&hold(HoldKind::RateLimited, "anthropic", 1_000, "old"))
        .unwrap();
    let keys: Vec<(HoldKind, String)> = store
        .active_holds(1_000)
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
    assert!(store.active_holds(3_000).unwrap().is_empty());
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
