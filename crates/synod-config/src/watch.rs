//! [`Watcher`]: hot reload that never applies a bad edit.
//!
//! The watcher watches the parent directory of every file layer (so saves by rename,
//! delete-then-create and optional files that appear later are all seen), debounces events,
//! reloads and validates on its own thread, and swaps the new value in atomically. Readers call
//! [`Watcher::current`] (lock-free), subscribers use [`Watcher::subscribe`] (a
//! `tokio::sync::watch` of `Arc<T>`) or [`Watcher::events`] (every [`ReloadEvent`]).
//!
//! ```
//! use std::time::Duration;
//! use serde::{Deserialize, Serialize};
//! use synod_config::{JsonSchema, Loader, ReloadEvent, WatchOptions, Watcher};
//!
//! #[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
//! #[serde(default)]
//! struct Config {
//!     workers: u32,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("synod.toml");
//! std::fs::write(&file, "workers = 1\n")?;
//!
//! let loader = Loader::<Config>::new().file(&file).env_source::<_, String, String>([]);
//! let watcher = Watcher::start(loader, WatchOptions::default().debounce(Duration::from_millis(50)))?;
//! let mut events = watcher.events();
//! assert_eq!(watcher.current().workers, 1);
//!
//! std::fs::write(&file, "workers = 4\n")?;
//! let event = tokio::time::timeout(Duration::from_secs(10), events.recv()).await??;
//! assert!(matches!(event, ReloadEvent::Applied { .. }));
//! assert_eq!(watcher.current().workers, 4);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{
    DebounceEventResult, Debouncer, RecommendedCache, new_debouncer, notify,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, watch};

use crate::error::{Error, Result};
use crate::loader::{Loaded, Loader};

/// Watcher settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchOptions {
    /// Quiet time after the last file event before reloading (default 100 ms).
    pub debounce: Duration,
    /// How often the debouncer checks for quiet files. `None` (default) uses a twentieth of
    /// `debounce` (at least 1 ms), so the reload starts within about 5% of the debounce
    /// (notify's own default of a quarter adds up to 25%).
    pub tick: Option<Duration>,
    /// How many undelivered [`ReloadEvent`]s a slow [`Watcher::events`] receiver may lag
    /// behind before it misses some (default 64).
    pub event_capacity: usize,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            debounce: Duration::from_millis(100),
            tick: None,
            event_capacity: 64,
        }
    }
}

impl WatchOptions {
    /// Sets the debounce.
    #[must_use]
    pub fn debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// Sets the debouncer tick explicitly (must not exceed the debounce).
    #[must_use]
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = Some(tick);
        self
    }

    fn effective_tick(&self) -> Duration {
        self.tick
            .unwrap_or_else(|| (self.debounce / 20).max(Duration::from_millis(1)))
            .min(self.debounce)
    }
}

/// What happened after a change to a watched file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ReloadEvent {
    /// The new configuration is valid and now current.
    Applied {
        /// Dotted keys whose values changed.
        changed_keys: Vec<String>,
    },
    /// The new configuration was rejected; the last good one stays current.
    Rejected {
        /// Why (parse error with file:line:column, every violation, missing file, ...).
        error: Arc<Error>,
    },
    /// The file watcher itself reported a problem (events may have been missed).
    WatchError {
        /// notify's message.
        message: String,
    },
}

/// Watches a [`Loader`]'s files and keeps the newest valid configuration current.
/// Dropping it stops its threads.
pub struct Watcher<T> {
    current: Arc<ArcSwap<T>>,
    updates: watch::Sender<Arc<T>>,
    events: broadcast::Sender<ReloadEvent>,
    debouncer: Option<Debouncer<notify::RecommendedWatcher, RecommendedCache>>,
    reloader: Option<JoinHandle<()>>,
}

impl<T> std::fmt::Debug for Watcher<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

/// A watched file: its absolute path plus its canonical parent and name, to match events that
/// report the directory through a different spelling.
struct Target {
    path: PathBuf,
    parent: PathBuf,
    name: std::ffi::OsString,
}

impl Target {
    fn matches(&self, p: &Path) -> bool {
        if p == self.path {
            return true;
        }
        p.file_name() == Some(self.name.as_os_str())
            && p.parent()
                .and_then(|d| d.canonicalize().ok())
                .is_some_and(|d| d == self.parent)
    }
}

