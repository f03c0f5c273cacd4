//! The dev edge: one port in front of the six services, routing by path prefix exactly as
//! the k8s Ingress does, so a storefront or a script talks to one origin on a laptop, in
//! compose and in a cluster. It forwards and nothing else — auth, limits and errors stay the
//! services' own — and it runs in the same HTTP shell, so it has health, metrics and
//! problem+json answers for what it cannot route.
//!
//! Being the one door from outside, it is strict about what it passes on. A path with dot
//! segments (plain or percent-encoded), encoded slashes or backslashes, or empty segments is
//! refused before any routing: the upstream URL would be normalised, and a `..` after
//! `/v1/orders/` would reach order's internal `/metrics`. Only the `/v1/...` prefixes of
//! [`ROUTES`] are forwarded. The client's own `X-Forwarded-*`, `X-Real-IP` and `Forwarded`
//! are dropped and the edge states what it saw on the socket, and hop-by-hop headers
//! (including those a `Connection` header names) stop at the edge both ways.
//!
//! Clients are told to use the edge, so its `/openapi.json` and `/docs` describe every API
//! it routes: the services' own documents, merged (see [`document`]).

pub mod document;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use platform::config::{AuthSettings, HttpSettings, Layers, ServiceDefaults, TelemetrySettings};
use platform::error::{ApiError, ErrorKind};
use platform::health::HealthChecks;
use platform::http::ServerParts;
use serde::Deserialize;

use crate::services::Started;

pub const EDGE: ServiceDefaults = ServiceDefaults {
    name: "edge",
    port: 8080,
};

const UPSTREAM_UNAVAILABLE: ErrorKind = ErrorKind::new(
    StatusCode::BAD_GATEWAY,
    "upstream_unavailable",
    "The service behind this path is not answering",
);
/// A path the edge refuses to route (see the module documentation).
pub const INVALID_PATH: ErrorKind = ErrorKind::new(
    StatusCode::BAD_REQUEST,
    "invalid_path",
    "The path has dot segments, encoded slashes or backslashes, or empty segments",
);
const UPSTREAM_TIMEOUT: ErrorKind = ErrorKind::new(
    StatusCode::GATEWAY_TIMEOUT,
    "upstream_timeout",
    "The service behind this path did not answer in time",
);

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct EdgeSettings {
    pub catalog_url: String,
    pub quote_url: String,
    pub order_url: String,
    pub fulfilment_url: String,
    pub portal_url: String,
    pub reporting_url: String,
    /// How long one forwarded request may take before the caller gets a 504.
    pub upstream_timeout_ms: u64,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        Self {
            catalog_url: "http://127.0.0.1:8081".to_owned(),
            quote_url: "http://127.0.0.1:8082".to_owned(),
            order_url: "http://127.0.0.1:8083".to_owned(),
            fulfilment_url: "http://127.0.0.1:8084".to_owned(),
            portal_url: "http://127.0.0.1:8085".to_owned(),
            reporting_url: "http://127.0.0.1:8086".to_owned(),
            upstream_timeout_ms: 30_000,
        }
    }
}

/// Everything the edge reads from the layered configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub http: HttpSettings,
    pub telemetry: TelemetrySettings,
    pub edge: EdgeSettings,
}

impl Settings {
    pub fn from_layers(layers: &Layers) -> anyhow::Result<Self> {
        let http: HttpSettings = layers.required("http")?;
        let telemetry: TelemetrySettings = layers.required("telemetry")?;
        let edge: EdgeSettings = layers.section("edge")?;
        for (key, url) in edge.upstreams() {
            url::Url::parse(url)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
                .with_context(|| {
                    format!(
                        "configuration key `edge.{key}` (env {}): an http:// or https:// URL",
                        platform::config::env_var_for(&format!("edge.{key}"))
                    )
                })?;
        }
        anyhow::ensure!(
            edge.upstream_timeout_ms > 0,
            "configuration key `edge.upstream_timeout_ms`: at least 1"
        );
        Ok(Self {
            http,
            telemetry,
            edge,
        })
    }
}

