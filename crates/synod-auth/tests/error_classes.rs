//! What a failed request is worth retrying and what it means (device flow, refresh,
//! revocation), against a plain HTTP server on 127.0.0.1 that gives canned answers (or against
//! a closed port).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use synod_auth::http::http_client;
use synod_auth::{
    DeviceFlow, Endpoints, Error, MemoryTokenStore, Provider, Secret, StoredToken, TokenManager,
    TokenStore, unix_now,
};
use synod_core::{Classify, ErrorClass};
use synod_resilience::RetryPolicy;

/// Serves `response` (status line, headers and body) to one request; returns the base URL.
fn answer_once(response: String) -> String {
    answer_each(vec![response])
}

/// Serves `responses` in order, one per connection (each says `connection: close`).
fn answer_each(responses: Vec<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for response in responses {
            answer(&listener, &response);
        }
    });
    url
}

fn answer(listener: &TcpListener, response: &str) {
    let (stream, _) = listener.accept().unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0; length];
    std::io::Read::read_exact(&mut reader, &mut body).unwrap();
    (&stream).write_all(response.as_bytes()).unwrap();
}

fn http(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn start_against(base: &str) -> Error {
    let endpoints = Endpoints {
        device_authorization: format!("{base}/device"),
        token: format!("{base}/token"),
        revocation: None,
    };
    let provider = Provider::new(base, "client", endpoints).unwrap();
    let flow = DeviceFlow::with_http(provider, http_client().unwrap());
    flow.start().await.unwrap_err()
}

#[tokio::test]
async fn a_server_that_cannot_be_reached_is_a_transient_network_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let err = start_against(&base).await;
    assert_eq!(err.class(), ErrorClass::Transient);
    let Error::Network { endpoint, reason } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*endpoint, format!("{base}/device"));
    // The whole chain on one line, down to the operating system's own error, each cause once.
    assert!(reason.contains("(os error "), "{reason}");
    let causes: Vec<&str> = reason.split(": ").collect();
    for (i, cause) in causes.iter().enumerate() {
        assert!(
            !causes[i + 1..].contains(cause),
            "{cause} repeated: {reason}"
        );
    }
}

