//! `KeyringTokenStore` on a real `keyring_core` credential store: the in-memory mock store of
//! keyring-core, which keeps entries by service and user as an OS keyring does (the Secret
//! Service of a desktop session is not there in CI). What is checked is what lands in the
//! keyring, entry by entry, and what `load`, `save`, `delete` and `list` make of it.
#![cfg(feature = "keyring")]

use std::sync::Arc;

use synod_auth::keyring_core::{self, CredentialStore, Entry, mock};
use synod_auth::{
    Endpoints, Error, KeyringTokenStore, Secret, StoredToken, TokenKey, TokenStore, unix_now,
};

const SERVICE: &str = "synod-test";
const INDEX: &str = "synod-auth-index";

fn token(client: &str, access: &str) -> StoredToken {
    let mut token = StoredToken::new(
        "https://auth.example.test/",
        client,
        Secret::new(access),
        Endpoints {
            device_authorization: "https://auth.example.test/device".into(),
            token: "https://auth.example.test/token".into(),
            revocation: None,
        },
    );
    token.refresh_token = Some(Secret::new(format!("{access}-refresh")));
    token.expires_at = Some(unix_now() + 3600);
    token
}

fn keyring() -> (Arc<CredentialStore>, KeyringTokenStore) {
    let credentials: Arc<CredentialStore> = mock::Store::new().unwrap();
    let store = KeyringTokenStore::new(SERVICE).with_credential_store(credentials.clone());
    (credentials, store)
}

/// The raw value of one keyring entry, as another program reading the keyring would see it.
fn raw(credentials: &Arc<CredentialStore>, user: &str) -> Option<String> {
    match Entry::new_in_store(credentials, SERVICE, user)
        .unwrap()
        .get_password()
    {
        Ok(value) => Some(value),
        Err(keyring_core::Error::NoEntry) => None,
        Err(err) => panic!("reading {user}: {err}"),
    }
}

fn set_raw(credentials: &Arc<CredentialStore>, user: &str, value: &str) {
    Entry::new_in_store(credentials, SERVICE, user)
        .unwrap()
        .set_password(value)
        .unwrap();
}

/// Make the next keyring call on `user`'s entry fail as a broken keyring would.
fn fail_next(credentials: &Arc<CredentialStore>, user: &str) {
    let entry = Entry::new_in_store(credentials, SERVICE, user).unwrap();
    let cred: &mock::Cred = entry.as_any().downcast_ref().unwrap();
    cred.set_error(keyring_core::Error::NoStorageAccess(
        "the keyring is locked".into(),
    ));
}

fn clients(tokens: &[StoredToken]) -> Vec<&str> {
    let mut clients: Vec<&str> = tokens.iter().map(|t| t.client_id.as_str()).collect();
    clients.sort_unstable();
    clients
}

#[test]
fn tokens_round_trip_and_each_login_is_listed_once() {
    let (credentials, store) = keyring();
    let cli = token("cli", "first-access");
    let bot = token("bot", "bot-access");
    assert!(store.list().unwrap().is_empty());
    assert_eq!(store.load(&cli.key()).unwrap(), None);

    store.save(&cli).unwrap();
    store.save(&bot).unwrap();
    let renewed = token("cli", "second-access");
    store.save(&renewed).unwrap();

    assert_eq!(store.load(&cli.key()).unwrap(), Some(renewed.clone()));
    assert_eq!(store.load(&bot.key()).unwrap(), Some(bot.clone()));
    let listed = store.list().unwrap();
    assert_eq!(clients(&listed), ["bot", "cli"], "{listed:?}");
    assert!(listed.contains(&renewed) && listed.contains(&bot));

    // One entry per login, named by its file stem, holding the token as JSON; the index names
    // both logins once.
    let entry = raw(&credentials, &cli.key().file_stem()).unwrap();
    assert!(entry.contains("second-access"), "{entry}");
    let index: Vec<TokenKey> = serde_json::from_str(&raw(&credentials, INDEX).unwrap()).unwrap();
    assert_eq!(index, [cli.key(), bot.key()]);

    // Another handle on the same keyring and service sees the same logins; another service none.
    let again = KeyringTokenStore::new(SERVICE).with_credential_store(credentials.clone());
    assert_eq!(clients(&again.list().unwrap()), ["bot", "cli"]);
    let other = KeyringTokenStore::new("another-tool").with_credential_store(credentials);
    assert!(other.list().unwrap().is_empty());
}

