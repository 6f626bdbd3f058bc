//! [`Provider`]: who to log in with (issuer, endpoints, client id and secret, scopes).
//!
//! Endpoints are given explicitly ([`Provider::new`], for GitHub and other providers without
//! discovery) or discovered from the issuer ([`Provider::discover`]): OpenID Connect
//! `/.well-known/openid-configuration` first, then RFC 8414
//! `/.well-known/oauth-authorization-server`.
//!
//! ```
//! use synod_auth::{ClientAuth, Endpoints, Provider};
//!
//! // GitHub: no discovery, no revocation endpoint for device-flow tokens.
//! let github = Provider::new(
//!     "https://github.com",
//!     "Iv1.0123456789abcdef",
//!     Endpoints {
//!         device_authorization: "https://github.com/login/device/code".into(),
//!         token: "https://github.com/login/oauth/access_token".into(),
//!         revocation: None,
//!     },
//! )?
//! .with_scopes(["repo", "read:org"]);
//! assert_eq!(github.client_id(), "Iv1.0123456789abcdef");
//! assert_eq!(github.auth(), ClientAuth::Basic);
//! # Ok::<(), synod_auth::Error>(())
//! ```

use std::fmt;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, ClientSecret, DeviceAuthorizationUrl, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, RevocationUrl, TokenUrl,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::http::{HttpClient, error_chain};
use crate::secret::Secret;

/// How the client authenticates to the token endpoint when it has a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic (`client_secret_basic`, RFC 6749 section 2.3.1); the default.
    #[default]
    Basic,
    /// In the form body (`client_secret_post`); Google expects this.
    Post,
}

/// The endpoints of an authorization server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// RFC 8628 device authorization endpoint.
    pub device_authorization: String,
    /// Token endpoint.
    pub token: String,
    /// RFC 7009 revocation endpoint, when the server has one.
    pub revocation: Option<String>,
}

/// An OAuth 2.0 provider and the client registered with it.
#[derive(Clone)]
pub struct Provider {
    issuer: String,
    client_id: String,
    client_secret: Option<Secret>,
    auth: ClientAuth,
    scopes: Vec<String>,
    endpoints: Endpoints,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("auth", &self.auth)
            .field("scopes", &self.scopes)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

/// The `oauth2` client type used throughout the crate.
pub(crate) type OAuthClient =
    BasicClient<EndpointNotSet, EndpointSet, EndpointNotSet, EndpointMaybeSet, EndpointSet>;

impl Provider {
    /// A provider with explicit endpoints. `issuer` identifies the provider (it keys the
    /// token store); use the provider's issuer URL or its origin.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] if an endpoint is not an absolute URL.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        endpoints: Endpoints,
    ) -> Result<Self> {
        let provider = Self {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            client_id: client_id.into(),
            client_secret: None,
            auth: ClientAuth::Basic,
            scopes: Vec::new(),
            endpoints,
        };
        provider.oauth_client()?;
        Ok(provider)
    }

    /// Discover the endpoints of `issuer`: OpenID Connect discovery, then RFC 8414.
    ///
    /// # Errors
    /// [`Error::Discovery`] if neither document can be fetched and parsed,
    /// [`Error::NoDeviceEndpoint`] if the server does not advertise device authorization.
    pub async fn discover(
        http: &HttpClient,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Result<Self> {
        let issuer = issuer.into().trim_end_matches('/').to_owned();
        let endpoints = discover_endpoints(http, &issuer).await?;
        Self::new(issuer, client_id, endpoints)
    }

    /// Use a client secret (for confidential clients), sent as `auth` says.
    #[must_use]
    pub fn with_client_secret(mut self, secret: impl Into<Secret>, auth: ClientAuth) -> Self {
        self.client_secret = Some(secret.into());
        self.auth = auth;
        self
    }

    /// Request these scopes (replaces any set before).
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The issuer.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client id.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret, if any.
    #[must_use]
    pub fn client_secret(&self) -> Option<&Secret> {
        self.client_secret.as_ref()
    }

    /// How the client secret is sent.
    #[must_use]
    pub fn auth(&self) -> ClientAuth {
        self.auth
    }

    /// The scopes requested at login.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The endpoints.
    #[must_use]
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The key this provider's tokens are stored under.
    #[must_use]
    pub fn key(&self) -> crate::store::TokenKey {
        crate::store::TokenKey::new(&self.issuer, &self.client_id)
    }

    pub(crate) fn oauth_client(&self) -> Result<OAuthClient> {
        let device = DeviceAuthorizationUrl::new(self.endpoints.device_authorization.clone())
            .map_err(|err| {
                invalid(
                    "device authorization endpoint",
                    &self.endpoints.device_authorization,
                    &err,
                )
            })?;
        let token = TokenUrl::new(self.endpoints.token.clone())
            .map_err(|err| invalid("token endpoint", &self.endpoints.token, &err))?;
        let revocation = match &self.endpoints.revocation {
            Some(url) => Some(
                RevocationUrl::new(url.clone())
                    .map_err(|err| invalid("revocation endpoint", url, &err))?,
            ),
            None => None,
        };
        let mut client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_device_authorization_url(device)
            .set_token_uri(token)
            .set_revocation_url_option(revocation)
            .set_auth_type(match self.auth {
                ClientAuth::Basic => AuthType::BasicAuth,
                ClientAuth::Post => AuthType::RequestBody,
            });
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
        } else {
            // A public client sends its id in the body (RFC 6749 section 2.3.1 allows no Basic
            // header without a secret).
            client = client.set_auth_type(AuthType::RequestBody);
        }
        Ok(client)
    }
}

