//! The edge as a client outside meets it, over raw sockets: reqwest and curl normalise `..`
//! away before sending, so only a request line written by hand shows what the edge does
//! with a traversal. Behind it, one upstream that records every request it gets and echoes
//! its headers, standing in for all six services.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use recommerce::edge;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DEADLINE: Duration = Duration::from_secs(10);

/// What the upstream received: the request target and the headers, lowercase names.
#[derive(Debug, Clone)]
struct Received {
    target: String,
    headers: Vec<(String, String)>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.as_str())
    }
}

/// An upstream that answers every request with the headers it got, as JSON, and with a
/// hop-by-hop header of its own named in `Connection`.
struct Upstream {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Upstream {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                tokio::spawn(async move { Self::answer(stream, log).await });
            }
        });
        Self { url, received }
    }

    async fn answer(mut stream: TcpStream, log: Arc<Mutex<Vec<Received>>>) {
        let head = read_head(&mut stream).await;
        let mut lines = head.lines();
        let target = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .unwrap_or_default()
            .to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let body = serde_json::json!({ "target": target, "headers": headers }).to_string();
        log.lock().unwrap().push(Received { target, headers });
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close, x-upstream-hop\r\nx-upstream-hop: secret\r\n\
             x-upstream-end-to-end: kept\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).await.unwrap();
        stream.shutdown().await.ok();
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Reads up to the blank line that ends a request or response head.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(DEADLINE, stream.read(&mut byte))
            .await
            .expect("the head within the deadline")
            .unwrap();
        if read == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// An edge on a free port with every service behind `upstream`.
async fn edge_in_front_of(upstream: &Upstream) -> u16 {
    let mut layers = platform::config::Layers::load(edge::EDGE, None)
        .unwrap()
        .set("http.host", "127.0.0.1")
        .unwrap()
        .set("http.port", 0)
        .unwrap()
        .set("http.workers", 1)
        .unwrap();
    for key in [
        "catalog_url",
        "quote_url",
        "order_url",
        "fulfilment_url",
        "portal_url",
        "reporting_url",
    ] {
        layers = layers
            .set(&format!("edge.{key}"), upstream.url.as_str())
            .unwrap();
    }
    let started = edge::start(edge::Settings::from_layers(&layers).unwrap()).unwrap();
    tokio::spawn(started.run);
    started.port
}

/// The edge's answer to a request line and headers written by hand.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn has_header(&self, name: &str) -> bool {
        self.head
            .lines()
            .any(|line| line.to_ascii_lowercase().starts_with(&format!("{name}:")))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

