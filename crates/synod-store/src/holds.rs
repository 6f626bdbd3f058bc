//! Shared resilience state: what one process learned about an agent that every process
//! sharing the store must respect.
//!
//! Two kinds of [`Hold`], each keyed by a name:
//!
//! - [`HoldKind::RateLimited`]: the agent's API said "not before T" (a 429 with a retry
//!   time, or the rate-limit floor when it stated none). The key is the agent's name, or the
//!   `rate_limit_group` of agents that share one API key. Every worker waits until T before
//!   calling any agent of that key.
//! - [`HoldKind::BreakerOpen`]: one process's circuit breaker of the agent opened. Every
//!   process refuses calls to the agent until the breaker's wait in the open state is over.
//!
//! Holds only ever move forward: setting a hold that ends sooner than the one stored keeps
//! the later one, so two workers that learn of the same limit in either order agree. They
//! live in the store itself (the `holds` table), with no extra service, and expire on their
//! own: a hold whose time has passed is never returned.
//!
//! ```
//! use synod_store::{AsyncStore, Hold, HoldKind, SharedHolds, now_millis};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synod_store::Error> {
//! let store = AsyncStore::open_in_memory().await?;
//! let now = now_millis();
//! let until = now + 5_000;
//! store.hold(Hold::new(HoldKind::RateLimited, "anthropic", until, "429: retry after 5s")).await?;
//! // Another worker, asking before `until`, sees it...
//! let hold = store.active_hold(HoldKind::RateLimited, "anthropic", now).await?;
//! assert_eq!(hold.map(|h| h.until), Some(until));
//! // ...and after `until` there is nothing to respect.
//! assert!(store.active_hold(HoldKind::RateLimited, "anthropic", until).await?.is_none());
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::Path;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::AsyncStore;
use crate::error::{Error, Result};
use crate::evidence::StoreFuture;
use crate::model::{UnixMillis, now_millis};

/// What a [`Hold`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HoldKind {
    /// Calls wait until the hold ends (an API's rate limit).
    RateLimited,
    /// Calls are refused until the hold ends (an open circuit breaker).
    BreakerOpen,
}

impl HoldKind {
    /// The name stored in the `holds` table.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            HoldKind::RateLimited => "rate_limited",
            HoldKind::BreakerOpen => "breaker_open",
        }
    }
}

impl fmt::Display for HoldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A hold on an agent (or a group of agents), shared by every process using the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Hold {
    /// What it stands for.
    pub kind: HoldKind,
    /// The agent's name or its `rate_limit_group`.
    pub key: String,
    /// When it ends (Unix milliseconds).
    pub until: UnixMillis,
    /// Why, one line (the failure that set it).
    pub reason: String,
}

impl Hold {
    /// A hold of `kind` on `key` until `until`.
    #[must_use]
    pub fn new(
        kind: HoldKind,
        key: impl Into<String>,
        until: UnixMillis,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            key: key.into(),
            until,
            reason: reason.into(),
        }
    }
}

/// Holds shared through the store. Implemented by [`AsyncStore`]; a server backend
/// implements it to share them across machines.
pub trait SharedHolds: Send + Sync + fmt::Debug {
    /// Stores `hold`, unless a hold of the same kind and key ends later (then that one is
    /// kept). Returns when the stored hold ends.
    fn hold(&self, hold: Hold) -> StoreFuture<'_, UnixMillis>;

    /// The hold of `kind` on `key` that is still in force at `now`, if any.
    fn active_hold<'a>(
        &'a self,
        kind: HoldKind,
        key: &'a str,
        now: UnixMillis,
    ) -> StoreFuture<'a, Option<Hold>>;

    /// Every hold still in force at `now`, soonest end first.
    fn active_holds(&self, now: UnixMillis) -> StoreFuture<'_, Vec<Hold>>;
}

const SQL_UPSERT: &str = "
    INSERT INTO holds (kind, key, until_ms, reason, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (kind, key) DO UPDATE SET
        reason = CASE WHEN excluded.until_ms > holds.until_ms
                      THEN excluded.reason ELSE holds.reason END,
        until_ms = max(holds.until_ms, excluded.until_ms),
        updated_at = excluded.updated_at
    RETURNING until_ms";

const SQL_ACTIVE: &str =
    "SELECT kind, key, until_ms, reason FROM holds WHERE kind = ?1 AND key = ?2 AND until_ms > ?3";

const SQL_ALL_ACTIVE: &str = "SELECT kind, key, until_ms, reason FROM holds WHERE until_ms > ?1 ORDER BY until_ms, kind, key";

fn parse_kind(text: &str, path: &Path) -> Result<HoldKind> {
    match text {
        "rate_limited" => Ok(HoldKind::RateLimited),
        "breaker_open" => Ok(HoldKind::BreakerOpen),
        other => Err(Error::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "holds.kind is `{other}`, not rate_limited or breaker_open: run `synod store check`"
            ),
        }),
    }
}

type HoldRow = (String, String, i64, String);

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<HoldRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn finish((kind, key, until, reason): HoldRow, path: &Path) -> Result<Hold> {
    Ok(Hold {
        kind: parse_kind(&kind, path)?,
        key,
        until,
        reason,
    })
}

impl crate::Store {
    /// [`SharedHolds::hold`] (blocking).
    pub fn set_hold(&self, hold: &Hold) -> Result<UnixMillis> {
        let now = now_millis();
        self.write("set_hold", |tx| {
            tx.prepare_cached(SQL_UPSERT)?.query_row(
                params![hold.kind.as_str(), hold.key, hold.until, hold.reason, now],
                |r| r.get(0),
            )
        })
    }

    /// [`SharedHolds::active_hold`] (blocking).
    pub fn active_hold(&self, kind: HoldKind, key: &str, now: UnixMillis) -> Result<Option<Hold>> {
        let row = self.read(|conn| {
            conn.prepare_cached(SQL_ACTIVE)
                .and_then(|mut s| {
                    s.query_row(params![kind.as_str(), key, now], read_row)
                        .optional()
                })
                .map_err(self.map("active_hold"))
        })?;
        row.map(|row| finish(row, self.path())).transpose()
    }

    /// [`SharedHolds::active_holds`] (blocking).
    pub fn active_holds(&self, now: UnixMillis) -> Result<Vec<Hold>> {
        let rows: Vec<HoldRow> = self.read(|conn| {
            conn.prepare_cached(SQL_ALL_ACTIVE)
                .and_then(|mut s| s.query_map([now], read_row)?.collect())
                .map_err(self.map("active_holds"))
        })?;
        rows.into_iter()
            .map(|row| finish(row, self.path()))
            .collect()
    }
}

impl SharedHolds for AsyncStore {
    fn hold(&self, hold: Hold) -> StoreFuture<'_, UnixMillis> {
        Box::pin(self.call("set_hold", move |store| store.set_hold(&hold)))
    }

    fn active_hold<'a>(
        &'a self,
        kind: HoldKind,
        key: &'a str,
        now: UnixMillis,
    ) -> StoreFuture<'a, Option<Hold>> {
        let key = key.to_owned();
        Box::pin(self.call("active_hold", move |store| {
            store.active_hold(kind, &key, now)
        }))
    }

    fn active_holds(&self, now: UnixMillis) -> StoreFuture<'_, Vec<Hold>> {
        Box::pin(self.call("active_holds", move |store| store.active_holds(now)))
    }
}