fn invalid(what: &'static str, url: &str, err: &dyn std::error::Error) -> Error {
    Error::InvalidUrl {
        what,
        url: url.to_owned(),
        reason: err.to_string(),
    }
}

#[derive(Deserialize)]
struct Metadata {
    issuer: Option<String>,
    device_authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
}

/// Fetch the issuer's metadata: OpenID Connect discovery first, RFC 8414 second.
#[tracing::instrument(skip(http))]
async fn discover_endpoints(http: &HttpClient, issuer: &str) -> Result<Endpoints> {
    let parsed = oauth2::url::Url::parse(issuer).map_err(|err| invalid("issuer", issuer, &err))?;
    let oidc = format!("{issuer}/.well-known/openid-configuration");
    // RFC 8414 section 3.1: the well-known segment goes between host and path.
    let path = parsed.path().trim_end_matches('/');
    let origin = parsed.origin().ascii_serialization();
    let rfc8414 = format!("{origin}/.well-known/oauth-authorization-server{path}");
    let mut reasons = Vec::new();
    for url in [oidc, rfc8414] {
        match fetch_metadata(http, &url).await {
            Ok(meta) => {
                if let Some(advertised) = &meta.issuer
                    && advertised.trim_end_matches('/') != issuer
                {
                    return Err(Error::Discovery {
                        issuer: issuer.to_owned(),
                        reason: format!(
                            "{url} names issuer {advertised:?}, not {issuer:?} (RFC 8414 section 3.3)"
                        ),
                    });
                }
                let Some(token) = meta.token_endpoint else {
                    reasons.push(format!("{url} has no token_endpoint"));
                    continue;
                };
                let Some(device_authorization) = meta.device_authorization_endpoint else {
                    return Err(Error::NoDeviceEndpoint {
                        issuer: issuer.to_owned(),
                    });
                };
                tracing::debug!(%url, "discovered endpoints");
                return Ok(Endpoints {
                    device_authorization,
                    token,
                    revocation: meta.revocation_endpoint,
                });
            }
            Err(Fetch::Unreachable(why)) => {
                // The second document lives on the same host: it cannot answer either.
                return Err(Error::Discovery {
                    issuer: issuer.to_owned(),
                    reason: format!("cannot reach {origin}: {why}; check the issuer URL"),
                });
            }
            Err(Fetch::Failed(reason)) => reasons.push(reason),
        }
    }
    Err(Error::Discovery {
        issuer: issuer.to_owned(),
        reason: reasons.join("; "),
    })
}

/// Why a metadata document could not be had.
enum Fetch {
    /// No connection to the host (refused, no route, name not resolved, timed out): the
    /// innermost cause.
    Unreachable(String),
    /// The host answered, but not with a metadata document.
    Failed(String),
}

async fn fetch_metadata(http: &HttpClient, url: &str) -> std::result::Result<Metadata, Fetch> {
    let response = http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|err| {
            if err.is_connect() || err.is_timeout() {
                Fetch::Unreachable(root_cause(&err))
            } else {
                Fetch::Failed(format!("{url}: {}", error_chain(&err)))
            }
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(Fetch::Failed(format!("{url}: HTTP {}", status.as_u16())));
    }
    let body = response
        .bytes()
        .await
        .map_err(|err| Fetch::Failed(format!("{url}: {}", error_chain(&err))))?;
    serde_json::from_slice(&body)
        .map_err(|err| Fetch::Failed(format!("{url}: not a metadata document: {err}")))
}

/// The innermost cause of an error (`Connection refused (os error 111)`).
fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Endpoints {
        Endpoints {
            device_authorization: "https://auth.example.test/device".into(),
            token: "https://auth.example.test/token".into(),
            revocation: Some("https://auth.example.test/revoke".into()),
        }
    }

    #[test]
    fn rejects_relative_endpoints() {
        let mut bad = endpoints();
        bad.token = "/token".into();
        let err = Provider::new("https://auth.example.test", "c", bad).unwrap_err();
        assert!(err.to_string().contains("\"/token\""), "{err}");
        assert!(err.to_string().contains("token endpoint"), "{err}");
    }

    #[test]
    fn debug_hides_client_secret() {
        let provider = Provider::new("https://auth.example.test/", "c", endpoints())
            .unwrap()
            .with_client_secret("hunter2-client-secret", ClientAuth::Post);
        let debug = format!("{provider:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(
            debug.starts_with("Provider {")
                && debug.contains("\"https://auth.example.test\"")
                && debug.contains("client_id: \"c\"")
                && debug.contains("auth: Post"),
            "everything but the secret is shown: {debug}"
        );
        assert_eq!(provider.issuer(), "https://auth.example.test");
        assert_eq!(provider.auth(), ClientAuth::Post);
    }
}
