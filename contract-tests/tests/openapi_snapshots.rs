//! Each service's OpenAPI document, and the edge's merged one, equals its committed snapshot
//! under `contract-tests/openapi/`: an API change is always a visible diff in review. After
//! a deliberate change, refresh them with `UPDATE_SNAPSHOTS=1 cargo test -p contract-tests`
//! and commit the diff with the change.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use contract_tests::openapi::{differences, documents, snapshot_path, snapshot_text};

#[test]
fn every_document_equals_its_committed_snapshot() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut stale = Vec::new();
    for (name, document) in documents().expect("the documents build") {
        let path = snapshot_path(&name);
        let text = snapshot_text(&document).unwrap();
        if update {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let Ok(committed) = std::fs::read_to_string(&path) else {
            stale.push(format!("{name}: no snapshot at {}", path.display()));
            continue;
        };
        if committed != text {
            let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
            let changes = differences(&committed, &document, 15).join("\n    ");
            stale.push(format!("{name} changed:\n    {changes}"));
        }
    }
    assert!(
        stale.is_empty(),
        "the API changed without its snapshot; if deliberate, run \
         `UPDATE_SNAPSHOTS=1 cargo test -p contract-tests` and commit the diff:\n{}",
        stale.join("\n")
    );
}

#[test]
fn there_is_one_snapshot_per_document_and_no_stale_extra() {
    let names: Vec<String> = documents()
        .unwrap()
        .into_iter()
        .map(|(name, _)| format!("{name}.json"))
        .collect();
    let mut committed: Vec<String> = std::fs::read_dir(snapshot_path("x").parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    committed.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(committed, expected);
}
