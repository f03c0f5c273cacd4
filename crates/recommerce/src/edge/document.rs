//! The edge's OpenAPI document. Clients are told to use the edge, so its document describes
//! every API it routes — and only those: each service's own document, built from the same
//! routes the service serves (the crates are linked into this binary), keeps the paths the
//! edge forwards to that service and drops its health, metrics and docs, which the edge
//! never routes. Merging must not hide anything: operationIds get their service's name in
//! front (every consuming service has the same dead-letter operations), and a component
//! two services define differently is renamed in each of them rather than one silently
//! replacing the other.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use utoipa::openapi::OpenApi;

use super::{Upstream, route};

/// One service's document, with who it is.
pub struct ServiceDocument {
    /// The service's name (`partner-portal`): the prefix of its operationIds and tags.
    pub service: &'static str,
    /// Where the edge sends the service's paths; a path the edge sends elsewhere is dropped.
    pub upstream: Upstream,
    pub document: OpenApi,
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("operationId `{id}` is both {first} and {second}")]
    DuplicateOperationId {
        id: String,
        first: String,
        second: String,
    },
    #[error(
        "components.{kind}.{name} is defined differently by {services:?} and cannot be renamed"
    )]
    ComponentClash {
        kind: String,
        name: String,
        services: Vec<String>,
    },
    #[error("the merged document is not an OpenAPI document to utoipa: {0}")]
    Unrepresentable(#[from] serde_json::Error),
    #[error("utoipa loses part of the merged document when it reads it")]
    Lossy,
}

/// The six services' documents, built from their routes as each service builds its own.
pub fn service_documents() -> Vec<ServiceDocument> {
    let named =
        |upstream, manifest: &'static platform::service::Manifest, document| ServiceDocument {
            service: manifest.name(),
            upstream,
            document,
        };
    vec![
        named(
            Upstream::Catalog,
            catalog::startup::MANIFEST,
            catalog::startup::MANIFEST.document(|cfg, _| catalog::routes::configure(cfg)),
        ),
        named(
            Upstream::Quote,
            quote_service::startup::MANIFEST,
            quote_service::startup::MANIFEST
                .document(|cfg, _| quote_service::routes::configure(cfg)),
        ),
        named(
            Upstream::Order,
            order::startup::MANIFEST,
            order::startup::MANIFEST.document(order::routes::configure),
        ),
        named(
            Upstream::Fulfilment,
            fulfilment::startup::MANIFEST,
            fulfilment::startup::MANIFEST.document(fulfilment::routes::configure),
        ),
        named(
            Upstream::Portal,
            partner_portal::startup::MANIFEST,
            partner_portal::startup::MANIFEST.document(partner_portal::routes::configure),
        ),
        named(
            Upstream::Reporting,
            reporting::startup::MANIFEST,
            reporting::startup::MANIFEST.document(reporting::routes::configure),
        ),
    ]
}

/// The edge's document: `skeleton` (its title, security schemes) with the routed paths and
/// the components of `services`.
pub fn merge(skeleton: OpenApi, services: Vec<ServiceDocument>) -> Result<OpenApi, MergeError> {
    let mut merged = serde_json::to_value(skeleton)?;
    let mut documents = Vec::new();
    for service in services {
        let mut document = serde_json::to_value(&service.document)?;
        keep_routed_paths(&mut document, service.upstream);
        documents.push((service.service.to_owned(), document));
    }
    rename_clashing_components(&merged, &mut documents)?;
    let mut paths = Map::new();
    let mut components: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    add_components(&mut components, &mut merged, "the edge")?;
    let mut operation_ids: BTreeMap<String, String> = BTreeMap::new();
    for (service, mut document) in documents {
        for (path, method, operation) in operations(&mut document) {
            name_after_service(operation, &service);
            if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                let at = format!("{method} {path}");
                if let Some(first) = operation_ids.insert(id.to_owned(), at.clone()) {
                    return Err(MergeError::DuplicateOperationId {
                        id: id.to_owned(),
                        first,
                        second: at,
                    });
                }
            }
            document_edge_answers(operation);
        }
        if let Some(Value::Object(own)) = document.get_mut("paths").map(Value::take) {
            paths.extend(own);
        }
        add_components(&mut components, &mut document, &service)?;
    }
    if let Value::Object(top) = &mut merged {
        top.insert("paths".to_owned(), Value::Object(paths));
        let components = components
            .into_iter()
            .map(|(kind, entries)| (kind, Value::Object(entries)))
            .collect();
        top.insert("components".to_owned(), Value::Object(components));
    }
    let api: OpenApi = serde_json::from_value(merged.clone())?;
    if serde_json::to_value(&api)? != merged {
        return Err(MergeError::Lossy);
    }
    Ok(api)
}

