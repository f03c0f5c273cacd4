//! The HTTP shell every service runs in. A service hands over its routes; the shell adds what
//! must be identical everywhere — request spans and ids, metrics, problem+json for every
//! rejection, body limits, health, the OpenAPI document and its interactive page — so no
//! service can forget one of them.

use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlers, Next, from_fn};
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, get, web};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::{Encoder, Registry, TextEncoder};
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::{OpenApi, ResponseBuilder};
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_scalar::{Scalar, Servable};

use crate::admission::Admission;
use crate::auth::Authenticator;
use crate::config::HttpSettings;
use crate::error::{ensure_problem_body, extractor_configs, route_not_found};
use crate::health::{self, HealthChecks};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const DOCS_PATH: &str = "/docs";

/// What the shell needs from a service besides its routes.
pub struct ServerParts {
    pub http: HttpSettings,
    /// The service's OpenAPI skeleton (title, version, security schemes); paths are collected.
    pub openapi: OpenApi,
    /// What the server takes on and what it refuses (see [`crate::admission`]).
    pub admission: Admission,
    pub authenticator: Authenticator,
    pub health: HealthChecks,
    pub metrics_registry: Registry,
    pub metrics_namespace: String,
}

/// Binds the configured address with `http.listen_backlog`; port 0 picks a free port
/// (tests). The standard library's `bind` listens with a backlog of 128, which a burst of
/// new connections overflows: the kernel then drops their SYNs, and each client waits a
/// second or more for its retry, refused and accepted requests alike.
pub fn bind(http: &HttpSettings) -> std::io::Result<TcpListener> {
    listen(&http.host, http.port, http.listen_backlog)
}

fn listen(host: &str, port: u16, backlog: u32) -> std::io::Result<TcpListener> {
    use std::net::ToSocketAddrs;

    let address = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{host} resolves to no address")))?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    // As the standard library does: a restarted service can bind while old connections of
    // its predecessor are in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// Starts serving `listener` with the service's routes inside the common shell.
pub fn serve<F>(listener: TcpListener, parts: ServerParts, configure: F) -> std::io::Result<Server>
where
    F: Fn(&mut ServiceConfig) + Send + Clone + 'static,
{
    let metrics = request_metrics(&parts.metrics_registry, &parts.metrics_namespace)?;
    let registry = web::Data::new(parts.metrics_registry);
    let authenticator = web::Data::new(parts.authenticator);
    let refusals = Refusals {
        overloaded: parts.admission.caps_in_flight(),
        rate_limited: parts.admission.limits_rate(),
    };
    let admission = web::Data::new(parts.admission);
    let health = web::Data::new(parts.health);
    let max_body_bytes = parts.http.max_body_bytes;
    let openapi = parts.openapi;
    let mut server = HttpServer::new(move || {
        let (json, path, query, payload) = extractor_configs(max_body_bytes);
        let (app, mut api) = App::new()
            .into_utoipa_app()
            .openapi(openapi.clone())
            .app_data(json)
            .app_data(path)
            .app_data(query)
            .app_data(payload)
            .app_data(authenticator.clone())
            .app_data(admission.clone())
            .app_data(health.clone())
            .app_data(registry.clone())
            .service(health::live)
            .service(health::ready)
            .service(metrics_endpoint)
            .service(openapi_document)
            .configure(configure.clone())
            .split_for_parts();
        document_docs_page(&mut api);
        describe_every_response(&mut api);
        declare_shell_answers(&mut api);
        spell_out_not_blank(&mut api);
        refusals.document(&mut api);
        app.app_data(web::Data::new(api.clone()))
            .app_data(crate::request_shape::BodyLimit(max_body_bytes))
            .service(Scalar::with_url(DOCS_PATH, api))
            .default_service(web::to(route_not_found))
            .wrap(from_fn(crate::request_shape::hold_to_document))
            .wrap(ErrorHandlers::new().default_handler(ensure_problem_body))
            .wrap(from_fn(crate::admission::admit))
            .wrap(from_fn(wake_relay_after_writes))
            .wrap(metrics.clone())
            .wrap(from_fn(request_id_header))
            .wrap(TracingLogger::default())
    })
    .listen(listener)?
    // Stop signals are the service's (see `startup::run_until_stopped`), which share one
    // grace period between draining requests and stopping the background work.
    .disable_signals()
    .shutdown_timeout(crate::startup::http_drain_seconds(
        parts.http.shutdown_grace_seconds,
    ));
    if parts.http.workers > 0 {
        server = server.workers(parts.http.workers);
    }
    Ok(server.run())
}

/// The document the shell serves for the routes `configure` adds (without its own health,
/// metrics and docs routes), built without binding or serving: the edge merges the
/// services' documents from it. It documents the refusals of a service that caps what it
/// takes on and limits rates, as every deployed service does.
pub fn document<F>(openapi: OpenApi, configure: F) -> OpenApi
where
    F: FnOnce(&mut ServiceConfig),
{
    let (_app, mut api) = App::new()
        .into_utoipa_app()
        .openapi(openapi)
        .configure(configure)
        .split_for_parts();
    describe_every_response(&mut api);
    declare_shell_answers(&mut api);
    spell_out_not_blank(&mut api);
    Refusals {
        overloaded: true,
        rate_limited: true,
    }
    .document(&mut api);
    api
}

fn request_metrics(registry: &Registry, namespace: &str) -> std::io::Result<PrometheusMetrics> {
    PrometheusMetricsBuilder::new(namespace)
        .registry(registry.clone())
        // Unknown paths would otherwise create one time series per probe or typo.
        .mask_unmatched_patterns("UNMATCHED")
        .buckets(&[
            0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ])
        .build()
        .map_err(|error| std::io::Error::other(error.to_string()))
}

/// Prometheus text format: request counts and latency histograms by route pattern and status,
/// plus whatever the service registered.
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
async fn metrics_endpoint(registry: web::Data<Registry>) -> HttpResponse {
    let mut buffer = Vec::new();
    match TextEncoder::new().encode(&registry.gather(), &mut buffer) {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(buffer),
        Err(error) => {
            tracing::error!(%error, "encoding metrics failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// This document.
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "application/json", body = Object)))]
#[get("/openapi.json")]
async fn openapi_document(api: web::Data<OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(api.as_ref())
}

fn document_docs_page(api: &mut OpenApi) {
    let operation = OperationBuilder::new()
        .tag("operations")
        .summary(Some("Interactive API documentation (Scalar)"))
        .response(
            "200",
            ResponseBuilder::new().description("HTML page").build(),
        )
        .build();
    api.paths.paths.insert(
        DOCS_PATH.to_owned(),
        PathItem::new(HttpMethod::Get, operation),
    );
}

/// Gives every response of the document a description: OpenAPI requires one, and a route
/// documented only by its status and body gets its status's reason phrase ("Created").
fn describe_every_response(api: &mut OpenApi) {
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in &mut operation.responses.responses {
                if let utoipa::openapi::RefOr::T(response) = response
                    && response.description.trim().is_empty()
                {
                    response.description = status
                        .parse::<u16>()
                        .ok()
                        .and_then(|code| actix_web::http::StatusCode::from_u16(code).ok())
                        .and_then(|code| code.canonical_reason())
                        .unwrap_or("Response")
                        .to_owned();
                }
            }
        }
    }
}

