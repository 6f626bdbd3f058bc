//! [`Secret`]: a configuration value that never reaches a log, `Debug`, `Display` or
//! [`explain`](crate::Loaded::explain).
//!
//! ```
//! use synod_config::Secret;
//!
//! let token: Secret = serde_json::from_str("\"hunter2\"").unwrap();
//! assert_eq!(token.expose(), "hunter2");
//! assert_eq!(format!("{token:?} {token}"), "[redacted] [redacted]");
//! ```

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// The schema keyword that marks a secret in the generated JSON Schema.
pub(crate) const SECRET_KEYWORD: &str = "x-synod-secret";

/// What secrets print as.
pub const REDACTED: &str = "[redacted]";

/// A secret configuration value (token, password). Serialises transparently (so it can be
/// loaded and written like the inner value) but is redacted in `Debug`, `Display` and
/// `explain`, and marked in the schema (`writeOnly`, `x-synod-secret`) so the loader can
/// warn when a file holding one is readable by group or others.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret<T = String>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself. Call this only where the value is used, never to log it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret.
    pub fn into_inner(self) -> T {
        self.0
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
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T: JsonSchema> JsonSchema for Secret<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        Cow::Owned(format!("Secret_{}", T::schema_name()))
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
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
    fn never_prints_and_marks_schema() {
        let s = Secret::from("p4ss");
        assert!(!format!("{s:?}{s}{s:#?}").contains("p4ss"));
        assert_eq!(serde_json::to_string(&s).unwrap_or_default(), "\"p4ss\"");
        let schema = schemars::schema_for!(Secret<String>).to_value();
        assert_eq!(schema[SECRET_KEYWORD], serde_json::Value::Bool(true));
        assert_eq!(schema["type"], "string");
        let opt = schemars::schema_for!(Option<Secret<String>>).to_value();
        assert_eq!(opt[SECRET_KEYWORD], serde_json::Value::Bool(true));
    }
}
