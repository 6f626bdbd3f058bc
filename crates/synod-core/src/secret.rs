//! [`Secret`]: a value (token, client secret, password) that never reaches `Debug`,
//! `Display` or a log.
//!
//! Reading the value takes a deliberate [`Secret::expose`], so a stray `{:?}` or `tracing`
//! field cannot leak it. It serializes transparently (token stores and config files hold the
//! plain value; they are private files) and, with the `schemars` feature, is marked
//! `writeOnly` and `x-synod-secret` in JSON Schemas so config loaders can warn about files
//! that hold one and are readable by others.
//!
//! ```
//! use synod_core::Secret;
//!
//! let token: Secret = serde_json::from_str("\"gho_very_secret\"").unwrap();
//! assert_eq!(token.expose(), "gho_very_secret");
//! assert_eq!(format!("{token:?} {token}"), "Secret([redacted]) [redacted]");
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// What secrets print as.
pub const REDACTED: &str = "[redacted]";

/// The JSON Schema keyword that marks a secret.
pub const SECRET_KEYWORD: &str = "x-synod-secret";

/// A secret value, redacted in `Debug` and `Display`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret<T = String>(T);

impl<T> Secret<T> {
    /// Wraps a value (anything that converts into it: `Secret::<String>::new("abc")`).
    pub fn new(value: impl Into<T>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself, as a reference to the whole `T`. Call this only where the
    /// value is sent to its destination.
    pub fn expose_inner(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: std::ops::Deref> Secret<T> {
    /// The secret value (`&str` for a `Secret<String>`). Call this only where the value is
    /// sent to its destination.
    pub fn expose(&self) -> &T::Target {
        &self.0
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(feature = "schemars")]
impl<T: schemars::JsonSchema> schemars::JsonSchema for Secret<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Owned(format!("Secret_{}", T::schema_name()))
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = T::json_schema(generator);
        schema.insert("writeOnly".to_owned(), true.into());
        schema.insert(SECRET_KEYWORD.to_owned(), true.into());
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_value() {
        let secret = Secret::<String>::new("s3cr3t-value");
        assert!(!format!("{secret:?}").contains("s3cr3t"));
        assert!(!format!("{secret}").contains("s3cr3t"));
        assert!(!format!("{:#?}", Some(&secret)).contains("s3cr3t"));
        assert_eq!(secret.expose(), "s3cr3t-value");
        assert_eq!(secret.into_inner(), "s3cr3t-value");
    }

    #[test]
    fn serializes_as_the_plain_value() {
        let secret = Secret::from("abc");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"abc\"");
        let back: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back, secret);
        assert_eq!(Secret::from("abc".to_owned()), secret);
    }
}
