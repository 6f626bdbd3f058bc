//! The one shared HTTP client and the adapter that feeds it to the `oauth2` crate.
//!
//! [`http_client`] builds the `reqwest` client (re-exported by `oauth2`, so there is one
//! `reqwest` in the tree) that every request of a [`DeviceFlow`](crate::DeviceFlow) or
//! [`TokenManager`](crate::TokenManager) goes through. Redirects are off (an OAuth endpoint
//! that redirects is a misconfiguration, and following it could leak credentials).
//!
//! Internally, every `oauth2` request goes through an adapter that
//! * turns an OAuth error sent with HTTP 200 (GitHub does this) into the HTTP 400 error
//!   response RFC 6749 describes, so `oauth2` parses it as an error;
//! * turns 5xx and 429 answers into transport errors (transient, with `Retry-After`);
//! * for device-code polling, waits the poll interval before each request, adds 5 s after
//!   each `slow_down`, and never lets a poll start after the device code's deadline.
//!
//! ```
//! let client = synod_auth::http::http_client()?;
//! let _second_handle = client.clone(); // cheap: one connection pool shared by all clones
//! # Ok::<(), synod_auth::Error>(())
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use tokio::time::Instant;

use crate::error::{Error, Result};

/// The `reqwest` crate `oauth2` uses, for building a custom [`HttpClient`] (proxy, extra
/// root certificates) to pass to [`DeviceFlow::with_http`](crate::DeviceFlow::with_http).
pub use oauth2::reqwest;

/// The HTTP client type (the `reqwest` that `oauth2` re-exports).
pub type HttpClient = oauth2::reqwest::Client;

/// Build the shared HTTP client: no redirects, 10 s connect timeout, 30 s per request.
///
/// # Errors
/// [`Error::Network`] if the TLS backend cannot be initialised.
pub fn http_client() -> Result<HttpClient> {
    oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("synod-auth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| Error::Network {
            endpoint: "(client setup)".into(),
            reason: error_chain(&err),
        })
}

/// Render an error and its sources on one line.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// A failure below the OAuth layer: no answer, or an HTTP status that is not an OAuth error.
#[derive(Debug)]
pub(crate) enum TransportError {
    Network(String),
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Network(reason) => f.write_str(reason),
            TransportError::Status { status, .. } => write!(f, "HTTP {status}"),
        }
    }
}

impl std::error::Error for TransportError {}

impl TransportError {
    pub(crate) fn into_error(self, endpoint: &str) -> Error {
        match self {
            TransportError::Network(reason) => Error::Network {
                endpoint: endpoint.to_owned(),
                reason,
            },
            TransportError::Status {
                status,
                retry_after,
            } => Error::Http {
                endpoint: endpoint.to_owned(),
                status,
                retry_after,
            },
        }
    }
}

/// Device-code polling state shared between the adapter's requests.
#[derive(Debug)]
pub(crate) struct Pacer {
    deadline: Instant,
    state: Mutex<PacerState>,
}

#[derive(Debug)]
struct PacerState {
    interval: Duration,
    failures: u32,
    polls: u32,
}

/// Longest wait between polls after network failures (RFC 8628 section 3.5 backoff).
const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(60);