/// Moves `document`'s components into `merged`; the same name must mean the same thing
/// (clashes were renamed before).
fn add_components(
    merged: &mut BTreeMap<String, Map<String, Value>>,
    document: &mut Value,
    service: &str,
) -> Result<(), MergeError> {
    let Some(Value::Object(components)) = document.get_mut("components").map(Value::take) else {
        return Ok(());
    };
    for (kind, entries) in components {
        let Value::Object(entries) = entries else {
            continue;
        };
        let merged_kind = merged.entry(kind.clone()).or_default();
        for (name, definition) in entries {
            match merged_kind.get(&name) {
                Some(existing) if *existing != definition => {
                    return Err(MergeError::ComponentClash {
                        kind,
                        name,
                        services: vec![service.to_owned()],
                    });
                }
                Some(_) => {}
                None => {
                    merged_kind.insert(name, definition);
                }
            }
        }
    }
    Ok(())
}

/// Drops every path the edge does not send to `upstream`: health, metrics, the docs, and
/// anything the service serves under a prefix that is not its own.
fn keep_routed_paths(document: &mut Value, upstream: Upstream) {
    if let Some(Value::Object(paths)) = document.get_mut("paths") {
        paths.retain(|path, _| route(path) == Some(upstream));
    }
}

/// One definition of a component: by the edge's skeleton (`None`) or the document at an
/// index.
type Definition = (Option<usize>, Value);

/// Components of the same kind and name that two documents (or a document and the edge's
/// skeleton) define differently get the service's name in front, in every service that
/// defines them, with every reference rewritten. Security schemes are referenced by name,
/// not by `$ref`, so a clash there cannot be renamed away and is an error.
fn rename_clashing_components(
    skeleton: &Value,
    documents: &mut [(String, Value)],
) -> Result<(), MergeError> {
    let mut definitions: BTreeMap<(String, String), Vec<Definition>> = BTreeMap::new();
    let sources = std::iter::once((None, skeleton)).chain(
        documents
            .iter()
            .enumerate()
            .map(|(index, (_, document))| (Some(index), document)),
    );
    for (source, document) in sources {
        if let Some(Value::Object(components)) = document.get("components") {
            for (kind, entries) in components {
                for (name, definition) in entries.as_object().into_iter().flatten() {
                    definitions
                        .entry((kind.clone(), name.clone()))
                        .or_default()
                        .push((source, definition.clone()));
                }
            }
        }
    }
    for ((kind, name), defined) in definitions {
        let distinct: BTreeSet<String> =
            defined.iter().map(|(_, value)| value.to_string()).collect();
        if distinct.len() < 2 {
            continue;
        }
        let services: Vec<String> = defined
            .iter()
            .map(|(source, _)| match source {
                Some(index) => documents[*index].0.clone(),
                None => "the edge".to_owned(),
            })
            .collect();
        let renamable =
            kind != "securitySchemes" && defined.iter().all(|(source, _)| source.is_some());
        if !renamable {
            return Err(MergeError::ComponentClash {
                kind,
                name,
                services,
            });
        }
        for (source, _) in defined {
            let Some(index) = source else { continue };
            let (service, document) = &mut documents[index];
            let renamed = format!("{}{name}", pascal_case(service));
            rename_component(document, &kind, &name, &renamed);
        }
    }
    Ok(())
}

fn rename_component(document: &mut Value, kind: &str, from: &str, to: &str) {
    if let Some(Value::Object(entries)) = document
        .get_mut("components")
        .and_then(|components| components.get_mut(kind))
        && let Some(definition) = entries.remove(from)
    {
        entries.insert(to.to_owned(), definition);
    }
    let reference = format!("#/components/{kind}/{from}");
    let renamed = Value::String(format!("#/components/{kind}/{to}"));
    rewrite_references(document, &reference, &renamed);
}

