//! A build without the `postgres` feature: a PostgreSQL URL is one clear error that names
//! the server (never the password) and why, for writing and for reading alike.
//!
//! The workspace's test command enables every feature, so `.ci/run` also runs this file
//! without them: `cargo test -p synod-store --test without_postgres`.
#![cfg(not(feature = "postgres"))]

use synod_store::{AnyStore, Error, Options};

#[tokio::test]
async fn a_postgres_url_says_this_build_has_no_postgres_support() {
    let url = "postgres://synod:hunter22@db.internal:5432/evidence";
    let write = AnyStore::open(url, Options::default()).await;
    let read = AnyStore::open_read_only(url, Options::default()).await;
    for result in [write, read] {
        let Err(err) = result else {
            panic!("a postgres:// URL opened without PostgreSQL support");
        };
        assert!(
            matches!(&err, Error::PgUrl { url, .. } if url == "db.internal:5432/evidence"),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("built without PostgreSQL support"),
            "{message}"
        );
        assert!(!message.contains("hunter22"), "{message}");
    }
}
