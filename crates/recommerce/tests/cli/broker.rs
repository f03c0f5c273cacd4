//! `recommerce broker --port P --data-dir D` restarted in place: the same address, every
//! topic's messages at their offsets, the groups' committed offsets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use platform::kafka::KafkaSettings;
use platform::kafka::journal::Journal;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::helpers::{Running, recommerce};

/// A message as a consumer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A work directory holding the broker's data directory and its address file.
struct Workdir(PathBuf);

impl Workdir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("broker-restart-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn data(&self) -> PathBuf {
        self.0.join("data")
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `recommerce broker --port P --data-dir D`, once it announced itself ready.
async fn broker_on(port: u16, workdir: &Workdir) -> Running {
    let file = workdir.0.join("broker.addr");
    let _ = std::fs::remove_file(&file);
    let mut running = Running(
        recommerce()
            .args(["broker", "--port", &port.to_string(), "--data-dir"])
            .arg(workdir.data())
            .arg("--file")
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let until = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&file).is_ok_and(|address| address.ends_with('\n')) {
        if let Some(status) = running.0.try_wait().unwrap() {
            panic!("the broker exited with {status} before it was ready");
        }
        assert!(
            Instant::now() < until,
            "the broker was not ready within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        format!("127.0.0.1:{port}")
    );
    running
}

/// Ends the broker as a crash would, and waits until it is gone.
async fn kill_9(mut broker: Running) {
    broker.signal("KILL");
    broker.exited_within(Duration::from_secs(10)).await;
}

/// Stops the broker as an orchestrator would; it exits cleanly.
async fn terminate(mut broker: Running) {
    broker.signal("TERM");
    let status = broker.exited_within(Duration::from_secs(30)).await;
    assert!(status.success(), "the broker exited with {status}");
}

/// Waits until the broker's journal holds `count` messages of `topic` (over all its
/// partitions): what a `kill -9` cannot take back.
async fn journalled(data: &Path, topic: &str, count: usize) {
    platform::testing::eventually(
        Duration::from_secs(10),
        &format!("{count} messages of {topic} in the journal"),
        || async {
            let journal = Journal::open(data).unwrap();
            (0..3)
                .map(|partition| journal.read(topic, partition).unwrap().len())
                .sum::<usize>()
                == count
        },
    )
    .await;
}

fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "20000")
        .create()
        .unwrap()
}

/// Produces `message` (`topic`, `partition`, `n`) with a key and two headers; what the
/// consumer must see.
async fn produce(producer: &FutureProducer, topic: &str, partition: i32, n: usize) -> Seen {
    let key = format!("aggregate-{n}").into_bytes();
    let payload = format!("event {n} of {topic}").into_bytes();
    let event_id = uuid::Uuid::new_v4().to_string().into_bytes();
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "event-id",
            value: Some(&event_id),
        })
        .insert(Header {
            key: "traceparent",
            value: None::<&[u8]>,
        });
    let delivery = producer
        .send(
            FutureRecord::to(topic)
                .partition(partition)
                .key(&key)
                .payload(&payload)
                .headers(headers),
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    Seen {
        topic: topic.to_owned(),
        partition: delivery.partition,
        offset: delivery.offset,
        key: Some(key),
        payload: Some(payload),
        headers: vec![
            ("event-id".into(), Some(event_id)),
            ("traceparent".into(), None),
        ],
    }
}

fn seen(message: &impl Message) -> Seen {
    Seen {
        topic: message.topic().to_owned(),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        payload: message.payload().map(<[u8]>::to_vec),
        headers: message.headers().map_or_else(Vec::new, |headers| {
            headers
                .iter()
                .map(|header| (header.key.to_owned(), header.value.map(<[u8]>::to_vec)))
                .collect()
        }),
    }
}

/// Every message of `topics` (3 partitions each) from the beginning, once `count` came, by
/// topic and partition in offset order.
async fn read_from_the_beginning(bootstrap: &str, topics: &[&str], count: usize) -> Vec<Seen> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    for topic in topics {
        for partition in 0..3 {
            partitions
                .add_partition_offset(topic, partition, Offset::Beginning)
                .unwrap();
        }
    }
    consumer.assign(&partitions).unwrap();
    tokio::task::spawn_blocking(move || {
        let until = Instant::now() + Duration::from_secs(30);
        let mut messages = Vec::new();
        while messages.len() < count {
            assert!(
                Instant::now() < until,
                "only {} of {count} messages came: {messages:?}",
                messages.len()
            );
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                messages.push(seen(&message.unwrap()));
            }
        }
        // Nothing more than was produced.
        assert!(consumer.poll(Duration::from_millis(300)).is_none());
        sorted(messages)
    })
    .await
    .unwrap()
}

