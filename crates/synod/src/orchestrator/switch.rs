//! `Switch<T>`: a layer's own settings type plus an `enabled` flag, as one TOML table.
//!
//! `[breaker]` and `[budget]` in `synod.toml` are synod-resilience's `BreakerConfig` and
//! `BudgetConfig` serde forms with one more key, `enabled`; the Orchestrator keeps no copy of
//! their fields, so defaults and checks are the layer's own.
//!
//! ```
//! use synod::orchestrator::Switch;
//! use synod::resilience::BudgetConfig;
//!
//! let on: Switch<BudgetConfig> = toml::from_str("capacity = 50")?;
//! assert!(on.enabled);
//! assert_eq!(on.settings.capacity, 50);
//! let off: Switch<BudgetConfig> = toml::from_str("enabled = false")?;
//! assert!(!off.enabled);
//! let typo = toml::from_str::<Switch<BudgetConfig>>("capacty = 50").unwrap_err();
//! assert!(typo.to_string().contains("capacty"));
//! # Ok::<(), toml::de::Error>(())
//! ```

use std::borrow::Cow;

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A settings table `T` that can be turned off with `enabled = false` (default: on).
#[derive(Debug, Clone, PartialEq)]
pub struct Switch<T> {
    /// Whether the feature is on.
    pub enabled: bool,
    /// The layer's settings (used when `enabled`).
    pub settings: T,
}

impl<T: Default> Default for Switch<T> {
    fn default() -> Self {
        Self {
            enabled: true,
            settings: T::default(),
        }
    }
}

impl<T> Switch<T> {
    /// The settings when enabled.
    #[must_use]
    pub fn get(&self) -> Option<&T> {
        self.enabled.then_some(&self.settings)
    }
}

impl<T: Serialize> Serialize for Switch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut table = match serde_json::to_value(&self.settings).map_err(S::Error::custom)? {
            Value::Object(table) => table,
            other => {
                return Err(S::Error::custom(format!(
                    "a switchable setting must be a table, not {other}"
                )));
            }
        };
        table.insert("enabled".to_owned(), Value::Bool(self.enabled));
        table.serialize(serializer)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Switch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut table = Map::<String, Value>::deserialize(deserializer)?;
        let enabled = match table.remove("enabled") {
            None => true,
            Some(Value::Bool(on)) => on,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "enabled: expected true or false, found {other}"
                )));
            }
        };
        let settings = serde_path_to_error::deserialize(Value::Object(table)).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                D::Error::custom(inner)
            } else {
                D::Error::custom(format!("{path}: {inner}"))
            }
        })?;
        Ok(Self { enabled, settings })
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Switch<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Switch_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = T::json_schema(generator);
        if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            properties.insert(
                "enabled".to_owned(),
                serde_json::json!({
                    "description": "Turn this off entirely (default: on).",
                    "type": "boolean",
                    "default": true
                }),
            );
        }
        schema
    }
}

#[cfg(test)]
mod tests {
    use synod_resilience::BreakerConfig;

    use super::*;

    #[test]
    fn round_trips_and_keeps_the_layer_defaults() {
        let off: Switch<BreakerConfig> =
            toml::from_str("enabled = false\nwindow_size = 7").unwrap();
        assert!(!off.enabled);
        assert_eq!(off.settings.window_size, 7);
        assert_eq!(
            off.settings.minimum_calls,
            BreakerConfig::default().minimum_calls
        );
        assert_eq!(off.get(), None);
        let json = serde_json::to_value(&off).unwrap();
        assert_eq!(json["enabled"], Value::Bool(false));
        assert_eq!(json["window_size"], 7);
        let back: Switch<BreakerConfig> = serde_json::from_value(json).unwrap();
        assert_eq!(back, off);
    }

    #[test]
    fn names_the_bad_key_inside_the_table() {
        let err = toml::from_str::<Switch<BreakerConfig>>("wait_in_open = \"soon\"").unwrap_err();
        assert!(err.to_string().contains("wait_in_open"), "{err}");
        let err = toml::from_str::<Switch<BreakerConfig>>("enabled = \"yes\"").unwrap_err();
        assert!(
            err.to_string().contains("enabled: expected true or false"),
            "{err}"
        );
    }

    #[test]
    fn the_schema_adds_enabled_to_the_layer_schema() {
        let schema = schemars::schema_for!(Switch<BreakerConfig>);
        let props = schema.get("properties").and_then(Value::as_object).unwrap();
        assert!(props.contains_key("enabled") && props.contains_key("wait_multiplier"));
        assert_eq!(
            schema.get("additionalProperties"),
            Some(&Value::Bool(false))
        );
    }
}
