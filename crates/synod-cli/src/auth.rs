//! `synod auth login|status|logout`: the OAuth 2.0 device flow (RFC 8628) from a terminal.
//!
//! Tokens live in `$SYNOD_AUTH_DIR`, else the platform config directory (`synod/auth`), one
//! private JSON file per issuer and client. Exit codes: 0 success, 1 the login was denied or
//! expired, 2 any other error.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use synod::auth::{
    ClientAuth, DeviceFlow, Endpoints, Error, FileTokenStore, Provider, StoredToken, TokenManager,
    TokenStore, http::http_client,
};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum AuthCommand {
    /// Log in with the device flow: prints a URL and a code to enter on any device, waits
    /// for approval, stores the token.
    Login(LoginArgs),
    /// Show stored logins: issuer, client, scopes, expiry (never the tokens).
    Status(StatusArgs),
    /// Revoke stored logins at the server (RFC 7009) and delete them.
    Logout(LogoutArgs),
}

/// How the client secret is sent.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum AuthMethod {
    /// HTTP Basic (`client_secret_basic`).
    Basic,
    /// In the form body (`client_secret_post`, e.g. Google).
    Post,
}

#[derive(Debug, clap::Args)]
pub(crate) struct LoginArgs {
    /// Issuer URL; endpoints are discovered from it unless given below.
    #[arg(long)]
    issuer: String,
    /// OAuth client id.
    #[arg(long)]
    client_id: String,
    /// Client secret, for confidential clients.
    #[arg(long)]
    client_secret: Option<String>,
    /// How to send the client secret.
    #[arg(long, value_enum, default_value = "basic")]
    client_auth: AuthMethod,
    /// Scope to request (repeat for several).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Device authorization endpoint (skips discovery; needs --token-endpoint).
    #[arg(long, requires = "token_endpoint")]
    device_endpoint: Option<String>,
    /// Token endpoint (skips discovery; needs --device-endpoint).
    #[arg(long, requires = "device_endpoint")]
    token_endpoint: Option<String>,
    /// Revocation endpoint, with explicit endpoints.
    #[arg(long, requires = "device_endpoint")]
    revocation_endpoint: Option<String>,
    /// Also print the device authorization as one JSON object on stdout before polling.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// Print a JSON array instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct LogoutArgs {
    /// Only logins at this issuer.
    #[arg(long)]
    issuer: Option<String>,
    /// Only logins of this client id.
    #[arg(long)]
    client_id: Option<String>,
    /// Client secret, if the server requires client authentication for revocation.
    #[arg(long)]
    client_secret: Option<String>,
    /// Delete the stored tokens without revoking them at the server.
    #[arg(long)]
    local_only: bool,
}

pub(crate) async fn run(cmd: AuthCommand, verbose: bool) -> ExitCode {
    let result = match cmd {
        AuthCommand::Login(args) => login(args).await,
        AuthCommand::Status(args) => status(&args),
        AuthCommand::Logout(args) => logout(args).await,
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", render(&err, verbose));
            match err {
                Error::AccessDenied | Error::ExpiredToken | Error::DeviceCodeExpired { .. } => {
                    ExitCode::from(1)
                }
                _ => ExitCode::from(2),
            }
        }
    }
}

fn render(err: &Error, verbose: bool) -> String {
    let mut out = err.to_string();
    if verbose {
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            out.push_str(&format!("\n  caused by: {cause}"));
            source = cause.source();
        }
    }
    out
}

fn store() -> Result<FileTokenStore, Error> {
    FileTokenStore::from_env()
}