fn sorted(mut messages: Vec<Seen>) -> Vec<Seen> {
    messages
        .sort_by(|a, b| (&a.topic, a.partition, a.offset).cmp(&(&b.topic, b.partition, b.offset)));
    messages
}

#[tokio::test]
async fn a_broker_restarted_on_its_port_keeps_every_topics_messages_at_their_offsets() {
    let workdir = Workdir::new();
    let port = free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let topics = [events::topics::ORDER_EVENTS, events::topics::QUOTE_EVENTS];
    let broker = broker_on(port, &workdir).await;
    let producer = producer(&bootstrap);
    let mut produced = Vec::new();
    for n in 0..30 {
        let topic = topics[n % 2];
        produced.push(produce(&producer, topic, (n % 3) as i32, n).await);
    }
    drop(producer);
    for topic in topics {
        journalled(&workdir.data(), topic, 15).await;
    }

    kill_9(broker).await;
    let _broker = broker_on(port, &workdir).await;

    let consumed = read_from_the_beginning(&bootstrap, &topics, produced.len()).await;
    assert_eq!(consumed, sorted(produced));
}

#[tokio::test]
async fn a_client_configured_once_with_the_brokers_port_keeps_working_across_a_restart() {
    let workdir = Workdir::new();
    let port = free_port();
    let settings = KafkaSettings {
        brokers: format!("127.0.0.1:{port}"),
        ..KafkaSettings::default()
    };
    let topic = events::topics::FULFILMENT_EVENTS;
    let broker = broker_on(port, &workdir).await;
    // The services' own clients: the idempotent producer and a consumer in a group.
    let producer = settings.producer("restart-test").unwrap();
    let consumer: BaseConsumer = settings
        .consumer_config("restart-test", &format!("group-{}", uuid::Uuid::new_v4()))
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let consumer = std::sync::Arc::new(consumer);
    let take = |count: usize| {
        let consumer = consumer.clone();
        tokio::task::spawn_blocking(move || {
            let until = Instant::now() + Duration::from_secs(30);
            let mut messages = Vec::new();
            while messages.len() < count {
                assert!(Instant::now() < until, "only {messages:?} came");
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(message)) => {
                        consumer.commit_message(&message, CommitMode::Sync).unwrap();
                        messages.push(seen(&message));
                    }
                    // What the client says while the broker is away (all brokers down).
                    Some(Err(error)) => eprintln!("the consumer: {error}"),
                    None => {}
                }
            }
            messages
        })
    };

    let mut before = Vec::new();
    for n in 0..5 {
        before.push(produce(&producer, topic, (n % 3) as i32, n).await);
    }
    assert_eq!(sorted(take(5).await.unwrap()), sorted(before.clone()));
    terminate(broker).await;
    let _broker = broker_on(port, &workdir).await;

    let mut after = Vec::new();
    for n in 5..10 {
        after.push(produce(&producer, topic, (n % 3) as i32, n).await);
    }
    let mut all = before.clone();
    all.extend(after.clone());
    let consumed = read_from_the_beginning(&settings.brokers, &[topic], 10).await;
    assert_eq!(consumed, sorted(all));
    // Each partition's offsets go on from the replayed ones, with no gap.
    for partition in 0..3 {
        let offsets: Vec<i64> = consumed
            .iter()
            .filter(|seen| seen.partition == partition)
            .map(|seen| seen.offset)
            .collect();
        assert_eq!(offsets, (0..offsets.len() as i64).collect::<Vec<_>>());
    }
    // The consumer of before the restart goes on with what came after it.
    let went_on = take(5).await.unwrap();
    assert_eq!(sorted(went_on), sorted(after));
}

