//! The shell holds requests to the service's own OpenAPI document before any handler runs,
//! so that the document is what the service takes, not an approximation of it:
//! - a method the path is not served with is a 405 with `Allow` (actix would route
//!   `DELETE /webhooks/deliveries` to `DELETE /webhooks/{id}` and answer a 400 about the id);
//! - a query parameter the operation does not declare is a 400 (routes without a query
//!   struct would otherwise ignore it);
//! - a JSON body must be an object, and a whole number written as `2019.0` is the integer
//!   JSON Schema says it is (serde would refuse it for an integer field, and take an array
//!   for a struct).

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpMessage, ResponseError};
use futures_util::StreamExt;
use serde_json::Value;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::{OpenApi, RefOr};

use crate::error::{ApiError, kinds};

/// The largest body the shell reads to check; larger ones are the JSON extractor's to refuse.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

/// What the document says about a request's method and path.
enum Route<'a> {
    /// Served: the operation.
    Served(&'a Operation),
    /// The path is served, with these methods only.
    OtherMethods(Vec<&'static str>),
    /// Not a path of the document (the shell's own routes, or no route at all).
    Unknown,
}

fn route<'a>(document: &'a OpenApi, method: &str, path: &str) -> Route<'a> {
    // The most specific templates: fewest `{variables}` (a literal segment beats a variable).
    let mut best: Option<usize> = None;
    let mut items: Vec<&PathItem> = Vec::new();
    for (template, item) in &document.paths.paths {
        let Some(variables) = variables_if_matches(template, path) else {
            continue;
        };
        match best {
            Some(fewest) if variables > fewest => {}
            Some(fewest) if variables == fewest => items.push(item),
            _ => {
                best = Some(variables);
                items = vec![item];
            }
        }
    }
    if items.is_empty() {
        return Route::Unknown;
    }
    let mut methods = Vec::new();
    for item in items {
        for (name, operation) in operations(item) {
            if name == method {
                return Route::Served(operation);
            }
            methods.push(name);
        }
    }
    methods.sort_unstable();
    methods.dedup();
    Route::OtherMethods(methods)
}

fn operations(item: &PathItem) -> impl Iterator<Item = (&'static str, &Operation)> {
    [
        ("DELETE", &item.delete),
        ("GET", &item.get),
        ("PATCH", &item.patch),
        ("POST", &item.post),
        ("PUT", &item.put),
    ]
    .into_iter()
    .filter_map(|(name, operation)| operation.as_ref().map(|operation| (name, operation)))
}

/// How many variable segments `template` fills to match `path`; `None` if it does not.
fn variables_if_matches(template: &str, path: &str) -> Option<usize> {
    let mut given = path.split('/');
    let mut variables = 0;
    for pattern in template.split('/') {
        let segment = given.next()?;
        if pattern.starts_with('{') && pattern.ends_with('}') {
            if segment.is_empty() {
                return None;
            }
            variables += 1;
        } else if segment != pattern {
            return None;
        }
    }
    given.next().is_none().then_some(variables)
}

fn declared_query_names(operation: &Operation) -> Vec<&str> {
    operation
        .parameters
        .iter()
        .flatten()
        .filter_map(|parameter| match parameter {
            RefOr::T(parameter) if parameter.parameter_in == ParameterIn::Query => {
                Some(parameter.name.as_str())
            }
            _ => None,
        })
        .collect()
}

fn undeclared_query_parameter(operation: &Operation, query: &str) -> Option<String> {
    if query.is_empty() {
        return None;
    }
    let declared = declared_query_names(operation);
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map(web::Query::into_inner)
        .unwrap_or_default();
    pairs
        .into_iter()
        .map(|(name, _)| name)
        .find(|name| !declared.contains(&name.as_str()))
}

fn is_json(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            let essence = essence.trim().to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
}

/// `2019.0` → `2019`, wherever it is; true when anything changed.
fn whole_numbers_as_integers(value: &mut Value) -> bool {
    match value {
        Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            match number.as_f64() {
                // Within ±2^53 a float holds every integer exactly.
                Some(float) if float.fract() == 0.0 && float.abs() <= 9_007_199_254_740_992.0 => {
                    *value = Value::from(float as i64);
                    true
                }
                _ => false,
            }
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
            whole_numbers_as_integers(item) | changed
        }),
        Value::Object(fields) => fields.values_mut().fold(false, |changed, field| {
            whole_numbers_as_integers(field) | changed
        }),
        _ => false,
    }
}

