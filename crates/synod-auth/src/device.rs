//! The OAuth 2.0 device authorization grant (RFC 8628).
//!
//! [`DeviceFlow::start`] asks the device authorization endpoint for a code; show the
//! [`DeviceAuthorization`]'s `user_code` and `verification_uri` to the user; then
//! [`DeviceFlow::poll`] polls the token endpoint until the user approves or denies, or the
//! code expires.
//!
//! Polling follows RFC 8628 section 3.5: it waits `interval` (5 s when the server gives none)
//! before every request, adds 5 s to the interval for all later requests after each
//! `slow_down`, keeps going on `authorization_pending`, and stops with
//! [`Error::AccessDenied`], [`Error::ExpiredToken`] or, once `expires_in` has passed,
//! [`Error::DeviceCodeExpired`]. One request is in flight at a time and polling stops as
//! soon as tokens arrive. OAuth errors sent with HTTP 200 (GitHub) are understood. The
//! requests themselves (client authentication, form encoding, response parsing) are the
//! `oauth2` crate's; this module decides only *when* each poll is sent (see
//! docs/adr/0006-auth-device-flow.md).
//!
//! ```no_run
//! use synod_auth::{DeviceFlow, Provider, http::http_client};
//!
//! # async fn demo() -> synod_auth::Result<()> {
//! let http = http_client()?;
//! let provider = Provider::discover(&http, "https://auth.example.test", "my-cli").await?
//!     .with_scopes(["openid", "offline_access"]);
//! let flow = DeviceFlow::with_http(provider, http);
//! let auth = flow.start().await?;
//! eprintln!("open {} and enter {}", auth.verification_uri, auth.user_code);
//! let token = flow.poll(&auth).await?;
//! assert!(!token.access_token.expose().is_empty());
//! # Ok(()) }
//! ```
//!
//! A `DeviceAuthorization` never shows its device code:
//!
//! ```
//! # use std::time::Duration;
//! let json = r#"{"device_code":"dc-secret","user_code":"ABCD-EFGH",
//!   "verification_uri":"https://auth.example.test/device","expires_in":600}"#;
//! let auth = synod_auth::DeviceAuthorization::from_json(json.as_bytes())?;
//! assert_eq!(auth.interval, Duration::from_secs(5)); // RFC 8628: 5 s when absent
//! assert!(!format!("{auth:?}").contains("dc-secret"));
//! # Ok::<(), synod_auth::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::{BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    DeviceCodeErrorResponse, DeviceCodeErrorResponseType, RequestTokenError, Scope,
    StandardDeviceAuthorizationResponse, TokenResponse,
};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::http::{HttpClient, OAuthHttp, Pacer, TransportError, http_client};
use crate::provider::Provider;
use crate::secret::Secret;
use crate::store::{StoredToken, unix_now};

/// What the device authorization endpoint answered: show `user_code` and
/// `verification_uri` to the user. The device code stays inside (never in `Debug`).
#[derive(Clone)]
pub struct DeviceAuthorization {
    /// The code the user types on the verification page.
    pub user_code: String,
    /// Where the user goes to enter the code.
    pub verification_uri: String,
    /// A URL that already carries the code, when the server gives one (for QR codes).
    pub verification_uri_complete: Option<String>,
    /// How long the codes are valid.
    pub expires_in: Duration,
    /// The minimum wait between polls (5 s when the server did not say).
    pub interval: Duration,
    response: StandardDeviceAuthorizationResponse,
    received_at: Instant,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("verification_uri_complete", &self.verification_uri_complete)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .field("device_code", &"[redacted]")
            .finish()
    }
}

impl DeviceAuthorization {
    fn from_response(response: StandardDeviceAuthorizationResponse) -> Self {
        Self {
            user_code: response.user_code().secret().clone(),
            verification_uri: response.verification_uri().to_string(),
            verification_uri_complete: response
                .verification_uri_complete()
                .map(|uri| uri.secret().clone()),
            expires_in: response.expires_in(),
            interval: response.interval(),
            response,
            received_at: Instant::now(),
        }
    }

