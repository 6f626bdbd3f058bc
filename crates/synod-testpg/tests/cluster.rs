//! The fixture's clusters: one from the binaries found, one from the pinned npm package; each
//! accepts the password login, gives separate databases, refuses a wrong password, and is gone
//! (process and directory) once dropped.
#![cfg(unix)]

use std::time::{Duration, Instant};

use synod_testpg::PgCluster;

async fn count_databases(url: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 't\\_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// Whether anything still listens at the URL's port.
fn listening(url: &str) -> bool {
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .unwrap();
    std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok()
}

fn exercise(cluster: PgCluster) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let admin = cluster.admin_url();
    runtime.block_on(async {
        let a = cluster.database().await.unwrap();
        let b = cluster.database().await.unwrap();
        assert_ne!(a.url(), b.url());
        assert_eq!(count_databases(&admin).await, 2);
        let wrong = cluster.url_with_password(a.name(), "wrong");
        let refused = tokio_postgres::connect(&wrong, tokio_postgres::NoTls).await;
        assert!(refused.is_err(), "a wrong password is refused");
    });
    assert!(listening(&admin));
    drop(cluster);
    // The watchdog stops the server once the pipe closes: poll (bounded) until the port is free.
    let deadline = Instant::now() + Duration::from_secs(30);
    while listening(&admin) {
        assert!(
            Instant::now() < deadline,
            "the cluster still runs after drop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_cluster_from_the_binaries_found_serves_and_stops() {
    exercise(PgCluster::start_own().unwrap_or_else(|e| panic!("{e}")));
}

#[test]
fn a_cluster_from_the_pinned_npm_package_serves_and_stops() {
    exercise(PgCluster::start_npm().unwrap_or_else(|e| panic!("{e}")));
}
