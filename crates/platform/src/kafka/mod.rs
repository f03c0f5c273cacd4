//! Kafka clients configured one way for every service: the idempotent producer the outbox
//! relay needs (acks=all, low linger, Nagle off) and consumers that never auto-commit, so
//! an offset is committed only after its message was handled. Everything here talks the
//! Kafka protocol only, so it runs unchanged against Apache Kafka or the embedded broker.

mod embedded;
pub mod journal;
mod off_runtime;
mod standalone;

pub use embedded::EmbeddedBroker;
pub use off_runtime::{OffRuntime, on_own_thread};
pub use standalone::{StandaloneBroker, StandaloneOptions};

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use rdkafka::types::RDKafkaErrorCode;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct KafkaSettings {
    /// `host:port[,host:port]`. Empty: no broker, the outbox only accumulates.
    pub brokers: String,
    /// How long the producer keeps trying one message before the relay backs off and retries.
    pub message_timeout_ms: u64,
    /// Partitions of topics this service creates when they do not exist.
    pub topic_partitions: i32,
    pub topic_replication: i32,
    /// How long a member that died without leaving (a crash, `kill -9`, a lost node) keeps
    /// its partitions before the group moves them on. 6000 is the lowest a broker with
    /// default settings accepts (`group.min.session.timeout.ms`); lower it only together
    /// with the broker's minimum. A member that stops cleanly leaves at once.
    pub session_timeout_ms: u64,
    /// How often a member tells the coordinator it lives, and so how late it learns that a
    /// rebalance started: every rebalance waits up to one interval for each member to
    /// rejoin. Fixed rather than a share of the session timeout, so lowering the session
    /// timeout does not silently change it; must stay below it (a third is the advice).
    pub heartbeat_interval_ms: u64,
    /// Static membership (`group.instance.id`): a member restarted under the same id gets
    /// its partitions back without a rebalance, if it returns within the session timeout.
    /// The catch: a member with an id does not leave the group when it stops, so a clean
    /// stop (a scale-down, a pod that is replaced under a new name) stalls its partitions
    /// for a whole session timeout. Set it only where instance names are stable and each
    /// is unique per group (a StatefulSet's pod name); unset by default.
    pub group_instance_id: Option<String>,
    /// `partition.assignment.strategy`. `cooperative-sticky` moves only the partitions that
    /// change owner: when a member joins or dies the others keep consuming theirs, where
    /// an eager strategy (`range`, `roundrobin`) stops every member for the rebalance. The
    /// runtime handles either (it commits and forgets exactly the partitions revoked).
    /// librdkafka refuses to mix the two kinds in one group: while members of both kinds
    /// are present (a rolling deploy that changes it), the new ones wait to join.
    pub assignment_strategy: String,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            brokers: String::new(),
            message_timeout_ms: 10_000,
            topic_partitions: 6,
            topic_replication: 1,
            session_timeout_ms: 6_000,
            heartbeat_interval_ms: 1_000,
            group_instance_id: None,
            assignment_strategy: COOPERATIVE.to_owned(),
        }
    }
}

/// The incremental assignment strategy; see [`KafkaSettings::assignment_strategy`].
pub const COOPERATIVE: &str = "cooperative-sticky";
/// The eager strategies librdkafka knows.
pub const EAGER: [&str; 2] = ["range", "roundrobin"];

impl KafkaSettings {
    /// What is wrong with the group settings, as (key, what it must be).
    pub fn group_settings_problem(&self) -> Option<(&'static str, String)> {
        if !(1..=3_600_000).contains(&self.session_timeout_ms) {
            return Some((
                "kafka.session_timeout_ms",
                "between 1 and 3600000 ms (and not below the broker's group.min.session.timeout.ms, 6000 by default)".into(),
            ));
        }
        if self.heartbeat_interval_ms == 0 || self.heartbeat_interval_ms >= self.session_timeout_ms
        {
            return Some((
                "kafka.heartbeat_interval_ms",
                format!(
                    "at least 1 and below kafka.session_timeout_ms ({} ms); a third of it is the advice",
                    self.session_timeout_ms
                ),
            ));
        }
        let strategies: Vec<&str> = self.assignment_strategy.split(',').map(str::trim).collect();
        let known = strategies
            .iter()
            .all(|strategy| *strategy == COOPERATIVE || EAGER.contains(strategy));
        if !known || (strategies.len() > 1 && strategies.contains(&COOPERATIVE)) {
            return Some((
                "kafka.assignment_strategy",
                "cooperative-sticky, or range and/or roundrobin (comma-separated); the two kinds do not mix".into(),
            ));
        }
        None
    }

    /// The static member id, if one is set (an empty one is none).
    pub fn instance_id(&self) -> Option<&str> {
        self.group_instance_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
    }

