//! One circuit breaker per key (per agent, per endpoint), created on first use from a shared
//! config.
//!
//! ```
//! use synod_resilience::{BreakerConfig, BreakerState, Registry};
//!
//! let registry: Registry<String> = Registry::new(BreakerConfig::default())?;
//! let claude = registry.get("claude");
//! let again = registry.get("claude");
//! assert_eq!(claude.name(), again.name()); // same breaker, shared state
//! assert_eq!(registry.len(), 1);
//! assert_eq!(registry.metrics()[0].1.state, BreakerState::Closed);
//! # Ok::<(), synod_resilience::Error>(())
//! ```

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

use crate::{BreakerConfig, BreakerMetrics, CircuitBreaker, Result, StateChange};

type KeyListener<K> = Arc<dyn Fn(&K, StateChange) + Send + Sync>;

struct Inner<K> {
    config: BreakerConfig,
    breakers: RwLock<HashMap<K, CircuitBreaker>>,
    listener: RwLock<Option<KeyListener<K>>>,
}

/// Breakers by key; clones share the same breakers.
pub struct Registry<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for Registry<K> {
    fn clone(&self) -> Self {
        Registry {
            inner: self.inner.clone(),
        }
    }
}

impl<K: fmt::Debug> fmt::Debug for Registry<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self
            .inner
            .breakers
            .read()
            .map(|m| m.keys().map(|k| format!("{k:?}")).collect())
            .unwrap_or_default();
        f.debug_struct("Registry")
            .field("config", &self.inner.config)
            .field("keys", &keys)
            .finish()
    }
}

impl<K> Registry<K>
where
    K: Eq + Hash + Clone + fmt::Display + Send + Sync + 'static,
{
    /// An empty registry whose breakers will use `config` (validated once, here).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) when the config is invalid.
    pub fn new(config: BreakerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Registry {
            inner: Arc::new(Inner {
                config,
                breakers: RwLock::new(HashMap::new()),
                listener: RwLock::new(None),
            }),
        })
    }

    /// The breaker for `key`, created (named after the key) on first use. Takes any borrowed
    /// form of the key: `registry.get("claude")` for a `Registry<String>`.
    #[must_use]
    pub fn get<Q>(&self, key: &Q) -> CircuitBreaker
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Ok(map) = self.inner.breakers.read()
            && let Some(b) = map.get(key)
        {
            return b.clone();
        }
        let mut map = match self.inner.breakers.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        let key = key.to_owned();
        if let Some(b) = map.get::<K>(&key) {
            return b.clone();
        }
        let breaker = CircuitBreaker::from_valid(key.to_string().into(), self.inner.config.clone());
        self.attach(&key, &breaker);
        map.insert(key, breaker.clone());
        breaker
    }

    fn attach(&self, key: &K, breaker: &CircuitBreaker) {
        let listener = self.inner.listener.read().ok().and_then(|l| l.clone());
        if let Some(listener) = listener {
            let key = key.clone();
            breaker.on_state_change(move |change| listener(&key, change));
        }
    }

    /// Calls `listener(key, change)` on every state change of every breaker, present and
    /// future (replacing previous listeners).
    pub fn on_state_change(&self, listener: impl Fn(&K, StateChange) + Send + Sync + 'static) {
        let listener: KeyListener<K> = Arc::new(listener);
        if let Ok(mut slot) = self.inner.listener.write() {
            *slot = Some(listener);
        }
        if let Ok(map) = self.inner.breakers.read() {
            for (key, breaker) in map.iter() {
                self.attach(key, breaker);
            }
        }
    }

    /// The shared config.
    #[must_use]
    pub fn config(&self) -> &BreakerConfig {
        &self.inner.config
    }

    /// Number of breakers created so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.breakers.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no breaker was created yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A metrics snapshot of every breaker (for health checks), in no particular order.
    #[must_use]
    pub fn metrics(&self) -> Vec<(K, BreakerMetrics)> {
        self.inner
            .breakers
            .read()
            .map(|m| m.iter().map(|(k, b)| (k.clone(), b.metrics())).collect())
            .unwrap_or_default()
    }
}
