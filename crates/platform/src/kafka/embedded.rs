//! The Kafka-protocol broker that ships inside librdkafka (its mock cluster), for machines
//! without Kafka: the test suite and the one-command dev run. Clients reach it over TCP on
//! loopback like any broker. It lacks CreateTopics, so topics are created here, and its
//! first consumer-group join would wait 3 s, so the initial rebalance delay is set to 0.
//!
//! rust-rdkafka's own `MockCluster` does not expose the rebalance-delay call, hence this
//! small wrapper over `rdkafka-sys`; it is the only unsafe code in the workspace.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString};

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka_sys as sys;

pub struct EmbeddedBroker {
    cluster: *mut sys::rd_kafka_mock_cluster_t,
    bootstrap: String,
    broker_count: i32,
    // The mock cluster lives inside this client's handle and must not outlive it.
    _handle: BaseProducer,
}

// SAFETY: librdkafka's mock-cluster API is thread-safe: every call below is turned into an
// operation on the cluster's own thread and waited for.
unsafe impl Send for EmbeddedBroker {}
// SAFETY: as above; no method mutates Rust-side state.
unsafe impl Sync for EmbeddedBroker {}

fn check(code: sys::rd_kafka_resp_err_t) -> Result<(), KafkaError> {
    if code == sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        Ok(())
    } else {
        Err(KafkaError::MockCluster(RDKafkaErrorCode::from(code)))
    }
}

impl EmbeddedBroker {
    pub fn start(broker_count: i32) -> Result<Self, KafkaError> {
        let handle: BaseProducer = ClientConfig::new()
            .set("client.id", "embedded-broker")
            .create()?;
        // SAFETY: the handle is a live rd_kafka_t owned by `handle`, kept in the struct.
        let cluster =
            unsafe { sys::rd_kafka_mock_cluster_new(handle.client().native_ptr(), broker_count) };
        if cluster.is_null() {
            return Err(KafkaError::MockCluster(RDKafkaErrorCode::Fail));
        }
        // SAFETY: `cluster` is non-null and owned by us; the returned string is owned by
        // the cluster and copied out immediately.
        let bootstrap = unsafe {
            sys::rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 0);
            CStr::from_ptr(sys::rd_kafka_mock_cluster_bootstraps(cluster))
                .to_string_lossy()
                .into_owned()
        };
        Ok(Self {
            cluster,
            bootstrap,
            broker_count,
            _handle: handle,
        })
    }

    /// `host:port,...` for `bootstrap.servers`: the brokers' own listeners, on ports the
    /// cluster picked.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// Makes every broker name `host:port` as its address in metadata (its advertised
    /// listener) instead of its own listener, which keeps listening where it was: for a
    /// forwarder at `host:port` in front of it, so clients bootstrapped there are never sent
    /// past it. Clients already connected keep their connections.
    pub fn advertise(&self, host: &str, port: u16) -> Result<(), KafkaError> {
        let host = CString::new(host)
            .map_err(|_| KafkaError::MockCluster(RDKafkaErrorCode::InvalidConfig))?;
        // The mock cluster numbers its brokers 1..=broker_count (rd_kafka_mock_cluster_new).
        for broker in 1..=self.broker_count {
            // SAFETY: `cluster` is live; librdkafka copies `host` into the broker under the
            // cluster's lock before returning, so `host` need only outlive the call.
            unsafe {
                sys::rd_kafka_mock_broker_set_host_port(
                    self.cluster,
                    broker,
                    host.as_ptr(),
                    i32::from(port),
                );
            }
        }
        Ok(())
    }

    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), KafkaError> {
        let name = CString::new(topic)
            .map_err(|_| KafkaError::MockCluster(RDKafkaErrorCode::InvalidTopic))?;
        // SAFETY: `cluster` is live; `name` outlives the call.
        check(unsafe {
            sys::rd_kafka_mock_topic_create(self.cluster, name.as_ptr(), partitions, 1)
        })
    }

    /// Creates `topic` and its dead-letter topic.
    pub fn create_topic_with_dlq(&self, topic: &str, partitions: i32) -> Result<(), KafkaError> {
        self.create_topic(topic, partitions)?;
        self.create_topic(&events::topics::dead_letter_topic(topic), partitions)
    }

    /// Takes every broker down: connections drop and requests fail until [`Self::up`].
    pub fn down(&self) -> Result<(), KafkaError> {
        for broker in 1..=self.broker_count {
            // SAFETY: `cluster` is live.
            check(unsafe { sys::rd_kafka_mock_broker_set_down(self.cluster, broker) })?;
        }
        Ok(())
    }

    pub fn up(&self) -> Result<(), KafkaError> {
        for broker in 1..=self.broker_count {
            // SAFETY: `cluster` is live.
            check(unsafe { sys::rd_kafka_mock_broker_set_up(self.cluster, broker) })?;
        }
        Ok(())
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_mock_cluster_new, destroyed exactly once, before the
        // client handle it lives in is dropped (fields drop after this body).
        unsafe { sys::rd_kafka_mock_cluster_destroy(self.cluster) };
    }
}