/// Which service answers a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    Catalog,
    Quote,
    Order,
    Fulfilment,
    Portal,
    Reporting,
}

/// The same prefixes as the Ingress (DESIGN.md: they never overlap).
pub const ROUTES: [(&str, Upstream); 10] = [
    ("/v1/devices", Upstream::Catalog),
    ("/v1/admin/catalog", Upstream::Catalog),
    ("/v1/quotes", Upstream::Quote),
    ("/v1/admin/pricing", Upstream::Quote),
    ("/v1/orders", Upstream::Order),
    ("/v1/admin/orders", Upstream::Order),
    ("/v1/admin/partners", Upstream::Fulfilment),
    ("/v1/admin/jobs", Upstream::Fulfilment),
    ("/v1/portal", Upstream::Portal),
    ("/v1/admin/reports", Upstream::Reporting),
];

/// The service behind `path`, matching whole segments: `/v1/ordersx` is nobody's.
pub fn route(path: &str) -> Option<Upstream> {
    ROUTES.iter().find_map(|(prefix, upstream)| {
        let rest = path.strip_prefix(prefix)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(*upstream)
    })
}

/// Why the edge refuses `path` (the path exactly as the client sent it, still encoded), or
/// `None` when it may be routed. Refused: `.` and `..` segments in any spelling (`%2e`,
/// `%2E`, `.%2e`, ...), encoded or raw separators that are not `/` (`%2f`, `%5c`, `\`), and
/// empty segments (`//`); a single trailing slash is an ordinary path.
pub fn refused_path(path: &str) -> Option<&'static str> {
    let lowercase = path.to_ascii_lowercase();
    if lowercase.contains("%2f") {
        return Some("an encoded slash");
    }
    if lowercase.contains("%5c") || lowercase.contains('\\') {
        return Some("a backslash");
    }
    let segments: Vec<&str> = lowercase.strip_prefix('/')?.split('/').collect();
    for (index, segment) in segments.iter().enumerate() {
        if segment.is_empty() && index + 1 < segments.len() {
            return Some("an empty segment");
        }
        if matches!(segment.replace("%2e", ".").as_str(), "." | "..") {
            return Some("a dot segment");
        }
    }
    None
}

fn refuse(path: &str, reason: &str) -> ApiError {
    ApiError::new(INVALID_PATH, format!("the path has {reason}: {path}"))
        .with("reason", reason.to_owned())
}

/// What answers every refused path, whatever it would otherwise have matched.
async fn refuse_path(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = request.uri().path();
    Err(refuse(
        path,
        refused_path(path).unwrap_or("an invalid form"),
    ))
}

