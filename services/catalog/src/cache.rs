//! Optional Redis read-through cache for browse responses.
//!
//! Keys carry a generation number and an admin write bumps it (one `INCR`), which invalidates
//! every cached page and device at once, on every instance, without enumerating keys. Old
//! generations simply expire. Redis trouble never fails a read: the cache is skipped.

use std::future::Future;

use prometheus::{IntCounterVec, Opts, Registry};
use redis::AsyncCommands;

use platform::redis::RedisHandle;

#[derive(Clone)]
pub struct ResponseCache {
    redis: Option<RedisHandle>,
    ttl_seconds: u64,
    lookups: IntCounterVec,
}

impl ResponseCache {
    pub fn new(
        redis: Option<RedisHandle>,
        ttl_seconds: u64,
        registry: &Registry,
    ) -> Result<Self, prometheus::Error> {
        let lookups = IntCounterVec::new(
            Opts::new(
                "catalog_cache_lookups_total",
                "Browse cache lookups by outcome (hit, miss, error, disabled)",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(lookups.clone()))?;
        Ok(Self {
            redis,
            ttl_seconds,
            lookups,
        })
    }

    /// The cached bytes for `key`, or `load()`'s, which are then cached.
    pub async fn read_through<E, F, Fut>(&self, key: &str, load: F) -> Result<Vec<u8>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, E>>,
    {
        let Some(redis) = &self.redis else {
            self.lookups.with_label_values(&["disabled"]).inc();
            return load().await;
        };
        let generation_key = self.generation_key(redis);
        let cached: redis::RedisResult<(String, Option<Vec<u8>>)> = redis
            .call(|mut connection| async move {
                let generation: Option<u64> = connection.get(generation_key).await?;
                let full_key =
                    redis.key(&["catalog", &format!("g{}", generation.unwrap_or(0)), key]);
                let value: Option<Vec<u8>> = connection.get(&full_key).await?;
                Ok((full_key, value))
            })
            .await;
        match cached {
            Ok((_, Some(bytes))) => {
                self.lookups.with_label_values(&["hit"]).inc();
                Ok(bytes)
            }
            Ok((full_key, None)) => {
                self.lookups.with_label_values(&["miss"]).inc();
                let bytes = load().await?;
                let ttl_seconds = self.ttl_seconds;
                let body = bytes.as_slice();
                let stored: redis::RedisResult<()> = redis
                    .call(|mut connection| async move {
                        connection.set_ex(&full_key, body, ttl_seconds).await
                    })
                    .await;
                if let Err(error) = stored {
                    tracing::warn!(%error, "caching a browse response failed");
                }
                Ok(bytes)
            }
            Err(error) => {
                self.lookups.with_label_values(&["error"]).inc();
                tracing::warn!(%error, "browse cache unavailable; reading the database");
                load().await
            }
        }
    }

    /// Invalidates everything cached so far. Called after every committed admin write.
    pub async fn invalidate(&self) {
        let Some(redis) = &self.redis else {
            return;
        };
        let generation_key = self.generation_key(redis);
        let bumped: redis::RedisResult<u64> = redis
            .call(|mut connection| async move { connection.incr(generation_key, 1).await })
            .await;
        if let Err(error) = bumped {
            tracing::error!(
                %error,
                ttl_seconds = self.ttl_seconds,
                "invalidating the browse cache failed; stale entries expire with their TTL"
            );
        }
    }

    fn generation_key(&self, redis: &RedisHandle) -> String {
        redis.key(&["catalog", "generation"])
    }
}
