//! One way to fail over HTTP. Every error a service can return maps, through
//! [`ProblemCode`], to an RFC 7807 `application/problem+json` body with a stable machine
//! `code`; clients branch on `code`, never on the human `detail`. Extractor rejections
//! (bad JSON, bad paths, oversized bodies) go through the same mapping, so nothing reaches
//! a client as an HTML page or a 500.

use std::borrow::Cow;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use serde_json::{Map, Value};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// Where each `code` is documented; the `type` of a problem is this plus the code.
pub const PROBLEM_TYPE_BASE: &str = "https://docs.recommerce.dev/problems/";

/// The stable identity of an error: HTTP status, machine code and a short title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKind {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
}

impl ErrorKind {
    pub const fn new(status: StatusCode, code: &'static str, title: &'static str) -> Self {
        Self {
            status,
            code,
            title,
        }
    }
}

/// Common kinds, shared by every service.
pub mod kinds {
    use super::ErrorKind;
    use actix_web::http::StatusCode;

    pub const MALFORMED_JSON: ErrorKind = ErrorKind::new(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        "The request body is not valid JSON",
    );
    pub const INVALID_BODY: ErrorKind = ErrorKind::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        "The request body does not match the expected schema",
    );
    pub const VALIDATION_FAILED: ErrorKind = ErrorKind::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        "The request is well-formed but some values are not acceptable",
    );
    pub const PAYLOAD_TOO_LARGE: ErrorKind = ErrorKind::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "The request body is larger than allowed",
    );
    pub const UNSUPPORTED_MEDIA_TYPE: ErrorKind = ErrorKind::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "The request body must be application/json",
    );
    pub const INVALID_PATH: ErrorKind = ErrorKind::new(
        StatusCode::BAD_REQUEST,
        "invalid_path_parameter",
        "A path parameter is malformed",
    );
    pub const INVALID_QUERY: ErrorKind = ErrorKind::new(
        StatusCode::BAD_REQUEST,
        "invalid_query_parameter",
        "A query parameter is malformed or out of range",
    );
    pub const BAD_REQUEST: ErrorKind = ErrorKind::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "The request is malformed",
    );
    pub const ROUTE_NOT_FOUND: ErrorKind =
        ErrorKind::new(StatusCode::NOT_FOUND, "route_not_found", "No such route");
    pub const METHOD_NOT_ALLOWED: ErrorKind = ErrorKind::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "The route does not support this method",
    );
    pub const NOT_READY: ErrorKind = ErrorKind::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        "A dependency of the service is unavailable",
    );
    // Codes every service that changes state under a version check and the per-key
    // sequencer answers with: one meaning, one title, wherever they come from.
    pub const CONCURRENT_UPDATE: ErrorKind = ErrorKind::new(
        StatusCode::CONFLICT,
        "concurrent_update",
        "The resource was changed concurrently; read it again and retry",
    );
    pub const ILLEGAL_TRANSITION: ErrorKind = ErrorKind::new(
        StatusCode::CONFLICT,
        "illegal_transition",
        "Not possible in the resource's current state",
    );
    pub const COORDINATOR_UNAVAILABLE: ErrorKind = ErrorKind::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "coordinator_unavailable",
        "Changes are paused while the coordinator is unavailable; retry shortly",
    );
    // Load refused rather than absorbed (see `admission`): each carries `Retry-After`.
    pub const OVERLOADED: ErrorKind = ErrorKind::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "The service is at its limit; retry shortly",
    );
    pub const RATE_LIMITED: ErrorKind = ErrorKind::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "Too many requests from this caller; retry after the time given",
    );
    pub const DATABASE_BUSY: ErrorKind = ErrorKind::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "database_busy",
        "Every database connection is in use; retry shortly",
    );
    pub const INTERNAL: ErrorKind = ErrorKind::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "Internal error",
    );
}