impl EdgeSettings {
    fn upstreams(&self) -> [(&'static str, &str); 6] {
        [
            ("catalog_url", &self.catalog_url),
            ("quote_url", &self.quote_url),
            ("order_url", &self.order_url),
            ("fulfilment_url", &self.fulfilment_url),
            ("portal_url", &self.portal_url),
            ("reporting_url", &self.reporting_url),
        ]
    }

    pub fn base_url(&self, upstream: Upstream) -> &str {
        let url = match upstream {
            Upstream::Catalog => &self.catalog_url,
            Upstream::Quote => &self.quote_url,
            Upstream::Order => &self.order_url,
            Upstream::Fulfilment => &self.fulfilment_url,
            Upstream::Portal => &self.portal_url,
            Upstream::Reporting => &self.reporting_url,
        };
        url.trim_end_matches('/')
    }
}

struct Forwarder {
    client: reqwest::Client,
    settings: EdgeSettings,
}

/// Binds and starts the edge.
pub fn start(settings: Settings) -> anyhow::Result<Started> {
    let listener: TcpListener = platform::http::bind(&settings.http)
        .with_context(|| format!("the edge cannot listen on port {}", settings.http.port))?;
    let port = listener.local_addr()?.port();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(settings.edge.upstream_timeout_ms))
        // Redirects are the caller's to follow, not the edge's.
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let forwarder = web::Data::new(Forwarder {
        client,
        settings: settings.edge,
    });
    // The edge caps what it holds at once; rate limits are the services' (it verifies nobody).
    let admission = platform::admission::Admission::new(
        settings.http.max_in_flight,
        settings.http.priority_reserve,
        // The edge has no background work to give way.
        platform::background::RequestLoad::never_yield(),
    )
    .with_sustained_limit(
        settings.http.sustained_in_flight,
        Duration::from_millis(settings.http.overload_grace_ms),
    )
    // Order placement is shed last here too, or the edge would refuse it first.
    .prioritise(actix_web::http::Method::POST, "/v1/orders");
    let parts = ServerParts {
        admission,
        http: settings.http,
        openapi: merged_openapi()?,
        // The edge verifies nobody: each service checks its own callers.
        authenticator: platform::auth::Authenticator::new(&AuthSettings::default()),
        health: HealthChecks::default(),
        metrics_registry: prometheus::Registry::new(),
        metrics_namespace: "edge".into(),
    };
    let grace = Duration::from_secs(parts.http.shutdown_grace_seconds);
    let server = platform::http::serve(listener, parts, move |config| {
        config
            .app_data(forwarder.clone())
            // Ahead of the forwarding route and the default answer; the shell's own routes
            // match exact paths, which no refused path can be.
            .route(
                "/{path}*",
                web::route()
                    .guard(actix_web::guard::fn_guard(|context| {
                        refused_path(context.head().uri.path()).is_some()
                    }))
                    .to(refuse_path),
            )
            .route("/v1/{tail}*", web::to(forward));
    })?;
    let handle = server.handle();
    Ok(Started {
        name: EDGE.name,
        port,
        handle,
        run: Box::pin(platform::startup::run_http_until_stopped(server, grace)),
    })
}

/// The edge's OpenAPI document: every routed operation of the six services (see
/// [`document`]).
pub fn merged_openapi() -> anyhow::Result<utoipa::openapi::OpenApi> {
    let skeleton = platform::http::openapi_skeleton(
        "recommerce",
        "Every API of recommerce behind one origin, the edge: catalog, quote, order, \
         fulfilment, the partner portal and reporting.",
    );
    document::merge(skeleton, document::service_documents())
        .context("the services' OpenAPI documents do not merge")
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

/// Headers through which a proxy tells who the client is: only the edge may say that, so a
/// client's own are dropped rather than believed or passed on.
fn is_client_forwarding(name: &str) -> bool {
    matches!(
        name,
        "forwarded" | "x-forwarded-for" | "x-forwarded-host" | "x-forwarded-proto" | "x-real-ip"
    )
}

/// The header names listed in `Connection` values, lowercase: hop-by-hop by declaration
/// (RFC 9110 §7.6.1), so they stop at the edge like the fixed ones.
fn named_in_connection<'a>(values: impl Iterator<Item = &'a [u8]>) -> BTreeSet<String> {
    values
        .filter_map(|value| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
        .collect()
}

async fn forward(
    request: HttpRequest,
    body: web::Bytes,
    forwarder: web::Data<Forwarder>,
) -> Result<HttpResponse, ApiError> {
    let path = request.uri().path();
    // The refusing route runs first; checked again here so nothing refused is ever sent.
    if let Some(reason) = refused_path(path) {
        return Err(refuse(path, reason));
    }
    let upstream = route(path).ok_or_else(|| {
        ApiError::new(
            platform::error::kinds::ROUTE_NOT_FOUND,
            format!("no service answers {path}"),
        )
    })?;
    let target = url::Url::parse(&format!(
        "{}{}",
        forwarder.settings.base_url(upstream),
        request
            .uri()
            .path_and_query()
            .map_or(path, |value| value.as_str())
    ))
    .ok()
    // The URL parser normalises; what it made of the path must still be a routed one.
    .filter(|target| {
        refused_path(target.path()).is_none() && route(target.path()) == Some(upstream)
    })
    .ok_or_else(|| refuse(path, "a form the edge cannot forward"))?;
    // actix and reqwest speak different `http` crate versions: cross by name and bytes.
    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes())
        .map_err(|_| ApiError::new(platform::error::kinds::BAD_REQUEST, "unsupported method"))?;
    let response = forwarder
        .client
        .request(method, target)
        .headers(outgoing_headers(&request))
        .body(body)
        .send()
        .await
        .map_err(|error| upstream_error(upstream, &error))?;
    let status = StatusCode::from_u16(response.status().as_u16())
        .map_err(|_| ApiError::new(UPSTREAM_UNAVAILABLE, "the upstream answered nonsense"))?;
    let mut answer = HttpResponse::build(status);
    let hop_by_hop = named_in_connection(
        response
            .headers()
            .get_all(reqwest::header::CONNECTION)
            .iter()
            .map(|value| value.as_bytes()),
    );
    for (name, value) in response.headers() {
        if !is_hop_by_hop(name.as_str()) && !hop_by_hop.contains(name.as_str()) {
            answer.append_header((name.as_str(), value.as_bytes()));
        }
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|error| upstream_error(upstream, &error))?;
    Ok(answer.body(bytes))
}

