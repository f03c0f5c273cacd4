//! The service-to-service client against real sockets: a callee that answers with a
//! problem, and one that accepts connections and never answers (a hung dependency).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use platform::service_client::{CallError, ServiceClient, ServiceClientConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn client(base_url: String, timeout: Duration, attempts: u32) -> ServiceClient {
    ServiceClient::new(ServiceClientConfig {
        callee: "callee",
        base_url,
        timeout,
        credentials: None,
        caller: "test",
        attempts,
        max_pause: Duration::from_millis(50),
    })
    .unwrap()
}

/// A callee that answers every request with `response` and counts the connections.
async fn callee(response: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = [0_u8; 4096];
                if socket.read(&mut buffer).await.is_ok() && !response.is_empty() {
                    socket.write_all(response.as_bytes()).await.ok();
                }
                // An empty response: hold the connection open and never answer.
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    (address, connections)
}

#[tokio::test]
async fn a_refusal_carries_the_callees_problem_code_and_is_not_retried() {
    let body = r#"{"type":"about:blank","title":"Gone","status":410,"code":"quote_expired"}"#;
    let response: &'static str = Box::leak(
        format!(
            "HTTP/1.1 410 Gone\r\ncontent-type: application/problem+json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    );
    let (address, connections) = callee(response).await;
    let client = client(address, Duration::from_secs(2), 3);

    let answer = client.get::<serde_json::Value>("/v1/quotes/1").await;

    match answer {
        Err(CallError::Refused { refusal, .. }) => {
            assert_eq!(refusal.status, 410);
            assert_eq!(refusal.code.as_deref(), Some("quote_expired"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "a refusal is not retried"
    );
}

#[tokio::test]
async fn after_five_calls_in_a_row_fail_the_client_stops_calling_a_hung_callee_for_a_while() {
    let (address, connections) = callee("").await;
    let timeout = Duration::from_millis(300);
    let client = client(address, timeout, 1);

    for call in 1..=5 {
        let answer = client.get::<serde_json::Value>("/slow").await;
        assert!(
            matches!(answer, Err(CallError::Unavailable { .. })),
            "call {call}: {answer:?}"
        );
    }
    assert_eq!(connections.load(Ordering::SeqCst), 5);

    let started = Instant::now();
    let answer = client.get::<serde_json::Value>("/slow").await;
    assert!(
        matches!(&answer, Err(CallError::Unavailable { reason, .. }) if reason.starts_with("not called")),
        "{answer:?}"
    );
    assert!(
        started.elapsed() < timeout,
        "an open breaker answers without waiting for the callee"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        5,
        "no connection while the breaker is open"
    );

    // Once the breaker lets a probe through, the callee is called again.
    platform::testing::eventually(
        Duration::from_secs(10),
        "a probe reaches the callee",
        || {
            let client = client.clone();
            let connections = connections.clone();
            async move {
                let _ = client.get::<serde_json::Value>("/slow").await;
                connections.load(Ordering::SeqCst) > 5
            }
        },
    )
    .await;
}
