//! The embedded broker as a process of its own (`recommerce broker`) that clients can be
//! configured with once: at a fixed address, and, with a data directory, with its messages
//! and consumer groups' committed offsets kept across restarts.
//!
//! **The address.** librdkafka's mock cluster listens only on a port it picks. A TCP
//! forwarder on `127.0.0.1:PORT` passes every connection through to it, and the cluster
//! advertises `127.0.0.1:PORT` as its brokers' address in metadata, so a client
//! bootstrapped there never learns the real port and finds the broker again when it comes
//! back behind the same PORT.
//!
//! **The messages.** The mock cluster holds messages in memory only. With a data directory,
//! a consumer inside this process (a group of its own that never joins: every partition
//! of every topic assigned) appends each message to the [`journal`], one file per
//! partition, fsync'd at least every 100 ms. On start the journal is produced back, in
//! order and to the same partition, into the fresh cluster, whose partitions start empty,
//! so every message comes back at its offset with its key, headers and timestamp; only
//! then is the forwarder opened and the address announced.
//!
//! **Committed offsets.** The mock cluster forgets consumer groups too. The forwarder
//! notes the group of every OffsetCommit it passes on; once a second the committed offsets
//! of those groups are read and, when they changed, written to
//! `DIR/committed-offsets.json`; on start they are committed again (never past a
//! partition's end), so groups go on where they were.
//!
//! **Limits.** A message the broker acknowledged reaches the disk within about 100 ms, a
//! commit within about a second: a `kill -9` (or a power cut) in that window loses the
//! message, or makes its group see a few messages again (the services' consumers skip an
//! event id they have seen). A SIGTERM loses nothing: the forwarder closes first, then the
//! journal catches up with every partition's end and the offsets are read a last time.
//! The mock cluster keeps at most 100,000 messages or 5 MiB per partition and drops older
//! ones (the journal keeps everything); a journal that has a gap (the journaller fell that
//! far behind) cannot be replayed at the same offsets, and the broker refuses to start on
//! it, naming the partition file to move away. One process per data directory (a lock).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::EmbeddedBroker;
use super::journal::{self, Journal, PartitionLog, Record};

const HOST: &str = "127.0.0.1";
/// The longest an appended message waits for its fsync.
const SYNC_EVERY: Duration = Duration::from_millis(100);
/// How often groups' committed offsets are read, and new topics looked for.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// How long a stop waits for the journal to catch up.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
const OFFSETS_FILE: &str = "committed-offsets.json";

/// group → topic → partition → the offset committed (the next one to read).
type GroupOffsets = BTreeMap<String, BTreeMap<String, BTreeMap<i32, i64>>>;
type Groups = Arc<Mutex<BTreeSet<String>>>;

pub struct StandaloneOptions {
    /// The port of `127.0.0.1` clients use; 0 takes a free one.
    pub port: u16,
    /// Where messages and committed offsets are kept; none: in memory only.
    pub data_dir: Option<PathBuf>,
    /// Topics to create, with their partition counts. Topics in the journal are created
    /// too; a topic in both gets the larger count.
    pub topics: Vec<(String, i32)>,
}

pub struct StandaloneBroker {
    address: String,
    real: SocketAddr,
    replayed: u64,
    forwarder: CancellationToken,
    accepting: tokio::task::JoinHandle<()>,
    connections: TaskTracker,
    persisting: Option<Persisting>,
    // Dropped last: the cluster outlives every client of it above.
    broker: EmbeddedBroker,
}

struct Persisting {
    stop: Arc<AtomicBool>,
    mirror: oneshot::Receiver<anyhow::Result<Mirror>>,
    _lock: File,
}

