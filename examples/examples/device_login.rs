//! synod-auth: log in with the OAuth 2.0 device flow against a real issuer, store the token
//! privately, and get a fresh access token.
//!
//! `cargo run -p synod-examples --example device_login -- https://issuer.example.com my-client-id`
//!
//! Needs a server, so CI only compiles it.
use std::sync::Arc;

use synod::auth::{
    FileTokenStore, Provider, TokenManager, TokenStore, http::http_client, login_interactive,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(issuer), Some(client_id)) = (args.next(), args.next()) else {
        eprintln!("usage: device_login ISSUER_URL CLIENT_ID");
        std::process::exit(2);
    };
    let http = http_client()?;
    let provider = Provider::discover(&http, issuer, client_id)
        .await?
        .with_scopes(["openid", "offline_access"]);
    let store: Arc<dyn TokenStore> = Arc::new(FileTokenStore::new(FileTokenStore::default_dir()?));
    let token = login_interactive(&provider, Arc::clone(&store), |auth| {
        let url = auth
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&auth.verification_uri);
        println!(
            "Open {url} and enter the code {} (expires in {:?}).",
            auth.user_code, auth.expires_in
        );
    })
    .await?;
    println!("logged in; token expires in {:?}", token.expires_in());
    let manager = TokenManager::new(provider, store)?;
    let access = manager.access_token().await?;
    println!(
        "access token ready ({} characters, never printed)",
        access.expose().len()
    );
    Ok(())
}
