//! How a store is opened: pool size, timeouts, durability and cache settings.
//!
//! ```
//! use std::time::Duration;
//! use synod_store::{Durability, Options};
//!
//! let options = Options {
//!     pool_size: 4,
//!     busy_timeout: Duration::from_secs(10),
//!     durability: Durability::Full,
//!     ..Options::default()
//! };
//! assert_eq!(options.mmap_size, 256 * 1024 * 1024);
//! ```

use std::time::Duration;

/// What a committed transaction survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// `synchronous=NORMAL` in WAL mode: a commit survives a crash of the process; a power
    /// loss or OS crash may roll back the last few commits (never corrupts). The default.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is fsynced to the WAL before it returns, so it also
    /// survives power loss. Slower writes.
    Full,
}

impl Durability {
    pub(crate) fn pragma_value(self) -> &'static str {
        match self {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        }
    }
}

/// Settings for [`Store::open`](crate::Store::open). Every field has a sensible default.
///
/// Construct it with struct-update syntax (`Options { pool_size: 2, ..Options::default() }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Read-write connections open at most at once, for writes and maintenance (default 4);
    /// a caller finding all in use waits up to [`Options::connection_timeout`].
    pub pool_size: u32,
    /// Most idle read connections kept in the read-connection cache (default 8). Reads never
    /// wait for a cached connection: when none is idle a new one is opened, and it is closed
    /// instead of cached when the cache is full.
    pub max_idle_readers: usize,
    /// How long a statement waits for a lock held by another connection or process before
    /// failing with [`Error::Busy`](crate::Error::Busy) (default 5 s). A write transaction
    /// (e.g. [`Store::record_stage`](crate::Store::record_stage)) that finds the database
    /// locked is retried with jittered backoff for this long in all. synod's CLI sets it from
    /// `store.busy_timeout` (default 60 s) or `--busy-timeout`.
    pub busy_timeout: Duration,
    /// How long to wait for a free pooled connection (default 30 s).
    pub connection_timeout: Duration,
    /// `synchronous` setting (default [`Durability::Normal`]).
    pub durability: Durability,
    /// Page cache per connection, in KiB (`cache_size=-N`; default 32000, about 31 MiB).
    pub cache_size_kib: u32,
    /// Bytes of the file memory-mapped per connection (`mmap_size`; default 256 MiB, 0 turns
    /// memory mapping off).
    pub mmap_size: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pool_size: 4,
            max_idle_readers: 8,
            busy_timeout: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(30),
            durability: Durability::Normal,
            cache_size_kib: 32_000,
            mmap_size: 256 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What SQLite reports as `PRAGMA synchronous` on a connection set up with `durability`
    /// (1 = NORMAL, 2 = FULL).
    fn synchronous_with(durability: Durability) -> i64 {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let options = Options {
            durability,
            ..Options::default()
        };
        conn.execute_batch(&crate::conn::connection_pragmas(&options))
            .unwrap();
        conn.query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn full_durability_makes_every_connection_sync_each_commit() {
        assert_eq!(synchronous_with(Durability::Normal), 1);
        assert_eq!(synchronous_with(Durability::Full), 2);
    }
}