#[tokio::test]
async fn an_error_page_is_the_http_status_and_a_bad_200_is_a_protocol_error() {
    // A transient error page, and one that is not an OAuth error (a wrong endpoint URL).
    for (status_line, status, class) in [
        ("503 Service Unavailable", 503, ErrorClass::Transient),
        ("404 Not Found", 404, ErrorClass::Permanent),
    ] {
        let err = start_against(&answer_once(http(
            status_line,
            "text/html",
            "<html>no</html>",
        )))
        .await;
        assert!(
            matches!(err, Error::Http { status: s, .. } if s == status),
            "{err:?}"
        );
        assert_eq!(err.class(), class);
    }

    let err = start_against(&answer_once(http(
        "200 OK",
        "application/json",
        "{\"nope\": 1}",
    )))
    .await;
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn overload_answers_keep_the_servers_retry_after() {
    for (status_line, status, class) in [
        ("503 Service Unavailable", 503, ErrorClass::Transient),
        ("502 Bad Gateway", 502, ErrorClass::Transient),
        ("408 Request Timeout", 408, ErrorClass::Transient),
        (
            "429 Too Many Requests",
            429,
            ErrorClass::RateLimited {
                retry_after: Some(Duration::from_secs(7)),
            },
        ),
    ] {
        let err = start_against(&answer_once(format!(
            "HTTP/1.1 {status_line}\r\nretry-after: 7\r\ncontent-type: text/plain\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbusy"
        )))
        .await;
        assert!(
            matches!(err, Error::Http { status: s, retry_after: Some(wait), .. }
                if s == status && wait == Duration::from_secs(7)),
            "{status}: {err:?}"
        );
        assert!(err.to_string().contains("(retry after 7 s)"), "{err}");
        assert_eq!(err.class(), class, "{status}");
    }
}

#[tokio::test]
async fn an_oauth_error_is_retried_only_when_the_server_says_it_is_temporary() {
    let oauth = |code: &str| oauth_answer(code, "try later");
    let err = start_against(&answer_once(oauth("temporarily_unavailable"))).await;
    assert!(
        matches!(&err, Error::OAuth { error, .. } if error == "temporarily_unavailable"),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Transient);

    let err = start_against(&answer_once(oauth("invalid_client"))).await;
    assert!(matches!(err, Error::OAuth { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Permanent);
}

#[test]
fn server_errors_and_request_timeouts_are_transient_other_statuses_are_not() {
    let http = |status| Error::Http {
        endpoint: "https://issuer.example/token".into(),
        status,
        retry_after: None,
    };
    for status in [408, 500, 502, 599] {
        assert_eq!(
            http(status).class(),
            ErrorClass::Transient,
            "status {status}"
        );
    }
    for status in [400, 401, 404, 407, 409, 499] {
        assert_eq!(
            http(status).class(),
            ErrorClass::Permanent,
            "status {status}"
        );
    }
    assert_eq!(
        http(429).class(),
        ErrorClass::RateLimited { retry_after: None }
    );
}

#[test]
fn slow_down_is_a_rate_limit() {
    let err = Error::OAuth {
        endpoint: "https://issuer.example/token".into(),
        error: "slow_down".into(),
        description: None,
    };
    assert_eq!(err.class(), ErrorClass::RateLimited { retry_after: None });
}

#[test]
fn a_token_file_error_is_as_retryable_as_the_io_error_behind_it() {
    let io = |kind| Error::Io {
        op: "read",
        path: "/tokens/login.json".into(),
        source: std::io::Error::from(kind),
    };
    assert_eq!(
        io(std::io::ErrorKind::Interrupted).class(),
        ErrorClass::Transient
    );
    assert_eq!(
        io(std::io::ErrorKind::PermissionDenied).class(),
        ErrorClass::Permanent
    );
}

#[tokio::test]
async fn the_flow_keeps_the_client_it_was_given_which_never_follows_redirects() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = answer_once(format!(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{closed}/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    ));
    let endpoints = Endpoints {
        device_authorization: format!("{base}/device"),
        token: format!("{base}/token"),
        revocation: None,
    };
    let provider = Provider::new(&base, "client", endpoints).unwrap();
    let flow = DeviceFlow::with_http(provider, http_client().unwrap());
    let answer = flow
        .http()
        .get(format!("{base}/device"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 302);
}

fn oauth_answer(code: &str, description: &str) -> String {
    http(
        "400 Bad Request",
        "application/json",
        &format!("{{\"error\": \"{code}\", \"error_description\": \"{description}\"}}"),
    )
}

/// A manager whose stored login (with a refresh token) points at `base`.
fn manager_at(base: &str) -> (Arc<MemoryTokenStore>, TokenManager, StoredToken) {
    let endpoints = Endpoints {
        device_authorization: format!("{base}/device"),
        token: format!("{base}/token"),
        revocation: Some(format!("{base}/revoke")),
    };
    let mut token = StoredToken::new(base, "client", Secret::new("access"), endpoints.clone());
    token.refresh_token = Some(Secret::new("refresh"));
    token.expires_at = Some(unix_now() + 3600);
    let store = Arc::new(MemoryTokenStore::new());
    store.save(&token).unwrap();
    let provider = Provider::new(base, "client", endpoints).unwrap();
    let manager = TokenManager::new(provider, store.clone()).unwrap();
    (store, manager, token)
}

#[tokio::test]
async fn only_invalid_grant_on_refresh_asks_for_a_new_login() {
    let (store, manager, token) = manager_at(&answer_once(oauth_answer(
        "invalid_grant",
        "refresh token expired",
    )));
    let err = manager.refresh().await.unwrap_err();
    assert!(
        matches!(&err, Error::ReauthRequired { reason, .. }
            if reason == "the refresh token was rejected: invalid_grant (refresh token expired)"),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(store.load(&token.key()).unwrap(), Some(token));

    // Any other OAuth error is the server's answer as it is: the login may still be good.
    let (store, manager, token) = manager_at(&answer_once(oauth_answer(
        "invalid_client",
        "unknown client",
    )));
    let err = manager.refresh().await.unwrap_err();
    assert!(
        matches!(&err, Error::OAuth { error, description: Some(d), .. }
            if error == "invalid_client" && d == "unknown client"),
        "{err:?}"
    );
    assert_eq!(store.load(&token.key()).unwrap(), Some(token));
}

#[tokio::test]
async fn logout_where_the_server_cannot_revoke_a_token_type_still_deletes_the_login() {
    let revoked = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned();
    let unsupported = || oauth_answer("unsupported_token_type", "not here");

    let (store, manager, token) = manager_at(&answer_each(vec![unsupported(), unsupported()]));
    let outcome = manager.logout().await.unwrap();
    assert!(
        !outcome.revoked_refresh && !outcome.revoked_access && outcome.deleted,
        "{outcome:?}"
    );
    assert_eq!(store.load(&token.key()).unwrap(), None);

    let (store, manager, token) = manager_at(&answer_each(vec![revoked, unsupported()]));
    let outcome = manager.logout().await.unwrap();
    assert!(
        outcome.revoked_refresh && !outcome.revoked_access && outcome.deleted,
        "{outcome:?}"
    );
    assert_eq!(store.load(&token.key()).unwrap(), None);
}

#[tokio::test]
async fn a_refused_revocation_keeps_the_login_so_logout_can_be_retried() {
    let (store, manager, token) =
        manager_at(&answer_once(oauth_answer("invalid_request", "bad token")));
    let err = manager.logout().await.unwrap_err();
    assert!(
        matches!(&err, Error::OAuth { error, .. } if error == "invalid_request"),
        "{err:?}"
    );
    assert_eq!(store.load(&token.key()).unwrap(), Some(token));
}

#[tokio::test]
async fn a_revocation_answered_with_a_server_error_or_a_rate_limit_is_its_status() {
    for (status_line, status) in [
        ("500 Internal Server Error", 500),
        ("503 Service Unavailable", 503),
        ("429 Too Many Requests", 429),
    ] {
        // Even with an OAuth error in the body: the status says whether to retry.
        let answer = http(
            status_line,
            "application/json",
            "{\"error\": \"temporarily_unavailable\"}",
        );
        let (store, manager, token) = manager_at(&answer_once(answer));
        let manager = manager.with_retry(RetryPolicy::never());
        let err = manager.logout().await.unwrap_err();
        assert!(
            matches!(err, Error::Http { status: s, .. } if s == status),
            "{status}: {err:?}"
        );
        assert_eq!(store.load(&token.key()).unwrap(), Some(token));
    }
}
