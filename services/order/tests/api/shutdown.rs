//! A stop must end within the grace period whatever is gone, or a rollout stalls and the
//! orchestrator kills the pod with its work unflushed. Each test runs the order service
//! with all its background work busy (relay, consumer, processor retrying a quote service
//! that is down), takes one dependency away, stops the service and times the stop; then
//! brings the dependency back, starts the service again on the same database, and checks
//! that no order it answered 202 for lost its event: what the first instance had not sent
//! was left in the outbox for the next one.

use std::collections::BTreeSet;
use std::time::Duration;

use platform::testing::{PrivateRedis, TcpProxy, TestBroker, eventually};
use uuid::Uuid;

use crate::helpers::{TestApp, TestOptions, spawn_app_with};

/// The test settings' `http.shutdown_grace_seconds`.
const GRACE: Duration = Duration::from_secs(5);
/// What a test process may add to the service's own deadline (scheduling, the last drop).
const MARGIN: Duration = Duration::from_secs(1);
const ORDERS_BEFORE: usize = 10;
const ORDERS_DURING: usize = 5;

enum Gone {
    Broker,
    Database,
    Redis,
}

struct Dependencies {
    broker: TestBroker,
    redis: PrivateRedis,
    database: TcpProxy,
    database_url: String,
}

impl Dependencies {
    async fn start() -> Self {
        let broker = TestBroker::start_embedded();
        broker
            .create_topics(
                &[
                    events::topics::ORDER_EVENTS,
                    events::topics::FULFILMENT_EVENTS,
                ],
                2,
            )
            .await;
        let database_url = platform::testing::fresh_postgres_database("order_stop").await;
        let server = database_url
            .trim_start_matches("postgres://")
            .split_once('@')
            .map_or("127.0.0.1:5432", |(_, rest)| rest)
            .split_once('/')
            .map_or("127.0.0.1:5432", |(server, _)| server)
            .to_owned();
        Self {
            broker,
            redis: PrivateRedis::start(),
            database: TcpProxy::start(&server).await,
            database_url,
        }
    }

    /// The database through the proxy, as the service sees it.
    fn proxied_database_url(&self) -> String {
        let (_, name) = self.database_url.rsplit_once('/').unwrap();
        format!("postgres://postgres@{}/{name}", self.database.address())
    }

    async fn spawn(&self, database_url: String) -> TestApp {
        spawn_app_with(TestOptions {
            kafka: Some(self.broker.brokers.clone()),
            database_url: Some(database_url),
            redis_url: Some(self.redis.url()),
            ..TestOptions::default()
        })
        .await
    }

    fn take_away(&mut self, gone: &Gone) {
        match gone {
            Gone::Broker => self.broker.embedded().unwrap().down().unwrap(),
            Gone::Database => self.database.cut(),
            Gone::Redis => self.redis.stop(),
        }
    }

    fn bring_back(&mut self, gone: &Gone) {
        match gone {
            Gone::Broker => self.broker.embedded().unwrap().up().unwrap(),
            Gone::Database => {}
            Gone::Redis => self.redis.restart(),
        }
    }
}

async fn stop_while_gone(gone: Gone) {
    let mut dependencies = Dependencies::start().await;
    let app = dependencies
        .spawn(dependencies.proxied_database_url())
        .await;
    let mut accepted = BTreeSet::new();
    for _ in 0..ORDERS_BEFORE {
        accepted.insert(app.accepted_order().await);
    }
    eventually(Duration::from_secs(20), "the relay sends", || async {
        app.count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL")
            .await
            > 0
    })
    .await;

    dependencies.take_away(&gone);
    if !matches!(gone, Gone::Database) {
        // Accepting needs only the database: these wait in the outbox.
        for _ in 0..ORDERS_DURING {
            accepted.insert(app.accepted_order().await);
        }
    }
    // Let the background work run into the outage (retries, failed rounds) before the stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let took = app.stop().await;
    assert!(
        took <= GRACE + MARGIN,
        "stopped in {took:?}, beyond the grace period of {GRACE:?}"
    );

    dependencies.bring_back(&gone);
    let next = dependencies.spawn(dependencies.database_url.clone()).await;
    let placed = dependencies
        .broker
        .read(
            events::topics::ORDER_EVENTS,
            |event| event.event_type == "order.OrderPlaced",
            |read| {
                let ids: BTreeSet<Uuid> = read
                    .iter()
                    .filter_map(|event| event.aggregate_id.parse().ok())
                    .collect();
                accepted.is_subset(&ids)
            },
            Duration::from_secs(30),
        )
        .await;
    let placed: BTreeSet<Uuid> = placed
        .iter()
        .filter_map(|event| event.aggregate_id.parse().ok())
        .collect();
    assert_eq!(placed, accepted, "every accepted order's event, none other");
    next.stop().await;
}

#[tokio::test]
async fn the_service_stops_within_its_grace_period_while_the_broker_is_gone_and_the_next_instance_sends_what_it_left()
 {
    stop_while_gone(Gone::Broker).await;
}

#[tokio::test]
async fn the_service_stops_within_its_grace_period_while_its_database_is_gone_and_loses_no_accepted_order()
 {
    stop_while_gone(Gone::Database).await;
}

#[tokio::test]
async fn the_service_stops_within_its_grace_period_while_redis_is_gone_and_the_next_instance_sends_what_it_left()
 {
    stop_while_gone(Gone::Redis).await;
}

#[tokio::test]
async fn the_service_stops_within_its_grace_period_and_then_refuses_connections() {
    let broker = platform::testing::TestBroker::start();
    broker.create_topics(&events::topics::ALL, 1).await;
    let app = spawn_app_with(TestOptions {
        kafka: Some(broker.brokers.clone()),
        ..TestOptions::default()
    })
    .await;
    let address = app.address.clone();
    platform::testing::assert_stops_within_grace(&address, app.stop()).await;
}