#[test]
fn delete_removes_the_entry_and_its_index_line_and_says_whether_it_existed() {
    let (credentials, store) = keyring();
    let cli = token("cli", "cli-access");
    let bot = token("bot", "bot-access");
    store.save(&cli).unwrap();
    store.save(&bot).unwrap();

    assert!(store.delete(&cli.key()).unwrap());
    assert_eq!(store.load(&cli.key()).unwrap(), None);
    assert_eq!(raw(&credentials, &cli.key().file_stem()), None);
    let index: Vec<TokenKey> = serde_json::from_str(&raw(&credentials, INDEX).unwrap()).unwrap();
    assert_eq!(index, [bot.key()]);
    assert_eq!(store.list().unwrap(), std::slice::from_ref(&bot));

    assert!(!store.delete(&cli.key()).unwrap(), "nothing left to delete");
    assert_eq!(store.list().unwrap(), [bot]);
}

#[test]
fn an_index_naming_a_login_whose_entry_is_gone_lists_the_rest() {
    let (credentials, store) = keyring();
    let cli = token("cli", "cli-access");
    let bot = token("bot", "bot-access");
    store.save(&cli).unwrap();
    store.save(&bot).unwrap();
    // Deleted by hand in the desktop's keyring tool, say.
    Entry::new_in_store(&credentials, SERVICE, &cli.key().file_stem())
        .unwrap()
        .delete_credential()
        .unwrap();
    assert_eq!(store.list().unwrap(), [bot]);
}

#[test]
fn a_damaged_entry_or_index_is_reported_by_its_keyring_name() {
    let (credentials, store) = keyring();
    let cli = token("cli", "cli-access");
    store.save(&cli).unwrap();
    let stem = cli.key().file_stem();

    set_raw(&credentials, &stem, "not json");
    let err = store.load(&cli.key()).unwrap_err();
    assert!(
        matches!(&err, Error::CorruptToken { location, .. } if *location == format!("keyring {SERVICE}/{stem}")),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains("not json"),
        "never the value: {err}"
    );

    set_raw(&credentials, INDEX, "[{\"issuer\": 1}]");
    let err = store.list().unwrap_err();
    assert!(
        matches!(&err, Error::CorruptToken { location, .. } if *location == format!("keyring {SERVICE}/{INDEX}")),
        "{err:?}"
    );
}

#[test]
fn a_failing_keyring_is_an_error_naming_the_entry_and_loses_nothing() {
    let (credentials, store) = keyring();
    let cli = token("cli", "cli-access");
    store.save(&cli).unwrap();
    let stem = cli.key().file_stem();
    let keyring_error = |err: Error, user: &str| {
        assert!(
            matches!(&err, Error::Keyring { entry, reason }
                if *entry == format!("{SERVICE}/{user}") && reason.contains("the keyring is locked")),
            "{err:?}"
        );
    };

    fail_next(&credentials, &stem);
    keyring_error(store.load(&cli.key()).unwrap_err(), &stem);

    fail_next(&credentials, &stem);
    keyring_error(store.save(&token("cli", "lost")).unwrap_err(), &stem);

    fail_next(&credentials, &stem);
    keyring_error(store.delete(&cli.key()).unwrap_err(), &stem);

    fail_next(&credentials, INDEX);
    keyring_error(store.list().unwrap_err(), INDEX);

    // Each failure left the stored login as it was.
    assert_eq!(store.load(&cli.key()).unwrap(), Some(cli.clone()));
    assert_eq!(store.list().unwrap(), [cli]);
}