    /// Parse a device authorization response body (RFC 8628 section 3.2). The lifetime
    /// starts now.
    ///
    /// # Errors
    /// [`Error::Protocol`] if the body is not a valid response.
    pub fn from_json(body: &[u8]) -> Result<Self> {
        let response: StandardDeviceAuthorizationResponse =
            serde_json::from_slice(body).map_err(|err| Error::Protocol {
                endpoint: "device authorization response".into(),
                reason: format!(
                    "line {} column {}: {:?}",
                    err.line(),
                    err.column(),
                    err.classify()
                ),
            })?;
        Ok(Self::from_response(response))
    }

    /// The device code (a secret: send it only to the token endpoint).
    #[must_use]
    pub fn device_code(&self) -> Secret {
        Secret::new(self.response.device_code().secret().clone())
    }

    /// When the device code expires (tokio clock).
    #[must_use]
    pub fn deadline(&self) -> Instant {
        self.received_at + self.expires_in
    }
}

/// Runs the device authorization grant for one [`Provider`] over one HTTP client.
#[derive(Debug, Clone)]
pub struct DeviceFlow {
    provider: Provider,
    http: HttpClient,
}

impl DeviceFlow {
    /// A flow with its own HTTP client.
    ///
    /// # Errors
    /// If the HTTP client cannot be built.
    pub fn new(provider: Provider) -> Result<Self> {
        Ok(Self::with_http(provider, http_client()?))
    }

    /// A flow over a shared HTTP client.
    #[must_use]
    pub fn with_http(provider: Provider, http: HttpClient) -> Self {
        Self { provider, http }
    }

    /// The provider.
    #[must_use]
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// The HTTP client.
    #[must_use]
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Request a device code and user code (RFC 8628 section 3.1).
    ///
    /// # Errors
    /// Network failures, HTTP errors, OAuth errors (e.g. `invalid_client`), bad responses.
    #[tracing::instrument(skip(self), fields(issuer = %self.provider.issuer(), client_id = %self.provider.client_id()))]
    pub async fn start(&self) -> Result<DeviceAuthorization> {
        let client = self.provider.oauth_client()?;
        let http = OAuthHttp::new(&self.http);
        let endpoint = &self.provider.endpoints().device_authorization;
        let response: StandardDeviceAuthorizationResponse = client
            .exchange_device_code()
            .add_scopes(self.provider.scopes().iter().cloned().map(Scope::new))
            .request_async(&http)
            .await
            .map_err(|err| map_basic_error(err, endpoint, http.last_status()))?;
        let auth = DeviceAuthorization::from_response(response);
        tracing::info!(
            verification_uri = %auth.verification_uri,
            expires_in_s = auth.expires_in.as_secs(),
            interval_s = auth.interval.as_secs(),
            "device authorization started"
        );
        Ok(auth)
    }

    /// Poll the token endpoint until the user approves (RFC 8628 section 3.4-3.5).
    ///
    /// # Errors
    /// [`Error::AccessDenied`], [`Error::ExpiredToken`], [`Error::DeviceCodeExpired`], or any
    /// other OAuth, HTTP or protocol error the token endpoint answers with.
    #[tracing::instrument(skip_all, fields(issuer = %self.provider.issuer(), client_id = %self.provider.client_id()))]
    pub async fn poll(&self, auth: &DeviceAuthorization) -> Result<StoredToken> {
        let client = self.provider.oauth_client()?;
        let deadline = auth.deadline();
        let pacer = Arc::new(Pacer::new(auth.interval, deadline));
        let http = OAuthHttp::pacing(&self.http, Arc::clone(&pacer));
        let endpoint = &self.provider.endpoints().token;
        // oauth2's own wall-clock timeout is set past ours so that the deadline below (on the
        // tokio clock) is the one that ends polling.
        let request = client
            .exchange_device_access_token(&auth.response)
            .request_async(
                &http,
                |_| std::future::ready(()),
                Some(auth.expires_in + Duration::from_secs(3600)),
            );
        let outcome = tokio::time::timeout_at(deadline, request).await;
        let polls = pacer.polls();
        match outcome {
            Err(_elapsed) => {
                tracing::warn!(polls, "device code expired before approval");
                Err(Error::DeviceCodeExpired {
                    expires_in: auth.expires_in,
                })
            }
            Ok(Ok(response)) => {
                tracing::info!(polls, "device authorization approved");
                Ok(stored_token(&self.provider, &response, None))
            }
            Ok(Err(err)) => {
                let err = map_device_error(err, endpoint, http.last_status());
                tracing::warn!(polls, error = %err, "device authorization failed");
                Err(err)
            }
        }
    }
}

