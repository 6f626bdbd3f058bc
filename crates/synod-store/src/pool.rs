//! [`WritePool`]: the store's read-write connections, at most [`Options::pool_size`] open at
//! once.
//!
//! Every connection is opened, used and closed on the thread that asks for it; nothing runs
//! in the background. So when the last clone of a [`Store`](crate::Store) is dropped, its
//! connections are closed before `drop` returns, and with them SQLite's last-close work (the
//! WAL checkpoint and the removal of `-wal` and `-shm`): the file is complete and still once
//! the store is gone, and a process that exits right after loses nothing to a half-closed
//! connection.
//!
//! [`Options::pool_size`]: crate::Options::pool_size

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::conn::{Target, open_connection};
use crate::error::{Error, Result};

/// A bounded pool of read-write connections, each set up with the store's pragmas.
pub(crate) struct WritePool {
    state: Mutex<PoolState>,
    returned: Condvar,
    max_open: usize,
    wait: Duration,
    target: Target,
    pragmas: String,
    path: PathBuf,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Connection>,
    /// Connections that exist: idle, checked out, or being opened.
    open: usize,
    /// Callers waiting for a connection to be returned.
    waiting: usize,
}

impl WritePool {
    /// A pool of at most `max_open` connections (at least one) to `target`, whose callers
    /// wait up to `wait` for one to be returned when all are in use.
    pub(crate) fn new(target: Target, pragmas: String, max_open: u32, wait: Duration) -> WritePool {
        WritePool {
            state: Mutex::new(PoolState::default()),
            returned: Condvar::new(),
            max_open: usize::try_from(max_open.max(1)).unwrap_or(usize::MAX),
            wait,
            path: target.display_path(),
            target,
            pragmas,
        }
    }

    /// Takes `conn`, opened elsewhere with the same target and pragmas, as an idle
    /// connection (it counts toward the maximum).
    pub(crate) fn adopt(&self, conn: Connection) {
        let mut state = self.lock();
        state.open += 1;
        state.idle.push(conn);
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle connection, else a new one while fewer than the maximum are open, else the
    /// first one returned within the pool's wait.
    ///
    /// # Errors
    /// [`Error::Pool`] when none was returned in time; the SQLite error when a new connection
    /// cannot be opened or set up.
    pub(crate) fn get(&self) -> Result<PooledConn<'_>> {
        let deadline = Instant::now() + self.wait;
        let mut state = self.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(self.lend(conn));
            }
            if state.open < self.max_open {
                state.open += 1;
                drop(state);
                return match open_connection(&self.target, &self.pragmas) {
                    Ok(conn) => Ok(self.lend(conn)),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.returned.notify_one();
                        Err(Error::sqlite(&self.path, "open connection", e))
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Pool {
                    detail: format!(
                        "all {} connections stayed in use for {:?}",
                        self.max_open, self.wait
                    ),
                });
            }
            state.waiting += 1;
            state = self
                .returned
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.waiting -= 1;
        }
    }

    fn lend(&self, conn: Connection) -> PooledConn<'_> {
        PooledConn {
            pool: self,
            conn: Some(conn),
        }
    }

    /// Takes a connection back: kept for reuse when it is not inside a transaction, closed
    /// otherwise (a transaction left open would hold SQLite's write lock).
    fn give_back(&self, conn: Connection) {
        let discarded = {
            let mut state = self.lock();
            if conn.is_autocommit() {
                state.idle.push(conn);
                None
            } else {
                state.open -= 1;
                Some(conn)
            }
        };
        self.returned.notify_one();
        drop(discarded);
    }

    /// How many connections are open and idle, and how many callers wait for one: for
    /// `Debug` (a store whose callers keep waiting needs a larger `pool_size`).
    pub(crate) fn counts(&self) -> PoolCounts {
        let state = self.lock();
        PoolCounts {
            open: state.open,
            idle: state.idle.len(),
            waiting: state.waiting,
        }
    }
}

/// What [`WritePool::counts`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolCounts {
    pub(crate) open: usize,
    pub(crate) idle: usize,
    pub(crate) waiting: usize,
}

/// A connection lent by a [`WritePool`]; dropping it gives it back.
pub(crate) struct PooledConn<'a> {
    pool: &'a WritePool,
    conn: Option<Connection>,
}

impl Deref for PooledConn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a lent connection is present until dropped")
    }
}

impl DerefMut for PooledConn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
            .as_mut()
            .expect("a lent connection is present until dropped")
    }
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pool: &WritePool) -> (usize, usize) {
        let c = pool.counts();
        (c.open, c.idle)
    }

    fn memory_pool(max_open: u32, wait: Duration) -> WritePool {
        WritePool::new(Target::unique_memory(), String::new(), max_open, wait)
    }

    #[test]
    fn connections_are_reused_and_bounded() {
        let pool = memory_pool(2, Duration::from_millis(20));
        let a = pool.get().expect("first");
        let b = pool.get().expect("second");
        assert_eq!(counts(&pool), (2, 0));
        let Err(Error::Pool { detail }) = pool.get() else {
            panic!("a third connection was lent past the maximum of two");
        };
        assert_eq!(detail, "all 2 connections stayed in use for 20ms");
        drop(a);
        assert_eq!(counts(&pool), (2, 1));
        let again = pool.get().expect("the returned one");
        assert_eq!(counts(&pool), (2, 0));
        drop((again, b));
        assert_eq!(counts(&pool), (2, 2));
    }

    #[test]
    fn a_waiting_caller_gets_the_connection_another_returns() {
        let pool = memory_pool(1, Duration::from_secs(60));
        let held = pool.get().expect("first");
        std::thread::scope(|s| {
            let waiter = s.spawn(|| pool.get().map(|c| c.is_autocommit()));
            while pool.counts().waiting == 0 {
                assert!(
                    !waiter.is_finished(),
                    "the second caller did not wait for the one connection allowed"
                );
                std::thread::yield_now();
            }
            drop(held);
            assert!(waiter.join().expect("no panic").expect("lent"));
        });
        assert_eq!(counts(&pool), (1, 1));
        assert_eq!(pool.counts().waiting, 0, "nobody waits any more");
    }

    #[test]
    fn a_connection_returned_inside_a_transaction_is_closed_not_reused() {
        let pool = memory_pool(1, Duration::from_millis(20));
        let conn = pool.get().expect("lent");
        conn.execute_batch("BEGIN").expect("begin");
        drop(conn);
        assert_eq!(counts(&pool), (0, 0));
        let fresh = pool.get().expect("a new one");
        assert!(fresh.is_autocommit());
    }

    #[test]
    fn a_connection_that_cannot_open_frees_its_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("gone/store.db");
        let target = Target::File(missing, crate::conn::FileMode::ReadWrite);
        let pool = WritePool::new(target, String::new(), 1, Duration::from_millis(20));
        for _ in 0..2 {
            let Err(err) = pool.get() else {
                panic!("a missing file opened");
            };
            assert!(err.to_string().contains("store.db"), "{err}");
        }
        assert_eq!(counts(&pool), (0, 0));
    }
}
