//! [`LoginLock`]: the cross-process lock around reload → refresh → persist of one login.
//!
//! Refresh tokens rotate: the server answers a refresh with a new refresh token and forgets the
//! old one. Two processes on one machine refreshing the same login at once would both send the
//! same refresh token; the loser gets `invalid_grant` (and many servers revoke the whole grant
//! on reuse). So [`TokenManager`](crate::TokenManager) holds this lock while it re-reads the
//! store, refreshes and saves the result; a process that waited re-reads the store and uses the
//! token the holder saved.
//!
//! The lock is an advisory whole-file lock (`flock(2)` on Unix, `LockFileEx` on Windows,
//! through `std::fs::File::try_lock`) on a small file next to the token (see
//! [`TokenStore::refresh_lock_path`](crate::TokenStore::refresh_lock_path)). The operating
//! system releases it when the holder exits or is killed, so a crashed process never leaves the
//! login locked. Waiting is bounded ([`DEFAULT_LOCK_WAIT`]); past the bound
//! [`Error::LockTimeout`] names the lock file and the holder's process id. The file holds the
//! holder's process id, for that message; it is never deleted (deleting a lock file others may
//! be waiting on would let two processes hold "the" lock at once).
//!
//! On Windows the lock is mandatory rather than advisory (another handle cannot even read a
//! locked file), so the holder writes its process id to `<lock file>.pid` next to it instead,
//! also never deleted. The lock file and its directory are created without Unix modes there:
//! they get the ACL of the directory they are made in (see the crate docs).
//!
//! ```
//! use std::time::Duration;
//! use synod_auth::LoginLock;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> synod_auth::Result<()> {
//! let dir = tempfile::tempdir().expect("temp dir");
//! let path = dir.path().join("login.lock");
//! let held = LoginLock::acquire(&path, Duration::from_secs(5)).await?;
//! // A second holder (another process, or another handle in this one) has to wait.
//! assert!(LoginLock::try_acquire(&path)?.is_none());
//! drop(held);
//! assert!(LoginLock::try_acquire(&path)?.is_some());
//! # Ok(()) }
//! ```

use std::fs::{self, File, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// How long [`TokenManager`](crate::TokenManager) waits for another process's refresh by
/// default: longer than a refresh can take with the default retry policy (3 attempts of at
/// most 30 s each, plus backoff).
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(120);

/// First and longest pause between attempts to take a held lock.
const FIRST_POLL: Duration = Duration::from_millis(5);
const MAX_POLL: Duration = Duration::from_millis(100);

/// A held cross-process lock on one login. Released on drop (and by the OS if the process
/// dies).
#[derive(Debug)]
pub struct LoginLock {
    file: File,
    path: PathBuf,
}

impl LoginLock {
    /// Take the lock at `path` (creating the file and its directory, private to the user),
    /// waiting at most `wait` for another holder to release it.
    ///
    /// # Errors
    /// [`Error::LockTimeout`] when it is still held after `wait`; [`Error::Io`] when the file
    /// cannot be created or locked.
    pub async fn acquire(path: &Path, wait: Duration) -> Result<LoginLock> {
        if let Some(lock) = Self::try_acquire(path)? {
            return Ok(lock);
        }
        tracing::debug!(
            lock = %path.display(),
            holder = ?holder_pid(path),
            wait_s = wait.as_secs_f64(),
            "another process holds the refresh lock; waiting"
        );
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = FIRST_POLL;
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(Error::LockTimeout {
                    path: path.to_owned(),
                    waited: wait,
                    holder: holder_pid(path),
                });
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(MAX_POLL);
            if let Some(lock) = Self::try_acquire(path)? {
                tracing::debug!(lock = %path.display(), "refresh lock acquired after waiting");
                return Ok(lock);
            }
        }
    }

    /// Take the lock at `path` if nobody holds it; `Ok(None)` if somebody does.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be created or locked.
    pub fn try_acquire(path: &Path) -> Result<Option<LoginLock>> {
        let io_err = |op: &'static str| {
            move |source| Error::Io {
                op,
                path: path.to_owned(),
                source,
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|source| Error::Io {
                op: "create directory",
                path: dir.to_owned(),
                source,
            })?;
        }
        let file = open_lock_file(path).map_err(io_err("open lock file"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(source)) => return Err(io_err("lock")(source)),
        }
        let mut lock = LoginLock {
            file,
            path: path.to_owned(),
        };
        // Best effort: the pid only improves the timeout message of whoever waits next.
        let _ = lock.record_pid();
        Ok(Some(lock))
    }

    fn record_pid(&mut self) -> io::Result<()> {
        #[cfg(windows)]
        let mut file = open_lock_file(&pid_path(&self.path))?;
        #[cfg(windows)]
        let file = &mut file;
        #[cfg(not(windows))]
        let file = &mut self.file;
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.flush()
    }

    /// The lock file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LoginLock {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway; unlock first so the release does not
        // wait for the close of a descriptor a child process might have inherited.
        let _ = self.file.unlock();
    }
}

/// The process id written into the lock file (on Windows into `<lock file>.pid`) by its
/// current (or last) holder.
fn holder_pid(path: &Path) -> Option<u32> {
    #[cfg(windows)]
    let path = &pid_path(path);
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Where the holder's process id goes on Windows, where a locked file cannot be read.
#[cfg(windows)]
fn pid_path(lock: &Path) -> PathBuf {
    let mut name = lock.as_os_str().to_owned();
    name.push(".pid");
    PathBuf::from(name)
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_held_lock_times_out_after_the_bound_naming_file_and_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("login.lock");
        let held = LoginLock::acquire(&path, Duration::from_secs(1))
            .await
            .unwrap();
        let started = tokio::time::Instant::now();
        let err = LoginLock::acquire(&path, Duration::from_secs(7))
            .await
            .unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(7));
        let msg = err.to_string();
        assert!(
            matches!(&err, Error::LockTimeout { holder: Some(pid), .. } if *pid == std::process::id()),
            "{msg}"
        );
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("7 s"), "{msg}");
        assert!(
            msg.contains(&format!("process {}", std::process::id())),
            "{msg}"
        );
        drop(held);
        // Released: the next caller gets it at once.
        let again = LoginLock::acquire(&path, Duration::ZERO).await.unwrap();
        assert_eq!(again.path(), path);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_waiter_gets_the_lock_when_the_holder_releases_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("login.lock");
        let held = LoginLock::acquire(&path, Duration::ZERO).await.unwrap();
        let waiter = tokio::spawn({
            let path = path.clone();
            async move { LoginLock::acquire(&path, Duration::from_secs(60)).await }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiter.is_finished());
        drop(held);
        let lock = waiter.await.unwrap().unwrap();
        assert!(LoginLock::try_acquire(&path).unwrap().is_none());
        drop(lock);
        assert!(LoginLock::try_acquire(&path).unwrap().is_some());
    }

    #[cfg(windows)]
    #[test]
    fn on_windows_the_holder_pid_goes_next_to_the_locked_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("login.lock");
        let _lock = LoginLock::try_acquire(&path).unwrap().unwrap();
        let pid = fs::read_to_string(pid_path(&path)).unwrap();
        assert_eq!(pid, std::process::id().to_string());
        assert_eq!(holder_pid(&path), Some(std::process::id()));
    }

    #[cfg(unix)]
    #[test]
    fn the_lock_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks").join("login.lock");
        let _lock = LoginLock::try_acquire(&path).unwrap().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }
}
