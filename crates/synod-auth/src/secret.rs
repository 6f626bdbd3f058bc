//! [`Secret`]: a string that never shows itself in `Debug`, `Display` or logs.
//!
//! Tokens, client secrets and device codes are held in a `Secret`. Reading the value takes a
//! deliberate call to [`Secret::expose`], so a stray `{:?}` or `tracing` field cannot leak it.
//!
//! ```
//! use synod_auth::Secret;
//!
//! let token = Secret::new("gho_very_secret");
//! assert_eq!(format!("{token:?}"), "Secret([redacted])");
//! assert_eq!(token.to_string(), "[redacted]");
//! assert_eq!(token.expose(), "gho_very_secret");
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// A secret string (token, client secret, device code). Redacted in `Debug` and `Display`.
///
/// It serializes as the plain string: only token stores serialize it, into files or keyring
/// entries that are themselves private.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Call this only where the value is sent to its destination.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_value() {
        let secret = Secret::new("s3cr3t-value");
        assert!(!format!("{secret:?}").contains("s3cr3t"));
        assert!(!format!("{secret}").contains("s3cr3t"));
        assert!(!format!("{:#?}", Some(&secret)).contains("s3cr3t"));
    }

    #[test]
    fn serializes_as_plain_string() {
        let secret = Secret::new("abc");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"abc\"");
        let back: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back, secret);
    }
}
