//! The backends the store's async suite runs against: [`suite!`] turns one async test body
//! over an [`AnyStore`] into a SQLite test and (feature `postgres`) a PostgreSQL test, each
//! on a fresh store (a file in a temporary directory; a new database on the fixture's server).
#![allow(dead_code, unreachable_pub)]

use std::any::Any;

use synod_store::{AnyStore, Options};

/// A fresh store and what keeps it alive (its directory or database).
pub struct Fresh {
    pub store: AnyStore,
    /// Where it is: the SQLite file, or the PostgreSQL URL (with its password).
    pub location: String,
    _guard: Box<dyn Any + Send>,
}

/// A new SQLite store in a temporary directory.
pub async fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("suite.db").display().to_string();
    let store = AnyStore::open(&location, Options::default()).await.unwrap();
    Fresh {
        store,
        location,
        _guard: Box::new(dir),
    }
}

/// A new database on the test PostgreSQL server.
#[cfg(feature = "postgres")]
pub async fn postgres() -> Fresh {
    let db = postgres_database().await;
    let location = db.url().to_owned();
    let store = AnyStore::open(&location, Options::default()).await.unwrap();
    Fresh {
        store,
        location,
        _guard: Box::new(db),
    }
}

/// A new, empty database on the test server (not migrated).
#[cfg(feature = "postgres")]
pub async fn postgres_database() -> synod_testpg::Database {
    let cluster = tokio::task::spawn_blocking(synod_testpg::PgCluster::shared)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    cluster.database().await.unwrap_or_else(|e| panic!("{e}"))
}

/// `suite!(name, |fresh| async move { ... })`: the body runs once per backend.
#[macro_export]
macro_rules! suite {
    ($name:ident, |$fresh:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $fresh = $crate::backend::sqlite().await;
                $body.await;
            }

            #[cfg(feature = "postgres")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $fresh = $crate::backend::postgres().await;
                $body.await;
            }
        }
    };
}