    pub fn is_configured(&self) -> bool {
        !self.brokers.trim().is_empty()
    }

    fn base(&self, client_id: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.brokers.trim())
            .set("client.id", client_id)
            .set("socket.nagle.disable", "true")
            // Unknown topics are an error, not a silent auto-create with default settings.
            .set("allow.auto.create.topics", "false");
        config
    }

    /// The idempotent producer: no duplicates or reordering from retries within a partition.
    /// Dropping it never blocks (see [`OffRuntime`]).
    pub fn producer(&self, client_id: &str) -> Result<OffRuntime<FutureProducer>, KafkaError> {
        self.base(client_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // The relay batches by itself (a round sends all it claimed); waiting longer for
            // more would only add to every event's latency.
            .set("linger.ms", "1")
            .set("message.timeout.ms", self.message_timeout_ms.to_string())
            .create()
            .map(OffRuntime::new)
    }

    /// A consumer in `group` that stores and commits nothing by itself.
    pub fn consumer_config(&self, client_id: &str, group: &str) -> ClientConfig {
        let mut config = self.base(client_id);
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("session.timeout.ms", self.session_timeout_ms.to_string())
            .set(
                "heartbeat.interval.ms",
                self.heartbeat_interval_ms.to_string(),
            )
            .set(
                "partition.assignment.strategy",
                self.assignment_strategy.replace(' ', ""),
            )
            // A real broker answers a waiting fetch as soon as data arrives; the embedded
            // (mock) one always waits this long when it had none, so it is a latency floor
            // there and only the idle fetch rate on a real one.
            .set("fetch.wait.max.ms", "10")
            // What librdkafka prefetches per partition before we take it (64 MiB by
            // default): the runtime bounds what it holds itself, this is the rest.
            .set("queued.max.messages.kbytes", "1024")
            // Fetching starts again soon after the runtime takes from a full queue.
            .set("fetch.queue.backoff.ms", "20")
            .set("statistics.interval.ms", "5000");
        if let Some(id) = self.instance_id() {
            config.set("group.instance.id", id);
        }
        config
    }

    /// Creates `topics` (and their dead-letter topics) where missing. Brokers without
    /// CreateTopics (the embedded one) are left alone: create topics there with
    /// [`EmbeddedBroker::create_topic`].
    pub async fn ensure_topics(&self, topics: &[&str]) -> Result<(), KafkaError> {
        let admin: OffRuntime<AdminClient<DefaultClientContext>> =
            OffRuntime::new(self.base("topic-admin").create()?);
        let existing = self.existing_topics().await;
        let names: Vec<String> = topics
            .iter()
            .flat_map(|topic| {
                [
                    (*topic).to_owned(),
                    events::topics::dead_letter_topic(topic),
                ]
            })
            .filter(|name| !existing.contains(name))
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let new_topics: Vec<NewTopic<'_>> = names
            .iter()
            .map(|name| {
                NewTopic::new(
                    name,
                    self.topic_partitions,
                    TopicReplication::Fixed(self.topic_replication),
                )
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        match admin.create_topics(&new_topics, &options).await {
            Ok(results) => {
                for result in results {
                    match result {
                        Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                        Err((topic, code)) => {
                            tracing::warn!(%topic, ?code, "creating a topic failed");
                        }
                    }
                }
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "the broker does not create topics; they must exist");
                Ok(())
            }
        }
    }

    /// [`KafkaSettings::ensure_topics`] without waiting for it: a service starts (and
    /// accepts work into its outbox) while the broker is down or slow to answer; its relay
    /// and consumers wait for the broker on their own.
    pub fn ensure_topics_in_background(&self, topics: &[&'static str]) {
        let settings = self.clone();
        let topics = topics.to_vec();
        tokio::spawn(async move {
            if let Err(error) = settings.ensure_topics(&topics).await {
                tracing::warn!(%error, "could not ensure topics; continuing");
            }
        });
    }

    /// Names of the topics the cluster has; empty if it cannot be asked.
    async fn existing_topics(&self) -> Vec<String> {
        let Ok(client) = self
            .base("topic-admin")
            .create::<rdkafka::producer::BaseProducer>()
        else {
            return Vec::new();
        };
        let client = OffRuntime::new(client);
        on_own_thread(
            "reading topic metadata",
            Duration::from_secs(6),
            move || {
                use rdkafka::producer::Producer;
                client
                    .client()
                    .fetch_metadata(None, Duration::from_secs(5))
                    .map(|metadata| {
                        metadata
                            .topics()
                            .iter()
                            .map(|topic| topic.name().to_owned())
                            .collect()
                    })
                    .unwrap_or_default()
            },
        )
        .await
        .unwrap_or_default()
    }
}