/// Replaces every `pattern: "\\S"` (how DTOs say "not blank") with
/// [`crate::values::NOT_BLANK_PATTERN`], the exact set the code trims, so a client's
/// validator and ours agree on every character.
fn spell_out_not_blank(api: &mut OpenApi) {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    match value {
                        serde_json::Value::String(pattern)
                            if key == "pattern" && pattern == r"\S" =>
                        {
                            *pattern = crate::values::NOT_BLANK_PATTERN.to_owned();
                        }
                        _ => walk(value),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }

    let Ok(mut document) = serde_json::to_value(&*api) else {
        return;
    };
    walk(&mut document);
    if let Ok(spelled_out) = serde_json::from_value(document) {
        *api = spelled_out;
    }
}

/// Declares what the shell answers before a handler runs, on every operation it can happen
/// to: 400 `invalid_path_parameter` where there is a path parameter, 400
/// `invalid_query_parameter` where there are query parameters, 401 and 403 where a token is
/// required. A handler's own declaration of the same status is kept and told the code too.
fn declare_shell_answers(api: &mut OpenApi) {
    use utoipa::openapi::path::ParameterIn;

    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let located = |place: ParameterIn| {
                operation
                    .parameters
                    .iter()
                    .flatten()
                    .any(|parameter| match parameter {
                        utoipa::openapi::RefOr::T(parameter) => parameter.parameter_in == place,
                        utoipa::openapi::RefOr::Ref(_) => false,
                    })
            };
            let (in_path, in_query) = (located(ParameterIn::Path), located(ParameterIn::Query));
            let secured = operation
                .security
                .as_ref()
                .is_some_and(|requirements| !requirements.is_empty());
            if in_path {
                declare(
                    operation,
                    "400",
                    "invalid_path_parameter",
                    "A path parameter is not of its type (`invalid_path_parameter`)",
                );
            }
            if in_query {
                declare(
                    operation,
                    "400",
                    "invalid_query_parameter",
                    "A query parameter is malformed or out of its range (`invalid_query_parameter`)",
                );
            }
            if secured {
                declare(
                    operation,
                    "401",
                    "token_revoked",
                    "No, an invalid, an expired or a revoked bearer token (`missing_token`, \
                     `invalid_token`, `expired_token`, `token_revoked`)",
                );
                declare(
                    operation,
                    "403",
                    "forbidden",
                    "The token's role may not use this route (`forbidden`)",
                );
            }
        }
    }
}

/// Adds a problem response for `status`, or tells an existing one about `code`.
fn declare(
    operation: &mut utoipa::openapi::path::Operation,
    status: &str,
    code: &str,
    description: &str,
) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::schema::Ref;

    match operation.responses.responses.get_mut(status) {
        Some(RefOr::T(response)) => {
            if !response.description.contains(code) {
                let joined = format!(
                    "{}. Or: {description}",
                    response.description.trim_end_matches('.')
                );
                response.description = joined;
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    crate::error::PROBLEM_CONTENT_TYPE,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build();
            operation
                .responses
                .responses
                .insert(status.to_owned(), response.into());
        }
    }
}

