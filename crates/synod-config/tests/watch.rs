//! Watcher integration tests: real files in temporary directories, real notify events.
//! Every wait is bounded generously (10 s); no assertion depends on how fast the machine is.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{Config, no_env, write};
use synod_config::{Error, Loader, ReloadEvent, WatchOptions, Watcher};
use tokio::sync::broadcast;

const PATIENCE: Duration = Duration::from_secs(10);

fn options() -> WatchOptions {
    WatchOptions::default().debounce(Duration::from_millis(50))
}

fn start(loader: Loader<Config>) -> Watcher<Config> {
    Watcher::start(loader, options()).unwrap_or_else(|e| panic!("watcher did not start: {e}"))
}

/// Waits for the next event that is not a watch error, failing after `PATIENCE`.
async fn next(events: &mut broadcast::Receiver<ReloadEvent>) -> ReloadEvent {
    loop {
        match tokio::time::timeout(PATIENCE, events.recv()).await {
            Ok(Ok(ReloadEvent::WatchError { message })) => eprintln!("watch error: {message}"),
            Ok(Ok(event)) => return event,
            Ok(Err(e)) => panic!("event stream ended: {e}"),
            Err(_) => panic!("no reload event within {PATIENCE:?}"),
        }
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn rejected(event: ReloadEvent) -> Arc<Error> {
    match event {
        ReloadEvent::Rejected { error } => error,
        other => panic!("expected Rejected, got {other:?}"),
    }
}

fn applied(event: ReloadEvent) -> Vec<String> {
    match event {
        ReloadEvent::Applied { changed_keys } => changed_keys,
        other => panic!("expected Applied, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_edit_is_applied_and_subscribers_see_it() {
    let dir = tempdir();
    let file = write(dir.path(), "synod.toml", "max_tokens = 1\n");
    let watcher = start(Loader::<Config>::new().file(&file).env_source(no_env()));
    let mut updates = watcher.subscribe();
    let mut events = watcher.events();
    assert_eq!(watcher.current().max_tokens, 1);

    write(
        dir.path(),
        "synod.toml",
        "max_tokens = 2\n[server]\nport = 9000\n",
    );
    let changed = applied(next(&mut events).await);
    assert_eq!(changed, vec!["max_tokens", "server.port"]);
    assert_eq!(watcher.current().max_tokens, 2);
    tokio::time::timeout(PATIENCE, updates.changed())
        .await
        .unwrap_or_else(|_| panic!("subscriber not woken"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(updates.borrow_and_update().server.port, 9000);
}

#[tokio::test]
async fn invalid_toml_and_schema_violations_are_rejected_keeping_the_old_value() {
    let dir = tempdir();
    let file = write(dir.path(), "synod.toml", "max_tokens = 1\n");
    let watcher = start(Loader::<Config>::new().file(&file).env_source(no_env()));
    let mut events = watcher.events();
    let before = watcher.current();

    write(dir.path(), "synod.toml", "max_tokens = = 3\n");
    let error = rejected(next(&mut events).await);
    assert!(matches!(*error, Error::Parse { line: 1, .. }), "{error}");
    assert_eq!(watcher.current(), before);

    write(dir.path(), "synod.toml", "max_tokens = \"many\"\n");
    let error = rejected(next(&mut events).await);
    assert!(
        error
            .to_string()
            .contains(&format!("{}:1:1: max_tokens", file.display())),
        "{error}"
    );
    assert_eq!(watcher.current(), before);
    assert_eq!(*watcher.subscribe().borrow(), before);

    // A file caught empty (between truncate and write) is not read as "all defaults".
    write(dir.path(), "synod.toml", "");
    let error = rejected(next(&mut events).await);
    assert!(
        matches!(&*error, Error::EmptyFile { path } if path.ends_with("synod.toml")),
        "{error}"
    );
    assert_eq!(watcher.current(), before);

    // A good edit afterwards still applies.
    write(dir.path(), "synod.toml", "max_tokens = 4\n");
    applied(next(&mut events).await);
    assert_eq!(watcher.current().max_tokens, 4);
}

#[tokio::test]
async fn a_rename_save_is_picked_up() {
    let dir = tempdir();
    let file = write(dir.path(), "synod.toml", "log_level = \"info\"\n");
    let watcher = start(Loader::<Config>::new().file(&file).env_source(no_env()));
    let mut events = watcher.events();

    // What many editors do: write a temporary file next to it, then rename over it.
    let tmp = write(dir.path(), ".synod.toml.swp", "log_level = \"debug\"\n");
    std::fs::rename(&tmp, &file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(applied(next(&mut events).await), vec!["log_level"]);
    assert_eq!(watcher.current().log_level, "debug");
}

#[tokio::test]
async fn a_deleted_file_is_reported_and_the_config_kept_then_recreated() {
    let dir = tempdir();
    let file = write(dir.path(), "synod.toml", "max_tokens = 7\n");
    let watcher = start(Loader::<Config>::new().file(&file).env_source(no_env()));
    let mut events = watcher.events();

    std::fs::remove_file(&file).unwrap_or_else(|e| panic!("{e}"));
    let error = rejected(next(&mut events).await);
    assert!(
        matches!(&*error, Error::MissingFile { path } if *path == file),
        "{error}"
    );
    assert_eq!(watcher.current().max_tokens, 7);

    write(dir.path(), "synod.toml", "max_tokens = 8\n");
    applied(next(&mut events).await);
    assert_eq!(watcher.current().max_tokens, 8);
}

#[tokio::test]
async fn an_optional_file_that_appears_later_is_applied() {
    let dir = tempdir();
    let base = write(dir.path(), "base.toml", "max_tokens = 1\n");
    let local = dir.path().join("local.json");
    let watcher = start(
        Loader::<Config>::new()
            .file(&base)
            .optional_file(&local)
            .env_source(no_env()),
    );
    let mut events = watcher.events();
    write(dir.path(), "local.json", "{\"max_tokens\": 3}");
    assert_eq!(applied(next(&mut events).await), vec!["max_tokens"]);
    assert_eq!(watcher.current().max_tokens, 3);
}

#[tokio::test]
async fn unrelated_files_in_the_directory_are_ignored() {
    let dir = tempdir();
    let file = write(dir.path(), "synod.toml", "max_tokens = 1\n");
    let other = write(dir.path(), "other.toml", "max_tokens = 10\n");
    // Every load of synod.toml passes its validator, which notes the value it saw.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let noted = Arc::clone(&seen);
    let watcher = start(
        Loader::<Config>::new()
            .file(&file)
            .env_source(no_env())
            .validator(move |c: &Config| {
                noted.lock().unwrap().push(c.max_tokens);
                Ok(())
            }),
    );
    let mut events = watcher.events();
    // A second watcher, of other.toml, tells when the events of its change have been
    // delivered and debounced (the first watcher got the same events at the same time).
    let neighbour = start(Loader::<Config>::new().file(&other).env_source(no_env()));
    let mut neighbour_events = neighbour.events();
    write(dir.path(), "other.toml", "max_tokens = 11\n");
    assert_eq!(
        applied(next(&mut neighbour_events).await),
        vec!["max_tokens"]
    );
    write(dir.path(), "other.toml", "this is = = not config");
    assert!(
        rejected(next(&mut neighbour_events).await)
            .to_string()
            .contains("other.toml")
    );
    // Then a real change: the first event seen must be about it, and synod.toml was loaded
    // only at start and for this change.
    write(dir.path(), "synod.toml", "max_tokens = 2\n");
    assert_eq!(applied(next(&mut events).await), vec!["max_tokens"]);
    assert_eq!(*seen.lock().unwrap(), vec![1, 2]);
}

#[test]
fn a_watcher_prints_without_its_internals() {
    let dir = tempdir();
    let file = write(dir.path(), "synod.toml", "max_tokens = 1\n");
    let watcher = start(Loader::<Config>::new().file(&file).env_source(no_env()));
    assert_eq!(format!("{watcher:?}"), "Watcher { .. }");
}

#[tokio::test]
async fn dropping_the_watcher_stops_its_threads() {
    let dir = tempdir();
    let file = write(dir.path(), "synod.toml", "max_tokens = 1\n");
    let watcher = start(Loader::<Config>::new().file(&file).env_source(no_env()));
    let mut events = watcher.events();
    let updates = watcher.subscribe();
    drop(watcher);
    // `drop` returns once the reload thread has exited: its sender is already gone.
    assert!(updates.has_changed().is_err(), "watch sender still alive");
    // Every sender clone lived in the watcher or its reload thread: the stream closes only
    // once that thread has exited.
    match tokio::time::timeout(PATIENCE, events.recv()).await {
        Ok(Err(broadcast::error::RecvError::Closed)) => {}
        other => panic!("expected the event stream to close, got {other:?}"),
    }
    assert!(updates.has_changed().is_err(), "watch sender still alive");
}

#[test]
fn start_fails_on_invalid_config_or_missing_directory() {
    let dir = tempdir();
    let bad = write(dir.path(), "bad.toml", "max_tokens = \"x\"\n");
    let err = Watcher::start(
        Loader::<Config>::new().file(&bad).env_source(no_env()),
        options(),
    );
    assert!(matches!(err, Err(Error::Invalid { .. })));

    let nowhere = Path::new("/definitely/not/here/synod.toml");
    let err = Watcher::start(
        Loader::<Config>::new()
            .optional_file(nowhere)
            .env_source(no_env()),
        options(),
    );
    assert!(matches!(err, Err(Error::Watch { .. })), "{err:?}");
}

#[test]
fn watch_options_builders_set_what_they_name() {
    let defaults = WatchOptions::default();
    assert_eq!(defaults.debounce, Duration::from_millis(100));
    assert_eq!(defaults.tick, None);
    assert_eq!(defaults.event_capacity, 64);
    let set = WatchOptions::default()
        .debounce(Duration::from_millis(250))
        .tick(Duration::from_millis(5));
    assert_eq!(set.debounce, Duration::from_millis(250));
    assert_eq!(set.tick, Some(Duration::from_millis(5)));
    assert_eq!(set.event_capacity, 64);
}
