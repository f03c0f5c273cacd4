//! The `catalog` binary as an operator meets it: `dev` (what `make run` starts), `token`, and
//! refusing to start on bad settings.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_catalog");

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn catalog() -> Command {
    let mut command = Command::new(BINARY);
    // The developer's own settings must not leak into these runs.
    for (key, _) in std::env::vars() {
        if key.starts_with("APP_") {
            command.env_remove(key);
        }
    }
    command
}

#[tokio::test]
async fn the_dev_run_serves_the_seed_catalog_and_prints_a_working_admin_token() {
    let workdir = std::env::temp_dir().join(format!("catalog-dev-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&workdir).unwrap();
    let port = free_port();
    let mut child = catalog()
        .arg("dev")
        .current_dir(&workdir)
        .env("APP_HTTP__PORT", port.to_string())
        .env("APP_TELEMETRY__LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut printed = Vec::new();
    let token = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let line = received
            .recv_timeout(remaining)
            .unwrap_or_else(|_| panic!("no admin token printed; got {printed:?}"));
        if printed
            .last()
            .is_some_and(|previous: &String| previous.contains("Admin token"))
        {
            break line.trim().to_owned();
        }
        printed.push(line);
    };
    let banner = printed.join("\n");
    let base = format!("http://127.0.0.1:{port}");
    assert!(banner.contains(&format!("{base}/v1/devices")), "{banner}");
    assert!(banner.contains(&format!("{base}/docs")), "{banner}");

    let client = reqwest::Client::new();
    let devices: Value = client
        .get(format!("{base}/v1/devices?per_page=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(devices["total"].as_u64().unwrap() >= 25, "{devices}");

    let admin = client
        .get(format!("{base}/v1/admin/catalog/models"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
    assert!(
        workdir.join("data/catalog.db").exists(),
        "SQLite file under ./data"
    );
}

#[test]
fn a_bad_setting_stops_the_service_with_the_key_it_names() {
    let output = catalog()
        .arg("serve")
        .env("APP_PROFILE", "dev")
        .env("APP_HTTP__PORT", "eighty")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("http.port"), "{stderr}");
}

#[test]
fn production_refuses_to_start_with_the_dev_secret() {
    let output = catalog()
        .arg("serve")
        .env("APP_PROFILE", "production")
        .env("APP_AUTH__JWT_SECRET", platform::config::DEV_JWT_SECRET)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("APP_AUTH__JWT_SECRET"), "{stderr}");
}

#[tokio::test]
async fn the_token_command_prints_a_token_the_service_accepts() {
    let app = crate::helpers::spawn_app().await;
    let output = catalog()
        .args(["token", "--role", "admin", "--subject", "ops"])
        .env("APP_PROFILE", "test")
        .env("APP_AUTH__JWT_SECRET", &app.jwt_secret)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8(output.stdout).unwrap();
    let response = app
        .client
        .get(app.url("/v1/admin/catalog/models"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
