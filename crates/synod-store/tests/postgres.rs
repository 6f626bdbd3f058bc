//! PostgreSQL only (feature `postgres`): what a bad URL, an unreachable server, a refused
//! login, a missing database or a newer schema give (one clear error each, nothing written),
//! and migrations under concurrent connects. Runs on the synod-testpg fixture's server.
#![cfg(feature = "postgres")]

#[path = "common/backend.rs"]
mod backend;
mod common;

use common::{run, verdict};
use synod_store::{AnyStore, Error, Options, PgOptions, PgStore, SCHEMA_VERSION};

/// Connects to `url` as the fixture's admin and runs `sql`.
async fn admin(url: &str, sql: &str) -> Vec<tokio_postgres::Row> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client.simple_query(sql).await.unwrap();
    client
        .query("SELECT to_regclass('consensus_runs') IS NOT NULL", &[])
        .await
        .unwrap()
}

/// Whether the database has synod's tables.
async fn has_tables(url: &str) -> bool {
    admin(url, "SELECT 1").await[0].get(0)
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_nothing_is_written() {
    let db = backend::postgres_database().await;
    admin(
        db.url(),
        "CREATE TABLE synod_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL); \
         INSERT INTO synod_schema VALUES (99, 0)",
    )
    .await;
    let err = PgStore::connect(db.url(), PgOptions::default())
        .await
        .unwrap_err();
    match &err {
        Error::PgSchemaTooNew {
            url,
            found,
            supported,
        } => {
            assert_eq!((*found, *supported), (99, SCHEMA_VERSION));
            assert!(!url.contains("pw"), "password hidden: {url}");
        }
        other => panic!("{other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("99") && message.contains("upgrade synod"),
        "{message}"
    );
    assert!(!message.contains('\n'));
    assert!(!has_tables(db.url()).await, "nothing was created");
}

#[tokio::test]
async fn a_wrong_password_is_a_refused_login_naming_the_url_without_it() {
    let db = backend::postgres_database().await;
    let cluster = synod_testpg::PgCluster::shared().unwrap();
    let url = cluster.url_with_password(db.name(), "not-the-password");
    let err = AnyStore::open(&url, Options::default()).await.unwrap_err();
    assert!(matches!(err, Error::PgAuth { .. }), "{err:?}");
    let message = err.to_string();
    assert!(!message.contains("not-the-password"), "{message}");
    assert!(message.contains(":***@"), "{message}");
    assert!(
        message.contains(r#"(password authentication failed for user "synod")"#),
        "the server's own words: {message}"
    );
    assert!(!has_tables(db.url()).await, "nothing was created");
}

// `verify` (what `synod store check` runs) reads the schema version each time: a database
// rolled back under a running store, or migrated by a newer synod, is named, not passed.
#[tokio::test]
async fn verify_names_a_schema_changed_under_a_connected_store() {
    let db = backend::postgres_database().await;
    let store = AnyStore::open(db.url(), Options::default()).await.unwrap();
    store.verify().await.unwrap();
    store.integrity_check().await.unwrap();
    admin(
        db.url(),
        &format!("DELETE FROM synod_schema WHERE version = {SCHEMA_VERSION}"),
    )
    .await;
    match store.verify().await.unwrap_err() {
        Error::PgNeedsMigration {
            found, supported, ..
        } => {
            assert_eq!((found, supported), (SCHEMA_VERSION - 1, SCHEMA_VERSION));
        }
        other => panic!("{other:?}"),
    }
    admin(db.url(), "INSERT INTO synod_schema VALUES (99, 0)").await;
    // On PostgreSQL the full check is the same check (page checks are pg_amcheck's).
    for err in [
        store.verify().await.unwrap_err(),
        store.integrity_check().await.unwrap_err(),
    ] {
        assert!(
            matches!(err, Error::PgSchemaTooNew { found: 99, .. }),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn a_url_without_a_password_is_a_refused_login_that_says_so() {
    let db = backend::postgres_database().await;
    let cluster = synod_testpg::PgCluster::shared().unwrap();
    let url = cluster
        .url_with_password(db.name(), "P")
        .replacen(":P@", "@", 1);
    assert!(!url.contains(":P@"), "{url}");
    let err = AnyStore::open(&url, Options::default()).await.unwrap_err();
    assert!(matches!(err, Error::PgAuth { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("password missing"), "{message}");
    assert!(message.contains("check the user and password"), "{message}");
    assert!(!has_tables(db.url()).await, "nothing was created");
}

#[tokio::test]
async fn debug_output_names_the_server_and_never_the_password() {
    let db = backend::postgres_database().await;
    let store = PgStore::connect(db.url(), PgOptions::default())
        .await
        .unwrap();
    let shown = format!("{store:?}");
    assert!(shown.starts_with("PgStore {"), "{shown}");
    assert!(shown.contains(&format!("{:?}", store.url())), "{shown}");
    assert!(store.url().contains(":***@"), "{}", store.url());
    assert!(
        shown.contains("pool_size: 1"),
        "one connection, the migration's: {shown}"
    );
    let password = db.url().split_once("://").unwrap().1;
    let password = password
        .split_once('@')
        .unwrap()
        .0
        .split_once(':')
        .unwrap()
        .1;
    assert!(!shown.contains(password), "{shown}");
}

#[tokio::test]
async fn an_unreachable_server_is_named_with_what_to_check() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://synod:secret@127.0.0.1:{port}/synod");
    let err = AnyStore::open(&url, Options::default()).await.unwrap_err();
    assert!(matches!(err, Error::PgUnreachable { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("secret"), "{message}");
    assert!(message.contains("check the host and port"), "{message}");
}

#[tokio::test]
async fn bad_urls_and_missing_databases_are_told_apart() {
    for url in [
        "postgres://synod:pw@127.0.0.1:notaport/db",
        "postgres:///db",
    ] {
        let err = PgStore::connect(url, PgOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PgUrl { .. }), "{url}: {err:?}");
        assert!(
            err.to_string().contains("postgres://USER:PASSWORD@HOST"),
            "{err}"
        );
    }
    let err = PgStore::connect("mysql://x/y", PgOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PgUrl { .. }), "{err:?}");
    let cluster = synod_testpg::PgCluster::shared().unwrap();
    let err = AnyStore::open(&cluster.url_for("no_such_db_here"), Options::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PgNoDatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("createdb"), "{err}");
}

#[tokio::test]
async fn a_reader_does_not_migrate_and_concurrent_writers_migrate_once() {
    let db = backend::postgres_database().await;
    let err = AnyStore::open_read_only(db.url(), Options::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::PgNeedsMigration { found: 0, .. }),
        "{err:?}"
    );
    assert!(!has_tables(db.url()).await, "a reader creates nothing");
    let mut connects = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let url = db.url().to_owned();
        connects.spawn(async move { PgStore::connect(&url, PgOptions::default()).await });
    }
    let mut stores = Vec::new();
    while let Some(done) = connects.join_next().await {
        stores.push(done.unwrap().unwrap());
    }
    let versions = admin(db.url(), "SELECT 1").await;
    assert!(versions[0].get::<_, bool>(0));
    let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows: i64 = client
        .query_one("SELECT count(*) FROM synod_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, SCHEMA_VERSION, "each migration applied once");
    let store = &stores[0];
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    store.verify().await.unwrap();
    let reader = AnyStore::open_read_only(db.url(), Options::default())
        .await
        .unwrap();
    assert_eq!(reader.backend(), "PostgreSQL");
    assert!(synod_store::EvidenceStore::location(&reader).is_none());
    assert!(
        !reader.describe().contains(db.url()),
        "the password is hidden"
    );
    let err = reader.backup_to("/tmp/never").await.unwrap_err();
    assert!(err.to_string().contains("pg_dump"), "{err}");
    let id = store
        .record_stage(run("S", "plan", 1), vec![], verdict(1))
        .await
        .unwrap();
    assert_eq!(reader.run(id).await.unwrap().map(|r| r.id), Some(id));
}

#[tokio::test]
async fn every_read_path_has_an_index() {
    let fresh = backend::postgres().await;
    let (client, connection) = tokio_postgres::connect(&fresh.location, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // Planner as on a large table: sequential scans off, so a missing index shows as one.
    client
        .batch_execute("SET enable_seqscan = off")
        .await
        .unwrap();
    let queries = synod_store::pg::PG_PUBLIC_QUERIES
        .iter()
        .chain(synod_store::pg::PG_JOB_QUERIES);
    for (index, (name, sql)) in queries.enumerate() {
        let params = (1..=3).filter(|n| sql.contains(&format!("${n}"))).count();
        let args = vec!["'1'"; params].join(", ");
        let execute = if params == 0 {
            format!("q{index}")
        } else {
            format!("q{index}({args})")
        };
        let messages = client
            .simple_query(&format!(
                "PREPARE q{index} AS {sql}; EXPLAIN EXECUTE {execute}"
            ))
            .await
            .unwrap();
        let plan: Vec<String> = messages
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains("Index"), "{name} uses no index:\n{plan}");
        assert!(!plan.contains("Seq Scan"), "{name} scans a table:\n{plan}");
    }
}