/// Implemented by each service's error enum: the single mapping from an error to its problem.
/// The members every service's problems share are built here, once: `errors` (the field
/// violations of a `validation_failed`) and `current_status` + `action` (a refused
/// transition); a service says which of its errors carry them and adds its own members.
pub trait ProblemCode: std::error::Error {
    fn kind(&self) -> ErrorKind;

    /// The field violations this error carries, if it is a validation failure.
    fn violations(&self) -> Option<&crate::validation::Violations> {
        None
    }

    /// The state a refused transition met, and the action that was refused.
    fn refused_transition(&self) -> Option<(&str, &str)> {
        None
    }

    /// Members of the problem body of the service's own, e.g. a quote's `expires_at`.
    fn own_extensions(&self) -> Map<String, Value> {
        Map::new()
    }

    /// Every extra member of the problem body.
    fn extensions(&self) -> Map<String, Value> {
        let mut extensions = self.own_extensions();
        if let Some(violations) = self.violations() {
            extensions.insert(
                "errors".into(),
                serde_json::to_value(&violations.0).unwrap_or(Value::Null),
            );
        }
        if let Some((current, action)) = self.refused_transition() {
            extensions.insert("current_status".into(), current.into());
            extensions.insert("action".into(), action.into());
        }
        extensions
    }
}

/// A problem ready to be sent. Handlers return `Result<_, ApiError>` and `?` their own errors.
#[derive(Debug, Clone)]
pub struct ApiError {
    kind: ErrorKind,
    detail: Cow<'static, str>,
    extensions: Map<String, Value>,
    retry_after: Option<u64>,
}

/// What a 503 or 429 tells a client to wait when nothing more precise is known.
const DEFAULT_RETRY_AFTER_SECONDS: u64 = 1;

impl ApiError {
    pub fn new(kind: ErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            extensions: Map::new(),
            retry_after: None,
        }
    }

    /// Seconds the client should wait before retrying (`Retry-After`); 503 and 429
    /// answers carry one second unless told otherwise.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.extensions.insert(
            key.to_owned(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert(
            "type".into(),
            Value::String(format!("{PROBLEM_TYPE_BASE}{}", self.kind.code)),
        );
        body.insert("title".into(), self.kind.title.into());
        body.insert("status".into(), self.kind.status.as_u16().into());
        body.insert("detail".into(), Value::String(self.detail.to_string()));
        body.insert("code".into(), self.kind.code.into());
        for (key, value) in &self.extensions {
            body.entry(key.clone()).or_insert_with(|| value.clone());
        }
        Value::Object(body)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.code, self.detail)
    }
}

/// True when `error` or one of its causes is a database pool that had no connection to
/// give in time: a busy service, not a broken one, so the client is told to come back.
fn pool_exhausted(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(sea_orm::DbErr::ConnectionAcquire(_)) = error.downcast_ref::<sea_orm::DbErr>() {
            return true;
        }
        cause = error.source();
    }
    false
}

impl<E: ProblemCode + 'static> From<E> for ApiError {
    fn from(error: E) -> Self {
        let mut kind = error.kind();
        if kind == kinds::INTERNAL && pool_exhausted(&error) {
            tracing::warn!(error = %error, "no database connection in time; answering 503");
            kind = kinds::DATABASE_BUSY;
        }
        let detail = if kind.status.is_server_error() {
            // The cause is logged, never sent: it may name hosts, tables or secrets.
            tracing::error!(error = %error, code = kind.code, "request failed");
            Cow::Borrowed(kind.title)
        } else {
            Cow::Owned(error.to_string())
        };
        Self {
            kind,
            detail,
            extensions: error.extensions(),
            retry_after: None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = HttpResponse::build(self.kind.status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE));
        let status = self.kind.status;
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            let seconds = self.retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECONDS);
            response.insert_header((header::RETRY_AFTER, seconds));
        }
        response.body(self.body().to_string())
    }
}

