//! [`TokenManager`]: a valid access token on demand, refresh, logout; and
//! [`login_interactive`] for command-line tools.
//!
//! * [`TokenManager::access_token`] returns the stored access token, refreshing it first when
//!   it expires within the skew (default 60 s). Concurrent callers share one refresh request:
//!   inside a process through an async mutex, across processes through the store's
//!   [`LoginLock`], held while the token is re-read, refreshed and saved. A
//!   caller that waited for the lock re-reads the store and uses the token the holder saved.
//!   A rotated refresh token is saved to the store before the new access token is returned.
//!   `invalid_grant` becomes [`Error::ReauthRequired`], after one more look at the store in case
//!   another process rotated the refresh token meanwhile. Network failures and 5xx answers are
//!   retried through `synod-resilience`'s [`RetryPolicy`].
//! * [`TokenManager::logout`] revokes (RFC 7009) the refresh token, then the access token, and
//!   deletes the stored token.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use synod_auth::{Endpoints, MemoryTokenStore, Provider, Secret, StoredToken, TokenManager, TokenStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> synod_auth::Result<()> {
//! let endpoints = Endpoints {
//!     device_authorization: "https://auth.example.test/device".into(),
//!     token: "https://auth.example.test/token".into(),
//!     revocation: None,
//! };
//! let provider = Provider::new("https://auth.example.test", "my-cli", endpoints.clone())?;
//! let store = Arc::new(MemoryTokenStore::new());
//! let mut token = StoredToken::new("https://auth.example.test", "my-cli", Secret::new("at-1"), endpoints);
//! token.expires_at = Some(synod_auth::unix_now() + 3600);
//! store.save(&token)?;
//!
//! let manager = TokenManager::new(provider, store)?.with_skew(Duration::from_secs(60));
//! // Valid for an hour: no request is made.
//! assert_eq!(manager.access_token().await?.expose(), "at-1");
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::{AccessToken, RefreshToken, StandardRevocableToken};
use synod_resilience::RetryPolicy;

use crate::device::{DeviceAuthorization, DeviceFlow, map_basic_error, stored_token};
use crate::error::{Error, Result};
use crate::http::{HttpClient, OAuthHttp, http_client};
use crate::lock::{DEFAULT_LOCK_WAIT, LoginLock};
use crate::provider::Provider;
use crate::secret::Secret;
use crate::store::{StoredToken, TokenKey, TokenStore};

/// Default refresh skew: refresh when the access token expires within this.
pub const DEFAULT_SKEW: Duration = Duration::from_secs(60);

/// Keeps one login's tokens valid. Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    provider: Provider,
    key: TokenKey,
    http: HttpClient,
    store: Arc<dyn TokenStore>,
    skew: Duration,
    retry: RetryPolicy,
    lock_wait: Duration,
    cache: Mutex<Cache>,
    refresh_lock: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Cache {
    token: Option<StoredToken>,
    generation: u64,
}

/// What [`TokenManager::logout`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Logout {
    /// A refresh token was revoked at the server.
    pub revoked_refresh: bool,
    /// The access token was revoked at the server.
    pub revoked_access: bool,
    /// A stored token was deleted.
    pub deleted: bool,
}

impl TokenManager {
    /// A manager for `provider`'s login in `store`, with its own HTTP client.
    ///
    /// # Errors
    /// If the HTTP client cannot be built.
    pub fn new(provider: Provider, store: Arc<dyn TokenStore>) -> Result<Self> {
        Ok(Self::with_http(provider, store, http_client()?))
    }

