//! Redis is shared infrastructure: every key a service writes starts with the configured
//! prefix, so several deployments, or several parallel tests, can share one server.
//!
//! What uses this handle (caches) must keep working without Redis, so the handle connects
//! on first use rather than at start, and after a failure it answers "unavailable" at once
//! for [`QUIET_AFTER_FAILURE`] instead of making every caller wait out a timeout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, RedisResult};
use secrecy::ExposeSecret;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::config::RedisSettings;

/// How long the handle stops trying after Redis failed to answer.
pub const QUIET_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// A lazily connecting, reconnecting Redis handle plus the key prefix.
#[derive(Clone)]
pub struct RedisHandle {
    client: redis::Client,
    connection: Arc<OnceCell<ConnectionManager>>,
    quiet_until: Arc<Mutex<Option<Instant>>>,
    prefix: String,
}

impl RedisHandle {
    /// A handle if a URL is configured; only the URL is checked here. A Redis that is down
    /// at start (or later) makes [`RedisHandle::call`] fail fast, never the start.
    pub fn new(settings: &RedisSettings) -> Result<Option<Self>, RedisError> {
        let Some(url) = &settings.url else {
            return Ok(None);
        };
        Ok(Some(Self {
            client: redis::Client::open(url.expose_secret())?,
            connection: Arc::new(OnceCell::new()),
            quiet_until: Arc::new(Mutex::new(None)),
            prefix: settings.key_prefix.clone(),
        }))
    }

    /// `prefix:part1:part2...`
    pub fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// Runs `commands` on the shared connection. Any error keeps the handle quiet for
    /// [`QUIET_AFTER_FAILURE`]: calls meanwhile fail at once without touching the network.
    pub async fn call<T, F, Fut>(&self, commands: F) -> RedisResult<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if self.quiet() {
            return Err(RedisError::from((
                ErrorKind::IoError,
                "Redis failed recently; not tried again yet",
            )));
        }
        let result = match self.connection().await {
            Ok(connection) => commands(connection).await,
            Err(error) => Err(error),
        };
        if result.is_err() {
            let mut quiet_until = self
                .quiet_until
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *quiet_until = Some(Instant::now() + QUIET_AFTER_FAILURE);
        }
        result
    }

    pub async fn ping(&self) -> RedisResult<()> {
        self.call(|mut connection| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .map(drop)
        })
        .await
    }

    fn quiet(&self) -> bool {
        self.quiet_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some_and(|until| Instant::now() < until)
    }

    async fn connection(&self) -> RedisResult<ConnectionManager> {
        self.connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Duration::from_secs(1))
                    .set_response_timeout(Duration::from_secs(1))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .cloned()
    }
}