fn rewrite_references(value: &mut Value, reference: &str, renamed: &Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "$ref" && value.as_str() == Some(reference) {
                    *value = renamed.clone();
                } else {
                    rewrite_references(value, reference, renamed);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite_references(item, reference, renamed)),
        _ => {}
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation of `document`, with its path and method.
fn operations(document: &mut Value) -> Vec<(String, &'static str, &mut Map<String, Value>)> {
    let mut found = Vec::new();
    if let Some(Value::Object(paths)) = document.get_mut("paths") {
        for (path, item) in paths.iter_mut() {
            let Value::Object(item) = item else { continue };
            for (method, operation) in item.iter_mut() {
                let known = METHODS.iter().find(|known| **known == method.as_str());
                if let (Some(method), Value::Object(operation)) = (known, operation) {
                    found.push((path.clone(), *method, operation));
                }
            }
        }
    }
    found
}

/// `list_jobs` of the partner portal becomes `partner_portal_list_jobs`, its tag `jobs`
/// becomes `partner-portal: jobs`: two services' operations never share an id, and the docs
/// page groups them by service.
fn name_after_service(operation: &mut Map<String, Value>, service: &str) {
    let prefix = service.replace('-', "_");
    if let Some(Value::String(id)) = operation.get_mut("operationId") {
        *id = format!("{prefix}_{id}");
    }
    // A response's links name operations of the same service: they follow the rename.
    if let Some(Value::Object(responses)) = operation.get_mut("responses") {
        for response in responses.values_mut() {
            if let Some(Value::Object(links)) = response.get_mut("links") {
                for link in links.values_mut() {
                    if let Some(Value::String(id)) = link.get_mut("operationId") {
                        *id = format!("{prefix}_{id}");
                    }
                }
            }
        }
    }
    if let Some(Value::Array(tags)) = operation.get_mut("tags") {
        for tag in tags.iter_mut() {
            if let Value::String(tag) = tag {
                *tag = format!("{service}: {tag}");
            }
        }
    }
}

/// What the edge itself may answer for any forwarded operation.
fn document_edge_answers(operation: &mut Map<String, Value>) {
    let problem = |description: &str| {
        serde_json::json!({
            "description": description,
            "content": {
                (platform::error::PROBLEM_CONTENT_TYPE): {
                    "schema": { "$ref": "#/components/schemas/Problem" }
                }
            }
        })
    };
    let Value::Object(responses) = operation
        .entry("responses")
        .or_insert_with(|| Value::Object(Map::new()))
    else {
        return;
    };
    for (status, description) in [
        (
            "502",
            "The service behind this path is not answering (`upstream_unavailable`, from the edge)",
        ),
        (
            "504",
            "The service behind this path did not answer in time (`upstream_timeout`, from the edge)",
        ),
    ] {
        responses
            .entry(status)
            .or_insert_with(|| problem(description));
    }
}

fn pascal_case(service: &str) -> String {
    service
        .split(['-', '_'])
        .map(|word| {
            let mut letters = word.chars();
            letters
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + letters.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::schema::{ObjectBuilder, Ref, Type};
    use utoipa::openapi::{ComponentsBuilder, OpenApiBuilder, ResponseBuilder};

    fn edge_document() -> Value {
        let merged = merge(
            platform::http::openapi_skeleton("recommerce", "test"),
            service_documents(),
        );
        serde_json::to_value(merged.unwrap_or_else(|error| panic!("{error}"))).unwrap()
    }

    fn all_operations(document: &Value) -> Vec<(String, String, Value)> {
        let mut found = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if METHODS.contains(&method.as_str()) {
                    found.push((path.clone(), method.clone(), operation.clone()));
                }
            }
        }
        found
    }

    #[test]
    fn the_edge_document_has_operations_of_all_six_services_and_only_routed_paths() {
        let document = edge_document();
        let mut upstreams = BTreeSet::new();
        for (path, _, _) in all_operations(&document) {
            let upstream = route(&path).unwrap_or_else(|| panic!("{path} is not routed"));
            upstreams.insert(format!("{upstream:?}"));
        }
        assert_eq!(
            upstreams,
            BTreeSet::from(
                [
                    "Catalog",
                    "Quote",
                    "Order",
                    "Fulfilment",
                    "Portal",
                    "Reporting"
                ]
                .map(String::from)
            )
        );
        for service in [
            "catalog_",
            "quote_",
            "order_",
            "fulfilment_",
            "partner_portal_",
            "reporting_",
        ] {
            assert!(
                all_operations(&document)
                    .iter()
                    .any(|(_, _, operation)| operation["operationId"]
                        .as_str()
                        .is_some_and(|id| id.starts_with(service))),
                "no operation of {service}"
            );
        }
    }

    #[test]
    fn every_operation_id_of_the_edge_document_is_its_own() {
        let document = edge_document();
        let mut seen = BTreeMap::new();
        for (path, method, operation) in all_operations(&document) {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
                .to_owned();
            if let Some(earlier) = seen.insert(id.clone(), format!("{method} {path}")) {
                panic!("operationId {id} is {earlier} and {method} {path}");
            }
        }
        // Every consuming service has the dead-letter routes: one id each, by service.
        let dead_letter_lists = seen
            .keys()
            .filter(|id| id.ends_with("list_dead_letters"))
            .count();
        assert!(dead_letter_lists >= 2, "{seen:?}");
    }

    #[test]
    fn every_reference_of_the_edge_document_resolves_and_every_response_is_described() {
        fn references(value: &Value, found: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (key, value) in map {
                        match (key.as_str(), value.as_str()) {
                            ("$ref", Some(reference)) => found.push(reference.to_owned()),
                            _ => references(value, found),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|item| references(item, found)),
                _ => {}
            }
        }
        let document = edge_document();
        assert_eq!(document["openapi"], "3.1.0");
        let mut found = Vec::new();
        references(&document, &mut found);
        assert!(!found.is_empty());
        for reference in found {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{reference} is not local"));
            assert!(
                document.pointer(pointer).is_some(),
                "{reference} does not resolve"
            );
        }
        for (path, method, operation) in all_operations(&document) {
            for (status, response) in operation["responses"].as_object().unwrap() {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|text| !text.trim().is_empty()),
                    "{method} {path} {status} has no description"
                );
            }
            assert!(operation["responses"]["502"].is_object(), "{method} {path}");
        }
    }

    fn service(
        name: &'static str,
        upstream: Upstream,
        path: &str,
        id: &str,
        schema: Type,
    ) -> ServiceDocument {
        let operation = OperationBuilder::new()
            .operation_id(Some(id))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("ok")
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Item")))
                            .build(),
                    )
                    .build(),
            )
            .build();
        ServiceDocument {
            service: name,
            upstream,
            document: OpenApiBuilder::new()
                .paths(PathsBuilder::new().path(path, PathItem::new(HttpMethod::Get, operation)))
                .components(Some(
                    ComponentsBuilder::new()
                        .schema("Item", ObjectBuilder::new().schema_type(schema))
                        .build(),
                ))
                .build(),
        }
    }

    #[test]
    fn a_schema_two_services_define_differently_is_renamed_in_each_with_its_references() {
        let merged = merge(
            OpenApiBuilder::new().build(),
            vec![
                service(
                    "catalog",
                    Upstream::Catalog,
                    "/v1/devices",
                    "list",
                    Type::String,
                ),
                service(
                    "partner-portal",
                    Upstream::Portal,
                    "/v1/portal/jobs",
                    "list",
                    Type::Integer,
                ),
            ],
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let document = serde_json::to_value(merged).unwrap();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let names: BTreeSet<&str> = schemas.keys().map(String::as_str).collect();
        assert_eq!(names, BTreeSet::from(["CatalogItem", "PartnerPortalItem"]));
        let reference = |path: &str| {
            document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
                ["schema"]["$ref"]
                .clone()
        };
        assert_eq!(reference("/v1/devices"), "#/components/schemas/CatalogItem");
        assert_eq!(
            reference("/v1/portal/jobs"),
            "#/components/schemas/PartnerPortalItem"
        );
        assert_eq!(
            document["paths"]["/v1/portal/jobs"]["get"]["operationId"],
            "partner_portal_list"
        );
    }

    #[test]
    fn the_same_schema_in_two_services_is_kept_once_under_its_name() {
        let merged = merge(
            OpenApiBuilder::new().build(),
            vec![
                service(
                    "catalog",
                    Upstream::Catalog,
                    "/v1/devices",
                    "list",
                    Type::String,
                ),
                service("quote", Upstream::Quote, "/v1/quotes", "list", Type::String),
            ],
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let document = serde_json::to_value(merged).unwrap();
        let names: Vec<&String> = document["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(names, ["Item"]);
    }

    #[test]
    fn an_operation_id_used_twice_fails_the_merge() {
        let merged = merge(
            OpenApiBuilder::new().build(),
            vec![
                service(
                    "catalog",
                    Upstream::Catalog,
                    "/v1/devices",
                    "list",
                    Type::String,
                ),
                service(
                    "catalog",
                    Upstream::Catalog,
                    "/v1/admin/catalog/models",
                    "list",
                    Type::String,
                ),
            ],
        );
        assert!(
            matches!(merged, Err(MergeError::DuplicateOperationId { ref id, .. }) if id == "catalog_list"),
            "{:?}",
            merged.map(|_| "merged")
        );
    }

    #[test]
    fn a_path_the_edge_sends_to_another_service_or_nowhere_is_left_out() {
        let merged = merge(
            OpenApiBuilder::new().build(),
            vec![
                service(
                    "catalog",
                    Upstream::Catalog,
                    "/v1/quotes",
                    "a",
                    Type::String,
                ),
                service("quote", Upstream::Quote, "/metrics", "b", Type::String),
            ],
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert!(
            merged.paths.paths.is_empty(),
            "{:?}",
            merged.paths.paths.keys()
        );
    }
}