impl StandaloneBroker {
    /// Starts the cluster, creates the topics, replays the journal and restores committed
    /// offsets (with a data directory), and only then opens the address to clients.
    pub async fn start(options: StandaloneOptions) -> anyhow::Result<Self> {
        // Bound first so a port in use fails at once; connections wait in the backlog
        // until the replay is done.
        let listener = TcpListener::bind((HOST, options.port))
            .await
            .with_context(|| format!("cannot listen on {HOST}:{}", options.port))?;
        let port = listener.local_addr()?.port();
        let broker = EmbeddedBroker::start(1)?;
        let real: SocketAddr = broker.bootstrap_servers().parse().with_context(|| {
            format!(
                "the embedded broker's address {:?} is not one host:port",
                broker.bootstrap_servers()
            )
        })?;
        let mut topics: BTreeMap<String, i32> = options.topics.into_iter().collect();
        let groups: Groups = Arc::default();
        let mut replayed = 0;
        let mut restored = None;
        if let Some(dir) = options.data_dir {
            let lock = lock(&dir)?;
            let journal = Journal::open(&dir)
                .with_context(|| format!("cannot open the journal in {}", dir.display()))?;
            for (topic, partitions) in journal.topics()? {
                let count = topics.entry(topic).or_insert(partitions);
                *count = (*count).max(partitions);
            }
            create_topics(&broker, &topics)?;
            let (mirror, count) = tokio::task::spawn_blocking({
                let topics = topics.clone();
                let groups = groups.clone();
                move || Mirror::replay(journal, &topics, groups, real)
            })
            .await??;
            replayed = count;
            restored = Some((mirror, lock));
        } else {
            create_topics(&broker, &topics)?;
        }
        broker.advertise(HOST, port)?;

        let forwarder = CancellationToken::new();
        let connections = TaskTracker::new();
        let accepting = tokio::spawn(accept(
            listener,
            real,
            forwarder.clone(),
            connections.clone(),
            groups,
        ));
        let persisting = restored.map(|(mirror, lock)| {
            let stop = Arc::new(AtomicBool::new(false));
            let (done, receiver) = oneshot::channel();
            let flag = stop.clone();
            std::thread::Builder::new()
                .name("broker-journal".into())
                .spawn(move || {
                    let _ = done.send(mirror.follow(real, &flag));
                })
                .map(|_| Persisting {
                    stop,
                    mirror: receiver,
                    _lock: lock,
                })
        });
        let persisting = persisting
            .transpose()
            .context("cannot start the journal's thread")?;
        Ok(Self {
            address: format!("{HOST}:{port}"),
            real,
            replayed,
            forwarder,
            accepting,
            connections,
            persisting,
            broker,
        })
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> &str {
        &self.address
    }

    /// How many messages the start replayed from the journal.
    pub fn replayed(&self) -> u64 {
        self.replayed
    }

    /// Serves until `stop` completes, then stops without losing what was acknowledged.
    /// Fails at once if the journal stops working (a full disk), so nobody relies on it.
    pub async fn run_until(mut self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        if let Some(persisting) = self.persisting.as_mut() {
            tokio::select! {
                () = stop => {}
                ended = &mut persisting.mirror => {
                    return Err(match ended {
                        Ok(Err(error)) => error.context("the journal stopped"),
                        Ok(Ok(_)) | Err(_) => anyhow::anyhow!("the journal stopped"),
                    });
                }
            }
        } else {
            stop.await;
        }
        self.stop().await
    }

    /// Closes the address (every client connection is cut), lets the journal catch up with
    /// every partition's end and saves the committed offsets a last time.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        // The journaller first, while its connections (through the forwarder) are up, so
        // its clients close cleanly; then the clients' connections are cut.
        let mirror = match self.persisting.take() {
            Some(persisting) => {
                persisting.stop.store(true, Ordering::Release);
                let mirror = persisting
                    .mirror
                    .await
                    .context("the journal's thread died")??;
                Some((mirror, persisting._lock))
            }
            None => None,
        };
        self.forwarder.cancel();
        let _ = (&mut self.accepting).await;
        self.connections.close();
        self.connections.wait().await;
        let Some((mirror, lock)) = mirror else {
            return Ok(());
        };
        // Its last reads go straight to the cluster, which must now name its own listener.
        self.broker
            .advertise(&self.real.ip().to_string(), self.real.port())?;
        let real = self.real;
        tokio::task::spawn_blocking(move || mirror.drain(real)).await??;
        drop(lock);
        Ok(())
    }
}