/// Build the stored form of a token response. `previous` is the token being refreshed: its
/// refresh token is kept when the server did not rotate it.
pub(crate) fn stored_token(
    provider: &Provider,
    response: &BasicTokenResponse,
    previous: Option<&StoredToken>,
) -> StoredToken {
    let now = unix_now();
    let scopes = response
        .scopes()
        .map(|scopes| scopes.iter().map(|s| s.to_string()).collect())
        .or_else(|| previous.map(|p| p.scopes.clone()))
        .unwrap_or_else(|| provider.scopes().to_vec());
    StoredToken {
        issuer: provider.issuer().to_owned(),
        client_id: provider.client_id().to_owned(),
        scopes,
        token_type: response.token_type().as_ref().to_owned(),
        access_token: Secret::new(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|rt| Secret::new(rt.secret().clone()))
            .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
        expires_at: response.expires_in().map(|d| now + d.as_secs()),
        obtained_at: now,
        endpoints: provider.endpoints().clone(),
        auth: provider.auth(),
    }
}

fn parse_error(
    endpoint: &str,
    status: Option<u16>,
    path: &str,
    kind: serde_json::error::Category,
) -> Error {
    match status {
        Some(status) if status != 200 => Error::Http {
            endpoint: endpoint.to_owned(),
            status,
            retry_after: None,
        },
        // Name the field and the kind of problem, never the value (it may be a token).
        _ => Error::Protocol {
            endpoint: endpoint.to_owned(),
            reason: format!("cannot parse the response at `{path}` ({kind:?} error)"),
        },
    }
}

fn map_device_error(
    err: RequestTokenError<TransportError, DeviceCodeErrorResponse>,
    endpoint: &str,
    status: Option<u16>,
) -> Error {
    match err {
        RequestTokenError::ServerResponse(response) => match response.error() {
            DeviceCodeErrorResponseType::AccessDenied => Error::AccessDenied,
            DeviceCodeErrorResponseType::ExpiredToken => Error::ExpiredToken,
            other => Error::OAuth {
                endpoint: endpoint.to_owned(),
                error: other.as_ref().to_owned(),
                description: response.error_description().cloned(),
            },
        },
        RequestTokenError::Request(transport) => transport.into_error(endpoint),
        RequestTokenError::Parse(err, _body) => parse_error(
            endpoint,
            status,
            &err.path().to_string(),
            err.inner().classify(),
        ),
        RequestTokenError::Other(reason) => Error::Protocol {
            endpoint: endpoint.to_owned(),
            reason,
        },
    }
}

pub(crate) fn map_basic_error(
    err: RequestTokenError<TransportError, BasicErrorResponse>,
    endpoint: &str,
    status: Option<u16>,
) -> Error {
    match err {
        RequestTokenError::ServerResponse(response) => Error::OAuth {
            endpoint: endpoint.to_owned(),
            error: response.error().as_ref().to_owned(),
            description: response.error_description().cloned(),
        },
        RequestTokenError::Request(transport) => transport.into_error(endpoint),
        RequestTokenError::Parse(err, _body) => parse_error(
            endpoint,
            status,
            &err.path().to_string(),
            err.inner().classify(),
        ),
        RequestTokenError::Other(reason) => Error::Protocol {
            endpoint: endpoint.to_owned(),
            reason,
        },
    }
}
