//! What a `Secret` prints, what it hands back, and how it (and `HumanDuration`) appear in a
//! generated JSON Schema.

use synod_core::{REDACTED, Secret};

#[test]
fn a_secret_prints_only_the_redaction_marker() {
    let key = Secret::from("sk-live-123");
    assert_eq!(format!("{key:?}"), "Secret([redacted])");
    assert_eq!(format!("{key}"), REDACTED);
    assert_eq!(format!("{:?}", Some(&key)), "Some(Secret([redacted]))");
    let number = Secret::<u64>::new(42_u64);
    assert_eq!(
        format!("{number:?} {number}"),
        "Secret([redacted]) [redacted]"
    );
}

#[test]
fn expose_inner_hands_back_the_whole_value() {
    let token = Secret::<Vec<u8>>::new(vec![1_u8, 2, 3]);
    assert_eq!(token.expose_inner(), &vec![1_u8, 2, 3]);
    assert_eq!(token.expose(), &[1_u8, 2, 3][..]);
    let text = Secret::from(String::from("gho_abc"));
    assert_eq!(text.expose_inner(), "gho_abc");
    assert_eq!(text.into_inner(), "gho_abc");
}

#[cfg(feature = "schemars")]
mod schema {
    use serde_json::json;
    use synod_core::secret::SECRET_KEYWORD;
    use synod_core::{HumanDuration, Secret};

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code, reason = "only the schema of the struct is read")]
    struct Login {
        token: Secret<String>,
        timeout: HumanDuration,
    }

    #[test]
    fn a_secret_field_is_inlined_and_marked_write_only_and_secret() {
        let schema = schemars::schema_for!(Login).to_value();
        let token = &schema["properties"]["token"];
        assert_eq!(token["type"], json!("string"), "{schema}");
        assert_eq!(token["writeOnly"], json!(true), "{schema}");
        assert_eq!(token[SECRET_KEYWORD], json!(true), "{schema}");
        assert!(
            schema.get("$defs").is_none(),
            "inlined, no definitions: {schema}"
        );
    }

    #[test]
    fn a_duration_field_is_inlined_as_a_string_or_number_of_seconds() {
        let schema = schemars::schema_for!(Login).to_value();
        let timeout = &schema["properties"]["timeout"];
        assert_eq!(timeout["type"], json!(["string", "number"]), "{schema}");
        let description = timeout["description"].as_str().unwrap_or_default();
        assert!(description.contains("3650 days"), "{schema}");
        assert!(timeout.get("$ref").is_none(), "{schema}");
    }

    #[test]
    fn standalone_schemas_are_titled_by_the_type_name() {
        let duration = schemars::schema_for!(HumanDuration).to_value();
        assert_eq!(duration["title"], json!("HumanDuration"), "{duration}");
        let secret = schemars::schema_for!(Secret<String>).to_value();
        assert_eq!(secret["title"], json!("Secret_string"), "{secret}");
        assert_eq!(secret["writeOnly"], json!(true), "{secret}");
    }
}
