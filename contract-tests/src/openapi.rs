//! The documents as the services serve them, and where they differ from a snapshot.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Every document clients rely on, by snapshot name: the five services' and the edge's.
pub fn documents() -> anyhow::Result<Vec<(String, Value)>> {
    let mut documents = Vec::new();
    for service in recommerce::edge::document::service_documents() {
        documents.push((
            service.service.to_owned(),
            serde_json::to_value(&service.document)?,
        ));
    }
    documents.push((
        "edge".to_owned(),
        serde_json::to_value(recommerce::edge::merged_openapi()?)?,
    ));
    Ok(documents)
}

/// Where the snapshot named `name` is kept.
pub fn snapshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("openapi")
        .join(format!("{name}.json"))
}

/// The document as it is committed: pretty JSON with a final newline, keys sorted (serde_json
/// keeps maps sorted), so a change shows as a small diff.
pub fn snapshot_text(document: &Value) -> anyhow::Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(document)?))
}

/// The JSON pointers at which `current` and `committed` differ (added, removed or changed),
/// at most `limit` of them, so a failure says where the API changed.
pub fn differences(committed: &Value, current: &Value, limit: usize) -> Vec<String> {
    fn walk(pointer: &str, old: &Value, new: &Value, found: &mut Vec<String>, limit: usize) {
        if found.len() >= limit || old == new {
            return;
        }
        match (old, new) {
            (Value::Object(old), Value::Object(new)) => {
                for (key, value) in old {
                    let at = format!("{pointer}/{}", escape(key));
                    match new.get(key) {
                        Some(other) => walk(&at, value, other, found, limit),
                        None => found.push(format!("removed {at}")),
                    }
                }
                for key in new.keys().filter(|key| !old.contains_key(*key)) {
                    found.push(format!("added {pointer}/{}", escape(key)));
                }
            }
            (Value::Array(old), Value::Array(new)) if old.len() == new.len() => {
                for (index, (old, new)) in old.iter().zip(new).enumerate() {
                    walk(&format!("{pointer}/{index}"), old, new, found, limit);
                }
            }
            _ => found.push(format!("changed {pointer}")),
        }
        found.truncate(limit);
    }
    fn escape(key: &str) -> String {
        key.replace('~', "~0").replace('/', "~1")
    }
    let mut found = Vec::new();
    walk("", committed, current, &mut found, limit);
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn a_renamed_field_shows_as_one_removed_and_one_added_pointer() {
        let committed = json!({"components": {"schemas": {"LockResponse": {"properties": {"quote_id": {"type": "string"}}}}}});
        let renamed = json!({"components": {"schemas": {"LockResponse": {"properties": {"quoteId": {"type": "string"}}}}}});
        assert_eq!(
            differences(&committed, &renamed, 10),
            [
                "removed /components/schemas/LockResponse/properties/quote_id",
                "added /components/schemas/LockResponse/properties/quoteId",
            ]
        );
        assert!(differences(&committed, &committed, 10).is_empty());
    }

    #[test]
    fn a_changed_value_and_a_path_with_a_slash_are_named_by_their_pointer() {
        let committed = json!({"paths": {"/v1/quotes": {"post": {"operationId": "create_quote"}}}});
        let changed = json!({"paths": {"/v1/quotes": {"post": {"operationId": "new_quote"}}}});
        assert_eq!(
            differences(&committed, &changed, 10),
            ["changed /paths/~1v1~1quotes/post/operationId"]
        );
    }
}
