use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_recommerce");

/// The binary with none of the developer's own `APP_*` settings.
pub fn recommerce() -> Command {
    let mut command = Command::new(BINARY);
    for (key, _) in std::env::vars() {
        if key.starts_with("APP_") || key.starts_with("RECOMMERCE_") {
            command.env_remove(key);
        }
    }
    command
}

/// A child process that is killed if the test ends first.
pub struct Running(pub Child);

impl Running {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Sends `signal` (e.g. "TERM") as an orchestrator would.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit, failing the test after `deadline`.
    pub async fn exited_within(&mut self, deadline: Duration) -> ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < until,
                "the process did not exit within {deadline:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `url` answers 200.
pub async fn wait_until_ready(url: &str) {
    let client = reqwest::Client::new();
    platform::testing::eventually(
        Duration::from_secs(60),
        &format!("{url} is ready"),
        || async {
            client
                .get(url)
                .send()
                .await
                .is_ok_and(|response| response.status() == 200)
        },
    )
    .await;
}

/// `recommerce broker` writing its address to `file`; returns the process and the address.
pub async fn broker_process(file: &std::path::Path) -> (Running, String) {
    let running = Running(
        recommerce()
            .args(["broker", "--file", file.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    platform::testing::eventually(
        Duration::from_secs(60),
        "the broker's address file",
        || async { std::fs::read_to_string(file).is_ok_and(|address| address.ends_with('\n')) },
    )
    .await;
    let address = std::fs::read_to_string(file).unwrap().trim().to_owned();
    (running, address)
}