impl Drop for StandaloneBroker {
    /// Without [`Self::stop`]: the forwarder and the journaller stop on their own, losing
    /// what the journal had not caught up with.
    fn drop(&mut self) {
        self.forwarder.cancel();
        if let Some(persisting) = &self.persisting {
            persisting.stop.store(true, Ordering::Release);
        }
    }
}

fn create_topics(broker: &EmbeddedBroker, topics: &BTreeMap<String, i32>) -> anyhow::Result<()> {
    for (topic, partitions) in topics {
        broker
            .create_topic(topic, *partitions)
            .with_context(|| format!("cannot create {topic}"))?;
    }
    Ok(())
}

/// One broker per data directory: a second one would write the same files.
fn lock(dir: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("lock");
    let file = File::create(&path).with_context(|| format!("cannot open {}", path.display()))?;
    file.try_lock().map_err(|error| {
        anyhow::anyhow!("{} is in use by another broker ({error})", dir.display())
    })?;
    Ok(file)
}

// ---------------------------------------------------------------------------------------
// The forwarder.

async fn accept(
    listener: TcpListener,
    target: SocketAddr,
    stop: CancellationToken,
    connections: TaskTracker,
    groups: Groups,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((client, _)) => {
                connections.spawn(forward(client, target, stop.clone(), groups.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Passes one connection through until either side closes it or the forwarder stops.
async fn forward(client: TcpStream, target: SocketAddr, stop: CancellationToken, groups: Groups) {
    let upstream = match TcpStream::connect(target).await {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::warn!(%error, "the embedded broker refused a connection");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, mut client_write) = client.into_split();
    let (mut upstream_read, upstream_write) = upstream.into_split();
    tokio::select! {
        () = stop.cancelled() => {}
        _ = requests(client_read, upstream_write, &groups) => {}
        _ = tokio::io::copy(&mut upstream_read, &mut client_write) => {}
    }
}

/// Copies Kafka requests (`i32` size, then the request) one by one, noting the group of
/// each OffsetCommit.
async fn requests(
    from: impl AsyncRead + Unpin,
    to: impl AsyncWrite + Unpin,
    groups: &Groups,
) -> std::io::Result<()> {
    const LOOKED_AT: usize = 512;
    let mut from = tokio::io::BufReader::new(from);
    let mut to = tokio::io::BufWriter::new(to);
    loop {
        let mut size = [0_u8; 4];
        from.read_exact(&mut size).await?;
        let length = u64::try_from(i32::from_be_bytes(size))
            .map_err(|_| std::io::Error::other("a request of negative size"))?;
        let mut head = vec![0_u8; usize::try_from(length).unwrap_or(0).min(LOOKED_AT)];
        from.read_exact(&mut head).await?;
        if let Some(group) = committing_group(&head) {
            groups
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(group);
        }
        to.write_all(&size).await?;
        to.write_all(&head).await?;
        let rest = length - head.len() as u64;
        let copied = tokio::io::copy(&mut (&mut from).take(rest), &mut to).await?;
        if copied != rest {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        to.flush().await?;
    }
}

/// The group id of an OffsetCommit request (API key 8), from its first bytes.
fn committing_group(request: &[u8]) -> Option<String> {
    const OFFSET_COMMIT: i16 = 8;
    /// From this version on the request and its header are "flexible" (KIP-482).
    const FLEXIBLE_FROM: i16 = 8;
    let mut bytes = request;
    if i16::from_be_bytes(take(&mut bytes, 2)?.try_into().ok()?) != OFFSET_COMMIT {
        return None;
    }
    let version = i16::from_be_bytes(take(&mut bytes, 2)?.try_into().ok()?);
    take(&mut bytes, 4)?; // correlation id
    let client_id = i16::from_be_bytes(take(&mut bytes, 2)?.try_into().ok()?);
    if client_id > 0 {
        take(&mut bytes, usize::try_from(client_id).ok()?)?;
    }
    let group = if version >= FLEXIBLE_FROM {
        for _ in 0..uvarint(&mut bytes)? {
            uvarint(&mut bytes)?; // tag
            let size = uvarint(&mut bytes)?;
            take(&mut bytes, usize::try_from(size).ok()?)?;
        }
        let length = uvarint(&mut bytes)?.checked_sub(1)?;
        take(&mut bytes, usize::try_from(length).ok()?)?
    } else {
        let length = i16::from_be_bytes(take(&mut bytes, 2)?.try_into().ok()?);
        take(&mut bytes, usize::try_from(length).ok()?)?
    };
    String::from_utf8(group.to_vec())
        .ok()
        .filter(|group| !group.is_empty())
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if bytes.len() < n {
        return None;
    }
    let (taken, rest) = bytes.split_at(n);
    *bytes = rest;
    Some(taken)
}

fn uvarint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0_u64;
    for shift in (0..64).step_by(7) {
        let byte = take(bytes, 1)?[0];
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// The journaller.

/// What the journaller owns: the open partition files and the offsets last saved.
struct Mirror {
    journal: Journal,
    logs: BTreeMap<(String, i32), PartitionLog>,
    groups: Groups,
    saved: GroupOffsets,
}

/// The clients of one run of the journaller, against one address of the cluster.
struct Session {
    consumer: BaseConsumer,
    assigned: BTreeSet<(String, i32)>,
    bootstrap: String,
    group_clients: HashMap<String, BaseConsumer>,
}

impl Session {
    fn new(address: SocketAddr) -> anyhow::Result<Self> {
        let bootstrap = address.to_string();
        let consumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("client.id", "broker-journal")
            // librdkafka assigns partitions only to a consumer with a group; this one
            // never subscribes, so it never joins it, and it commits nothing.
            .set("group.id", "recommerce-broker-journal")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", "earliest")
            .set("allow.auto.create.topics", "false")
            .set("fetch.wait.max.ms", "10")
            .create()
            .context("cannot create the journal's consumer")?;
        Ok(Self {
            consumer,
            assigned: BTreeSet::new(),
            bootstrap,
            group_clients: HashMap::new(),
        })
    }
}

impl Mirror {
    /// Opens every partition's file (cutting torn tails), produces the journal back into
    /// the cluster at `real`, checking every message lands at its offset, and commits the
    /// saved offsets of every group. Returns the journaller and how many messages it
    /// replayed.
    fn replay(
        journal: Journal,
        topics: &BTreeMap<String, i32>,
        groups: Groups,
        real: SocketAddr,
    ) -> anyhow::Result<(Self, u64)> {
        let producer: BaseProducer<Replay> = ClientConfig::new()
            .set("bootstrap.servers", real.to_string())
            .set("client.id", "broker-journal-replay")
            // Order within a partition holds through retries.
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000")
            .create_with_context(Replay::default())
            .context("cannot create the journal's producer")?;
        let mut logs = BTreeMap::new();
        let mut count = 0_u64;
        for (topic, partitions) in topics {
            if !journal::is_legal_topic(topic) {
                tracing::warn!(%topic, "not journalled: the name is not a legal topic name");
                continue;
            }
            for partition in 0..*partitions {
                let log = journal.append_to(topic, partition)?;
                if log.next_offset() > 0 {
                    for record in journal.reader(topic, partition)? {
                        send(&producer, topic, partition, &record?)?;
                        count += 1;
                    }
                }
                logs.insert((topic.clone(), partition), log);
            }
        }
        producer
            .flush(Duration::from_secs(60))
            .context("the replayed messages were not all acknowledged within 60 s")?;
        producer.context().outcome(&journal)?;

        let ends: BTreeMap<(String, i32), i64> = logs
            .iter()
            .map(|(key, log)| (key.clone(), log.next_offset()))
            .collect();
        let saved = restore_offsets(journal.dir(), &ends, real)?;
        {
            let mut known = groups.lock().unwrap_or_else(PoisonError::into_inner);
            known.extend(saved.keys().cloned());
        }
        Ok((
            Self {
                journal,
                logs,
                groups,
                saved,
            },
            count,
        ))
    }

    /// Journals every message as the cluster gets it until `stop` is set.
    fn follow(mut self, address: SocketAddr, stop: &AtomicBool) -> anyhow::Result<Self> {
        let mut session = Session::new(address)?;
        let mut next_look = Instant::now();
        let mut last_sync = Instant::now();
        while !stop.load(Ordering::Acquire) {
            if Instant::now() >= next_look {
                if let Err(error) = self.track(&mut session) {
                    tracing::warn!(%error, "looking for new topics failed");
                }
                self.save_offsets(&mut session)?;
                next_look = Instant::now() + LOOK_EVERY;
            }
            let journalled = self.poll(&session, Duration::from_millis(20))?;
            if !journalled || last_sync.elapsed() >= SYNC_EVERY {
                self.sync()?;
                last_sync = Instant::now();
            }
        }
        self.sync()?;
        // The session's clients close here, while the forwarder is still up.
        drop(session);
        Ok(self)
    }

    /// After the forwarder closed: journals up to every partition's end as it is now, and
    /// saves the committed offsets a last time.
    fn drain(mut self, address: SocketAddr) -> anyhow::Result<()> {
        let mut session = Session::new(address)?;
        self.track(&mut session)?;
        let mut ends = BTreeMap::new();
        for (topic, partition) in self.logs.keys() {
            let (_, high) = session
                .consumer
                .fetch_watermarks(topic, *partition, Duration::from_secs(5))
                .with_context(|| format!("cannot read the end of {topic} [{partition}]"))?;
            ends.insert((topic.clone(), *partition), high);
        }
        let until = Instant::now() + DRAIN_LIMIT;
        while self
            .logs
            .iter()
            .any(|(key, log)| ends.get(key).is_some_and(|end| log.next_offset() < *end))
        {
            if Instant::now() >= until {
                tracing::warn!("the journal did not catch up within {DRAIN_LIMIT:?}");
                break;
            }
            self.poll(&session, Duration::from_millis(50))?;
        }
        self.sync()?;
        self.save_offsets(&mut session)
    }

    /// Assigns every partition not yet assigned, from the offset after its journal's last.
    fn track(&mut self, session: &mut Session) -> anyhow::Result<()> {
        let metadata = session
            .consumer
            .fetch_metadata(None, Duration::from_secs(5))?;
        let mut new = TopicPartitionList::new();
        for topic in metadata.topics() {
            if topic.error().is_some() || !journal::is_legal_topic(topic.name()) {
                continue;
            }
            for partition in topic.partitions() {
                let key = (topic.name().to_owned(), partition.id());
                if session.assigned.contains(&key) {
                    continue;
                }
                let log = match self.logs.entry(key.clone()) {
                    std::collections::btree_map::Entry::Occupied(log) => log.into_mut(),
                    std::collections::btree_map::Entry::Vacant(slot) => {
                        slot.insert(self.journal.append_to(&key.0, key.1)?)
                    }
                };
                new.add_partition_offset(&key.0, key.1, Offset::Offset(log.next_offset()))?;
                session.assigned.insert(key);
            }
        }
        if new.count() > 0 {
            session.consumer.incremental_assign(&new)?;
        }
        Ok(())
    }

    /// Takes one message (waiting at most `wait`) and appends it; false if none came.
    fn poll(&mut self, session: &Session, wait: Duration) -> anyhow::Result<bool> {
        let message = match session.consumer.poll(wait) {
            None => return Ok(false),
            Some(Err(error)) => {
                tracing::debug!(%error, "the journal's consumer");
                return Ok(false);
            }
            Some(Ok(message)) => message,
        };
        let key = (message.topic().to_owned(), message.partition());
        let Some(log) = self.logs.get_mut(&key) else {
            return Ok(true);
        };
        if message.offset() < log.next_offset() {
            return Ok(true);
        }
        if message.offset() > log.next_offset() {
            tracing::error!(
                topic = %key.0,
                partition = key.1,
                from = log.next_offset(),
                to = message.offset(),
                "the embedded broker dropped messages before they were journalled"
            );
        }
        let headers = message.headers().map_or_else(Vec::new, |headers| {
            headers
                .iter()
                .map(|header| (header.key.to_owned(), header.value.map(<[u8]>::to_vec)))
                .collect()
        });
        log.append(&Record {
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
        })
        .with_context(|| format!("cannot journal {} [{}]", key.0, key.1))?;
        Ok(true)
    }

    fn sync(&mut self) -> anyhow::Result<()> {
        for ((topic, partition), log) in &mut self.logs {
            log.sync()
                .with_context(|| format!("cannot sync the journal of {topic} [{partition}]"))?;
        }
        Ok(())
    }

    /// Reads the committed offsets of every group seen committing and saves them if they
    /// changed. A group that cannot be asked keeps what was saved for it.
    fn save_offsets(&mut self, session: &mut Session) -> anyhow::Result<()> {
        let groups: Vec<String> = self
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        if groups.is_empty() {
            return Ok(());
        }
        let mut partitions = TopicPartitionList::new();
        for (topic, partition) in self.logs.keys() {
            partitions.add_partition(topic, *partition);
        }
        let mut offsets = self.saved.clone();
        for group in groups {
            let client = match session.group_clients.entry(group.clone()) {
                std::collections::hash_map::Entry::Occupied(client) => client.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    match group_client(&session.bootstrap, &group) {
                        Ok(client) => slot.insert(client),
                        Err(error) => {
                            tracing::warn!(%group, %error, "cannot read a group's offsets");
                            continue;
                        }
                    }
                }
            };
            match client.committed_offsets(partitions.clone(), Duration::from_secs(2)) {
                Ok(committed) => {
                    let saved = offsets.entry(group).or_default();
                    for element in committed.elements() {
                        if let Offset::Offset(offset) = element.offset() {
                            saved
                                .entry(element.topic().to_owned())
                                .or_default()
                                .insert(element.partition(), offset);
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%group, %error, "cannot read a group's offsets");
                }
            }
        }
        if offsets != self.saved {
            write_offsets(self.journal.dir(), &offsets)?;
            self.saved = offsets;
        }
        Ok(())
    }
}

fn group_client(bootstrap: &str, group: &str) -> anyhow::Result<BaseConsumer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("client.id", "broker-journal-offsets")
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("allow.auto.create.topics", "false")
        .create()?)
}

fn send(
    producer: &BaseProducer<Replay>,
    topic: &str,
    partition: i32,
    record: &Record,
) -> anyhow::Result<()> {
    let headers = record.headers.iter().fold(
        OwnedHeaders::new_with_capacity(record.headers.len()),
        |headers, (name, value)| {
            headers.insert(Header {
                key: name,
                value: value.as_deref(),
            })
        },
    );
    let expected = usize::try_from(record.offset).context("a negative offset in the journal")?;
    let mut message = BaseRecord {
        topic,
        partition: Some(partition),
        payload: record.payload.as_deref(),
        key: record.key.as_deref(),
        timestamp: record.timestamp,
        headers: (!record.headers.is_empty()).then_some(headers),
        delivery_opaque: expected,
    };
    loop {
        match producer.send(message) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                producer.poll(Duration::from_millis(100));
                message = returned;
            }
            Err((error, _)) => {
                return Err(error).context(format!("cannot replay {topic} [{partition}]"));
            }
        }
    }
}

/// Checks that every replayed message lands at the offset the journal had it at.
#[derive(Default)]
struct Replay {
    wrong: Mutex<Option<String>>,
}

impl ClientContext for Replay {}

impl ProducerContext for Replay {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, expected: usize) {
        let problem = match result {
            Ok(message) if usize::try_from(message.offset()).ok() == Some(expected) => None,
            Ok(message) => Some(format!(
                "{} [{}]: the message journalled at offset {expected} landed at {}; the \
                 journal has a gap (see the platform::kafka::standalone docs): move \
                 topics/{}/{}.log out of the data directory to start without it",
                message.topic(),
                message.partition(),
                message.offset(),
                message.topic(),
                message.partition()
            )),
            Err((error, message)) => Some(format!(
                "{} [{}]: offset {expected} was not replayed: {error}",
                message.topic(),
                message.partition()
            )),
        };
        if let Some(problem) = problem {
            let mut wrong = self.wrong.lock().unwrap_or_else(PoisonError::into_inner);
            wrong.get_or_insert(problem);
        }
    }
}

impl Replay {
    fn outcome(&self, journal: &Journal) -> anyhow::Result<()> {
        match self
            .wrong
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            None => Ok(()),
            Some(problem) => Err(anyhow::anyhow!(
                "replaying the journal in {} failed: {problem}",
                journal.dir().display()
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Committed offsets on disk.

fn read_offsets(dir: &Path) -> anyhow::Result<GroupOffsets> {
    let path = dir.join(OFFSETS_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a map of committed offsets", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(GroupOffsets::new()),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Replaced whole (a new file renamed over the old), so a crash leaves one or the other.
fn write_offsets(dir: &Path, offsets: &GroupOffsets) -> anyhow::Result<()> {
    let path = dir.join(OFFSETS_FILE);
    let temporary = dir.join(format!("{OFFSETS_FILE}.new"));
    let mut file = File::create(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    file.write_all(&serde_json::to_vec_pretty(offsets)?)?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Commits every saved group's offsets into the fresh cluster (none past a partition's
/// end: what the journal lost cannot have been read). Returns what was saved.
fn restore_offsets(
    dir: &Path,
    ends: &BTreeMap<(String, i32), i64>,
    real: SocketAddr,
) -> anyhow::Result<GroupOffsets> {
    let saved = read_offsets(dir)?;
    for (group, topics) in &saved {
        let mut offsets = TopicPartitionList::new();
        for (topic, partitions) in topics {
            for (partition, offset) in partitions {
                let Some(end) = ends.get(&(topic.clone(), *partition)) else {
                    continue;
                };
                offsets.add_partition_offset(
                    topic,
                    *partition,
                    Offset::Offset((*offset).min(*end)),
                )?;
            }
        }
        if offsets.count() == 0 {
            continue;
        }
        // A commit from outside the group: the group does not exist yet, so the cluster
        // takes it without a generation.
        group_client(&real.to_string(), group)?
            .commit(&offsets, CommitMode::Sync)
            .with_context(|| format!("cannot restore the committed offsets of {group}"))?;
    }
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: i16, client_id: &str, group: &str) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&8_i16.to_be_bytes());
        bytes.extend_from_slice(&version.to_be_bytes());
        bytes.extend_from_slice(&42_i32.to_be_bytes());
        bytes.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
        bytes.extend_from_slice(client_id.as_bytes());
        if version >= 8 {
            // One tagged field of 3 bytes in the header.
            bytes.extend_from_slice(&[1, 0, 3, 9, 9, 9]);
            bytes.push(group.len() as u8 + 1);
        } else {
            bytes.extend_from_slice(&(group.len() as i16).to_be_bytes());
        }
        bytes.extend_from_slice(group.as_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 1]);
        bytes
    }

    #[test]
    fn the_forwarder_reads_the_group_of_an_offset_commit_of_any_version() {
        assert_eq!(
            committing_group(&request(2, "order", "order-consumers")),
            Some("order-consumers".into())
        );
        assert_eq!(
            committing_group(&request(9, "rdkafka", "fulfilment")),
            Some("fulfilment".into())
        );
    }

    #[test]
    fn the_forwarder_ignores_other_requests_and_cut_short_ones() {
        let mut produce = request(2, "order", "order-consumers");
        produce[1] = 0;
        assert_eq!(committing_group(&produce), None);
        let whole = request(9, "rdkafka", "fulfilment");
        assert_eq!(committing_group(&whole[..whole.len() - 12]), None);
    }
}
