//! TokenManager against a real authorization server: refresh, rotation, single-flight
//! refresh under concurrency, invalid_grant, and revocation on logout.

mod common;

use synod_auth::http::reqwest;

use std::sync::Arc;
use std::time::Duration;

use common::{TestServer, User};
use synod_auth::http::http_client;
use synod_auth::{
    ClientAuth, DeviceFlow, Error, FileTokenStore, MemoryTokenStore, Provider, StoredToken,
    TokenManager, TokenStore, login_with,
};

const REFRESH_GRANT: &str = "refresh_token";

async fn provider(server: &TestServer) -> Provider {
    Provider::discover(&http_client().unwrap(), &server.issuer, "basic-client")
        .await
        .unwrap()
        .with_scopes(["openid", "offline_access"])
        .with_client_secret("basic-secret-value", ClientAuth::Basic)
}

/// A complete device-flow login, approved by the test user; the token lands in `store`.
async fn login(server: &TestServer, store: Arc<dyn TokenStore>) -> StoredToken {
    let flow = DeviceFlow::with_http(provider(server).await, http_client().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        login_with(&flow, store, move |auth| {
            let _ = tx.send(auth.clone());
        })
        .await
    });
    let auth = rx.await.unwrap();
    User::new(&server.issuer)
        .approve(&auth.verification_uri, &auth.user_code, "dave")
        .await;
    task.await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_persists_the_refresh_token() {
    // Access tokens live 30 s: inside the default 60 s skew, so the next call refreshes.
    let server = TestServer::start(&[("SYNOD_TEST_ACCESS_TTL", "30")]);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileTokenStore::new(dir.path().join("auth")));
    let first = login(&server, store.clone()).await;
    assert!(first.expires_within(Duration::from_secs(60)));

    let manager = TokenManager::new(provider(&server).await, store.clone()).unwrap();
    let access = manager.access_token().await.unwrap();
    assert_ne!(access.expose(), first.access_token.expose(), "refreshed");
    assert_eq!(server.token_events(REFRESH_GRANT).await.len(), 1);

    // Rotation: a new refresh token, already on disk (read through a fresh store).
    let on_disk = FileTokenStore::new(dir.path().join("auth"))
        .load(&first.key())
        .unwrap()
        .unwrap();
    assert_eq!(on_disk.access_token.expose(), access.expose());
    let rotated = on_disk.refresh_token.clone().unwrap();
    assert_ne!(
        rotated.expose(),
        first.refresh_token.as_ref().unwrap().expose()
    );

    // The rotated token refreshes again; the old one is rejected: invalid_grant → re-login.
    let again = manager.refresh().await.unwrap();
    assert_ne!(
        again.refresh_token.as_ref().unwrap().expose(),
        rotated.expose()
    );
    let stale = Arc::new(MemoryTokenStore::new());
    stale.save(&first).unwrap();
    let stale_manager = TokenManager::new(provider(&server).await, stale).unwrap();
    let err = stale_manager.refresh().await.unwrap_err();
    assert!(matches!(err, Error::ReauthRequired { .. }), "{err}");
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    assert!(err.to_string().contains("synod auth login"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_callers_share_one_refresh() {
    let server = TestServer::start(&[("SYNOD_TEST_ACCESS_TTL", "30")]);
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let first = login(&server, store.clone()).await;
    let manager = TokenManager::new(provider(&server).await, store.clone()).unwrap();

    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let manager = manager.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            manager.access_token().await
        }));
    }
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap().unwrap().expose().to_owned());
    }
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "all callers got the same token"
    );
    assert_ne!(tokens[0], first.access_token.expose());
    let refreshes = server.token_events(REFRESH_GRANT).await;
    assert_eq!(
        refreshes.len(),
        1,
        "exactly one refresh request: {refreshes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_tokens_are_not_refreshed() {
    let server = TestServer::start(&[]);
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let first = login(&server, store.clone()).await;
    let manager = TokenManager::new(provider(&server).await, store).unwrap();
    assert_eq!(manager.stored().await.unwrap(), Some(first.clone()));
    for _ in 0..3 {
        assert_eq!(
            manager.access_token().await.unwrap().expose(),
            first.access_token.expose()
        );
    }
    assert!(server.token_events(REFRESH_GRANT).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_refresh_then_access_and_deletes() {
    let server = TestServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileTokenStore::new(dir.path().join("auth")));
    let token = login(&server, store.clone()).await;
    let http = http_client().unwrap();
    let userinfo = format!("{}/me", server.issuer);
    let status = |http: reqwest::Client, access: String| {
        let userinfo = userinfo.clone();
        async move {
            http.get(&userinfo)
                .bearer_auth(access)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        status(http.clone(), token.access_token.expose().to_owned()).await,
        200
    );

    let manager = TokenManager::new(provider(&server).await, store.clone()).unwrap();
    assert_eq!(manager.stored().await.unwrap(), Some(token.clone()));
    let outcome = manager.logout().await.unwrap();
    assert!(
        outcome.revoked_refresh && outcome.revoked_access && outcome.deleted,
        "{outcome:?}"
    );
    assert_eq!(store.load(&token.key()).unwrap(), None);
    assert_eq!(manager.stored().await.unwrap(), None);
    assert!(matches!(
        manager.access_token().await.unwrap_err(),
        Error::NotLoggedIn { .. }
    ));

    let revocations: Vec<_> = server
        .events()
        .await
        .into_iter()
        .filter(|e| e["event"] == "revocation")
        .collect();
    assert_eq!(revocations.len(), 2, "{revocations:?}");
    assert_eq!(revocations[0]["token_type_hint"], "refresh_token");
    assert_eq!(revocations[1]["token_type_hint"], "access_token");
    assert!(
        revocations.iter().all(|r| r["status"] == 200),
        "{revocations:?}"
    );

    // The server no longer accepts either token.
    assert_eq!(
        status(http, token.access_token.expose().to_owned()).await,
        401
    );
    let stale = Arc::new(MemoryTokenStore::new());
    stale.save(&token).unwrap();
    let err = TokenManager::new(provider(&server).await, stale)
        .unwrap()
        .refresh()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ReauthRequired { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_network_failures_are_retried_then_reported() {
    // A token whose endpoints point at a closed port: every attempt fails to connect.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let endpoints = synod_auth::Endpoints {
        device_authorization: format!("http://127.0.0.1:{port}/device/auth"),
        token: format!("http://127.0.0.1:{port}/token"),
        revocation: None,
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let provider = Provider::new(&issuer, "c", endpoints.clone()).unwrap();
    let mut token = StoredToken::new(&issuer, "c", synod_auth::Secret::new("at"), endpoints);
    token.refresh_token = Some(synod_auth::Secret::new("rt"));
    token.expires_at = Some(synod_auth::unix_now());
    let store = Arc::new(MemoryTokenStore::new());
    store.save(&token).unwrap();
    let policy = synod_resilience::RetryPolicy::builder()
        .max_attempts(3)
        .initial_delay(Duration::from_millis(10))
        .build()
        .unwrap();
    let manager = TokenManager::new(provider, store)
        .unwrap()
        .with_retry(policy);
    let err = manager.access_token().await.unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}/token")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_by_another_process_is_picked_up_from_the_store() {
    let server = TestServer::start(&[("SYNOD_TEST_ACCESS_TTL", "30")]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth");
    let store: Arc<dyn TokenStore> = Arc::new(FileTokenStore::new(&path));
    let first = login(&server, store.clone()).await;

    // This manager caches the first token...
    let mine = TokenManager::new(provider(&server).await, store.clone())
        .unwrap()
        .with_skew(Duration::from_secs(10));
    assert_eq!(
        mine.access_token().await.unwrap().expose(),
        first.access_token.expose()
    );
    // ...while "another process" (its own store handle) refreshes and rotates.
    let other_store: Arc<dyn TokenStore> = Arc::new(FileTokenStore::new(&path));
    let theirs = TokenManager::new(provider(&server).await, other_store)
        .unwrap()
        .refresh()
        .await
        .unwrap();
    // A forced refresh here must use the rotated refresh token from the store, not the
    // cached (now invalid) one.
    let refreshed = mine.refresh().await.unwrap();
    assert_ne!(refreshed.access_token, theirs.access_token);
    assert_eq!(server.token_events(REFRESH_GRANT).await.len(), 2);
    assert!(
        server
            .token_events(REFRESH_GRANT)
            .await
            .iter()
            .all(|e| e["status"] == 200)
    );
}

/// A file store whose next reads return a stale token: what a process sees when another one
/// rotates the refresh token right after its read (another tool that takes no lock, say).
#[derive(Debug)]
struct StaleReads {
    inner: FileTokenStore,
    stale: std::sync::Mutex<Vec<StoredToken>>,
}

impl TokenStore for StaleReads {
    fn load(&self, key: &synod_auth::TokenKey) -> synod_auth::Result<Option<StoredToken>> {
        if let Some(stale) = self.stale.lock().unwrap().pop() {
            return Ok(Some(stale));
        }
        self.inner.load(key)
    }
    fn save(&self, token: &StoredToken) -> synod_auth::Result<()> {
        self.inner.save(token)
    }
    fn delete(&self, key: &synod_auth::TokenKey) -> synod_auth::Result<bool> {
        self.inner.delete(key)
    }
    fn list(&self) -> synod_auth::Result<Vec<StoredToken>> {
        self.inner.list()
    }
    fn refresh_lock_path(
        &self,
        key: &synod_auth::TokenKey,
    ) -> synod_auth::Result<Option<std::path::PathBuf>> {
        self.inner.refresh_lock_path(key)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_grant_after_another_process_rotated_rereads_the_store_once() {
    let server = TestServer::start(&[("SYNOD_TEST_ACCESS_TTL", "300")]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth");
    let first = login(&server, Arc::new(FileTokenStore::new(&path))).await;
    // Another process refreshes: the stored refresh token rotates, the old one is spent.
    let theirs = TokenManager::new(
        provider(&server).await,
        Arc::new(FileTokenStore::new(&path)),
    )
    .unwrap()
    .refresh()
    .await
    .unwrap();

    // This one read the store just before that save: it refreshes with the spent token.
    let store = Arc::new(StaleReads {
        inner: FileTokenStore::new(&path),
        stale: std::sync::Mutex::new(vec![first.clone()]),
    });
    let mine = TokenManager::new(provider(&server).await, store.clone()).unwrap();
    let got = mine.refresh().await.unwrap();
    // invalid_grant, then one more read finds the rotated token: no re-login needed.
    assert_eq!(got, theirs);
    let refreshes = server.token_events(REFRESH_GRANT).await;
    assert_eq!(refreshes.len(), 2, "{refreshes:?}");
    assert_eq!(refreshes[0]["status"], 200);
    assert_eq!(refreshes[1]["error"], "invalid_grant");
    assert_eq!(store.inner.load(&first.key()).unwrap(), Some(theirs));

    // When the store holds nothing newer, invalid_grant is a re-login, after one re-read.
    let stale_only = Arc::new(StaleReads {
        inner: FileTokenStore::new(dir.path().join("other")),
        stale: std::sync::Mutex::new(vec![first.clone(), first.clone()]),
    });
    let err = TokenManager::new(provider(&server).await, stale_only.clone())
        .unwrap()
        .refresh()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ReauthRequired { .. }), "{err}");
    assert!(
        stale_only.stale.lock().unwrap().is_empty(),
        "the store was read again"
    );
    assert_eq!(server.token_events(REFRESH_GRANT).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_with_separate_store_handles_refresh_once_through_the_file_lock() {
    let server = TestServer::start(&[("SYNOD_TEST_ACCESS_TTL", "300")]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth");
    let mut first = login(&server, Arc::new(FileTokenStore::new(&path))).await;
    // The access token has expired (as far as the store knows).
    first.expires_at = Some(synod_auth::unix_now() - 1);
    FileTokenStore::new(&path).save(&first).unwrap();

    // Like separate processes: no shared memory, one file store each.
    let mut managers = Vec::new();
    for _ in 0..4 {
        let store: Arc<dyn TokenStore> = Arc::new(FileTokenStore::new(&path));
        managers.push(TokenManager::new(provider(&server).await, store).unwrap());
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(managers.len()));
    let tasks: Vec<_> = managers
        .into_iter()
        .map(|manager| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                manager.access_token().await
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap().unwrap().expose().to_owned());
    }
    assert!(tokens.iter().all(|t| t == &tokens[0]), "one token for all");
    assert_ne!(tokens[0], first.access_token.expose());
    assert_eq!(server.token_events(REFRESH_GRANT).await.len(), 1);
    assert!(server.accepts(&tokens[0]).await);
}