fn refuse(req: ServiceRequest, error: ApiError) -> ServiceResponse<BoxBody> {
    let response = error.error_response();
    req.into_response(response)
}

/// Reads the body (at most `limit` bytes); `None` when it is larger.
async fn read_body(payload: &mut Payload, limit: usize) -> Option<Bytes> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.ok()?;
        if body.len() + chunk.len() > limit {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body.freeze())
}

/// The middleware (see the module's documentation). The query and body of an operation
/// that needs a token are checked by [`crate::auth::Allow`] once the caller's role is, so
/// that a caller without the role learns nothing about what the route takes.
pub async fn hold_to_document(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(document) = req.app_data::<web::Data<OpenApi>>().cloned() else {
        return next.call(req).await;
    };
    let secured = match route(&document, req.method().as_str(), req.path()) {
        Route::Unknown => return next.call(req).await,
        Route::OtherMethods(methods) => {
            let allow = methods.join(", ");
            let error = ApiError::new(
                kinds::METHOD_NOT_ALLOWED,
                format!("{} is served with {allow} only", req.path()),
            );
            let mut response = refuse(req, error);
            if let Ok(value) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            return Ok(response);
        }
        Route::Served(operation) => operation
            .security
            .as_ref()
            .is_some_and(|requirements| !requirements.is_empty()),
    };
    if secured {
        return next.call(req).await;
    }
    match held_to_operation(req).await {
        Ok(req) => next.call(req).await,
        Err((req, error)) => Ok(refuse(req, error)),
    }
}

/// Checks the query and the JSON body of `req` against its operation in the document.
pub(crate) async fn held_to_operation(
    mut req: ServiceRequest,
) -> Result<ServiceRequest, (ServiceRequest, ApiError)> {
    let Some(document) = req.app_data::<web::Data<OpenApi>>().cloned() else {
        return Ok(req);
    };
    let Route::Served(operation) = route(&document, req.method().as_str(), req.path()) else {
        return Ok(req);
    };
    if let Some(name) = undeclared_query_parameter(operation, req.query_string()) {
        let shown: String = name.chars().take(40).collect();
        let detail = format!("`{shown}` is not a query parameter of this route");
        return Err((req, ApiError::new(kinds::INVALID_QUERY, detail)));
    }
    let limit = req
        .app_data::<BodyLimit>()
        .map_or(usize::MAX, |limit| limit.0);
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    let readable = declared_length.is_none_or(|length| length > 0 && length <= limit);
    if !(operation.request_body.is_some() && is_json(&req) && readable) {
        return Ok(req);
    }
    let mut payload = req.take_payload();
    let Some(body) = read_body(&mut payload, limit).await else {
        let detail = format!("the body exceeds the limit of {limit} bytes");
        return Err((req, ApiError::new(kinds::PAYLOAD_TOO_LARGE, detail)));
    };
    let body = match serde_json::from_slice::<Value>(&body) {
        // Not JSON: the extractor says so in its own words.
        Err(_) => body,
        Ok(value) if !value.is_object() => {
            let detail = "the body must be a JSON object";
            return Err((req, ApiError::new(kinds::INVALID_BODY, detail)));
        }
        Ok(mut value) => {
            if whole_numbers_as_integers(&mut value) {
                Bytes::from(value.to_string())
            } else {
                body
            }
        }
    };
    req.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    req.set_payload(Payload::from(body));
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_segment_is_more_specific_than_a_variable() {
        assert_eq!(
            variables_if_matches("/v1/a/{id}", "/v1/a/deliveries"),
            Some(1)
        );
        assert_eq!(
            variables_if_matches("/v1/a/deliveries", "/v1/a/deliveries"),
            Some(0)
        );
        assert_eq!(variables_if_matches("/v1/a/{id}", "/v1/a/"), None);
        assert_eq!(variables_if_matches("/v1/a/{id}", "/v1/a/x/y"), None);
        assert_eq!(variables_if_matches("/v1/a/{id}/b", "/v1/a/x"), None);
    }

    #[test]
    fn a_whole_float_becomes_an_integer_and_a_fraction_stays() {
        let mut value = serde_json::json!({"year": 2019.0, "list": [1.5, 3.0], "big": 1e300});
        assert!(whole_numbers_as_integers(&mut value));
        assert_eq!(
            value,
            serde_json::json!({"year": 2019, "list": [1.5, 3], "big": 1e300})
        );
        let mut untouched = serde_json::json!({"n": 1, "s": "2.0"});
        assert!(!whole_numbers_as_integers(&mut untouched));
    }
}
