//! Redis is shared infrastructure: every key a service writes starts with the configured
//! prefix, so several deployments, or several parallel tests, can share one server.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret;
use std::time::Duration;

use crate::config::RedisSettings;

/// A reconnecting Redis handle plus the key prefix.
#[derive(Clone)]
pub struct RedisHandle {
    pub connection: ConnectionManager,
    prefix: String,
}

impl RedisHandle {
    /// Connects if a URL is configured. A configured but unreachable Redis stops the start.
    pub async fn connect(settings: &RedisSettings) -> Result<Option<Self>, redis::RedisError> {
        let Some(url) = &settings.url else {
            return Ok(None);
        };
        let client = redis::Client::open(url.expose_secret())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(2))
            .set_number_of_retries(2);
        let connection = ConnectionManager::new_with_config(client, config).await?;
        Ok(Some(Self {
            connection,
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

    pub async fn ping(&self) -> Result<(), redis::RedisError> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await?;
        Ok(())
    }
}
