//! Secrets never reach `tracing` output, `Debug` or `Display`: a whole login, refresh and
//! logout against the real server with every synod-auth and oauth2 event captured at TRACE.

mod common;

use synod_auth::http::reqwest;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{TestServer, User};
use synod_auth::http::http_client;
use synod_auth::{
    ClientAuth, DeviceFlow, Error, MemoryTokenStore, Provider, TokenManager, TokenStore,
};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_debug_or_errors() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter("synod_auth=trace,oauth2=trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let client_secret = "basic-secret-value";
    let server = TestServer::start(&[("SYNOD_TEST_ACCESS_TTL", "30")]);
    let http = http_client().unwrap();
    let provider = Provider::discover(&http, &server.issuer, "basic-client")
        .await
        .unwrap()
        .with_scopes(["openid", "offline_access"])
        .with_client_secret(client_secret, ClientAuth::Basic);
    let flow = DeviceFlow::with_http(provider.clone(), http.clone());
    let auth = flow.start().await.unwrap();
    let device_code = auth.device_code();
    let poll = {
        let flow = flow.clone();
        let auth = auth.clone();
        tokio::spawn(async move { flow.poll(&auth).await })
    };
    User::new(&server.issuer)
        .approve(&auth.verification_uri, &auth.user_code, "erin")
        .await;
    let token = poll.await.unwrap().unwrap();
    let store = Arc::new(MemoryTokenStore::new());
    store.save(&token).unwrap();
    let manager = TokenManager::with_http(provider.clone(), store.clone(), http);
    let refreshed = manager.refresh().await.unwrap();
    let stale = Arc::new(MemoryTokenStore::new());
    stale.save(&token).unwrap();
    let reauth: Error = TokenManager::new(provider.clone(), stale)
        .unwrap()
        .refresh()
        .await
        .unwrap_err();
    manager.logout().await.unwrap();

    let mut secrets = vec![
        client_secret.to_owned(),
        device_code.expose().to_owned(),
        token.access_token.expose().to_owned(),
        token.refresh_token.as_ref().unwrap().expose().to_owned(),
        refreshed.access_token.expose().to_owned(),
        refreshed
            .refresh_token
            .as_ref()
            .unwrap()
            .expose()
            .to_owned(),
    ];
    secrets.retain(|s| s.len() >= 8);
    assert_eq!(secrets.len(), 6);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("device authorization started"), "{logs}");
    assert!(logs.contains("access token refreshed"), "{logs}");
    assert!(logs.contains("token revoked"), "{logs}");
    let shown = format!("{auth:?}");
    assert!(
        shown.contains(&auth.user_code) && shown.contains(&auth.verification_uri),
        "the debug output of an authorization shows what the user types and where: {shown}"
    );
    assert!(shown.contains("device_code: \"[redacted]\""), "{shown}");
    let rendered = [
        logs,
        format!("{auth:?}"),
        format!("{token:?}"),
        format!("{refreshed:?}"),
        format!("{provider:?}"),
        format!("{manager:?}"),
        format!("{reauth} {reauth:?}"),
        format!("{store:?}"),
    ];
    for text in &rendered {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into: {text}"
            );
        }
    }
}