/// The client's end-to-end headers, and the edge's own account of the client: the socket's
/// peer, the edge's scheme and the `Host` the client asked for. (`connection_info()` would
/// take these from the client's own `X-Forwarded-*`/`Forwarded`.)
fn outgoing_headers(request: &HttpRequest) -> reqwest::header::HeaderMap {
    let mut outgoing = end_to_end(request.headers());
    let scheme = if request.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let host = request
        .headers()
        .get(header::HOST)
        .map(|host| host.as_bytes().to_vec())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str().as_bytes().to_vec())
        });
    let own = [
        (
            "x-forwarded-for",
            request
                .peer_addr()
                .map(|peer| peer.ip().to_string().into_bytes()),
        ),
        ("x-forwarded-proto", Some(scheme.as_bytes().to_vec())),
        ("x-forwarded-host", host),
    ];
    for (name, value) in own {
        if let Some(value) =
            value.and_then(|bytes| reqwest::header::HeaderValue::from_bytes(&bytes).ok())
        {
            outgoing.insert(name, value);
        }
    }
    outgoing
}

fn end_to_end(headers: &HeaderMap) -> reqwest::header::HeaderMap {
    let hop_by_hop = named_in_connection(
        headers
            .get_all(header::CONNECTION)
            .map(|value| value.as_bytes()),
    );
    let mut forwarded = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let name = name.as_str();
        if is_hop_by_hop(name)
            || hop_by_hop.contains(name)
            || is_client_forwarding(name)
            || name == header::ACCEPT_ENCODING.as_str()
        {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(name.as_bytes()),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            forwarded.append(name, value);
        }
    }
    forwarded
}

