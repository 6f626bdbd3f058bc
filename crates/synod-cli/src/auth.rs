//! `synod auth login|status|token|logout`: the OAuth 2.0 device flow (RFC 8628) from a
//! terminal, and access tokens for scripts.
//!
//! Tokens live in `$SYNOD_AUTH_DIR`, else the platform config directory (`synod/auth`), one
//! private JSON file per issuer and client. Exit codes: 0 success, 1 the login was denied or
//! expired, 2 any other error; `synod auth token` has its own (see [`token`]).
//!
//! A client secret comes from `--client-secret-file FILE`, `--client-secret-stdin` or the
//! `SYNOD_CLIENT_SECRET` environment variable. The old `--client-secret VALUE` still works
//! but warns: other users see it in `ps`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use synod::auth::{
    ClientAuth, DeviceFlow, Endpoints, Error, FileTokenStore, Provider, Secret, StoredToken,
    TokenKey, TokenManager, TokenStore, http::http_client,
};

/// Environment variable holding a client secret (used when no `--client-secret*` option is
/// given).
pub(crate) const CLIENT_SECRET_ENV: &str = "SYNOD_CLIENT_SECRET";

#[derive(Debug, clap::Subcommand)]
pub(crate) enum AuthCommand {
    /// Log in with the device flow: prints a URL and a code to enter on any device, waits
    /// for approval, stores the token.
    Login(LoginArgs),
    /// Show stored logins: issuer, client, scopes, expiry (never the tokens).
    Status(StatusArgs),
    /// Print a valid access token of a stored login on stdout (refreshed first when it has
    /// expired or is about to), for scripts: `curl -H "Authorization: Bearer $(synod auth
    /// token)" ...`. Exit 2 when there is no login or it must be renewed.
    Token(TokenArgs),
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
    #[command(flatten)]
    secret: SecretArgs,
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
    /// The client secret, if the server requires client authentication for revocation.
    #[command(flatten)]
    secret: SecretArgs,
    /// Delete the stored tokens without revoking them at the server.
    #[arg(long)]
    local_only: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct TokenArgs {
    /// The login's issuer (needed when several logins are stored).
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// The login's client id (needed when several logins are stored).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// The client secret, for confidential clients (the refresh authenticates the client).
    #[command(flatten)]
    secret: SecretArgs,
}

/// Where a client secret comes from. At most one of these; without any, `SYNOD_CLIENT_SECRET`.
#[derive(Debug, clap::Args)]
#[group(multiple = false)]
pub(crate) struct SecretArgs {
    /// Client secret, for confidential clients. Deprecated: other users can read it in `ps`;
    /// use --client-secret-file, --client-secret-stdin or SYNOD_CLIENT_SECRET.
    #[arg(long, value_name = "SECRET")]
    client_secret: Option<String>,
    /// Read the client secret from FILE (a trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    client_secret_file: Option<PathBuf>,
    /// Read the client secret from standard input (a trailing newline is ignored).
    #[arg(long)]
    client_secret_stdin: bool,
}

impl SecretArgs {
    /// The client secret, if one was given (by an option or `SYNOD_CLIENT_SECRET`).
    fn resolve(&self) -> Result<Option<Secret>, Error> {
        if let Some(secret) = &self.client_secret {
            eprintln!(
                "warning: --client-secret shows the secret to other users in `ps` and keeps it in shell history; \
                 use --client-secret-file FILE, --client-secret-stdin or {CLIENT_SECRET_ENV} instead"
            );
            return Ok(Some(Secret::new(secret.clone())));
        }
        if let Some(path) = &self.client_secret_file {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                op: "read the client secret file",
                path: path.clone(),
                source,
            })?;
            return non_empty(&text, "read the client secret file", path.clone()).map(Some);
        }
        if self.client_secret_stdin {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| Error::Io {
                    op: "read the client secret from",
                    path: PathBuf::from("standard input"),
                    source,
                })?;
            return non_empty(
                &text,
                "read the client secret from",
                PathBuf::from("standard input"),
            )
            .map(Some);
        }
        Ok(std::env::var(CLIENT_SECRET_ENV)
            .ok()
            .filter(|value| !value.is_empty())
            .map(Secret::new))
    }
}

/// `text` without its trailing line ending; an error naming `path` if nothing is left.
fn non_empty(text: &str, op: &'static str, path: PathBuf) -> Result<Secret, Error> {
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(Error::Io {
            op,
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "it is empty; put the client secret in it",
            ),
        });
    }
    Ok(Secret::new(value))
}