/// Maps JSON extractor failures: syntax → 400, schema → 422, size → 413, type → 415.
pub fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let problem = match &error {
        JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
            kinds::PAYLOAD_TOO_LARGE,
            format!("body of {length} bytes exceeds the limit of {limit} bytes"),
        ),
        JsonPayloadError::Overflow { limit } => ApiError::new(
            kinds::PAYLOAD_TOO_LARGE,
            format!("body exceeds the limit of {limit} bytes"),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            kinds::UNSUPPORTED_MEDIA_TYPE,
            "send the body with Content-Type: application/json",
        ),
        JsonPayloadError::Deserialize(inner) => match inner.classify() {
            serde_json::error::Category::Data => {
                ApiError::new(kinds::INVALID_BODY, inner.to_string())
            }
            _ => ApiError::new(kinds::MALFORMED_JSON, inner.to_string()),
        },
        other => ApiError::new(kinds::BAD_REQUEST, other.to_string()),
    };
    problem.into()
}

pub fn path_error(error: PathError, req: &HttpRequest) -> actix_web::Error {
    path_problem(&error, req).into()
}

/// A malformed path parameter, told in our own words: the parser's text (uuid's "invalid
/// character: expected an optional prefix of `urn:uuid:`…", serde's variant lists) is for
/// logs, not for clients, who get the parameter's name and what it must be.
fn path_problem(error: &PathError, req: &HttpRequest) -> ApiError {
    tracing::debug!(%error, path = req.path(), "malformed path parameter");
    let mut names = req.match_info().iter().map(|(name, _)| name);
    let parameter = match (names.next(), names.next()) {
        (Some(only), None) => format!("`{only}`"),
        _ => "a path parameter".to_owned(),
    };
    // uuid's serde impl prefixes every parse failure with this; anything else (an enum
    // name, a number) is a value outside what the route accepts.
    let is_uuid = match error {
        PathError::Deserialize(inner) => inner.to_string().starts_with("UUID parsing failed"),
        _ => false,
    };
    let detail = if is_uuid {
        format!("{parameter} must be a UUID")
    } else {
        format!("{parameter} is not one of the values this route accepts")
    };
    ApiError::new(kinds::INVALID_PATH, detail)
}

pub fn query_error(error: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::new(kinds::INVALID_QUERY, error.to_string()).into()
}

/// Extractor configuration that routes every rejection through [`ApiError`].
pub fn extractor_configs(
    max_body_bytes: usize,
) -> (
    web::JsonConfig,
    web::PathConfig,
    web::QueryConfig,
    web::PayloadConfig,
) {
    (
        web::JsonConfig::default()
            .limit(max_body_bytes)
            .error_handler(json_error),
        web::PathConfig::default().error_handler(path_error),
        web::QueryConfig::default().error_handler(query_error),
        web::PayloadConfig::new(max_body_bytes),
    )
}

/// The default service: unknown routes are problems too.
pub async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        kinds::ROUTE_NOT_FOUND,
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

/// Last line of defence for error responses that did not come from [`ApiError`] (actix's own
/// rejections, a panic turned 500, a 405): give them a problem body with a generic code.
pub fn ensure_problem_body<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| {
            value
                .as_bytes()
                .starts_with(PROBLEM_CONTENT_TYPE.as_bytes())
        });
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let kind = match status {
        StatusCode::NOT_FOUND => kinds::ROUTE_NOT_FOUND,
        StatusCode::METHOD_NOT_ALLOWED => kinds::METHOD_NOT_ALLOWED,
        StatusCode::PAYLOAD_TOO_LARGE => kinds::PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => kinds::UNSUPPORTED_MEDIA_TYPE,
        s if s.is_server_error() => ErrorKind::new(s, kinds::INTERNAL.code, kinds::INTERNAL.title),
        s => ErrorKind::new(s, kinds::BAD_REQUEST.code, kinds::BAD_REQUEST.title),
    };
    let detail = status.canonical_reason().unwrap_or("error");
    let problem = ApiError::new(kind, detail);
    let (req, response) = res.into_parts();
    let headers: Vec<_> = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != header::CONTENT_TYPE && *name != header::CONTENT_LENGTH)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let mut replacement = problem.error_response();
    for (name, value) in headers {
        replacement.headers_mut().insert(name, value);
    }
    replacement.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    let res = ServiceResponse::new(req, replacement).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

