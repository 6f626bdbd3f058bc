//! What a failed device-flow request is worth retrying, against a plain HTTP server on
//! 127.0.0.1 that gives one canned answer (or against a closed port).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use synod_auth::http::http_client;
use synod_auth::{DeviceFlow, Endpoints, Error, Provider};
use synod_core::{Classify, ErrorClass};

/// Serves `response` (status line, headers and body) to one request; returns the base URL.
fn answer_once(response: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
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
    });
    url
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
    let err = start_against(&format!("http://127.0.0.1:{port}")).await;
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Transient);
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
    let oauth = |code: &str| {
        http(
            "400 Bad Request",
            "application/json",
            &format!("{{\"error\": \"{code}\", \"error_description\": \"try later\"}}"),
        )
    };
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
