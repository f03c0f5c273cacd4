//! Contracts between the services and their consumers, pinned in the repository so that a
//! change to one is a visible diff in review rather than a surprise in production.
//!
//! - [`openapi`]: each service's generated OpenAPI document and the edge's merged one,
//!   committed under `contract-tests/openapi/`; a test fails when a document changes and
//!   its snapshot was not refreshed (`UPDATE_SNAPSHOTS=1`).
//! - `tests/pacts/`: consumer-driven HTTP contracts. Each consumer's real client writes a
//!   Pact file against a mock server (it must equal the committed `contract-tests/pacts/`
//!   file); each provider's real app is verified against the committed files.
//! - `check_protos.sh`: `buf lint` and `buf breaking` (wire and JSON compatibility) of
//!   `proto/` against the committed baseline image `contract-tests/proto/baseline.binpb`.

pub mod openapi;
