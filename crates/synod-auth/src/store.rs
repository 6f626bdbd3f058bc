//! Token storage: the [`TokenStore`] trait and its implementations.
//!
//! * [`FileTokenStore`]: one JSON file per provider and client, mode 0600 in a 0700
//!   directory, written to a temporary file, fsynced and renamed over the old one (a failed
//!   write leaves the old token intact). It refuses to read a token file that group or others
//!   can access, naming the path and the `chmod` that fixes it.
//!   Beside each token file is its refresh lock, `.<name>.lock` (see
//!   [`TokenStore::refresh_lock_path`] and [`LoginLock`](crate::LoginLock)).
//! * [`MemoryTokenStore`]: for tests and short-lived processes.
//! * `KeyringTokenStore` (feature `keyring`): the OS keyring (Secret Service, Keychain,
//!   Credential Manager).
//!
//! ```
//! use synod_auth::{Endpoints, MemoryTokenStore, Secret, StoredToken, TokenKey, TokenStore};
//!
//! let store = MemoryTokenStore::new();
//! let token = StoredToken::new(
//!     "https://auth.example.test",
//!     "my-cli",
//!     Secret::new("access"),
//!     Endpoints {
//!         device_authorization: "https://auth.example.test/device".into(),
//!         token: "https://auth.example.test/token".into(),
//!         revocation: None,
//!     },
//! );
//! store.save(&token)?;
//! let key = TokenKey::new("https://auth.example.test", "my-cli");
//! assert_eq!(store.load(&key)?.unwrap().access_token.expose(), "access");
//! assert!(store.delete(&key)?);
//! # Ok::<(), synod_auth::Error>(())
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::provider::{ClientAuth, Endpoints};
use crate::secret::Secret;

/// Identifies a stored login: issuer and client id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TokenKey {
    /// The issuer (no trailing slash).
    pub issuer: String,
    /// The client id.
    pub client_id: String,
}

impl TokenKey {
    /// A key for `issuer` (a trailing slash is ignored) and `client_id`.
    pub fn new(issuer: &str, client_id: &str) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
        }
    }

    /// A file-name-safe, collision-resistant name: readable slug plus a hash of both parts.
    #[must_use]
    pub fn file_stem(&self) -> String {
        let slug = |s: &str| -> String {
            let cleaned: String = s
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            cleaned.chars().take(48).collect()
        };
        // FNV-1a 64: stable across platforms and Rust versions (unlike DefaultHasher).
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self
            .issuer
            .bytes()
            .chain(std::iter::once(0))
            .chain(self.client_id.bytes())
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!(
            "{}__{}__{hash:016x}",
            slug(&self.issuer),
            slug(&self.client_id)
        )
    }
}

impl fmt::Display for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.issuer, self.client_id)
    }
}

/// A stored login: the tokens plus what is needed to refresh and revoke them later.
/// `Debug` redacts every token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    /// The issuer.
    pub issuer: String,
    /// The client id.
    pub client_id: String,
    /// Scopes granted (as the server reported them, else as requested).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Token type, usually `Bearer`.
    #[serde(default = "bearer")]
    pub token_type: String,
    /// The access token.
    pub access_token: Secret,
    /// The refresh token, when the server issued one.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// When the access token expires (seconds since the Unix epoch), when known.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// When these tokens were obtained (seconds since the Unix epoch).
    #[serde(default)]
    pub obtained_at: u64,
    /// The provider's endpoints (so refresh, status and logout need no discovery).
    pub endpoints: Endpoints,
    /// How the client authenticates at the token endpoint.
    #[serde(default)]
    pub auth: ClientAuth,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

