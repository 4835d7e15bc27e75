//! The one shape of machine output (`--json`, `--format json`, MCP tool results), documented in
//! docs/json.md: an object whose first field is `version`, RFC 3339 UTC timestamps, explicit nulls.
//!
//! Commands serialize their report types as they are; this module applies the convention in one
//! place so that no command (or a new one) can drift from it: points in time arrive here as epoch
//! seconds in a field named `at`/`*_at` or epoch milliseconds in `at_ms`/`*_at_ms`, and leave as
//! `at`/`*_at` RFC 3339 strings. Durations stay integers with their unit in the name (`*_ms`).

use serde_json::{Map, Value};

/// The version of the JSON convention; bumped only on an incompatible change of a shape.
pub const VERSION: u64 = 1;

/// `value` as a versioned JSON document: `version` first (the report's own `version` field if it
/// has one, else [`VERSION`]). A value that is not an object (a bare list) is wrapped as
/// `{"version": 1, "items": [...]}` so that every document is an object.
pub fn document<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Value> {
    let value = normalize(serde_json::to_value(value)?);
    let mut body = match value {
        Value::Object(map) => map,
        other => {
            let mut map = Map::new();
            map.insert("items".to_owned(), other);
            map
        }
    };
    // `version` comes first; a report that versions its own shape keeps its number. `shift_remove`
    // keeps the order of the other fields (`remove` would move the last one into its place).
    let mut map = Map::new();
    let version = body.shift_remove("version").unwrap_or(Value::from(VERSION));
    map.insert("version".to_owned(), version);
    map.extend(body);
    Ok(Value::Object(map))
}

/// [`document`] rendered pretty (what `--json` prints).
pub fn to_string_pretty<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&document(value)?)
}

/// [`document`] on one line (JSON Lines: `events --follow --json`).
pub fn to_line<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    serde_json::to_string(&document(value)?)
}

/// Rewrite timestamps (recursively) to RFC 3339; everything else is kept.
fn normalize(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, v) in map {
                let (key, v) = timestamp(key, v);
                out.insert(key, normalize(v));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

fn timestamp(key: String, v: Value) -> (String, Value) {
    let is_ms = key == "at_ms" || key.ends_with("_at_ms");
    let is_secs = key == "at" || key.ends_with("_at");
    match (&v, is_ms, is_secs) {
        (Value::Number(n), true, _) => match n.as_i64() {
            Some(ms) => (
                key.trim_end_matches("_ms").to_owned(),
                Value::from(droidforge::util::time::rfc3339_ms(ms)),
            ),
            None => (key, v),
        },
        (Value::Null, true, _) => (key.trim_end_matches("_ms").to_owned(), Value::Null),
        (Value::Number(n), _, true) => match n.as_i64() {
            Some(secs) => (key, Value::from(droidforge::util::time::rfc3339(secs))),
            None => (key, v),
        },
        _ => (key, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_are_versioned_objects_with_rfc3339_times() {
        let doc = document(&json!({
            "at_ms": 1_796_009_399_000i64,
            "expires_at": 1_796_009_399,
            "ended_at_ms": null,
            "elapsed_ms": 4800,
            "rows": [{ "started_at": 0 }],
        }))
        .unwrap();
        assert_eq!(
            doc,
            json!({
                "version": 1,
                "at": "2026-11-30T03:29:59Z",
                "expires_at": "2026-11-30T03:29:59Z",
                "ended_at": null,
                "elapsed_ms": 4800,
                "rows": [{ "started_at": "1970-01-01T00:00:00Z" }],
            })
        );
    }

    /// A report with its own `version` field (guard, plan, spawn) had its last field moved into
    /// the place of `version` (`Map::remove` is a swap-remove with `preserve_order`).
    #[test]
    fn own_version_moved_the_last_field_out_of_order() {
        #[derive(serde::Serialize)]
        struct Report {
            droid: &'static str,
            version: u32,
            source: &'static str,
            paths: Vec<u8>,
        }
        let doc = document(&Report {
            droid: "a",
            version: 2,
            source: "edit",
            paths: vec![],
        })
        .unwrap();
        let keys: Vec<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["version", "droid", "source", "paths"]);
        assert_eq!(doc["version"], 2);
    }

    #[test]
    fn a_bare_list_becomes_an_object_with_items() {
        assert_eq!(
            document(&[1, 2]).unwrap(),
            json!({ "version": 1, "items": [1, 2] })
        );
    }
}