fn upstream_error(upstream: Upstream, error: &reqwest::Error) -> ApiError {
    tracing::warn!(?upstream, %error, "forwarding failed");
    let kind = if error.is_timeout() {
        UPSTREAM_TIMEOUT
    } else {
        UPSTREAM_UNAVAILABLE
    };
    ApiError::new(
        kind,
        format!("the {upstream:?} service could not be reached"),
    )
    .with("upstream", format!("{upstream:?}").to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_prefix_reaches_its_service() {
        assert_eq!(route("/v1/devices"), Some(Upstream::Catalog));
        assert_eq!(route("/v1/devices/abc"), Some(Upstream::Catalog));
        assert_eq!(route("/v1/admin/catalog/models"), Some(Upstream::Catalog));
        assert_eq!(route("/v1/quotes"), Some(Upstream::Quote));
        assert_eq!(route("/v1/admin/pricing/rules"), Some(Upstream::Quote));
        assert_eq!(route("/v1/orders/1"), Some(Upstream::Order));
        assert_eq!(route("/v1/admin/orders"), Some(Upstream::Order));
        assert_eq!(route("/v1/admin/partners/x"), Some(Upstream::Fulfilment));
        assert_eq!(route("/v1/admin/jobs"), Some(Upstream::Fulfilment));
        assert_eq!(route("/v1/portal/jobs"), Some(Upstream::Portal));
        assert_eq!(route("/v1/portal/admin/users"), Some(Upstream::Portal));
        assert_eq!(
            route("/v1/admin/reports/summary"),
            Some(Upstream::Reporting)
        );
    }

    #[test]
    fn a_prefix_matches_whole_segments_only() {
        assert_eq!(route("/v1/ordersx"), None);
        assert_eq!(route("/v1/devicesfoo/1"), None);
        assert_eq!(route("/v1/admin"), None);
        assert_eq!(route("/v2/orders"), None);
        assert_eq!(route("/"), None);
    }

    #[test]
    fn a_dot_segment_in_any_spelling_is_refused() {
        for path in [
            "/v1/orders/../../metrics",
            "/v1/orders/..",
            "/v1/orders/.",
            "/v1/./orders",
            "/v1/orders/%2e%2e/metrics",
            "/v1/orders/%2E%2E/metrics",
            "/v1/orders/%2e%2E/metrics",
            "/v1/orders/.%2e/metrics",
            "/v1/orders/%2e./metrics",
            "/v1/orders/%2e/metrics",
            "/..",
        ] {
            assert_eq!(refused_path(path), Some("a dot segment"), "{path}");
        }
    }

    #[test]
    fn encoded_separators_backslashes_and_empty_segments_are_refused() {
        assert_eq!(refused_path("/v1/orders%2f1"), Some("an encoded slash"));
        assert_eq!(
            refused_path("/v1/orders/..%2Fmetrics"),
            Some("an encoded slash")
        );
        assert_eq!(refused_path("/v1/orders/..%5cmetrics"), Some("a backslash"));
        assert_eq!(refused_path("/v1/orders/..%5Cmetrics"), Some("a backslash"));
        assert_eq!(refused_path("/v1/orders\\..\\metrics"), Some("a backslash"));
        assert_eq!(refused_path("//v1/orders"), Some("an empty segment"));
        assert_eq!(refused_path("/v1//orders"), Some("an empty segment"));
        assert_eq!(refused_path("/v1/orders//"), Some("an empty segment"));
    }

    #[test]
    fn ordinary_paths_and_one_trailing_slash_pass() {
        for path in [
            "/",
            "/v1/orders",
            "/v1/orders/",
            "/v1/devices/a.b",
            "/v1/devices/...",
            "/v1/devices/.hidden",
            "/v1/devices/%2e%2e%2e",
            "/v1/devices/caf%C3%A9",
        ] {
            assert_eq!(refused_path(path), None, "{path}");
        }
    }

    #[test]
    fn the_client_s_forwarding_headers_and_those_named_in_connection_are_not_passed_on() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
            ("x-real-ip", "6.6.6.6"),
            ("forwarded", "for=6.6.6.6"),
            ("connection", "keep-alive, X-Hop"),
            ("connection", "x-other-hop"),
            ("x-hop", "1"),
            ("x-other-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("authorization", "Bearer token"),
            ("x-request-id", "abc"),
        ] {
            headers.append(
                header::HeaderName::from_static(name),
                header::HeaderValue::from_static(value),
            );
        }
        let forwarded = end_to_end(&headers);
        let names: BTreeSet<&str> = forwarded.keys().map(|name| name.as_str()).collect();
        assert_eq!(names, BTreeSet::from(["authorization", "x-request-id"]));
    }

    #[test]
    fn no_two_prefixes_overlap() {
        for (a, _) in ROUTES {
            for (b, _) in ROUTES {
                if a != b {
                    assert!(!a.starts_with(&format!("{b}/")) && a != b, "{a} under {b}");
                }
            }
        }
    }
}