#[tokio::test]
async fn a_consumer_group_goes_on_from_its_committed_offsets_after_the_broker_restarts() {
    let workdir = Workdir::new();
    let port = free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let topic = events::topics::PARTNER_EVENTS;
    let group = format!("group-{}", uuid::Uuid::new_v4());
    let settings = KafkaSettings {
        brokers: bootstrap.clone(),
        ..KafkaSettings::default()
    };
    let broker = broker_on(port, &workdir).await;
    let producer = producer(&bootstrap);
    for n in 0..6 {
        produce(&producer, topic, (n % 3) as i32, n).await;
    }
    // A member reads and commits all six, then leaves.
    let consumer: BaseConsumer = settings.consumer_config("first", &group).create().unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let consumer = tokio::task::spawn_blocking(move || {
        let until = Instant::now() + Duration::from_secs(30);
        let mut read = 0;
        while read < 6 {
            assert!(Instant::now() < until, "only {read} of 6 came");
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                consumer
                    .commit_message(&message.unwrap(), CommitMode::Sync)
                    .unwrap();
                read += 1;
            }
        }
        consumer
    })
    .await
    .unwrap();
    tokio::task::spawn_blocking(move || drop(consumer))
        .await
        .unwrap();

    terminate(broker).await;
    let _broker = broker_on(port, &workdir).await;
    let mut later = BTreeMap::new();
    for n in 6..9 {
        let message = produce(&producer, topic, (n % 3) as i32, n).await;
        later.insert((message.partition, message.offset), message);
    }

    // A new member of the group gets only what came after the commits.
    let consumer: BaseConsumer = settings.consumer_config("second", &group).create().unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let read = tokio::task::spawn_blocking(move || {
        let until = Instant::now() + Duration::from_secs(30);
        let mut read = BTreeMap::new();
        while read.len() < 3 {
            assert!(Instant::now() < until, "only {read:?} came");
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                let message = seen(&message.unwrap());
                read.insert((message.partition, message.offset), message);
            }
        }
        assert!(consumer.poll(Duration::from_millis(500)).is_none());
        read
    })
    .await
    .unwrap();
    assert_eq!(read, later);
}

#[tokio::test]
async fn a_broker_stopped_while_a_producer_sends_keeps_every_message_it_acknowledged() {
    let workdir = Workdir::new();
    let port = free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let topic = events::topics::CATALOG_EVENTS;
    let broker = broker_on(port, &workdir).await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("message.timeout.ms", "2000")
        .create()
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sending = tokio::spawn({
        let stop = stop.clone();
        let acknowledged = acknowledged.clone();
        async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let key = format!("aggregate-{n}");
                let sent = producer
                    .send(
                        FutureRecord::to(topic)
                            .partition(n % 3)
                            .key(&key)
                            .payload(&key),
                        Duration::from_secs(2),
                    )
                    .await;
                if let Ok(delivery) = sent {
                    acknowledged.lock().unwrap().push(Seen {
                        topic: topic.to_owned(),
                        partition: delivery.partition,
                        offset: delivery.offset,
                        key: Some(key.clone().into_bytes()),
                        payload: Some(key.into_bytes()),
                        headers: Vec::new(),
                    });
                }
                n += 1;
            }
            // Handed back, not dropped here: destroying a client whose broker is gone
            // waits for its broker threads, which is no part of the stop under test.
            producer
        }
    });
    platform::testing::eventually(
        Duration::from_secs(20),
        "200 acknowledged messages",
        || async { acknowledged.lock().unwrap().len() >= 200 },
    )
    .await;

    terminate(broker).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    // The send in flight ends within its queue and message timeouts (2 s each, scanned
    // about once a second); the deadline only keeps a hang from holding the suite.
    let _producer = tokio::time::timeout(Duration::from_secs(30), sending)
        .await
        .expect("the producer stops sending within its timeouts")
        .unwrap();
    let acknowledged = sorted(acknowledged.lock().unwrap().clone());
    let _broker = broker_on(port, &workdir).await;

    let journal = Journal::open(workdir.data()).unwrap();
    let kept: usize = (0..3)
        .map(|partition| journal.read(topic, partition).unwrap().len())
        .sum();
    // A message may have been stored whose acknowledgement the stop cut off; none
    // acknowledged is missing.
    let consumed = read_from_the_beginning(&bootstrap, &[topic], kept).await;
    for message in &acknowledged {
        assert!(consumed.contains(message), "{message:?} was lost");
    }
}
