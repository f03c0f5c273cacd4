//! Logs and traces. Logs go to stdout (pretty for people, JSON for collectors); traces go to
//! an OTLP collector only when one is configured, so the default run has no network chatter.
//! The W3C propagator is installed globally so `traceparent` can flow over HTTP and Kafka.

use std::sync::Once;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

use crate::config::{LogFormat, TelemetrySettings};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("the OTLP exporter could not be built: {0}")]
    Exporter(String),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Flushes buffered spans when dropped; keep it alive for the life of the process.
#[must_use = "dropping the guard flushes and stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("flushing traces failed: {error}");
        }
    }
}

pub fn init(service: &str, settings: &TelemetrySettings) -> Result<TelemetryGuard, TelemetryError> {
    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match settings.log_format {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
        LogFormat::Pretty => fmt::layer().compact().boxed(),
    };
    let provider = match &settings.otlp_endpoint {
        Some(endpoint) => Some(tracer_provider(service, endpoint)?),
        None => None,
    };
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer(service.to_owned()))
    });
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(TelemetryGuard { provider })
}

fn tracer_provider(service: &str, endpoint: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()
        .map_err(|error| TelemetryError::Exporter(error.to_string()))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(provider)
}

/// For a command whose stdout is its answer (`recommerce broker` prints its address):
/// pretty logs on stderr at `level` (an `EnvFilter` directive), no traces.
pub fn init_stderr(level: &str) -> Result<(), TelemetryError> {
    tracing_subscriber::registry()
        .with(EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")))
        .with(
            fmt::layer()
                .compact()
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_writer(std::io::stderr),
        )
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)
}

/// For test binaries: logs only when `TEST_LOG` is set, installed once per process.
pub fn init_for_tests() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let settings = TelemetrySettings {
                log_format: LogFormat::Pretty,
                log_level: std::env::var("TEST_LOG").unwrap_or_else(|_| "info".into()),
                otlp_endpoint: None,
            };
            if let Ok(guard) = init("test", &settings) {
                std::mem::forget(guard);
            }
        }
    });
}

/// The W3C `traceparent` of the current span, for an event or an outgoing call; empty when
/// tracing export is off.
pub fn current_traceparent() -> String {
    use opentelemetry::propagation::TextMapPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = tracing::Span::current().context();
    let mut carrier = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent").unwrap_or_default()
}

/// Makes `span` a child of the trace named by `traceparent` (from a Kafka or HTTP header).
pub fn continue_trace(span: &tracing::Span, traceparent: &str) {
    use opentelemetry::propagation::TextMapPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if traceparent.is_empty() {
        return;
    }
    let carrier =
        std::collections::HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(context);
}
