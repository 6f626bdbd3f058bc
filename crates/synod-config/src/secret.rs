//! [`Secret`]: a configuration value that never reaches a log, `Debug`, `Display` or
//! [`explain`](crate::Loaded::explain). It is synod-core's `Secret` (shared by every layer),
//! marked `writeOnly` and `x-synod-secret` in the generated schema so the loader can warn when
//! a file holding one is readable by group or others.
//!
//! ```
//! use synod_config::Secret;
//!
//! let token: Secret = serde_json::from_str("\"hunter2\"").unwrap();
//! assert_eq!(token.expose(), "hunter2");
//! assert_eq!(format!("{token:?} {token}"), "Secret([redacted]) [redacted]");
//! ```

pub use synod_core::secret::{REDACTED, SECRET_KEYWORD, Secret};

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
