//! RFC 8628 device flow against a real authorization server (oidc-provider on 127.0.0.1).

mod common;

use synod_auth::http::reqwest;

use std::sync::Arc;
use std::time::Duration;

use common::{DEVICE_GRANT, TestServer, User, gaps_ms};
use synod_auth::http::http_client;
use synod_auth::{ClientAuth, DeviceFlow, Error, FileTokenStore, Provider, TokenStore, login_with};

async fn provider(server: &TestServer, client: &str) -> Provider {
    let http = http_client().unwrap();
    let provider = Provider::discover(&http, &server.issuer, client)
        .await
        .unwrap()
        .with_scopes(["openid", "offline_access"]);
    match client {
        "basic-client" => provider.with_client_secret("basic-secret-value", ClientAuth::Basic),
        "post-client" => provider.with_client_secret("post-secret-value", ClientAuth::Post),
        _ => provider,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_discovers_polls_and_stores() {
    let server = TestServer::start(&[]);
    let provider = provider(&server, "basic-client").await;
    assert!(provider.endpoints().revocation.is_some());
    let flow = DeviceFlow::with_http(provider, http_client().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileTokenStore::new(dir.path().join("auth")));

    let (code_tx, code_rx) = tokio::sync::oneshot::channel();
    let login = {
        let flow = flow.clone();
        let store = store.clone();
        tokio::spawn(async move {
            login_with(&flow, store, move |auth| {
                code_tx.send(auth.clone()).unwrap();
            })
            .await
        })
    };
    let auth = code_rx.await.unwrap();
    assert_eq!(auth.interval, Duration::from_secs(1));
    assert!(auth.verification_uri.ends_with("/device"), "{auth:?}");
    assert!(
        auth.verification_uri_complete.as_deref().is_some_and(|u| u
            .contains(&auth.user_code.replace('-', ""))
            || u.contains(&auth.user_code)),
        "{auth:?}"
    );
    // Let a couple of authorization_pending polls happen first.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    User::new(&server.issuer)
        .approve(&auth.verification_uri, &auth.user_code, "alice")
        .await;
    let token = login.await.unwrap().unwrap();
    assert!(!token.access_token.expose().is_empty());
    assert!(token.refresh_token.is_some());
    assert!(
        token.scopes.contains(&"offline_access".to_owned()),
        "{:?}",
        token.scopes
    );
    assert_eq!(store.load(&token.key()).unwrap(), Some(token.clone()));

    let polls = server.token_events(DEVICE_GRANT).await;
    assert!(polls.len() >= 3, "{polls:?}");
    let (last, pending) = polls.split_last().unwrap();
    assert!(
        pending
            .iter()
            .all(|p| p["error"] == "authorization_pending"),
        "{polls:?}"
    );
    assert_eq!(last["status"], 200, "{polls:?}");
    assert!(polls.iter().all(|p| p["auth"] == "basic"), "{polls:?}");
    // Every poll waited at least the interval (1 s) after the previous answer.
    for gap in gaps_ms(&polls) {
        assert!(gap >= 950, "poll gap {gap} ms < interval: {polls:?}");
    }
    // The first poll also waited the interval after the device authorization.
    let events = server.events().await;
    let started = events
        .iter()
        .find(|e| e["event"] == "device_authorization")
        .unwrap();
    assert!(polls[0]["at_ms"].as_i64().unwrap() - started["at_ms"].as_i64().unwrap() >= 950);
    // Polling stopped the moment tokens arrived.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(server.token_events(DEVICE_GRANT).await.len(), polls.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_with_post_auth_and_errors_sent_with_http_200() {
    let server = TestServer::start(&[("SYNOD_TEST_ERRORS_WITH_200", "1")]);
    let flow = DeviceFlow::with_http(
        provider(&server, "post-client").await,
        http_client().unwrap(),
    );
    let auth = flow.start().await.unwrap();
    let poll = {
        let flow = flow.clone();
        let auth = auth.clone();
        tokio::spawn(async move { flow.poll(&auth).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    User::new(&server.issuer)
        .approve(&auth.verification_uri, &auth.user_code, "bob")
        .await;
    let token = poll.await.unwrap().unwrap();
    assert!(token.refresh_token.is_some());
    let polls = server.token_events(DEVICE_GRANT).await;
    assert!(
        polls.iter().any(|p| p["error"] == "authorization_pending"),
        "the server sent at least one error (with HTTP 200): {polls:?}"
    );
    assert!(
        polls.iter().all(|p| p["auth"] == "post_or_none"),
        "{polls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_stops_with_access_denied() {
    let server = TestServer::start(&[]);
    let flow = DeviceFlow::with_http(
        provider(&server, "public-client").await,
        http_client().unwrap(),
    );
    let auth = flow.start().await.unwrap();
    let poll = {
        let flow = flow.clone();
        let auth = auth.clone();
        tokio::spawn(async move { flow.poll(&auth).await })
    };
    tokio::time::sleep(Duration::from_millis(1200)).await;
    User::new(&server.issuer)
        .deny(&auth.verification_uri, &auth.user_code)
        .await;
    let err = poll.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::AccessDenied), "{err}");
    let polls = server.token_events(DEVICE_GRANT).await;
    assert_eq!(polls.last().unwrap()["error"], "access_denied", "{polls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_expiry_stops_with_expired_token() {
    // The code really lives 2 s but the server advertises 30 s: the server says expired_token.
    let server = TestServer::start(&[
        ("SYNOD_TEST_DEVICE_TTL", "2"),
        ("SYNOD_TEST_ADVERTISED_TTL", "30"),
    ]);
    let flow = DeviceFlow::with_http(
        provider(&server, "basic-client").await,
        http_client().unwrap(),
    );
    let auth = flow.start().await.unwrap();
    assert_eq!(auth.expires_in, Duration::from_secs(30));
    let err = flow.poll(&auth).await.unwrap_err();
    assert!(matches!(err, Error::ExpiredToken), "{err}");
    let polls = server.token_events(DEVICE_GRANT).await;
    assert_eq!(polls.last().unwrap()["error"], "expired_token", "{polls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_deadline_stops_polling_at_expires_in() {
    let server = TestServer::start(&[("SYNOD_TEST_DEVICE_TTL", "2")]);
    let flow = DeviceFlow::with_http(
        provider(&server, "basic-client").await,
        http_client().unwrap(),
    );
    let auth = flow.start().await.unwrap();
    assert_eq!(auth.expires_in, Duration::from_secs(2));
    let started = std::time::Instant::now();
    let err = flow.poll(&auth).await.unwrap_err();
    assert!(matches!(err, Error::DeviceCodeExpired { .. }), "{err}");
    assert!(err.to_string().contains("2 s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Polls at ~1 s only: the next one (~2 s) would not start before the deadline.
    let polls = server.token_events(DEVICE_GRANT).await;
    assert!(!polls.is_empty() && polls.len() <= 2, "{polls:?}");
    assert!(
        polls.iter().all(|p| p["error"] == "authorization_pending"),
        "{polls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_down_adds_five_seconds_to_every_later_poll() {
    // The server answers the 2nd poll with slow_down and from then on enforces interval + 5 s
    // (answering slow_down again to any faster poll).
    let server = TestServer::start(&[("SYNOD_TEST_SLOW_DOWN_AT", "2")]);
    let flow = DeviceFlow::with_http(
        provider(&server, "basic-client").await,
        http_client().unwrap(),
    );
    let auth = flow.start().await.unwrap();
    let poll = {
        let flow = flow.clone();
        let auth = auth.clone();
        tokio::spawn(async move { flow.poll(&auth).await })
    };
    // Approve after the third poll (the first one after slow_down), so that two gaps after
    // slow_down are observed.
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if server.token_events(DEVICE_GRANT).await.len() >= 3 {
            break;
        }
    }
    User::new(&server.issuer)
        .approve(&auth.verification_uri, &auth.user_code, "carol")
        .await;
    let token = poll.await.unwrap().unwrap();
    assert!(!token.access_token.expose().is_empty());

    let polls = server.token_events(DEVICE_GRANT).await;
    let errors: Vec<_> = polls.iter().map(|p| p["error"].clone()).collect();
    assert_eq!(polls.len(), 4, "{polls:?}");
    assert_eq!(errors[0], "authorization_pending");
    assert_eq!(errors[1], "slow_down");
    assert_eq!(errors[2], "authorization_pending");
    assert_eq!(polls[3]["status"], 200);
    assert!(polls.iter().all(|p| p["too_fast"] == false), "{polls:?}");
    let gaps = gaps_ms(&polls);
    assert!(gaps[0] >= 950, "{gaps:?}");
    // 1 s interval + 5 s after slow_down, for both later polls.
    assert!(gaps[1] >= 5950, "{gaps:?}");
    assert!(gaps[2] >= 5950, "{gaps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_falls_back_to_rfc8414_and_reports_failures() {
    let server = TestServer::start(&[("SYNOD_TEST_RFC8414_ONLY", "1")]);
    let http = http_client().unwrap();
    let provider = Provider::discover(&http, &server.issuer, "public-client")
        .await
        .unwrap();
    assert_eq!(
        provider.endpoints().device_authorization,
        format!("{}/device/auth", server.issuer)
    );
    assert_eq!(
        provider.endpoints().token,
        format!("{}/token", server.issuer)
    );

    // An issuer that serves neither document: the error names the issuer and both URLs.
    let missing = format!("{}/nothing-here", server.issuer);
    let err = Provider::discover(&http, &missing, "public-client")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Discovery { .. }), "{msg}");
    assert!(
        msg.contains("/nothing-here/.well-known/openid-configuration"),
        "{msg}"
    );
    assert!(
        msg.contains("/.well-known/oauth-authorization-server/nothing-here"),
        "{msg}"
    );

    // An issuer nobody listens at: one line naming the host and why, not both documents.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nobody = format!("http://127.0.0.1:{port}");
    let err = Provider::discover(&http, format!("{nobody}/realm"), "public-client")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Discovery { .. }), "{msg}");
    let prefix =
        format!("cannot discover the endpoints of issuer {nobody}/realm: cannot reach {nobody}: ");
    assert!(msg.starts_with(&prefix), "{msg}");
    assert!(msg.contains("(os error "), "the innermost cause: {msg}");
    assert!(
        msg.ends_with("; check the issuer URL; give the endpoints explicitly (see docs/auth.md)"),
        "{msg}"
    );
    assert!(!msg.contains(".well-known"), "{msg}");
}