    /// A manager over a shared HTTP client.
    #[must_use]
    pub fn with_http(provider: Provider, store: Arc<dyn TokenStore>, http: HttpClient) -> Self {
        let key = provider.key();
        Self {
            inner: Arc::new(Inner {
                provider,
                key,
                http,
                store,
                skew: DEFAULT_SKEW,
                retry: RetryPolicy::default(),
                lock_wait: DEFAULT_LOCK_WAIT,
                cache: Mutex::new(Cache::default()),
                refresh_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn rebuild(self, edit: impl FnOnce(&mut Inner)) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            provider: shared.provider.clone(),
            key: shared.key.clone(),
            http: shared.http.clone(),
            store: Arc::clone(&shared.store),
            skew: shared.skew,
            retry: shared.retry.clone(),
            lock_wait: shared.lock_wait,
            cache: Mutex::new(Cache::default()),
            refresh_lock: tokio::sync::Mutex::new(()),
        });
        let mut inner = inner;
        edit(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Refresh when the access token expires within `skew` (default 60 s).
    #[must_use]
    pub fn with_skew(self, skew: Duration) -> Self {
        self.rebuild(|inner| inner.skew = skew)
    }

    /// Retry policy for refresh requests (default: `RetryPolicy::default()`, 3 attempts).
    #[must_use]
    pub fn with_retry(self, retry: RetryPolicy) -> Self {
        self.rebuild(|inner| inner.retry = retry)
    }

    /// How long to wait for another process's refresh of the same login (default
    /// [`DEFAULT_LOCK_WAIT`]) before failing with [`Error::LockTimeout`].
    #[must_use]
    pub fn with_lock_wait(self, wait: Duration) -> Self {
        self.rebuild(|inner| inner.lock_wait = wait)
    }

    /// The provider.
    #[must_use]
    pub fn provider(&self) -> &Provider {
        &self.inner.provider
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.inner
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn blocking<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn TokenStore) -> Result<T> + Send + 'static,
    {
        let store = Arc::clone(&self.inner.store);
        tokio::task::spawn_blocking(move || op(store.as_ref()))
            .await
            .unwrap_or_else(|join| {
                Err(Error::Protocol {
                    endpoint: "token store".into(),
                    reason: format!("storage task failed: {join}"),
                })
            })
    }

    /// The current token and its generation, loading it from the store on first use.
    async fn current(&self) -> Result<(StoredToken, u64)> {
        {
            let cache = self.cache();
            if let Some(token) = &cache.token {
                return Ok((token.clone(), cache.generation));
            }
        }
        let key = self.inner.key.clone();
        let loaded = self.blocking(move |store| store.load(&key)).await?;
        let Some(loaded) = loaded else {
            return Err(Error::NotLoggedIn {
                issuer: self.inner.key.issuer.clone(),
                client_id: self.inner.key.client_id.clone(),
            });
        };
        let mut cache = self.cache();
        let token = match &cache.token {
            // Another caller loaded or refreshed it meanwhile: theirs is at least as new.
            Some(token) => token.clone(),
            None => {
                cache.token = Some(loaded.clone());
                cache.generation += 1;
                loaded
            }
        };
        Ok((token, cache.generation))
    }

    /// The stored token (refreshing nothing); `None` when not logged in.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn stored(&self) -> Result<Option<StoredToken>> {
        match self.current().await {
            Ok((token, _)) => Ok(Some(token)),
            Err(Error::NotLoggedIn { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// A valid access token, refreshed first if it expires within the skew.
    ///
    /// # Errors
    /// [`Error::NotLoggedIn`], [`Error::ReauthRequired`], or the refresh request's error after
    /// retries.
    pub async fn access_token(&self) -> Result<Secret> {
        let (token, generation) = self.current().await?;
        if !token.expires_within(self.inner.skew) {
            return Ok(token.access_token);
        }
        let _guard = self.inner.refresh_lock.lock().await;
        let (token, now) = self.current().await?;
        if now != generation {
            // Another caller refreshed while we waited: share its result.
            return Ok(token.access_token);
        }
        // Another process (a second `synod`, say) may have refreshed and rotated since we
        // cached: the store has the newest token.
        let before = self.reload().await?;
        if !before.expires_within(self.inner.skew) {
            return Ok(before.access_token);
        }
        let _lock = self.lock_login().await?;
        let after = self.reload().await?;
        if after != before && !is_expired(&after) {
            // Another process refreshed while we waited for the lock: use what it stored
            // (even if its lifetime is shorter than the skew) instead of refreshing again.
            tracing::debug!("using the token another process refreshed meanwhile");
            return Ok(after.access_token);
        }
        if !after.expires_within(self.inner.skew) {
            return Ok(after.access_token);
        }
        Ok(self.refresh_locked(after).await?.access_token)
    }

    /// Take this login's cross-process lock, when the store has one.
    async fn lock_login(&self) -> Result<Option<LoginLock>> {
        let key = self.inner.key.clone();
        let path = self
            .blocking(move |store| store.refresh_lock_path(&key))
            .await?;
        match path {
            Some(path) => Ok(Some(LoginLock::acquire(&path, self.inner.lock_wait).await?)),
            None => Ok(None),
        }
    }

    /// Re-read the store, replacing the cached token if it changed.
    async fn reload(&self) -> Result<StoredToken> {
        let key = self.inner.key.clone();
        let loaded = self.blocking(move |store| store.load(&key)).await?;
        let mut cache = self.cache();
        let Some(loaded) = loaded else {
            if cache.token.take().is_some() {
                cache.generation += 1;
            }
            return Err(Error::NotLoggedIn {
                issuer: self.inner.key.issuer.clone(),
                client_id: self.inner.key.client_id.clone(),
            });
        };
        if cache.token.as_ref() != Some(&loaded) {
            cache.token = Some(loaded.clone());
            cache.generation += 1;
        }
        Ok(loaded)
    }

    /// Refresh now, whatever the expiry.
    ///
    /// # Errors
    /// As [`TokenManager::access_token`].
    pub async fn refresh(&self) -> Result<StoredToken> {
        let _guard = self.inner.refresh_lock.lock().await;
        let _lock = self.lock_login().await?;
        let token = self.reload().await?;
        self.refresh_locked(token).await
    }

    /// Refresh `token` (both locks held). On `invalid_grant`, look at the store once more: if
    /// another process rotated the refresh token meanwhile (one that does not take the lock,
    /// or whose save we could not yet see), use its token, refreshing it once if it has
    /// already expired; only otherwise is a new login required.
    #[tracing::instrument(skip_all, fields(issuer = %self.inner.key.issuer, client_id = %self.inner.key.client_id))]
    async fn refresh_locked(&self, token: StoredToken) -> Result<StoredToken> {
        let err = match self.refresh_with(&token).await {
            Err(err @ Error::ReauthRequired { .. }) => err,
            other => return other,
        };
        let latest = match self.reload().await {
            Ok(latest) => latest,
            Err(Error::NotLoggedIn { .. }) => return Err(err),
            Err(other) => return Err(other),
        };
        if latest.refresh_token == token.refresh_token {
            return Err(err);
        }
        tracing::info!("the refresh token was rotated by another process; using the stored token");
        if !is_expired(&latest) {
            return Ok(latest);
        }
        self.refresh_with(&latest).await
    }

    /// One refresh request (with retries) for `token`; saves and caches the result.
    async fn refresh_with(&self, token: &StoredToken) -> Result<StoredToken> {
        let Some(refresh_token) = token.refresh_token.clone() else {
            if token.expires_in() == Some(Duration::ZERO) {
                return Err(self.reauth("the access token expired and there is no refresh token"));
            }
            // Nothing to refresh with, but still valid for a while: use it.
            return Ok(token.clone());
        };
        let provider = &self.inner.provider;
        let client = provider.oauth_client()?;
        let endpoint = provider.endpoints().token.clone();
        let refresh = RefreshToken::new(refresh_token.expose().to_owned());
        let result = self
            .inner
            .retry
            .retry_notify(
                || {
                    let client = &client;
                    let refresh = &refresh;
                    let endpoint = &endpoint;
                    let http = &self.inner.http;
                    async move {
                        let adapter = OAuthHttp::new(http);
                        client
                            .exchange_refresh_token(refresh)
                            .request_async(&adapter)
                            .await
                            .map_err(|err| map_basic_error(err, endpoint, adapter.last_status()))
                    }
                },
                |attempt, err: &Error, delay| {
                    tracing::warn!(attempt, error = %err, delay_ms = delay.as_millis() as u64, "refresh failed; retrying");
                },
            )
            .await;
        let response = match result {
            Ok(response) => response,
            Err(err) => {
                return Err(match err.into_inner() {
                    Error::OAuth {
                        error, description, ..
                    } if error == "invalid_grant" => self.reauth(&format!(
                        "the refresh token was rejected: invalid_grant{}",
                        description.map(|d| format!(" ({d})")).unwrap_or_default()
                    )),
                    other => other,
                });
            }
        };
        let refreshed = stored_token(provider, &response, Some(token));
        let rotated = refreshed.refresh_token != token.refresh_token;
        // Persist first: a rotated refresh token must never exist only in memory.
        let to_save = refreshed.clone();
        self.blocking(move |store| store.save(&to_save)).await?;
        {
            let mut cache = self.cache();
            cache.token = Some(refreshed.clone());
            cache.generation += 1;
        }
        tracing::info!(rotated, "access token refreshed");
        Ok(refreshed)
    }

    fn reauth(&self, reason: &str) -> Error {
        Error::ReauthRequired {
            issuer: self.inner.key.issuer.clone(),
            client_id: self.inner.key.client_id.clone(),
            reason: reason.to_owned(),
        }
    }

    /// Revoke the refresh token, then the access token (RFC 7009), then delete the stored
    /// token. Without a revocation endpoint only the local token is deleted. If a revocation
    /// request fails the token is kept (so the logout can be retried) and the error returned.
    ///
    /// # Errors
    /// Revocation or storage failures.
    #[tracing::instrument(skip_all, fields(issuer = %self.inner.key.issuer, client_id = %self.inner.key.client_id))]
    pub async fn logout(&self) -> Result<Logout> {
        let _guard = self.inner.refresh_lock.lock().await;
        // Under the lock and from the store: revoke the newest refresh token, never one
        // another process has rotated away, and no refresh can save it back afterwards.
        let _lock = self.lock_login().await?;
        let token = match self.reload().await {
            Ok(token) => token,
            Err(Error::NotLoggedIn { .. }) => return Ok(Logout::default()),
            Err(err) => return Err(err),
        };
        let mut outcome = Logout::default();
        let provider = &self.inner.provider;
        if let Some(endpoint) = provider.endpoints().revocation.clone() {
            let client = provider.oauth_client()?;
            if let Some(refresh) = &token.refresh_token {
                outcome.revoked_refresh = self
                    .revoke(
                        &client,
                        &endpoint,
                        "refresh_token",
                        StandardRevocableToken::RefreshToken(RefreshToken::new(
                            refresh.expose().to_owned(),
                        )),
                    )
                    .await?;
            }
            outcome.revoked_access = self
                .revoke(
                    &client,
                    &endpoint,
                    "access_token",
                    StandardRevocableToken::AccessToken(AccessToken::new(
                        token.access_token.expose().to_owned(),
                    )),
                )
                .await?;
        } else {
            tracing::warn!(
                "the provider has no revocation endpoint; deleting the local token only"
            );
        }
        outcome.deleted = self.forget_locked().await?;
        Ok(outcome)
    }

    /// Returns `Ok(false)` when the server cannot revoke this token type.
    async fn revoke(
        &self,
        client: &crate::provider::OAuthClient,
        endpoint: &str,
        kind: &'static str,
        token: StandardRevocableToken,
    ) -> Result<bool> {
        let http = OAuthHttp::new(&self.inner.http);
        let result = self
            .inner
            .retry
            .retry(|| {
                let token = token.clone();
                let http = &http;
                async move {
                    if is_loopback_http(endpoint) {
                        return revoke_loopback(
                            &self.inner.http,
                            &self.inner.provider,
                            endpoint,
                            kind,
                            oauth2::RevocableToken::secret(&token),
                        )
                        .await;
                    }
                    let request = client.revoke_token(token).map_err(|err| Error::Protocol {
                        endpoint: endpoint.to_owned(),
                        reason: err.to_string(),
                    })?;
                    request.request_async(http).await.map_err(|err| {
                        let status = http.last_status();
                        match err {
                            oauth2::RequestTokenError::ServerResponse(response) => Error::OAuth {
                                endpoint: endpoint.to_owned(),
                                error: response.error().as_ref().to_owned(),
                                description: response.error_description().cloned(),
                            },
                            oauth2::RequestTokenError::Request(transport) => {
                                transport.into_error(endpoint)
                            }
                            oauth2::RequestTokenError::Parse(_, _) => Error::Http {
                                endpoint: endpoint.to_owned(),
                                status: status.unwrap_or(0),
                                retry_after: None,
                            },
                            oauth2::RequestTokenError::Other(reason) => Error::Protocol {
                                endpoint: endpoint.to_owned(),
                                reason,
                            },
                        }
                    })
                }
            })
            .await;
        match result {
            Ok(()) => {
                tracing::info!(token_type_hint = kind, "token revoked");
                Ok(true)
            }
            Err(err) => match err.into_inner() {
                Error::OAuth { error, .. } if error == "unsupported_token_type" => {
                    tracing::info!(
                        token_type_hint = kind,
                        "server cannot revoke this token type"
                    );
                    Ok(false)
                }
                other => Err(other),
            },
        }
    }

    /// Delete the stored token without contacting the server.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn forget(&self) -> Result<bool> {
        let _guard = self.inner.refresh_lock.lock().await;
        let _lock = self.lock_login().await?;
        self.forget_locked().await
    }

    async fn forget_locked(&self) -> Result<bool> {
        let key = self.inner.key.clone();
        let deleted = self.blocking(move |store| store.delete(&key)).await?;
        let mut cache = self.cache();
        cache.token = None;
        cache.generation += 1;
        Ok(deleted)
    }
}

/// Whether the access token's expiry has passed (unknown expiry: not expired).
fn is_expired(token: &StoredToken) -> bool {
    token.expires_in() == Some(Duration::ZERO)
}

/// Whether `endpoint` is plain HTTP on a loopback address (local test and development servers).
fn is_loopback_http(endpoint: &str) -> bool {
    oauth2::url::Url::parse(endpoint).is_ok_and(|url| {
        url.scheme() == "http"
            && match url.host() {
                Some(oauth2::url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(oauth2::url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(oauth2::url::Host::Domain(name)) => name == "localhost",
                None => false,
            }
    })
}

/// RFC 7009 revocation over plain HTTP to a loopback server. `oauth2` refuses non-HTTPS
/// revocation endpoints (rightly, for real servers); this sends the same request (form body
/// `token` + `token_type_hint`, the same client authentication) through the shared client so
/// local servers and the test server work. Never used for non-loopback hosts.
async fn revoke_loopback(
    http: &HttpClient,
    provider: &Provider,
    endpoint: &str,
    hint: &str,
    token: &str,
) -> Result<()> {
    use oauth2::url::form_urlencoded;
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token)
        .append_pair("token_type_hint", hint);
    let mut request = http
        .post(endpoint)
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded");
    match (provider.client_secret(), provider.auth()) {
        (Some(secret), crate::provider::ClientAuth::Basic) => {
            request =
                request.basic_auth(encode(provider.client_id()), Some(encode(secret.expose())));
        }
        (Some(secret), crate::provider::ClientAuth::Post) => {
            form.append_pair("client_id", provider.client_id())
                .append_pair("client_secret", secret.expose());
        }
        (None, _) => {
            form.append_pair("client_id", provider.client_id());
        }
    }
    let response = request
        .body(form.finish())
        .send()
        .await
        .map_err(|err| Error::Network {
            endpoint: endpoint.to_owned(),
            reason: crate::http::error_chain(&err),
        })?;
    let status = response.status().as_u16();
    if status == 200 {
        return Ok(());
    }
    let body = response.bytes().await.unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct OAuthError {
        error: String,
        error_description: Option<String>,
    }
    match serde_json::from_slice::<OAuthError>(&body) {
        Ok(parsed) if status < 500 && status != 429 => Err(Error::OAuth {
            endpoint: endpoint.to_owned(),
            error: parsed.error,
            description: parsed.error_description,
        }),
        _ => Err(Error::Http {
            endpoint: endpoint.to_owned(),
            status,
            retry_after: None,
        }),
    }
}

/// Log in with the device flow for a command-line tool: start, call `on_code` so the caller
/// can show the code and URL, poll until approved, store the token, return it.
///
/// # Errors
/// Anything [`DeviceFlow::start`], [`DeviceFlow::poll`] or the store returns.
pub async fn login_interactive<F>(
    provider: &Provider,
    store: Arc<dyn TokenStore>,
    on_code: F,
) -> Result<StoredToken>
where
    F: FnOnce(&DeviceAuthorization),
{
    let flow = DeviceFlow::new(provider.clone())?;
    login_with(&flow, store, on_code).await
}

/// [`login_interactive`] over an existing [`DeviceFlow`] (and its HTTP client).
///
/// # Errors
/// As [`login_interactive`].
pub async fn login_with<F>(
    flow: &DeviceFlow,
    store: Arc<dyn TokenStore>,
    on_code: F,
) -> Result<StoredToken>
where
    F: FnOnce(&DeviceAuthorization),
{
    let auth = flow.start().await?;
    on_code(&auth);
    let token = flow.poll(&auth).await?;
    let to_save = token.clone();
    tokio::task::spawn_blocking(move || store.save(&to_save))
        .await
        .unwrap_or_else(|join| {
            Err(Error::Protocol {
                endpoint: "token store".into(),
                reason: format!("storage task failed: {join}"),
            })
        })?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use tokio::sync::watch;

    use super::*;
    use crate::provider::Endpoints;
    use crate::store::{FileTokenStore, unix_now};

    /// A file store that reports how often it was read and asked for its lock.
    #[derive(Debug)]
    struct Observed {
        inner: FileTokenStore,
        loads: watch::Sender<usize>,
        lock_lookups: watch::Sender<usize>,
    }

    impl TokenStore for Observed {
        fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>> {
            let token = self.inner.load(key);
            self.loads.send_modify(|n| *n += 1);
            token
        }
        fn save(&self, token: &StoredToken) -> Result<()> {
            self.inner.save(token)
        }
        fn delete(&self, key: &TokenKey) -> Result<bool> {
            self.inner.delete(key)
        }
        fn list(&self) -> Result<Vec<StoredToken>> {
            self.inner.list()
        }
        fn refresh_lock_path(&self, key: &TokenKey) -> Result<Option<PathBuf>> {
            let path = self.inner.refresh_lock_path(key);
            self.lock_lookups.send_modify(|n| *n += 1);
            path
        }
    }

    /// A closed port: any refresh attempt fails with `Error::Network`.
    fn endpoints() -> Endpoints {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        Endpoints {
            device_authorization: format!("http://127.0.0.1:{port}/device"),
            token: format!("http://127.0.0.1:{port}/token"),
            revocation: None,
        }
    }

    fn token(endpoints: &Endpoints, access: &str, expires_at: u64) -> StoredToken {
        let mut token = StoredToken::new(
            "http://127.0.0.1",
            "cli",
            Secret::new(access),
            endpoints.clone(),
        );
        token.refresh_token = Some(Secret::new(format!("{access}-refresh")));
        token.expires_at = Some(expires_at);
        token
    }

    fn setup(dir: &std::path::Path) -> (Arc<Observed>, TokenManager, StoredToken) {
        let endpoints = endpoints();
        let store = Arc::new(Observed {
            inner: FileTokenStore::new(dir.join("auth")),
            loads: watch::channel(0).0,
            lock_lookups: watch::channel(0).0,
        });
        let expired = token(&endpoints, "expired-access", unix_now() - 10);
        store.save(&expired).unwrap();
        let provider = Provider::new("http://127.0.0.1", "cli", endpoints).unwrap();
        let manager = TokenManager::new(provider, store.clone() as Arc<dyn TokenStore>)
            .unwrap()
            .with_retry(RetryPolicy::builder().max_attempts(1).build().unwrap());
        (store, manager, expired)
    }

    /// "Another process" holds the login's lock, refreshing, while a caller asks for a token
    /// and waits for the lock. Returns the held lock and the waiting caller.
    async fn waiting_for_another_process(
        store: &Observed,
        manager: &TokenManager,
        key: &TokenKey,
    ) -> (LoginLock, tokio::task::JoinHandle<Result<Secret>>) {
        let lock_path = store.refresh_lock_path(key).unwrap().unwrap();
        let held = LoginLock::try_acquire(&lock_path).unwrap().unwrap();
        let mut lookups = store.lock_lookups.subscribe();
        let looked_up = *lookups.borrow();
        let waiter = tokio::spawn({
            let manager = manager.clone();
            async move { manager.access_token().await }
        });
        lookups.wait_for(|n| *n > looked_up).await.unwrap();
        // Time only moves on once the waiter is idle: it has tried the lock and is waiting.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished());
        (held, waiter)
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_waiter_uses_the_token_another_process_stored_without_refreshing() {
        let dir = tempfile::tempdir().unwrap();
        let (store, manager, expired) = setup(dir.path());
        let key = expired.key();
        let lock_path = store.refresh_lock_path(&key).unwrap().unwrap();
        let (held, waiter) = waiting_for_another_process(&store, &manager, &key).await;
        let reads_before = *store.loads.borrow();

        // The holder stores its refreshed token, valid for 30 s only (inside the 60 s skew,
        // which would make a caller that had not waited refresh), and releases the lock.
        let theirs = token(&expired.endpoints, "theirs", unix_now() + 30);
        store.inner.save(&theirs).unwrap();
        drop(held);

        let got = waiter.await.unwrap().unwrap();
        assert_eq!(
            got.expose(),
            "theirs",
            "no refresh: a refresh would fail (closed port)"
        );
        assert_eq!(
            *store.loads.borrow(),
            reads_before + 1,
            "one re-read after the wait"
        );
        assert_eq!(store.inner.load(&key).unwrap(), Some(theirs.clone()));
        assert_eq!(
            manager.stored().await.unwrap(),
            Some(theirs),
            "the cache holds what was picked up"
        );
        // The lock is free again.
        assert!(LoginLock::try_acquire(&lock_path).unwrap().is_some());
    }

    #[test]
    fn only_plain_http_to_a_loopback_host_is_revoked_without_tls() {
        for url in [
            "http://127.0.0.1:8080/revoke",
            "http://127.8.0.1/revoke",
            "http://[::1]:9/revoke",
            "http://localhost/revoke",
        ] {
            assert!(is_loopback_http(url), "{url}");
        }
        for url in [
            "https://127.0.0.1/revoke",
            "https://localhost/revoke",
            "http://10.0.0.1/revoke",
            "http://[2001:db8::1]/revoke",
            "http://localhost.example.com/revoke",
            "http://auth.example.test/revoke",
            "not a url",
        ] {
            assert!(!is_loopback_http(url), "{url}");
        }
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn an_expired_token_another_process_stored_is_refreshed_not_handed_out() {
        let dir = tempfile::tempdir().unwrap();
        let (store, manager, expired) = setup(dir.path());
        let (held, waiter) = waiting_for_another_process(&store, &manager, &expired.key()).await;
        // The holder stores a token that has expired already, and releases the lock.
        let stale = token(&expired.endpoints, "theirs-expired", unix_now() - 5);
        store.inner.save(&stale).unwrap();
        drop(held);

        // So it must be refreshed, and the refresh reaches the token endpoint (a closed port).
        let err = waiter.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Network { .. }), "{err:?}");
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn without_a_refresh_token_a_token_is_used_until_it_expires_then_reauth() {
        let dir = tempfile::tempdir().unwrap();
        let (store, manager, expired) = setup(dir.path());
        let mut short = token(&expired.endpoints, "short-lived", unix_now() + 30);
        short.refresh_token = None;
        store.save(&short).unwrap();
        // Inside the skew, but nothing to refresh with: still valid, so it is used.
        assert_eq!(
            manager.access_token().await.unwrap().expose(),
            "short-lived"
        );

        let mut gone = token(&expired.endpoints, "gone", unix_now() - 1);
        gone.refresh_token = None;
        store.save(&gone).unwrap();
        let err = manager.refresh().await.unwrap_err();
        assert!(
            matches!(&err, Error::ReauthRequired { reason, .. }
                if reason == "the access token expired and there is no refresh token"),
            "{err:?}"
        );
        assert_eq!(store.load(&gone.key()).unwrap(), Some(gone), "nothing lost");
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn waiting_for_the_lock_is_bounded_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let (store, manager, expired) = setup(dir.path());
        let manager = manager.with_lock_wait(Duration::from_secs(30));
        let lock_path = store.refresh_lock_path(&expired.key()).unwrap().unwrap();
        let _held = LoginLock::try_acquire(&lock_path).unwrap().unwrap();
        let started = tokio::time::Instant::now();
        let err = manager.access_token().await.unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        let msg = err.to_string();
        assert!(
            matches!(&err, Error::LockTimeout { holder: Some(pid), .. } if *pid == std::process::id()),
            "{msg}"
        );
        assert!(msg.contains(&lock_path.display().to_string()), "{msg}");
        assert!(msg.contains("after 30 s"), "{msg}");
        assert!(msg.contains("retry"), "{msg}");
        assert!(!msg.contains("expired-access"), "{msg}");
        // Nothing was refreshed or lost.
        assert_eq!(store.inner.load(&expired.key()).unwrap(), Some(expired));
        // A forced refresh and a logout wait for the same lock.
        assert!(matches!(
            manager.refresh().await,
            Err(Error::LockTimeout { .. })
        ));
        assert!(matches!(
            manager.forget().await,
            Err(Error::LockTimeout { .. })
        ));
    }
}