/// The problem body, for OpenAPI documents (responses are built by [`ApiError`]).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Link to the documentation of `code`.
    #[schema(example = "https://docs.recommerce.dev/problems/device_not_found")]
    pub r#type: String,
    pub title: String,
    pub status: u16,
    /// Human-readable; do not parse it.
    pub detail: String,
    /// Stable machine code: branch on this.
    #[schema(example = "device_not_found")]
    pub code: String,
}

/// The answers any authenticated route may give, for `responses(...)` in OpenAPI paths.
#[derive(utoipa::IntoResponses)]
pub enum AuthProblems {
    /// No, an invalid, an expired or a revoked bearer token (`missing_token`, `invalid_token`,
    /// `expired_token`, `token_revoked`).
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token's role may not use this route (`forbidden`).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
}

/// The answers any route with a JSON body may give, for `responses(...)` in OpenAPI paths.
#[derive(utoipa::IntoResponses)]
pub enum BodyProblems {
    /// The body is not JSON (`malformed_json`) or a parameter is malformed.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// The body is larger than `http.max_body_bytes` (`payload_too_large`).
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not `application/json` (`unsupported_media_type`).
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Wrong types or fields (`invalid_body`) or values breaking a rule (`validation_failed`).
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum StoreFailure {
        #[error("the store failed: {0}")]
        Database(#[source] sea_orm::DbErr),
    }

    impl ProblemCode for StoreFailure {
        fn kind(&self) -> ErrorKind {
            kinds::INTERNAL
        }
    }

    #[test]
    fn a_pool_with_no_connection_to_give_is_a_503_with_retry_after_not_a_500() {
        let busy = StoreFailure::Database(sea_orm::DbErr::ConnectionAcquire(
            sea_orm::error::ConnAcquireErr::Timeout,
        ));
        let problem = ApiError::from(busy);
        assert_eq!(problem.kind(), kinds::DATABASE_BUSY);
        let response = problem.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|value| value.as_bytes()),
            Some(&b"1"[..])
        );
    }

    fn path_failure<T: serde::de::DeserializeOwned>(name: &str, value: &str) -> ApiError {
        let req = actix_web::test::TestRequest::default()
            .param(name.to_owned(), value.to_owned())
            .to_http_request();
        let deserializer = serde::de::value::StrDeserializer::<serde::de::value::Error>::new(value);
        let error = match T::deserialize(deserializer) {
            Err(error) => PathError::Deserialize(error),
            Ok(_) => panic!("{value} parsed"),
        };
        path_problem(&error, &req)
    }

    #[test]
    fn a_malformed_uuid_in_the_path_is_named_without_the_parsers_wording() {
        let problem = path_failure::<uuid::Uuid>("id", "not-a-uuid");
        assert_eq!(problem.kind(), kinds::INVALID_PATH);
        assert_eq!(problem.detail, "`id` must be a UUID");
    }

    #[test]
    fn an_unknown_name_in_the_path_is_refused_without_serdes_variant_list() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        enum Category {
            Phone,
        }
        let problem = path_failure::<Category>("category", "toaster");
        assert_eq!(problem.kind(), kinds::INVALID_PATH);
        assert_eq!(
            problem.detail,
            "`category` is not one of the values this route accepts"
        );
    }

    #[test]
    fn any_other_storage_failure_stays_an_internal_error() {
        let broken = StoreFailure::Database(sea_orm::DbErr::Custom("disk on fire".into()));
        let problem = ApiError::from(broken);
        assert_eq!(problem.kind(), kinds::INTERNAL);
        assert!(
            problem
                .error_response()
                .headers()
                .get(header::RETRY_AFTER)
                .is_none()
        );
    }
}
