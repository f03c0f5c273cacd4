//! What the consumer and provider sides share: where the pacts live, the examples both
//! sides use, and the comparison of a freshly written pact with the committed one.

use std::path::{Path, PathBuf};

/// The committed pacts.
pub fn pacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pacts")
}

/// The committed pact between `consumer` and `provider`.
pub fn committed_pact(consumer: &str, provider: &str) -> PathBuf {
    pacts_dir().join(format!("{consumer}-{provider}.json"))
}

/// A fresh directory for a consumer test's mock server to write its pact into.
pub fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir()
        .join("recommerce-pacts")
        .join(uuid::Uuid::new_v4().to_string());
    std::fs::create_dir_all(&dir).expect("a scratch directory for the pact");
    dir
}

/// The bearer token consumers send in the pacts; providers are sent a real one instead.
pub const EXAMPLE_TOKEN: &str = "a-service-token";
pub const BEARER: &str = r"^Bearer [A-Za-z0-9._~+/=-]+$";
pub const UUID: &str = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
pub const TIMESTAMP: &str = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$";
/// The shopper the pacts' quotes are issued to.
pub const SHOPPER: &str = "shopper-1";
/// When the pacts' orders were accepted: quotes in provider states are valid then.
pub const ACCEPTED_AT: &str = "2026-11-30T10:00:00Z";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Compares the pact a consumer test wrote into `scratch` with the committed one, or
/// replaces the committed one when `UPDATE_PACTS=1`. A difference fails with both files'
/// paths, so the change is reviewed as a diff of the committed file.
pub fn assert_pact_is_committed(scratch: &Path, consumer: &str, provider: &str) {
    let file = format!("{consumer}-{provider}.json");
    let written = std::fs::read_to_string(scratch.join(&file))
        .unwrap_or_else(|error| panic!("the mock server wrote no {file}: {error}"));
    let written: serde_json::Value = serde_json::from_str(&written).expect("a JSON pact");
    let committed_path = committed_pact(consumer, provider);
    if std::env::var("UPDATE_PACTS").is_ok_and(|value| value == "1") {
        let text = serde_json::to_string_pretty(&written).expect("the pact serializes") + "\n";
        std::fs::write(&committed_path, text).expect("the committed pact is writable");
        return;
    }
    let committed: serde_json::Value = std::fs::read_to_string(&committed_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(serde_json::Value::Null);
    assert!(
        written == committed,
        "the {consumer} → {provider} pact changed: {} differs from the committed {}; \
         review the difference and run `UPDATE_PACTS=1 cargo test -p contract-tests --test pacts`",
        scratch.join(&file).display(),
        committed_path.display()
    );
}

/// A fresh database of the service `label`, migrated by `M`.
pub async fn migrated<M: sea_orm_migration::MigratorTrait>(
    label: &str,
) -> sea_orm::DatabaseConnection {
    let url = platform::testing::fresh_database(label).await;
    let db = sea_orm::Database::connect(&url)
        .await
        .expect("the fresh database");
    M::up(&db, None).await.expect("the migrations run");
    db
}