/// Seconds since the Unix epoch, now (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl StoredToken {
    /// A token without refresh token or expiry; set the public fields for the rest.
    pub fn new(issuer: &str, client_id: &str, access_token: Secret, endpoints: Endpoints) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            scopes: Vec::new(),
            token_type: bearer(),
            access_token,
            refresh_token: None,
            expires_at: None,
            obtained_at: unix_now(),
            endpoints,
            auth: ClientAuth::Basic,
        }
    }

    /// The key this token is stored under.
    #[must_use]
    pub fn key(&self) -> TokenKey {
        TokenKey::new(&self.issuer, &self.client_id)
    }

    /// Time left before the access token expires (`None` if the expiry is unknown; zero if
    /// it has passed).
    #[must_use]
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_at
            .map(|at| Duration::from_secs(at.saturating_sub(unix_now())))
    }

    /// Whether the access token expires within `skew` (false when the expiry is unknown).
    #[must_use]
    pub fn expires_within(&self, skew: Duration) -> bool {
        self.expires_in().is_some_and(|left| left <= skew)
    }
}

/// Where tokens are kept. Implementations must be safe to share between threads; the
/// [`TokenManager`](crate::TokenManager) calls them from `spawn_blocking`.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The token stored under `key`, if any.
    ///
    /// # Errors
    /// Storage failures, insecure permissions, unparsable data.
    fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>>;
    /// Store `token` under its key, replacing any previous one.
    ///
    /// # Errors
    /// Storage failures.
    fn save(&self, token: &StoredToken) -> Result<()>;
    /// Remove the token under `key`; `Ok(false)` if there was none.
    ///
    /// # Errors
    /// Storage failures.
    fn delete(&self, key: &TokenKey) -> Result<bool>;
    /// Every stored token.
    ///
    /// # Errors
    /// Storage failures.
    fn list(&self) -> Result<Vec<StoredToken>>;
    /// The file [`TokenManager`](crate::TokenManager) locks (a [`LoginLock`](crate::LoginLock))
    /// while it re-reads, refreshes and saves `key`'s token, so that processes sharing this
    /// store refresh one at a time. `None` (the default) when no other process can see this
    /// store's tokens, as for [`MemoryTokenStore`].
    ///
    /// # Errors
    /// When the lock's directory cannot be prepared.
    fn refresh_lock_path(&self, key: &TokenKey) -> Result<Option<PathBuf>> {
        let _ = key;
        Ok(None)
    }
}

/// Tokens in memory only.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    tokens: Mutex<BTreeMap<TokenKey, StoredToken>>,
}

impl MemoryTokenStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<TokenKey, StoredToken>> {
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>> {
        Ok(self.map().get(key).cloned())
    }

    fn save(&self, token: &StoredToken) -> Result<()> {
        self.map().insert(token.key(), token.clone());
        Ok(())
    }

    fn delete(&self, key: &TokenKey) -> Result<bool> {
        Ok(self.map().remove(key).is_some())
    }

    fn list(&self) -> Result<Vec<StoredToken>> {
        Ok(self.map().values().cloned().collect())
    }
}

/// Environment variable that overrides the token directory.
pub const AUTH_DIR_ENV: &str = "SYNOD_AUTH_DIR";

/// Tokens as JSON files, one per provider and client, private to the user.
#[derive(Debug)]
pub struct FileTokenStore {
    dir: PathBuf,
    write_lock: Mutex<()>,
}

