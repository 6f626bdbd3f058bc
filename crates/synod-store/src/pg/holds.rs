//! [`SharedHolds`] on PostgreSQL: the same `holds` table as SQLite's, shared by every
//! machine using the server.

use crate::evidence::StoreFuture;
use crate::holds::{Hold, HoldKind, SharedHolds};
use crate::model::{UnixMillis, now_millis};

use super::PgStore;

const SQL_UPSERT: &str = "
    INSERT INTO holds (kind, key, until_ms, reason, updated_at) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (kind, key) DO UPDATE SET
        reason = CASE WHEN excluded.until_ms > holds.until_ms
                      THEN excluded.reason ELSE holds.reason END,
        until_ms = GREATEST(holds.until_ms, excluded.until_ms),
        updated_at = excluded.updated_at
    RETURNING until_ms";

const SQL_ACTIVE: &str = "SELECT kind, key, until_ms, reason FROM holds
    WHERE kind = $1 AND key = $2 AND until_ms > $3";

const SQL_ALL_ACTIVE: &str = "SELECT kind, key, until_ms, reason FROM holds
    WHERE until_ms > $1 ORDER BY until_ms, kind, key";

fn kind_of(text: &str) -> Option<HoldKind> {
    match text {
        "rate_limited" => Some(HoldKind::RateLimited),
        "breaker_open" => Some(HoldKind::BreakerOpen),
        _ => None,
    }
}

fn hold_of(row: &tokio_postgres::Row) -> Option<Hold> {
    let kind: String = row.get(0);
    Some(Hold::new(
        kind_of(&kind)?,
        row.get::<_, String>(1),
        row.get(2),
        row.get::<_, String>(3),
    ))
}

impl SharedHolds for PgStore {
    fn hold(&self, hold: Hold) -> StoreFuture<'_, UnixMillis> {
        Box::pin(async move {
            let rows = self
                .query_all(
                    "set_hold",
                    SQL_UPSERT,
                    &[
                        &hold.kind.as_str(),
                        &hold.key,
                        &hold.until,
                        &hold.reason,
                        &now_millis(),
                    ],
                )
                .await?;
            Ok(rows.first().map_or(hold.until, |r| r.get(0)))
        })
    }

    fn active_hold<'a>(
        &'a self,
        kind: HoldKind,
        key: &'a str,
        now: UnixMillis,
    ) -> StoreFuture<'a, Option<Hold>> {
        Box::pin(async move {
            let rows = self
                .query_all("active_hold", SQL_ACTIVE, &[&kind.as_str(), &key, &now])
                .await?;
            Ok(rows.first().and_then(hold_of))
        })
    }

    fn active_holds(&self, now: UnixMillis) -> StoreFuture<'_, Vec<Hold>> {
        Box::pin(async move {
            let rows = self
                .query_all("active_holds", SQL_ALL_ACTIVE, &[&now])
                .await?;
            Ok(rows.iter().filter_map(hold_of).collect())
        })
    }
}
