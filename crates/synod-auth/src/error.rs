//! [`Error`]: everything that can go wrong while logging in, refreshing or storing tokens.
//!
//! Every variant names what failed (endpoint, path, issuer) and what to do about it. None of
//! them carries a token, client secret or device code. Errors classify themselves for
//! `synod-resilience`: network failures and 5xx answers are transient, 429 is rate limited,
//! everything else is permanent.
//!
//! ```
//! use synod_auth::Error;
//! use synod_core::{Classify, ErrorClass};
//!
//! let err = Error::Network { endpoint: "https://example.test/token".into(), reason: "connection refused".into() };
//! assert_eq!(err.class(), ErrorClass::Transient);
//! assert!(err.to_string().contains("https://example.test/token"));
//! ```

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use synod_core::{Classify, ErrorClass};

/// The error type of synod-auth.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A URL in the provider configuration (or in a discovery document) is not valid.
    #[error("invalid {what} URL {url:?}: {reason}")]
    InvalidUrl {
        /// Which URL (issuer, token endpoint, ...).
        what: &'static str,
        /// The offending value.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Endpoint discovery failed for an issuer.
    #[error(
        "cannot discover the endpoints of issuer {issuer}: {reason}; give the endpoints explicitly (see docs/auth.md)"
    )]
    Discovery {
        /// The issuer whose metadata was requested.
        issuer: String,
        /// What went wrong.
        reason: String,
    },
    /// The provider has no device authorization endpoint.
    #[error(
        "issuer {issuer} does not advertise a device_authorization_endpoint; the provider must support RFC 8628 (give the endpoint explicitly if it does)"
    )]
    NoDeviceEndpoint {
        /// The issuer.
        issuer: String,
    },
    /// The request could not be sent or no answer came back (connection refused, reset,
    /// timeout). Transient.
    #[error("cannot reach {endpoint}: {reason}")]
    Network {
        /// The endpoint URL.
        endpoint: String,
        /// The transport error.
        reason: String,
    },
    /// The server answered with an HTTP status that is not an OAuth error response.
    #[error("{endpoint} answered HTTP {status}{}", retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    Http {
        /// The endpoint URL.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The user denied the authorization request (`access_denied`).
    #[error("the login was denied on the verification page (access_denied)")]
    AccessDenied,
    /// The server says the device code has expired (`expired_token`); start a new login.
    #[error(
        "the device code expired before the login was approved (expired_token); run the login again"
    )]
    ExpiredToken,
    /// The client stopped polling because the device code's `expires_in` passed.
    #[error("the device code expired after {} s without approval; run the login again", expires_in.as_secs())]
    DeviceCodeExpired {
        /// The lifetime the server gave the device code.
        expires_in: Duration,
    },
    /// The stored grant is no longer valid (`invalid_grant` on refresh, or an expired token
    /// without a refresh token): log in again.
    #[error(
        "the login for {client_id} at {issuer} must be renewed ({reason}); run `synod auth login` again"
    )]
    ReauthRequired {
        /// The issuer.
        issuer: String,
        /// The client id.
        client_id: String,
        /// Why.
        reason: String,
    },
    /// No token is stored for this provider and client.
    #[error("not logged in to {issuer} as client {client_id}; run `synod auth login` first")]
    NotLoggedIn {
        /// The issuer.
        issuer: String,
        /// The client id.
        client_id: String,
    },
    /// The server answered with an OAuth error other than the device-flow ones above.
    #[error("{endpoint} returned OAuth error {error}{}", description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    OAuth {
        /// The endpoint URL.
        endpoint: String,
        /// The `error` code.
        error: String,
        /// The `error_description`, when given.
        description: Option<String>,
    },
    /// The server's answer is not what RFC 6749 / 8628 / 7009 describe.
    #[error("unexpected answer from {endpoint}: {reason}")]
    Protocol {
        /// The endpoint URL.
        endpoint: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A token file or directory is readable or writable by group or others.
    #[error("{} is accessible by group or others (mode {mode:04o}); tokens must be private: run `chmod {fix} {}`", path.display(), path.display())]
    InsecurePermissions {
        /// The file or directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The mode to `chmod` it to (`600` for files, `700` for directories).
        fix: &'static str,
    },
    /// Reading or writing a token file failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done (read, write, rename, ...).
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A stored token could not be parsed.
    #[error("stored token {location} is not valid: {reason}; delete it and log in again")]
    CorruptToken {
        /// The file path or keyring entry.
        location: String,
        /// The parse error.
        reason: String,
    },
    /// No token directory could be chosen.
    #[error(
        "cannot find a config directory for tokens (no HOME or XDG_CONFIG_HOME; APPDATA on Windows); set SYNOD_AUTH_DIR"
    )]
    NoTokenDir,
    /// Another process held the login's refresh lock (see [`LoginLock`](crate::LoginLock))
    /// for longer than the wait bound.
    #[error(
        "timed out after {} s waiting for the token refresh lock {}{}: another process is refreshing this login and has not finished; retry, or stop that process if it is stuck",
        waited.as_secs(),
        path.display(),
        holder.map(|pid| format!(" (held by process {pid})")).unwrap_or_default()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long the caller waited.
        waited: Duration,
        /// The holder's process id, when the lock file names it.
        holder: Option<u32>,
    },
    /// The OS keyring failed.
    #[error("keyring entry {entry}: {reason}")]
    Keyring {
        /// The entry (service/user).
        entry: String,
        /// The keyring's error.
        reason: String,
    },
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Classify for Error {
    fn class(&self) -> ErrorClass {
        match self {
            Error::Network { .. } => ErrorClass::Transient,
            Error::Http {
                status: 429,
                retry_after,
                ..
            } => ErrorClass::RateLimited {
                retry_after: *retry_after,
            },
            Error::Http { status, .. } if *status >= 500 || *status == 408 => ErrorClass::Transient,
            Error::OAuth { error, .. } if error == "temporarily_unavailable" => {
                ErrorClass::Transient
            }
            Error::OAuth { error, .. } if error == "slow_down" => {
                ErrorClass::RateLimited { retry_after: None }
            }
            Error::Io { source, .. } => source.class(),
            _ => ErrorClass::Permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let http = |status| Error::Http {
            endpoint: "e".into(),
            status,
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(http(503).class(), ErrorClass::Transient);
        assert_eq!(
            http(429).class(),
            ErrorClass::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(http(401).class(), ErrorClass::Permanent);
        assert_eq!(Error::AccessDenied.class(), ErrorClass::Permanent);
        let reauth = Error::ReauthRequired {
            issuer: "i".into(),
            client_id: "c".into(),
            reason: "invalid_grant".into(),
        };
        assert_eq!(reauth.class(), ErrorClass::Permanent);
    }

    #[test]
    fn insecure_permissions_message_names_path_and_fix() {
        let err = Error::InsecurePermissions {
            path: PathBuf::from("/tmp/x/token.json"),
            mode: 0o644,
            fix: "600",
        };
        let msg = err.to_string();
        assert!(msg.contains("/tmp/x/token.json"), "{msg}");
        assert!(msg.contains("chmod 600 /tmp/x/token.json"), "{msg}");
        assert!(msg.contains("0644"), "{msg}");
    }
}