impl FileTokenStore {
    /// A store in `dir` (created with mode 0700 on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            write_lock: Mutex::new(()),
        }
    }

    /// A store in `$SYNOD_AUTH_DIR`, else in [`FileTokenStore::default_dir`].
    ///
    /// # Errors
    /// [`Error::NoTokenDir`] if neither is available.
    pub fn from_env() -> Result<Self> {
        Ok(Self::new(auth_dir(|name| std::env::var_os(name))?))
    }

    /// The platform config directory plus `synod/auth`: `$XDG_CONFIG_HOME` or `~/.config` on
    /// Linux and other Unix, `~/Library/Application Support` on macOS, `%APPDATA%` on Windows.
    ///
    /// # Errors
    /// [`Error::NoTokenDir`] if the base directory cannot be determined.
    pub fn default_dir() -> Result<PathBuf> {
        default_dir(|name| std::env::var_os(name))
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a key's token lives in.
    #[must_use]
    pub fn path_for(&self, key: &TokenKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.file_stem()))
    }

    fn ensure_dir(&self) -> Result<()> {
        match fs::metadata(&self.dir) {
            Ok(meta) => check_private(&self.dir, &meta, "700"),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                create_private_dir(&self.dir).map_err(|source| Error::Io {
                    op: "create directory",
                    path: self.dir.clone(),
                    source,
                })?;
                tracing::debug!(dir = %self.dir.display(), "created token directory");
                Ok(())
            }
            Err(source) => Err(Error::Io {
                op: "inspect",
                path: self.dir.clone(),
                source,
            }),
        }
    }

    /// The refresh lock file of a key: `.<file stem>.lock` beside its token file.
    #[must_use]
    pub fn lock_path_for(&self, key: &TokenKey) -> PathBuf {
        self.dir.join(format!(".{}.lock", key.file_stem()))
    }

    fn load_path(path: &Path) -> Result<Option<StoredToken>> {
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Io {
                    op: "inspect",
                    path: path.to_owned(),
                    source,
                });
            }
        };
        check_private(path, &meta, "600")?;
        let bytes = fs::read(path).map_err(|source| Error::Io {
            op: "read",
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|err| Error::CorruptToken {
                location: path.display().to_string(),
                reason: err.to_string(),
            })
    }
}

impl TokenStore for FileTokenStore {
    #[tracing::instrument(level = "debug", skip(self), fields(dir = %self.dir.display()))]
    fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>> {
        Self::load_path(&self.path_for(key))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(dir = %self.dir.display(), issuer = %token.issuer, client_id = %token.client_id))]
    fn save(&self, token: &StoredToken) -> Result<()> {
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.ensure_dir()?;
        let path = self.path_for(&token.key());
        let bytes = serde_json::to_vec_pretty(token).map_err(|err| Error::CorruptToken {
            location: path.display().to_string(),
            reason: err.to_string(),
        })?;
        write_atomic(&self.dir, &path, &bytes)?;
        tracing::debug!(path = %path.display(), "token saved");
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self), fields(dir = %self.dir.display()))]
    fn delete(&self, key: &TokenKey) -> Result<bool> {
        let path = self.path_for(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(Error::Io {
                op: "delete",
                path,
                source,
            }),
        }
    }

    #[tracing::instrument(level = "debug", skip(self), fields(dir = %self.dir.display()))]
    fn list(&self) -> Result<Vec<StoredToken>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(Error::Io {
                    op: "list",
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                op: "list",
                path: self.dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".json") && !name.starts_with('.') {
                paths.push(entry.path());
            }
        }
        paths.sort();
        let mut tokens = Vec::new();
        for path in paths {
            if let Some(token) = Self::load_path(&path)? {
                tokens.push(token);
            }
        }
        Ok(tokens)
    }

    fn refresh_lock_path(&self, key: &TokenKey) -> Result<Option<PathBuf>> {
        self.ensure_dir()?;
        Ok(Some(self.lock_path_for(key)))
    }
}

/// Write `bytes` to `path` atomically: a private temporary file in the same directory,
/// fsynced, renamed over `path`, then the directory fsynced.
fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    // A temporary file left by a crash of this same process id: replace it.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::Io {
                op: "remove stale temporary file",
                path: tmp,
                source,
            });
        }
    }
    let io_err = |op: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { op, path, source }
    };
    let result = (|| {
        let mut file = open_private(&tmp).map_err(io_err("create", &tmp))?;
        file.write_all(bytes).map_err(io_err("write", &tmp))?;
        file.sync_all().map_err(io_err("fsync", &tmp))?;
        drop(file);
        fs::rename(&tmp, path).map_err(io_err("rename into place", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    sync_dir(dir).map_err(io_err("fsync", dir))
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &fs::Metadata, fix: &'static str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(Error::InsecurePermissions {
            path: path.to_owned(),
            mode,
            fix,
        });
    }
    Ok(())
}

