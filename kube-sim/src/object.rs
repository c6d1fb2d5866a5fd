//! What every stored object has in common: its name, labels and metadata as JSON, the time
//! stamps Kubernetes writes, `generateName` suffixes, and a Secret's `stringData` folded into
//! `data` as an API server stores it.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The current time as Kubernetes writes it (RFC 3339, whole seconds, UTC).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

/// `object.metadata` as a map, created when missing.
pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    let root = ensure_object(object);
    ensure_object(root.entry("metadata").or_insert_with(|| json!({})))
}

fn ensure_object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("the value was made an object just above"),
    }
}

/// Five lowercase characters for `generateName`, derived from a counter (stable in tests).
pub(crate) fn short_suffix(seed: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// A Secret's `stringData` goes into `data` (base64), as an API server stores it: it is a
/// write-only convenience and never comes back.
pub(crate) fn fold_string_data(object: &mut Value) {
    if object["kind"] != "Secret" || object.get("stringData").is_none() {
        return;
    }
    let Ok(mut secret) =
        serde_json::from_value::<k8s_openapi::api::core::v1::Secret>(object.clone())
    else {
        return;
    };
    let written = secret.string_data.take().unwrap_or_default();
    let data = secret.data.get_or_insert_default();
    for (key, value) in written {
        data.insert(key, k8s_openapi::ByteString(value.into_bytes()));
    }
    if let Ok(folded) = serde_json::to_value(secret) {
        *object = folded;
    }
}
