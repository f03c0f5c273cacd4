//! The dev edge: one port in front of the five services, routing by path prefix exactly as
//! the k8s Ingress does, so a storefront or a script talks to one origin on a laptop, in
//! compose and in a cluster. It forwards and nothing else — auth, limits and errors stay the
//! services' own — and it runs in the same HTTP shell, so it has health, metrics and
//! problem+json answers for what it cannot route.

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
}

/// The same prefixes as the Ingress (DESIGN.md: they never overlap).
pub const ROUTES: [(&str, Upstream); 9] = [
    ("/v1/devices", Upstream::Catalog),
    ("/v1/admin/catalog", Upstream::Catalog),
    ("/v1/quotes", Upstream::Quote),
    ("/v1/admin/pricing", Upstream::Quote),
    ("/v1/orders", Upstream::Order),
    ("/v1/admin/orders", Upstream::Order),
    ("/v1/admin/partners", Upstream::Fulfilment),
    ("/v1/admin/jobs", Upstream::Fulfilment),
    ("/v1/portal", Upstream::Portal),
];

/// The service behind `path`, matching whole segments: `/v1/ordersx` is nobody's.
pub fn route(path: &str) -> Option<Upstream> {
    ROUTES.iter().find_map(|(prefix, upstream)| {
        let rest = path.strip_prefix(prefix)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(*upstream)
    })
}

impl EdgeSettings {
    fn upstreams(&self) -> [(&'static str, &str); 5] {
        [
            ("catalog_url", &self.catalog_url),
            ("quote_url", &self.quote_url),
            ("order_url", &self.order_url),
            ("fulfilment_url", &self.fulfilment_url),
            ("portal_url", &self.portal_url),
        ]
    }

    pub fn base_url(&self, upstream: Upstream) -> &str {
        let url = match upstream {
            Upstream::Catalog => &self.catalog_url,
            Upstream::Quote => &self.quote_url,
            Upstream::Order => &self.order_url,
            Upstream::Fulfilment => &self.fulfilment_url,
            Upstream::Portal => &self.portal_url,
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
    // Order placement is shed last here too, or the edge would refuse it first.
    .prioritise(actix_web::http::Method::POST, "/v1/orders");
    let parts = ServerParts {
        admission,
        http: settings.http,
        openapi: utoipa::openapi::OpenApiBuilder::new()
            .info(
                utoipa::openapi::InfoBuilder::new()
                    .title("recommerce edge")
                    .version(env!("CARGO_PKG_VERSION"))
                    .build(),
            )
            .build(),
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

async fn forward(
    request: HttpRequest,
    body: web::Bytes,
    forwarder: web::Data<Forwarder>,
) -> Result<HttpResponse, ApiError> {
    let path = request.uri().path();
    let upstream = route(path).ok_or_else(|| {
        ApiError::new(
            platform::error::kinds::ROUTE_NOT_FOUND,
            format!("no service answers {path}"),
        )
    })?;
    let target = format!(
        "{}{}",
        forwarder.settings.base_url(upstream),
        request
            .uri()
            .path_and_query()
            .map_or(path, |value| value.as_str())
    );
    // actix and reqwest speak different `http` crate versions: cross by name and bytes.
    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes())
        .map_err(|_| ApiError::new(platform::error::kinds::BAD_REQUEST, "unsupported method"))?;
    let mut outgoing = forwarder
        .client
        .request(method, &target)
        .headers(end_to_end(request.headers()))
        .body(body);
    let info = request.connection_info().clone();
    if let Some(peer) = info.realip_remote_addr() {
        outgoing = outgoing.header("x-forwarded-for", peer);
    }
    outgoing = outgoing
        .header("x-forwarded-proto", info.scheme())
        .header("x-forwarded-host", info.host());
    let response = outgoing
        .send()
        .await
        .map_err(|error| upstream_error(upstream, &error))?;
    let status = StatusCode::from_u16(response.status().as_u16())
        .map_err(|_| ApiError::new(UPSTREAM_UNAVAILABLE, "the upstream answered nonsense"))?;
    let mut answer = HttpResponse::build(status);
    for (name, value) in response.headers() {
        if !is_hop_by_hop(name.as_str()) {
            answer.append_header((name.as_str(), value.as_bytes()));
        }
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|error| upstream_error(upstream, &error))?;
    Ok(answer.body(bytes))
}

fn end_to_end(headers: &HeaderMap) -> reqwest::header::HeaderMap {
    let mut forwarded = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        if is_hop_by_hop(name.as_str()) || name == header::ACCEPT_ENCODING {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
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