/// Windows has no mode bits to check. The files get the ACL of the directory they are in: the
/// default `%APPDATA%\synod\auth` inherits the profile's (the user, SYSTEM, Administrators);
/// a `SYNOD_AUTH_DIR` elsewhere is as private as that directory, and nothing here checks it.
#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &fs::Metadata, _fix: &'static str) -> Result<()> {
    Ok(())
}

/// Where tokens go: `$SYNOD_AUTH_DIR`, else [`default_dir`]; `var` reads the environment.
pub(crate) fn auth_dir(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    match var(AUTH_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => default_dir(var),
    }
}

/// The platform config directory plus `synod/auth` (see [`FileTokenStore::default_dir`]).
fn default_dir(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    let non_empty = |name: &str| var(name).filter(|v| !v.is_empty());
    let base = if cfg!(windows) {
        non_empty("APPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        non_empty("HOME").map(|home| PathBuf::from(home).join("Library/Application Support"))
    } else {
        non_empty("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".config")))
    };
    base.map(|base| base.join("synod").join("auth"))
        .ok_or(Error::NoTokenDir)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    Ok(())
}

fn open_private(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Make a rename in `dir` durable. Windows cannot open a directory as a file to sync it; NTFS
/// journals the rename itself.
fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        fs::File::open(dir)?.sync_all()
    } else {
        Ok(())
    }
}

#[cfg(feature = "keyring")]
pub use keyring_store::KeyringTokenStore;

#[cfg(feature = "keyring")]
mod keyring_store {
    use std::path::PathBuf;
    use std::sync::Arc;

    use keyring_core::{CredentialStore, Entry};

    use super::{Error, Result, StoredToken, TokenKey, TokenStore, auth_dir};

    /// Tokens in the OS keyring (feature `keyring`): one entry per provider and client, plus
    /// an index entry so [`TokenStore::list`] works. Needs a running Secret Service on Linux.
    ///
    /// [`KeyringTokenStore::with_credential_store`] puts the entries in another
    /// [`keyring_core`] store instead: the Linux kernel keyring of a headless machine
    /// (`linux-keyutils-keyring-store`), or `keyring_core::mock::Store` in tests.
    ///
    /// The keyring has no locks, so the cross-process refresh lock of a login is a file in
    /// [`KeyringTokenStore::lock_dir`]: `keyring-locks` in `$SYNOD_AUTH_DIR` or
    /// [`FileTokenStore::default_dir`](super::FileTokenStore::default_dir), unless set with [`KeyringTokenStore::with_lock_dir`].
    #[derive(Debug, Clone)]
    pub struct KeyringTokenStore {
        service: String,
        lock_dir: Option<PathBuf>,
        credentials: Option<Arc<CredentialStore>>,
    }

    impl Default for KeyringTokenStore {
        fn default() -> Self {
            Self::new("synod-auth")
        }
    }

    const INDEX_USER: &str = "synod-auth-index";

    impl KeyringTokenStore {
        /// A store whose entries use `service` as the keyring service name.
        pub fn new(service: impl Into<String>) -> Self {
            Self {
                service: service.into(),
                lock_dir: None,
                credentials: None,
            }
        }

        /// Keep the entries in `store` instead of the platform's keyring.
        ///
        /// ```
        /// use synod_auth::keyring_core::mock;
        /// use synod_auth::{KeyringTokenStore, TokenStore};
        ///
        /// let store = KeyringTokenStore::new("my-tool").with_credential_store(mock::Store::new()?);
        /// assert!(store.list()?.is_empty());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[must_use]
        pub fn with_credential_store(mut self, store: Arc<CredentialStore>) -> Self {
            self.credentials = Some(store);
            self
        }

        /// Keep the refresh lock files in `dir` (created private on first use).
        #[must_use]
        pub fn with_lock_dir(mut self, dir: impl Into<PathBuf>) -> Self {
            self.lock_dir = Some(dir.into());
            self
        }

        /// Where the refresh lock files are kept (see the type's docs).
        ///
        /// # Errors
        /// [`Error::NoTokenDir`] if no directory is set and none can be determined.
        pub fn lock_dir(&self) -> Result<PathBuf> {
            if let Some(dir) = &self.lock_dir {
                return Ok(dir.clone());
            }
            Ok(auth_dir(|name| std::env::var_os(name))?.join("keyring-locks"))
        }

        fn entry(&self, user: &str) -> Result<Entry> {
            let entry = match &self.credentials {
                Some(store) => Entry::new_in_store(store, &self.service, user),
                None => keyring::Entry::new(&self.service, user).map(|entry| entry.inner),
            };
            entry.map_err(|err| self.error(user, &err))
        }

        fn error(&self, user: &str, err: &keyring_core::Error) -> Error {
            Error::Keyring {
                entry: format!("{}/{user}", self.service),
                reason: err.to_string(),
            }
        }

        fn read(&self, user: &str) -> Result<Option<String>> {
            match self.entry(user)?.get_password() {
                Ok(value) => Ok(Some(value)),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(err) => Err(self.error(user, &err)),
            }
        }

        fn index(&self) -> Result<Vec<TokenKey>> {
            match self.read(INDEX_USER)? {
                Some(json) => serde_json::from_str(&json).map_err(|err| Error::CorruptToken {
                    location: format!("keyring {}/{INDEX_USER}", self.service),
                    reason: err.to_string(),
                }),
                None => Ok(Vec::new()),
            }
        }

        fn write_index(&self, keys: &[TokenKey]) -> Result<()> {
            let json = serde_json::to_string(keys).map_err(|err| Error::CorruptToken {
                location: format!("keyring {}/{INDEX_USER}", self.service),
                reason: err.to_string(),
            })?;
            self.entry(INDEX_USER)?
                .set_password(&json)
                .map_err(|err| self.error(INDEX_USER, &err))
        }
    }

    impl TokenStore for KeyringTokenStore {
        fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>> {
            let user = key.file_stem();
            match self.read(&user)? {
                Some(json) => {
                    serde_json::from_str(&json)
                        .map(Some)
                        .map_err(|err| Error::CorruptToken {
                            location: format!("keyring {}/{user}", self.service),
                            reason: err.to_string(),
                        })
                }
                None => Ok(None),
            }
        }

        fn save(&self, token: &StoredToken) -> Result<()> {
            let key = token.key();
            let user = key.file_stem();
            let json = serde_json::to_string(token).map_err(|err| Error::CorruptToken {
                location: format!("keyring {}/{user}", self.service),
                reason: err.to_string(),
            })?;
            self.entry(&user)?
                .set_password(&json)
                .map_err(|err| self.error(&user, &err))?;
            let mut index = self.index()?;
            if !index.contains(&key) {
                index.push(key);
                self.write_index(&index)?;
            }
            Ok(())
        }

        fn delete(&self, key: &TokenKey) -> Result<bool> {
            let user = key.file_stem();
            let existed = match self.entry(&user)?.delete_credential() {
                Ok(()) => true,
                Err(keyring_core::Error::NoEntry) => false,
                Err(err) => return Err(self.error(&user, &err)),
            };
            let mut index = self.index()?;
            let before = index.len();
            index.retain(|k| k != key);
            if index.len() != before {
                self.write_index(&index)?;
            }
            Ok(existed)
        }

        fn refresh_lock_path(&self, key: &TokenKey) -> Result<Option<PathBuf>> {
            let service: String = self
                .service
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .take(32)
                .collect();
            let name = format!("{service}__{}.lock", key.file_stem());
            Ok(Some(self.lock_dir()?.join(name)))
        }

        fn list(&self) -> Result<Vec<StoredToken>> {
            let mut tokens = Vec::new();
            for key in self.index()? {
                if let Some(token) = self.load(&key)? {
                    tokens.push(token);
                }
            }
            Ok(tokens)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(access: &str) -> StoredToken {
        let mut token = StoredToken::new(
            "https://auth.example.test/",
            "cli",
            Secret::new(access),
            Endpoints {
                device_authorization: "https://auth.example.test/device".into(),
                token: "https://auth.example.test/token".into(),
                revocation: None,
            },
        );
        token.refresh_token = Some(Secret::new(format!("{access}-refresh")));
        token.expires_at = Some(unix_now() + 3600);
        token
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn key_file_stems_are_distinct_and_safe() {
        let a = TokenKey::new("https://a.test", "x_y").file_stem();
        let b = TokenKey::new("https://a.test/x", "y").file_stem();
        assert_ne!(a, b);
        assert!(
            a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{a}"
        );
        assert_eq!(
            TokenKey::new("https://a.test/", "c"),
            TokenKey::new("https://a.test", "c")
        );
    }

    #[test]
    fn round_trip_list_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(tmp.path().join("auth"));
        assert!(store.list().unwrap().is_empty());
        let token = sample("first-access-token");
        store.save(&token).unwrap();
        assert_eq!(store.load(&token.key()).unwrap(), Some(token.clone()));
        assert_eq!(store.list().unwrap(), vec![token.clone()]);
        assert!(store.delete(&token.key()).unwrap());
        assert!(!store.delete(&token.key()).unwrap());
        assert_eq!(store.load(&token.key()).unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_0600_in_a_0700_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested").join("auth");
        let store = FileTokenStore::new(&dir);
        let token = sample("perm-token");
        store.save(&token).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&store.path_for(&token.key())), 0o600);
        // Rewriting keeps the mode.
        store.save(&sample("perm-token-2")).unwrap();
        assert_eq!(mode(&store.path_for(&token.key())), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_token_file_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(tmp.path().join("auth"));
        let token = sample("leaky-token");
        store.save(&token).unwrap();
        let path = store.path_for(&token.key());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = store.load(&token.key()).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, Error::InsecurePermissions { mode: 0o644, .. }),
            "{msg}"
        );
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(
            msg.contains(&format!("chmod 600 {}", path.display())),
            "{msg}"
        );
        assert!(!msg.contains("leaky-token"), "{msg}");
        // list() refuses too; after the fix the token loads again.
        assert!(store.list().is_err());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(store.load(&token.key()).unwrap(), Some(token));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_to_write_into_a_shared_directory() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("auth");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let err = FileTokenStore::new(&dir).save(&sample("t")).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("chmod 700 {}", dir.display())),
            "{err}"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_old_token_readable() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(tmp.path().join("auth"));
        let old = sample("old-access-token");
        store.save(&old).unwrap();
        let path = store.path_for(&old.key());
        // Block the temporary file's path with a non-empty directory: creating the temp file
        // fails (even as root), as a full disk or I/O error would.
        let tmp_path = store.dir().join(format!(
            ".{}.{}.tmp",
            path.file_name().unwrap().to_string_lossy(),
            std::process::id()
        ));
        fs::create_dir(&tmp_path).unwrap();
        fs::write(tmp_path.join("blocker"), b"x").unwrap();
        let err = store.save(&sample("new-access-token")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert_eq!(store.load(&old.key()).unwrap(), Some(old));
        // Once the obstacle is gone the next write succeeds and leaves no temporary file.
        fs::remove_dir_all(&tmp_path).unwrap();
        let new = sample("new-access-token");
        store.save(&new).unwrap();
        assert_eq!(store.load(&new.key()).unwrap(), Some(new));
        let leftovers: Vec<_> = fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_crash_before_rename_leaves_the_old_token_readable() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(tmp.path().join("auth"));
        let old = sample("old-token");
        store.save(&old).unwrap();
        let path = store.path_for(&old.key());
        // What a crash between write and rename leaves: a half-written temp file.
        let tmp_path = store.dir().join(format!(
            ".{}.{}.tmp",
            path.file_name().unwrap().to_string_lossy(),
            std::process::id()
        ));
        fs::write(&tmp_path, b"{\"issuer\": \"trunc").unwrap();
        assert_eq!(store.load(&old.key()).unwrap(), Some(old.clone()));
        assert_eq!(store.list().unwrap(), vec![old]);
        store.save(&sample("next-token")).unwrap();
        assert!(!tmp_path.exists());
    }

    #[test]
    fn corrupt_file_is_reported_with_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(tmp.path().join("auth"));
        let token = sample("t");
        store.save(&token).unwrap();
        let path = store.path_for(&token.key());
        fs::write(&path, b"not json").unwrap();
        let err = store.load(&token.key()).unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn lock_files_sit_beside_the_tokens_and_are_not_listed() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(tmp.path().join("auth"));
        let token = sample("locked");
        let lock = store.refresh_lock_path(&token.key()).unwrap().unwrap();
        assert_eq!(lock.parent(), Some(store.dir()));
        assert!(
            store.dir().is_dir(),
            "the directory is prepared for the lock"
        );
        let held = crate::LoginLock::try_acquire(&lock).unwrap().unwrap();
        store.save(&token).unwrap();
        assert_eq!(store.list().unwrap(), vec![token.clone()]);
        // Another login has its own lock.
        let other = TokenKey::new("https://auth.example.test", "other-cli");
        let other_lock = store.refresh_lock_path(&other).unwrap().unwrap();
        assert_ne!(other_lock, lock);
        assert!(
            crate::LoginLock::try_acquire(&other_lock)
                .unwrap()
                .is_some()
        );
        drop(held);
        assert_eq!(
            MemoryTokenStore::new()
                .refresh_lock_path(&token.key())
                .unwrap(),
            None
        );
    }

    #[cfg(feature = "keyring")]
    #[test]
    fn keyring_locks_are_files_keyed_by_service_and_login() {
        let tmp = tempfile::tempdir().unwrap();
        let store = KeyringTokenStore::new("synod-test").with_lock_dir(tmp.path().join("locks"));
        let key = TokenKey::new("https://auth.example.test", "cli");
        let path = store.refresh_lock_path(&key).unwrap().unwrap();
        assert_eq!(path.parent(), Some(tmp.path().join("locks").as_path()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("synod_test__") && name.ends_with(".lock"),
            "{name}"
        );
        let other = KeyringTokenStore::new("another").with_lock_dir(tmp.path().join("locks"));
        assert_ne!(other.refresh_lock_path(&key).unwrap().unwrap(), path);
        let _held = crate::LoginLock::try_acquire(&path).unwrap().unwrap();
        assert!(crate::LoginLock::try_acquire(&path).unwrap().is_none());
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn the_token_directory_comes_from_the_environment_in_xdg_order() {
        let dir = |vars: &[(&str, &str)]| auth_dir(env(vars));
        let all = [
            (AUTH_DIR_ENV, "/srv/tokens"),
            ("XDG_CONFIG_HOME", "/xdg"),
            ("HOME", "/home/u"),
        ];
        assert_eq!(dir(&all).unwrap(), Path::new("/srv/tokens"));
        // An empty variable counts as unset, at every step.
        let rest = [
            (AUTH_DIR_ENV, ""),
            ("XDG_CONFIG_HOME", "/xdg"),
            ("HOME", "/home/u"),
        ];
        assert_eq!(dir(&rest).unwrap(), Path::new("/xdg/synod/auth"));
        let home = [
            (AUTH_DIR_ENV, ""),
            ("XDG_CONFIG_HOME", ""),
            ("HOME", "/home/u"),
        ];
        assert_eq!(dir(&home).unwrap(), Path::new("/home/u/.config/synod/auth"));
        assert!(matches!(dir(&[("HOME", "")]), Err(Error::NoTokenDir)));
        assert!(matches!(dir(&[]), Err(Error::NoTokenDir)));

        // The real environment: this process's own variables, read the same way.
        let real = |name: &str| std::env::var_os(name);
        assert_eq!(FileTokenStore::default_dir().ok(), default_dir(real).ok());
        assert_eq!(
            FileTokenStore::from_env().ok().map(|s| s.dir().to_owned()),
            auth_dir(real).ok()
        );
    }

    #[cfg(all(unix, feature = "keyring"))]
    #[test]
    fn keyring_lock_files_live_under_the_token_directory_unless_told_otherwise() {
        let expected = auth_dir(|name| std::env::var_os(name)).map(|dir| dir.join("keyring-locks"));
        assert_eq!(KeyringTokenStore::new("s").lock_dir().ok(), expected.ok());
    }

    #[test]
    fn a_token_directory_that_is_a_file_is_an_error_not_an_empty_store() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        fs::write(&file, "x").unwrap();
        let store = FileTokenStore::new(&file);
        let key = sample("t").key();
        let io_op = |err: Error| match err {
            Error::Io { op, path, .. } => {
                assert!(path.starts_with(&file), "{}", path.display());
                op
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(io_op(store.load(&key).unwrap_err()), "inspect");
        assert_eq!(io_op(store.delete(&key).unwrap_err()), "delete");
        assert_eq!(io_op(store.list().unwrap_err()), "list");

        // Below a file, the directory cannot even be inspected.
        let below = FileTokenStore::new(file.join("auth"));
        assert_eq!(io_op(below.save(&sample("t")).unwrap_err()), "inspect");
        assert_eq!(fs::read_to_string(&file).unwrap(), "x", "nothing lost");
    }

    #[cfg(unix)]
    #[test]
    fn list_reads_only_token_files() {
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(tmp.path().join("auth"));
        let token = sample("t");
        store.save(&token).unwrap();
        for stray in ["notes.txt", ".hidden.json"] {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(store.dir().join(stray))
                .unwrap()
                .write_all(b"not a token")
                .unwrap();
        }
        assert_eq!(store.list().unwrap(), [token]);
    }

    #[test]
    fn a_temporary_name_that_cannot_be_cleared_stops_the_save_and_keeps_the_old_token() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(tmp.path().join("auth"));
        let old = sample("old");
        store.save(&old).unwrap();
        let path = store.path_for(&old.key());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let blocker = store
            .dir()
            .join(format!(".{name}.{}.tmp", std::process::id()));
        fs::create_dir(&blocker).unwrap();
        let err = store.save(&sample("new")).unwrap_err();
        assert!(
            matches!(&err, Error::Io { op: "remove stale temporary file", path, .. } if *path == blocker),
            "{err:?}"
        );
        assert_eq!(store.load(&old.key()).unwrap(), Some(old));
    }

    #[test]
    fn a_keys_file_stem_and_name_never_change_between_versions() {
        // Stored logins are found by this name: a different hash would lose every login.
        let key = TokenKey::new("https://auth.example.test/", "cli");
        assert_eq!(key.file_stem(), "auth_example_test__cli__43dddab00ac2f918");
        assert_eq!(key.to_string(), "https://auth.example.test (cli)");
    }

    #[test]
    fn a_stored_token_without_a_token_type_is_a_bearer_token() {
        let mut json = serde_json::to_value(sample("t")).unwrap();
        json.as_object_mut().unwrap().remove("token_type");
        let token: StoredToken = serde_json::from_value(json).unwrap();
        assert_eq!(token.token_type, "Bearer");
        assert_eq!(sample("t").token_type, "Bearer");
    }

    #[test]
    fn memory_store_round_trip() {
        let store = MemoryTokenStore::new();
        let token = sample("m");
        store.save(&token).unwrap();
        assert_eq!(store.list().unwrap(), vec![token.clone()]);
        assert!(store.delete(&token.key()).unwrap());
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn expiry_helpers() {
        let mut token = sample("e");
        token.expires_at = Some(unix_now() + 30);
        assert!(token.expires_within(Duration::from_secs(60)));
        assert!(!token.expires_within(Duration::from_secs(10)));
        token.expires_at = None;
        assert!(!token.expires_within(Duration::from_secs(60)));
    }

    #[test]
    fn debug_redacts_tokens() {
        let token = sample("debug-secret-access");
        let debug = format!("{token:?}");
        assert!(!debug.contains("debug-secret-access"), "{debug}");
    }
}