/// The answers admission may give any route (see [`crate::admission`]), so that every
/// operation of the document says them, with the `Retry-After` that comes with them.
#[derive(Clone, Copy)]
struct Refusals {
    overloaded: bool,
    rate_limited: bool,
}

impl Refusals {
    fn document(self, api: &mut OpenApi) {
        use utoipa::openapi::content::ContentBuilder;
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Ref, Type};

        let retry_after = HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
            .description(Some("Seconds to wait before retrying"))
            .build();
        let refusal = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .header("Retry-After", retry_after.clone())
                .content(
                    crate::error::PROBLEM_CONTENT_TYPE,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        let mut answers = Vec::new();
        if self.overloaded {
            answers.push((
                "503",
                refusal("The service is at its limit (`overloaded`) or has no database connection free (`database_busy`); retry after `Retry-After`"),
            ));
        }
        if self.rate_limited {
            answers.push((
                "429",
                refusal("Too many requests from this caller (`rate_limited`); retry after `Retry-After`"),
            ));
        }
        for (path, item) in &mut api.paths.paths {
            if path.starts_with("/health") || path == "/metrics" {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, response) in &answers {
                    match operation.responses.responses.get_mut(*status) {
                        // A handler's own 503 (say, `coordinator_unavailable`) is an answer
                        // admission may give too, with the same header.
                        Some(utoipa::openapi::RefOr::T(own)) => {
                            own.headers
                                .entry("Retry-After".to_owned())
                                .or_insert_with(|| retry_after.clone().into());
                            own.description = format!(
                                "{}. Or: {}",
                                own.description.trim_end_matches('.'),
                                response.description
                            );
                        }
                        Some(utoipa::openapi::RefOr::Ref(_)) => {}
                        None => {
                            operation
                                .responses
                                .responses
                                .insert((*status).to_owned(), response.clone().into());
                        }
                    }
                }
            }
        }
    }
}

/// A request that may have written has committed by the time its response is ready: the
/// outbox relay is told at once, so its events leave without waiting for a poll.
async fn wake_relay_after_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let writes = !req.method().is_safe();
    let response = next.call(req).await;
    if writes {
        crate::outbox::committed();
    }
    response
}

/// Copies tracing-actix-web's request id onto the response, so a client can quote it.
async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = req.extensions().get::<RequestId>().copied();
    let mut response = next.call(req).await?;
    if let Some(id) = request_id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(response)
}

/// The OpenAPI skeleton every service starts from: its title and version, and the bearer
/// scheme its protected routes reference as `security(("bearer" = []))`.
pub fn openapi_skeleton(title: &str, description: &str) -> OpenApi {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder};
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(title)
                .description(Some(description))
                .version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(
                    "bearer",
                    SecurityScheme::Http(
                        HttpBuilder::new()
                            .scheme(HttpAuthScheme::Bearer)
                            .bearer_format("JWT")
                            .build(),
                    ),
                )
                .schema_from::<crate::error::Problem>()
                .build(),
        ))
        .build()
}

/// A public, cacheable JSON response: strong `ETag` over the exact bytes, `Cache-Control`,
/// and `304 Not Modified` when the client already holds them (`If-None-Match`).
pub fn cacheable_json(
    req: &actix_web::HttpRequest,
    body: Vec<u8>,
    max_age_seconds: u32,
) -> HttpResponse {
    use actix_web::http::header::{
        CacheControl, CacheDirective, ETag, EntityTag, Header as _, IfNoneMatch,
    };
    use sha2::{Digest, Sha256};

    let digest = Sha256::digest(&body);
    let tag = EntityTag::new_strong(
        digest[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
    );
    let cache_control = CacheControl(vec![
        CacheDirective::Public,
        CacheDirective::MaxAge(max_age_seconds),
    ]);
    let not_modified = match IfNoneMatch::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(items)) => items.iter().any(|item| item.weak_eq(&tag)),
        Err(_) => false,
    };
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header(ETag(tag))
        .insert_header(cache_control);
    if not_modified {
        response.finish()
    } else {
        response.content_type("application/json").body(body)
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpStream;
    use std::time::Duration;

    use super::listen;

    /// Connections wait in the kernel's queue until the server takes them; one past the
    /// backlog has its SYN dropped and is retried a second or more later. 300 at once, as a
    /// sale-day burst opens them, must all be queued (the standard library's 128 would not).
    #[test]
    fn a_burst_of_new_connections_is_queued_for_the_server_not_dropped() {
        let listener = listen("127.0.0.1", 0, 1024).expect("binds");
        let address = listener.local_addr().expect("has an address");
        let mut open = Vec::new();
        while open.len() < 300 {
            match TcpStream::connect_timeout(&address, Duration::from_millis(900)) {
                Ok(stream) => open.push(stream),
                Err(error) => panic!("connection {} was not queued: {error}", open.len() + 1),
            }
        }
    }
}