impl<T> Watcher<T>
where
    T: DeserializeOwned + Serialize + Default + JsonSchema + Send + Sync + 'static,
{
    /// Loads once (failing if the configuration is invalid now), then starts watching.
    ///
    /// # Errors
    /// Any [`Loader::load`] error, or [`Error::Watch`] when a file's directory cannot be
    /// watched (it must exist).
    pub fn start(loader: Loader<T>, options: WatchOptions) -> Result<Self> {
        let first = loader.load()?;
        let mut targets = Vec::new();
        let mut dirs = BTreeSet::new();
        for file in loader.files() {
            let path = std::path::absolute(file).map_err(|e| Error::Watch {
                path: file.to_owned(),
                message: e.to_string(),
            })?;
            let dir = path.parent().unwrap_or(Path::new("/")).to_owned();
            let parent = dir.canonicalize().map_err(|e| Error::Watch {
                path: dir.clone(),
                message: format!("{e}; the directory of a config file must exist"),
            })?;
            let name = path.file_name().map(ToOwned::to_owned).unwrap_or_default();
            dirs.insert(dir);
            targets.push(Target { path, parent, name });
        }

        let (raw_tx, raw_rx) = mpsc::channel::<DebounceEventResult>();
        let mut debouncer = new_debouncer(
            options.debounce,
            Some(options.effective_tick()),
            move |result: DebounceEventResult| {
                // The receiver is gone only while the watcher is being dropped.
                let _ = raw_tx.send(result);
            },
        )
        .map_err(|e| Error::Watch {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        for dir in &dirs {
            debouncer
                .watch(dir, RecursiveMode::NonRecursive)
                .map_err(|e| Error::Watch {
                    path: dir.clone(),
                    message: e.to_string(),
                })?;
            tracing::debug!(dir = %dir.display(), "watching config directory");
        }

        let (value, last) = first.split();
        let value = Arc::new(value);
        let current = Arc::new(ArcSwap::new(value.clone()));
        let (updates, _) = watch::channel(value);
        let (events, _) = broadcast::channel(options.event_capacity.max(1));

        let state = Reloader {
            loader,
            targets,
            current: current.clone(),
            updates: updates.clone(),
            events: events.clone(),
            last,
        };
        let reloader = std::thread::Builder::new()
            .name("synod-config-reload".into())
            .spawn(move || state.run(&raw_rx))
            .map_err(|e| Error::Watch {
                path: PathBuf::new(),
                message: format!("cannot start the reload thread: {e}"),
            })?;

        Ok(Watcher {
            current,
            updates,
            events,
            debouncer: Some(debouncer),
            reloader: Some(reloader),
        })
    }
}

impl<T> Watcher<T> {
    /// The current configuration (lock-free).
    #[must_use]
    pub fn current(&self) -> Arc<T> {
        self.current.load_full()
    }

    /// A receiver that always holds the current configuration and wakes on every change.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<Arc<T>> {
        self.updates.subscribe()
    }

    /// A receiver of every reload outcome from now on.
    #[must_use]
    pub fn events(&self) -> broadcast::Receiver<ReloadEvent> {
        self.events.subscribe()
    }
}

impl<T> Drop for Watcher<T> {
    fn drop(&mut self) {
        // Stopping the debouncer ends its thread, which drops the channel sender; the reload
        // thread then sees the channel close and exits.
        if let Some(debouncer) = self.debouncer.take() {
            debouncer.stop();
        }
        if let Some(reloader) = self.reloader.take() {
            let _ = reloader.join();
        }
    }
}

struct Reloader<T> {
    loader: Loader<T>,
    targets: Vec<Target>,
    current: Arc<ArcSwap<T>>,
    updates: watch::Sender<Arc<T>>,
    events: broadcast::Sender<ReloadEvent>,
    last: Loaded<()>,
}

impl<T> Reloader<T>
where
    T: DeserializeOwned + Serialize + Default + JsonSchema + Send + Sync + 'static,
{
    fn run(mut self, rx: &mpsc::Receiver<DebounceEventResult>) {
        while let Ok(result) = rx.recv() {
            match result {
                Ok(events) => {
                    let relevant = events.iter().any(|e| {
                        !matches!(e.kind, EventKind::Access(a) if a != AccessKind::Close(AccessMode::Write))
                            && e.paths.iter().any(|p| self.targets.iter().any(|t| t.matches(p)))
                    });
                    if relevant {
                        self.reload();
                    }
                }
                Err(errors) => {
                    for e in errors {
                        tracing::warn!(error = %e, "config watch error");
                        let _ = self.events.send(ReloadEvent::WatchError {
                            message: e.to_string(),
                        });
                    }
                }
            }
        }
        tracing::debug!("config reload thread stopped");
    }

    fn reload(&mut self) {
        let _span = tracing::info_span!("config.reload").entered();
        // An empty file is a save caught between truncate and write: never apply the defaults
        // it would mean; the write's own event brings the real content.
        if let Some(t) = self
            .targets
            .iter()
            .find(|t| std::fs::metadata(&t.path).is_ok_and(|m| m.is_file() && m.len() == 0))
        {
            let error = Error::EmptyFile {
                path: t.path.clone(),
            };
            tracing::debug!(%error, "config change deferred");
            let _ = self.events.send(ReloadEvent::Rejected {
                error: Arc::new(error),
            });
            return;
        }
        match self.loader.load() {
            Ok(loaded) => {
                let changed_keys = self.last.changed_keys(&loaded);
                if changed_keys.is_empty() {
                    tracing::debug!("config files changed but the configuration did not");
                    return;
                }
                let (value, rest) = loaded.split();
                let value = Arc::new(value);
                self.current.store(value.clone());
                self.updates.send_replace(value);
                self.last = rest;
                tracing::info!(changed = changed_keys.len(), "config reloaded");
                let _ = self.events.send(ReloadEvent::Applied { changed_keys });
            }
            Err(error) => {
                tracing::warn!(%error, "config change rejected; keeping the last good configuration");
                let _ = self.events.send(ReloadEvent::Rejected {
                    error: Arc::new(error),
                });
            }
        }
    }
}
