//! synod-auth: log in from a headless machine with the OAuth 2.0 device authorization grant
//! (RFC 8628), keep the tokens valid, and keep them private.
//!
//! Through the facade this crate is `synod::auth` (`synod = { version = "0.1", features = ["auth"] }`);
//! the examples here use its own name, `synod_auth::…`, which `synod::auth::…` replaces one for one.
//!
//! * [`Provider`]: client id, optional secret (basic or post), scopes, endpoints given
//!   explicitly or discovered (OpenID Connect, then RFC 8414).
//! * [`DeviceFlow`]: [`start`](DeviceFlow::start) → user code and URL →
//!   [`poll`](DeviceFlow::poll) exactly as RFC 8628 section 3.5 says.
//! * [`TokenStore`]: [`FileTokenStore`] (0600 files in a 0700 directory, atomic writes),
//!   [`MemoryTokenStore`], and `KeyringTokenStore` with the `keyring` feature.
//! * [`TokenManager`]: a valid access token on demand, single-flight refresh (within a process
//!   and, through the store's [`LoginLock`], across processes on one machine), rotation,
//!   revocation on [`logout`](TokenManager::logout).
//! * [`LoginLock`]: the advisory file lock around reload → refresh → persist; released by the
//!   OS when its holder dies, waited for at most [`DEFAULT_LOCK_WAIT`] (see
//!   docs/adr/0010-auth-cross-process-lock.md).
//! * [`login_interactive`]: the whole login for a CLI.
//!
//! Tokens, client secrets and device codes are [`Secret`]s: they never appear in `Debug`,
//! `Display`, errors or `tracing` output.
//!
//! # Windows and macOS
//!
//! macOS behaves as Linux: 0600 token files in a 0700 directory, and a token file readable by
//! others is refused ([`Error::InsecurePermissions`]). Windows has no modes: token files, the lock
//! file and the directory get the ACL of the directory they are created in, and nothing is checked
//! on load. The default directory, `%APPDATA%\synod\auth`, lies in the user's profile, whose ACL
//! grants only the user, SYSTEM and Administrators (the counterpart of 0600 with root); a
//! `SYNOD_AUTH_DIR` outside the profile is only as private as that directory's ACL, so keep it
//! inside. For an OS-protected store use the `keyring` feature (Windows Credential Manager). The
//! [`LoginLock`] works the same (`LockFileEx`; the holder's pid is kept in `<lock>.pid` because a
//! locked file cannot be read there). The crate builds and its unit tests pass for
//! `x86_64-pc-windows-gnu` (under Wine); the integration tests need Node.js for their OAuth test
//! server. For macOS a plain `cargo check` stops at `ring` (through `oauth2`), which compiles C;
//! with the stand-in compiler in `.ci/macos/` the crate checks (building it needs an Apple SDK).
//!
//! ```
//! use std::sync::Arc;
//! use synod_auth::{Endpoints, FileTokenStore, Provider, Secret, StoredToken, TokenManager, TokenStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> synod_auth::Result<()> {
//! let dir = tempfile::tempdir().expect("temp dir");
//! let store = Arc::new(FileTokenStore::new(dir.path().join("auth")));
//! let endpoints = Endpoints {
//!     device_authorization: "https://auth.example.test/device/code".into(),
//!     token: "https://auth.example.test/token".into(),
//!     revocation: Some("https://auth.example.test/revoke".into()),
//! };
//! let provider = Provider::new("https://auth.example.test", "my-cli", endpoints.clone())?
//!     .with_scopes(["openid", "offline_access"]);
//!
//! // After `login_interactive(&provider, store.clone(), |auth| ...)` the store holds this:
//! let token = StoredToken::new(provider.issuer(), provider.client_id(), Secret::new("at"), endpoints);
//! store.save(&token)?;
//!
//! let manager = TokenManager::new(provider, store)?;
//! assert_eq!(manager.access_token().await?.expose(), "at");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod device;
pub mod error;
pub mod http;
pub mod lock;
pub mod manager;
pub mod provider;
pub mod secret;
pub mod store;

pub use device::{DeviceAuthorization, DeviceFlow};
pub use error::{Error, Result};
/// The credential-store interface `KeyringTokenStore` keeps its entries in (feature `keyring`),
/// for [`KeyringTokenStore::with_credential_store`].
#[cfg(feature = "keyring")]
pub use keyring_core;
pub use lock::{DEFAULT_LOCK_WAIT, LoginLock};
pub use manager::{DEFAULT_SKEW, Logout, TokenManager, login_interactive, login_with};
pub use provider::{ClientAuth, Endpoints, Provider};
pub use secret::Secret;
#[cfg(feature = "keyring")]
pub use store::KeyringTokenStore;
pub use store::{
    AUTH_DIR_ENV, FileTokenStore, MemoryTokenStore, StoredToken, TokenKey, TokenStore, unix_now,
};