async fn login(args: LoginArgs) -> Result<ExitCode, Error> {
    let http = http_client()?;
    let mut provider = match (args.device_endpoint, args.token_endpoint) {
        (Some(device_authorization), Some(token)) => Provider::new(
            &args.issuer,
            &args.client_id,
            Endpoints {
                device_authorization,
                token,
                revocation: args.revocation_endpoint,
            },
        )?,
        _ => Provider::discover(&http, &args.issuer, &args.client_id).await?,
    }
    .with_scopes(args.scopes);
    if let Some(secret) = args.client_secret {
        let auth = match args.client_auth {
            AuthMethod::Basic => ClientAuth::Basic,
            AuthMethod::Post => ClientAuth::Post,
        };
        provider = provider.with_client_secret(secret, auth);
    }
    let store = store()?;
    let dir = store.dir().to_owned();
    let flow = DeviceFlow::with_http(provider, http);
    let auth = flow.start().await?;
    eprintln!("url: {}", auth.verification_uri);
    eprintln!("code: {}", auth.user_code);
    if let Some(complete) = &auth.verification_uri_complete {
        eprintln!("(or open {complete})");
    }
    eprintln!(
        "waiting for approval (the code expires in {})...",
        human(auth.expires_in)
    );
    if args.json {
        let json = serde_json::json!({
            "user_code": auth.user_code,
            "verification_uri": auth.verification_uri,
            "verification_uri_complete": auth.verification_uri_complete,
            "expires_in": auth.expires_in.as_secs(),
            "interval": auth.interval.as_secs(),
        });
        let mut stdout = std::io::stdout().lock();
        // A closed stdout must not stop the login; the code is on stderr too.
        let _ = writeln!(stdout, "{json}");
        let _ = stdout.flush();
    }
    let token = flow.poll(&auth).await?;
    let to_save = token.clone();
    let store = Arc::new(store);
    let saver = Arc::clone(&store);
    tokio::task::spawn_blocking(move || saver.save(&to_save))
        .await
        .map_err(|join| Error::Protocol {
            endpoint: "token store".into(),
            reason: join.to_string(),
        })??;
    eprintln!(
        "logged in to {} as client {}; token stored in {}",
        token.issuer,
        token.client_id,
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

fn expiry(token: &StoredToken) -> String {
    match token.expires_in() {
        None => "unknown".to_owned(),
        Some(Duration::ZERO) => "expired".to_owned(),
        Some(left) => format!("in {}", human(left)),
    }
}

fn status(args: &StatusArgs) -> Result<ExitCode, Error> {
    let store = store()?;
    let tokens = store.list()?;
    if args.json {
        let rows: Vec<_> = tokens
            .iter()
            .map(|t| {
                serde_json::json!({
                    "issuer": t.issuer,
                    "client_id": t.client_id,
                    "scopes": t.scopes,
                    "expires_at": t.expires_at,
                    "expires_in": t.expires_in().map(|d| d.as_secs()),
                    "has_refresh_token": t.refresh_token.is_some(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(ExitCode::SUCCESS);
    }
    if tokens.is_empty() {
        println!("no stored logins in {}", store.dir().display());
        return Ok(ExitCode::SUCCESS);
    }
    for t in &tokens {
        println!(
            "{}  client {}  scopes [{}]  expires {}  refresh token {}",
            t.issuer,
            t.client_id,
            t.scopes.join(" "),
            expiry(t),
            if t.refresh_token.is_some() {
                "yes"
            } else {
                "no"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn logout(args: LogoutArgs) -> Result<ExitCode, Error> {
    let store: Arc<dyn TokenStore> = Arc::new(store()?);
    let issuer = args.issuer.as_deref().map(|i| i.trim_end_matches('/'));
    let matching: Vec<StoredToken> = store
        .list()?
        .into_iter()
        .filter(|t| issuer.is_none_or(|i| t.issuer == i))
        .filter(|t| args.client_id.as_deref().is_none_or(|c| t.client_id == c))
        .collect();
    if matching.is_empty() {
        eprintln!("no matching stored login");
        return Ok(ExitCode::SUCCESS);
    }
    let http = http_client()?;
    for token in matching {
        let mut provider = Provider::new(&token.issuer, &token.client_id, token.endpoints.clone())?;
        if let Some(secret) = &args.client_secret {
            provider = provider.with_client_secret(secret.clone(), token.auth);
        }
        let manager = TokenManager::with_http(provider, Arc::clone(&store), http.clone());
        if args.local_only {
            manager.forget().await?;
            eprintln!(
                "deleted the login to {} ({}) without revoking it",
                token.issuer, token.client_id
            );
            continue;
        }
        let outcome = manager.logout().await?;
        let revoked = match (outcome.revoked_refresh, outcome.revoked_access) {
            (true, true) => "refresh and access tokens revoked",
            (true, false) => "refresh token revoked",
            (false, true) => "access token revoked",
            (false, false) => "nothing revoked (no revocation endpoint)",
        };
        eprintln!(
            "logged out of {} ({}): {revoked}, stored token deleted",
            token.issuer, token.client_id
        );
    }
    Ok(ExitCode::SUCCESS)
}
