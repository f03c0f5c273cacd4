//! With `telemetry.otlp_endpoint` set, spans reach an OTLP/HTTP collector. A process has one
//! global subscriber, so this binary holds exactly one test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use platform::config::{LogFormat, TelemetrySettings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_to_the_configured_otlp_collector() {
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let server = HttpServer::new(move || {
        let counter = counter.clone();
        App::new().route(
            "/v1/traces",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let counter = counter.clone();
                async move {
                    let protobuf = req
                        .headers()
                        .get("content-type")
                        .is_some_and(|value| value.as_bytes() == b"application/x-protobuf");
                    if protobuf && !body.is_empty() {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());

    let settings = TelemetrySettings {
        log_format: LogFormat::Json,
        log_level: "info".into(),
        otlp_endpoint: Some(format!("http://127.0.0.1:{port}/v1/traces")),
    };
    let guard = platform::telemetry::init("telemetry-test", &settings).unwrap();
    tracing::info_span!("checkout", order = "o-1").in_scope(|| {
        tracing::info!("inside a span");
    });
    // Dropping the guard flushes the batch.
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    while received.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no spans reached the collector");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