async fn raw_get(port: u16, target: &str, headers: &[(&str, &str)]) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut request = format!("GET {target} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("connection"))
    {
        request.push_str("connection: close\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut answer))
        .await
        .expect("the answer within the deadline")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

#[tokio::test]
async fn a_traversal_in_any_spelling_is_refused_as_invalid_path_and_never_reaches_a_service() {
    let upstream = Upstream::start().await;
    let port = edge_in_front_of(&upstream).await;
    for target in [
        "/v1/orders/../../metrics",
        "/v1/orders/%2e%2e/%2e%2e/metrics",
        "/v1/orders/%2E%2E/%2E%2E/health/ready",
        "/v1/orders/.%2e/%2e./openapi.json",
        "/v1/devices/./x",
        "/v1/devices/%2e/x",
        "/v1/../metrics",
        "/../v1/orders",
        "/v1//orders",
        "/v1/orders//1",
        "/v1/orders/..%2f..%2fmetrics",
        "/v1/orders/x%2F..%2F..%2Fmetrics",
        "/v1/orders/..%5c..%5cmetrics",
        "/v1/orders/x/../../../docs?page=1",
    ] {
        let answer = raw_get(port, target, &[]).await;
        assert_eq!(answer.status, 400, "{target}: {}", answer.body);
        assert!(
            answer
                .head
                .to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{target}: {}",
            answer.head
        );
        assert_eq!(answer.json()["code"], "invalid_path", "{target}");
    }
    assert!(
        upstream.received().is_empty(),
        "reached the upstream: {:?}",
        upstream.received()
    );
}

#[tokio::test]
async fn a_raw_backslash_never_reaches_a_service() {
    let upstream = Upstream::start().await;
    let port = edge_in_front_of(&upstream).await;
    let answer = raw_get(port, "/v1/orders/..\\..\\metrics", &[]).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(upstream.received().is_empty(), "{:?}", upstream.received());
}

#[tokio::test]
async fn only_the_v1_prefixes_are_forwarded_and_the_services_internal_routes_are_not() {
    let upstream = Upstream::start().await;
    let port = edge_in_front_of(&upstream).await;
    // The edge's own routes answer; no service's.
    for target in ["/metrics", "/health/live", "/openapi.json", "/docs"] {
        let answer = raw_get(port, target, &[]).await;
        assert_eq!(answer.status, 200, "{target}");
    }
    for target in ["/v2/orders", "/v1/ordersx", "/v1/admin", "/health/ready/x"] {
        let answer = raw_get(port, target, &[]).await;
        assert_eq!(answer.status, 404, "{target}: {}", answer.body);
    }
    let answer = raw_get(port, "/v1/orders/1?page=2", &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["target"], "/v1/orders/1?page=2");
    let targets: Vec<String> = upstream
        .received()
        .into_iter()
        .map(|received| received.target)
        .collect();
    assert_eq!(targets, ["/v1/orders/1?page=2"]);
}

#[tokio::test]
async fn the_client_s_forwarding_headers_never_reach_the_service_and_the_edge_states_its_own() {
    let upstream = Upstream::start().await;
    let port = edge_in_front_of(&upstream).await;
    let answer = raw_get(
        port,
        "/v1/devices",
        &[
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Forwarded-Proto", "https"),
            ("X-Real-IP", "6.6.6.6"),
            ("Forwarded", "for=6.6.6.6;proto=https;host=evil.example"),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let received = upstream.received();
    let [received] = received.as_slice() else {
        panic!("one request upstream, not {received:?}");
    };
    assert_eq!(received.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(received.header("x-forwarded-proto"), Some("http"));
    let host = format!("127.0.0.1:{port}");
    assert_eq!(received.header("x-forwarded-host"), Some(host.as_str()));
    assert_eq!(received.header("forwarded"), None);
    assert_eq!(received.header("x-real-ip"), None);
    let all = format!("{:?}", received.headers);
    assert!(
        !all.contains("6.6.6.6") && !all.contains("evil.example"),
        "{all}"
    );
}

#[tokio::test]
async fn headers_named_in_connection_stop_at_the_edge_in_both_directions() {
    let upstream = Upstream::start().await;
    let port = edge_in_front_of(&upstream).await;
    let answer = raw_get(
        port,
        "/v1/quotes/1",
        &[
            ("Connection", "close, X-Client-Hop"),
            ("X-Client-Hop", "secret"),
            ("X-Client-End-To-End", "kept"),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let received = upstream.received();
    let [received] = received.as_slice() else {
        panic!("one request upstream, not {received:?}");
    };
    assert_eq!(received.header("x-client-hop"), None);
    assert_eq!(received.header("x-client-end-to-end"), Some("kept"));
    assert!(!answer.has_header("x-upstream-hop"), "{}", answer.head);
    assert!(
        answer.has_header("x-upstream-end-to-end"),
        "{}",
        answer.head
    );
}

#[tokio::test]
async fn the_edge_documents_an_operation_of_every_service_and_serves_its_docs_page() {
    let upstream = Upstream::start().await;
    let port = edge_in_front_of(&upstream).await;
    let document = raw_get(port, "/openapi.json", &[]).await.json();
    for (path, method) in [
        ("/v1/devices", "get"),
        ("/v1/quotes", "post"),
        ("/v1/orders", "post"),
        ("/v1/admin/partners", "get"),
        ("/v1/portal/jobs", "get"),
        ("/v1/admin/reports/summary", "get"),
    ] {
        assert!(
            document["paths"][path][method]["operationId"].is_string(),
            "{method} {path} is not in the edge's document"
        );
    }
    let docs = raw_get(port, "/docs", &[]).await;
    assert_eq!(docs.status, 200);
    assert!(docs.body.contains("<html"), "{}", docs.body);
    assert!(upstream.received().is_empty(), "{:?}", upstream.received());
}
