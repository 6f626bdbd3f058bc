//! [`Secret`]: a string that never shows itself in `Debug`, `Display` or logs (synod-core's,
//! shared by every layer).
//!
//! Tokens, client secrets and device codes are held in a `Secret`. Reading the value takes a
//! deliberate call to [`Secret::expose`], so a stray `{:?}` or `tracing` field cannot leak it.
//! It serializes as the plain string: only token stores serialize it, into files or keyring
//! entries that are themselves private.
//!
//! ```
//! use synod_auth::Secret;
//!
//! let token = Secret::from("gho_very_secret");
//! assert_eq!(format!("{token:?}"), "Secret([redacted])");
//! assert_eq!(token.to_string(), "[redacted]");
//! assert_eq!(token.expose(), "gho_very_secret");
//! ```

pub use synod_core::Secret;