pub(crate) async fn run(cmd: AuthCommand, verbose: bool) -> ExitCode {
    let result = match cmd {
        AuthCommand::Login(args) => login(args).await,
        AuthCommand::Status(args) => status(&args),
        AuthCommand::Token(args) => return token(args, verbose).await,
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
    let secret = args.secret.resolve()?;
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
    if let Some(secret) = secret {
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
    let secret = args.secret.resolve()?;
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
        if let Some(secret) = &secret {
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

/// `synod auth token`: a valid access token of one stored login on stdout, nothing else.
///
/// The login is the one matching `--issuer` and `--client-id`, or the only stored one. The
/// token is refreshed first when it has expired or expires within a minute; processes asking
/// at once refresh once (the token manager's cross-process lock) and all print the result.
/// Exit codes: 0 the token was printed; 2 (one line on stderr) there is no matching login,
/// several match, it must be renewed with `synod auth login`, or an option is wrong; 1 the
/// token could not be obtained now (network, server, storage, another process's refresh
/// taking too long): worth retrying.
async fn token(args: TokenArgs, verbose: bool) -> ExitCode {
    let fail = |code: u8, message: &str| {
        eprintln!("error: {message}");
        ExitCode::from(code)
    };
    let secret = match args.secret.resolve() {
        Ok(secret) => secret,
        Err(err) => return fail(2, &render(&err, verbose)),
    };
    let store = match store() {
        Ok(store) => Arc::new(store),
        Err(err) => return fail(2, &render(&err, verbose)),
    };
    let login = match find_login(store.as_ref(), &args) {
        Ok(login) => login,
        Err(Lookup::Failed(err)) => return fail(1, &render(&err, verbose)),
        Err(Lookup::Missing(message)) => return fail(2, &message),
    };
    let result = async {
        let mut provider = Provider::new(&login.issuer, &login.client_id, login.endpoints.clone())?;
        if let Some(secret) = &secret {
            provider = provider.with_client_secret(secret.clone(), login.auth);
        }
        let store: Arc<dyn TokenStore> = store;
        TokenManager::new(provider, store)?.access_token().await
    }
    .await;
    match result {
        Ok(access) => {
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{}", access.expose()).and_then(|()| stdout.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => fail(
                    1,
                    &format!("cannot write the token to standard output: {err}"),
                ),
            }
        }
        Err(err @ (Error::NotLoggedIn { .. } | Error::ReauthRequired { .. })) => {
            fail(2, &render(&err, verbose))
        }
        Err(err) => fail(1, &render(&err, verbose)),
    }
}

enum Lookup {
    /// Nothing (or more than one login) matches: the message says what to do.
    Missing(String),
    /// The store could not be read.
    Failed(Error),
}

/// The stored login `args` names (or the only one).
fn find_login(store: &FileTokenStore, args: &TokenArgs) -> Result<StoredToken, Lookup> {
    let dir = store.dir().display();
    if let (Some(issuer), Some(client_id)) = (&args.issuer, &args.client_id) {
        return match store.load(&TokenKey::new(issuer, client_id)) {
            Ok(Some(token)) => Ok(token),
            Ok(None) => Err(Lookup::Missing(format!(
                "not logged in to {} as client {client_id} (no token in {dir}); run `synod auth login` first",
                issuer.trim_end_matches('/')
            ))),
            Err(err) => Err(Lookup::Failed(err)),
        };
    }
    let issuer = args.issuer.as_deref().map(|i| i.trim_end_matches('/'));
    let mut matching: Vec<StoredToken> = store
        .list()
        .map_err(Lookup::Failed)?
        .into_iter()
        .filter(|t| issuer.is_none_or(|i| t.issuer == i))
        .filter(|t| args.client_id.as_deref().is_none_or(|c| t.client_id == c))
        .collect();
    let wanted = match (issuer, args.client_id.as_deref()) {
        (Some(i), Some(c)) => format!(" to {i} as client {c}"),
        (Some(i), None) => format!(" to {i}"),
        (None, Some(c)) => format!(" as client {c}"),
        (None, None) => String::new(),
    };
    match matching.len() {
        0 => Err(Lookup::Missing(format!(
            "not logged in{wanted} (no token in {dir}); run `synod auth login` first"
        ))),
        1 => Ok(matching.swap_remove(0)),
        n => Err(Lookup::Missing(format!(
            "{n} stored logins match{wanted} ({}); choose one with --issuer and --client-id",
            matching
                .iter()
                .map(|t| format!("{} {}", t.issuer, t.client_id))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
