//! Locations of stores: whether one names a PostgreSQL server, and its URL with the password
//! hidden (for messages and `synod config show`). Plain text functions, so they are there
//! with or without the `postgres` feature.
//!
//! ```
//! use synod_store::{is_postgres_url, redact_url};
//!
//! assert!(is_postgres_url("postgres://synod:s3cret@db/synod"));
//! assert_eq!(redact_url("postgres://synod:s3cret@db/synod"), "postgres://synod:***@db/synod");
//! ```

/// Whether `location` names a PostgreSQL server (`postgres://` or `postgresql://`).
#[must_use]
pub fn is_postgres_url(location: &str) -> bool {
    let lower = location.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `url` with the password (if any) replaced by `***`, in the user part and in a
/// `password=` query parameter.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.find("password=") {
        Some(at) => {
            let start = at + "password=".len();
            let end = tail[start..].find('&').map_or(tail.len(), |e| start + e);
            format!("{}***{}", &tail[..start], &tail[end..])
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact_url("postgres://synod:s3cret@db:5432/synod"),
            "postgres://synod:***@db:5432/synod"
        );
        assert_eq!(
            redact_url("postgresql://u@db/x?password=hunter2&sslmode=disable"),
            "postgresql://u@db/x?password=***&sslmode=disable"
        );
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
        assert!(is_postgres_url("PostgreSQL://h/d"));
        assert!(!is_postgres_url("/var/lib/synod.db"));
    }
}