impl Pacer {
    pub(crate) fn new(interval: Duration, deadline: Instant) -> Self {
        Self {
            deadline,
            state: Mutex::new(PacerState {
                interval,
                failures: 0,
                polls: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PacerState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long to wait before the next poll.
    fn next_wait(&self) -> Duration {
        let state = self.lock();
        if state.failures == 0 {
            state.interval
        } else {
            let factor = 1u32 << state.failures.min(6);
            state
                .interval
                .saturating_mul(factor)
                .min(MAX_FAILURE_BACKOFF.max(state.interval))
        }
    }

    /// A poll got no usable answer (network failure, 5xx, 429): back off before the next.
    fn record_failure(&self) {
        self.lock().failures += 1;
    }

    /// A poll got an OAuth answer; `slow_down` raises the interval by 5 s for every later
    /// poll (RFC 8628 section 3.5).
    fn record_answer(&self, oauth_error: Option<&str>) {
        let mut state = self.lock();
        state.failures = 0;
        if oauth_error == Some("slow_down") {
            state.interval += Duration::from_secs(5);
            tracing::info!(
                interval_s = state.interval.as_secs(),
                "server asked to slow down; polling interval raised by 5 s"
            );
        }
    }

    /// The current poll interval (grows by 5 s with every `slow_down`).
    pub(crate) fn interval(&self) -> Duration {
        self.lock().interval
    }

    /// Number of token requests sent so far.
    pub(crate) fn polls(&self) -> u32 {
        self.lock().polls
    }
}

/// The adapter between `oauth2` and the shared client. With a [`Pacer`] it paces device-code
/// polls; without one it sends at once (refresh, revocation, device authorization).
pub(crate) struct OAuthHttp {
    client: HttpClient,
    pacer: Option<Arc<Pacer>>,
    last_status: Mutex<Option<u16>>,
}

impl OAuthHttp {
    pub(crate) fn new(client: &HttpClient) -> Self {
        Self {
            client: client.clone(),
            pacer: None,
            last_status: Mutex::new(None),
        }
    }

    pub(crate) fn pacing(client: &HttpClient, pacer: Arc<Pacer>) -> Self {
        Self {
            client: client.clone(),
            pacer: Some(pacer),
            last_status: Mutex::new(None),
        }
    }

    /// The HTTP status of the last answer, for error messages.
    pub(crate) fn last_status(&self) -> Option<u16> {
        *self
            .last_status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if let Some(pacer) = &self.pacer {
            let wait = pacer.next_wait();
            let at = Instant::now() + wait;
            if at >= pacer.deadline {
                // The next poll would start after the device code expired: stop here. The
                // caller's deadline timer ends the flow.
                tracing::debug!(
                    wait_ms = wait.as_millis() as u64,
                    "next poll would pass the device code deadline"
                );
                std::future::pending::<()>().await;
            }
            tokio::time::sleep_until(at).await;
            let poll = {
                let mut state = pacer.lock();
                state.polls += 1;
                state.polls
            };
            tracing::debug!(
                poll,
                interval_ms = pacer.interval().as_millis() as u64,
                "polling the token endpoint"
            );
        }
        let uri = request.uri().to_string();
        let result = <HttpClient as AsyncHttpClient<'_>>::call(&self.client, request).await;
        let response = match result {
            Ok(response) => response,
            Err(err) => {
                let reason = error_chain(&err);
                tracing::warn!(endpoint = %uri, %reason, "request failed");
                if let Some(pacer) = &self.pacer {
                    pacer.record_failure();
                }
                return Err(TransportError::Network(reason));
            }
        };
        let status = response.status().as_u16();
        *self
            .last_status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(status);
        let oauth_error = oauth_error_code(response.body());
        tracing::debug!(endpoint = %uri, status, error = oauth_error.as_deref(), "response");
        let transient = oauth_error.is_none() && (status >= 500 || status == 429 || status == 408);
        if let Some(pacer) = &self.pacer {
            if transient {
                pacer.record_failure();
            } else {
                pacer.record_answer(oauth_error.as_deref());
            }
        }
        if transient {
            let retry_after = response
                .headers()
                .get(oauth2::http::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(TransportError::Status {
                status,
                retry_after,
            });
        }
        if status == 200 && oauth_error.is_some() {
            // An OAuth error with HTTP 200 (GitHub): present it as RFC 6749 section 5.2 does.
            let (mut parts, body) = response.into_parts();
            parts.status = oauth2::http::StatusCode::BAD_REQUEST;
            return Ok(HttpResponse::from_parts(parts, body));
        }
        Ok(response)
    }
}

impl<'c> AsyncHttpClient<'c> for OAuthHttp {
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// The `error` member of a JSON object body, if there is one.
fn oauth_error_code(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ErrorOnly {
        error: Option<String>,
    }
    serde_json::from_slice::<ErrorOnly>(body)
        .ok()
        .and_then(|parsed| parsed.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_error_codes() {
        assert_eq!(
            oauth_error_code(br#"{"error":"slow_down","interval":10}"#).as_deref(),
            Some("slow_down")
        );
        assert_eq!(oauth_error_code(br#"{"access_token":"x"}"#), None);
        assert_eq!(oauth_error_code(b"<html>"), None);
    }

    #[test]
    fn slow_down_adds_five_seconds_for_all_later_polls() {
        let pacer = Pacer::new(
            Duration::from_secs(2),
            Instant::now() + Duration::from_secs(900),
        );
        pacer.record_answer(Some("authorization_pending"));
        assert_eq!(pacer.next_wait(), Duration::from_secs(2));
        pacer.record_answer(Some("slow_down"));
        assert_eq!(pacer.next_wait(), Duration::from_secs(7));
        // Pending answers afterwards keep the raised interval.
        pacer.record_answer(Some("authorization_pending"));
        pacer.record_answer(None);
        assert_eq!(pacer.next_wait(), Duration::from_secs(7));
        pacer.record_answer(Some("slow_down"));
        assert_eq!(pacer.interval(), Duration::from_secs(12));
        // A failure backs off from the raised interval; the next answer resets the backoff.
        pacer.record_failure();
        assert_eq!(pacer.next_wait(), Duration::from_secs(24));
        pacer.record_answer(Some("authorization_pending"));
        assert_eq!(pacer.next_wait(), Duration::from_secs(12));
    }

    #[test]
    fn backoff_after_failures_is_capped() {
        let pacer = Pacer::new(
            Duration::from_secs(5),
            Instant::now() + Duration::from_secs(900),
        );
        assert_eq!(pacer.next_wait(), Duration::from_secs(5));
        pacer.lock().failures = 1;
        assert_eq!(pacer.next_wait(), Duration::from_secs(10));
        pacer.lock().failures = 30;
        assert_eq!(pacer.next_wait(), MAX_FAILURE_BACKOFF);
    }
}
