//! The broker's journal: every message of every topic-partition, in offset order, in an
//! append-only file per partition, so `recommerce broker --data-dir` can put them back into
//! a fresh embedded broker after a restart (the embedded broker keeps messages in memory
//! only). Written and read back by `recommerce broker`, and read by tests.
//!
//! Layout: `DIR/topics/<topic>/<partition>.log`, one file per partition of every topic the
//! broker had, empty ones included (so a topic comes back with all its partitions). A file
//! is the 8 bytes [`MAGIC`] followed by records, each
//! `u32 body length | u32 CRC-32 (IEEE) of the body | body`, and a body is
//! `i64 offset | i64 timestamp ms (-1: none) | bytes key | bytes payload |
//! u32 header count | (u32 name length, name, bytes value) per header`, where `bytes` is an
//! `i32` length (-1: null) and the bytes. All integers are little-endian.
//!
//! A crash can tear only the last record (appends are sequential, fsync'd in batches): a
//! record that is cut short or whose CRC does not match ends the file for readers, and
//! opening the file to append cuts it and everything after it off. A record is at most
//! [`MAX_RECORD`] bytes; a longer length is read as a torn record.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The first bytes of every partition file (the format's version is its last byte).
pub const MAGIC: &[u8; 8] = b"RCJRNL01";
/// The largest record body read back (librdkafka's default `message.max.bytes` is 1 MB).
pub const MAX_RECORD: u32 = 64 * 1024 * 1024;

/// One message as the broker held it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub offset: i64,
    /// Milliseconds since the epoch (the producer's create time), if the message had one.
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    /// In the message's order; a name may repeat.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A journal directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// The journal in `dir`, created if missing.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(dir.join("topics"))?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every topic the journal holds and its partition count (the highest partition file
    /// plus one).
    pub fn topics(&self) -> io::Result<BTreeMap<String, i32>> {
        let mut topics = BTreeMap::new();
        for entry in std::fs::read_dir(self.dir.join("topics"))? {
            let entry = entry?;
            let Some(topic) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if !entry.file_type()?.is_dir() || !is_legal_topic(&topic) {
                continue;
            }
            let mut partitions = 0;
            for file in std::fs::read_dir(entry.path())? {
                let name = file?.file_name();
                let partition = name
                    .to_str()
                    .and_then(|name| name.strip_suffix(".log"))
                    .and_then(|number| number.parse::<i32>().ok());
                if let Some(partition) = partition.filter(|partition| *partition >= 0) {
                    partitions = partitions.max(partition + 1);
                }
            }
            if partitions > 0 {
                topics.insert(topic, partitions);
            }
        }
        Ok(topics)
    }

    fn path(&self, topic: &str, partition: i32) -> io::Result<PathBuf> {
        if !is_legal_topic(topic) || partition < 0 {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("{topic:?} [{partition}] cannot be journalled"),
            ));
        }
        Ok(self
            .dir
            .join("topics")
            .join(topic)
            .join(format!("{partition}.log")))
    }

    /// The records of one partition, in offset order, up to a torn tail; none if the
    /// partition has no file.
    pub fn read(&self, topic: &str, partition: i32) -> io::Result<Vec<Record>> {
        match self.reader(topic, partition) {
            Ok(reader) => reader.collect(),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }

    /// Reads one partition's records in offset order, ending at a torn tail.
    pub fn reader(&self, topic: &str, partition: i32) -> io::Result<Reader> {
        Reader::new(File::open(self.path(topic, partition)?)?)
    }

    /// Opens one partition's file for appending, creating it if missing and cutting off a
    /// torn tail.
    pub fn append_to(&self, topic: &str, partition: i32) -> io::Result<PartitionLog> {
        let path = self.path(topic, partition)?;
        let topic_dir = path.parent().unwrap_or(&self.dir).to_path_buf();
        let created = !path.exists();
        if created {
            std::fs::create_dir_all(&topic_dir)?;
        }
        PartitionLog::open(&path, created.then_some(topic_dir.as_path()))
    }
}

/// Kafka's rule for topic names, which also makes them safe as directory names.
pub fn is_legal_topic(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// One partition's records, read in order; the iteration ends at the end of the file or
/// at a torn record, whichever comes first.
pub struct Reader {
    file: BufReader<File>,
    /// Bytes of the file that hold whole, checked records (the magic included).
    valid_len: u64,
    previous_offset: Option<i64>,
    done: bool,
}

impl Reader {
    fn new(file: File) -> io::Result<Self> {
        let mut file = BufReader::new(file);
        let mut magic = [0_u8; MAGIC.len()];
        let whole = read_fully(&mut file, &mut magic)?;
        if whole && &magic != MAGIC {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                "not a journal file (its first bytes are not the journal's magic)",
            ));
        }
        Ok(Self {
            file,
            // A file cut inside its magic was torn while being created: it holds nothing.
            valid_len: if whole { MAGIC.len() as u64 } else { 0 },
            previous_offset: None,
            done: !whole,
        })
    }

    /// The length of the file's whole records (with the magic): where a torn tail starts.
    /// Final once the iteration has ended.
    pub fn valid_len(&self) -> u64 {
        self.valid_len
    }

    fn next_record(&mut self) -> io::Result<Option<Record>> {
        let mut frame = [0_u8; 8];
        if !read_fully(&mut self.file, &mut frame)? {
            return Ok(None);
        }
        let (length, checksum) = frame.split_at(4);
        let length = u32::from_le_bytes(length.try_into().unwrap_or_default());
        let checksum = u32::from_le_bytes(checksum.try_into().unwrap_or_default());
        if length > MAX_RECORD {
            return Ok(None);
        }
        let mut body = vec![0_u8; length as usize];
        if !read_fully(&mut self.file, &mut body)? || crc32fast::hash(&body) != checksum {
            return Ok(None);
        }
        let record = decode(&body).ok_or_else(|| {
            io::Error::new(
                ErrorKind::InvalidData,
                "a journal record checks out but does not decode",
            )
        })?;
        if self
            .previous_offset
            .is_some_and(|previous| record.offset <= previous)
        {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!(
                    "journal offsets go back: {} after {:?}",
                    record.offset, self.previous_offset
                ),
            ));
        }
        self.previous_offset = Some(record.offset);
        self.valid_len += 8 + u64::from(length);
        Ok(Some(record))
    }
}

impl Iterator for Reader {
    type Item = io::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

/// Fills `buffer`; false if the file ended first (nothing or part of it was there).
fn read_fully(file: &mut impl Read, buffer: &mut [u8]) -> io::Result<bool> {
    match file.read_exact(buffer) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == ErrorKind::UnexpectedEof => Ok(false),
        Err(error) => Err(error),
    }
}

/// One partition's file, open for appending.
pub struct PartitionLog {
    file: BufWriter<File>,
    next_offset: i64,
    unsynced: bool,
}

impl PartitionLog {
    /// `new_in`: the directory a just-created file was made in, synced so the file's name
    /// survives a crash too.
    fn open(path: &Path, new_in: Option<&Path>) -> io::Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut reader = Reader::new(file.try_clone()?)?;
        let mut last = None;
        for record in reader.by_ref() {
            last = Some(record?.offset);
        }
        let valid_len = reader.valid_len();
        if file.metadata()?.len() != valid_len {
            tracing::warn!(
                path = %path.display(),
                valid_len,
                "the journal file ends in a torn record; cutting it off"
            );
            file.set_len(valid_len)?;
        }
        file.seek(SeekFrom::Start(valid_len))?;
        if valid_len == 0 {
            file.write_all(MAGIC)?;
        }
        file.sync_all()?;
        if let Some(dir) = new_in {
            File::open(dir)?.sync_all()?;
        }
        Ok(Self {
            file: BufWriter::new(file),
            next_offset: last.map_or(0, |offset| offset + 1),
            unsynced: false,
        })
    }

    /// The offset after the last record (0 for an empty partition).
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Appends `record` (buffered; [`Self::sync`] makes it durable). Its offset must be past
    /// the last one's.
    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        if record.offset < self.next_offset {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "offset {} is already journalled (next is {})",
                    record.offset, self.next_offset
                ),
            ));
        }
        let body = encode(record)?;
        let length = u32::try_from(body.len())
            .ok()
            .filter(|length| *length <= MAX_RECORD)
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "record too large"))?;
        self.file.write_all(&length.to_le_bytes())?;
        self.file.write_all(&crc32fast::hash(&body).to_le_bytes())?;
        self.file.write_all(&body)?;
        self.next_offset = record.offset + 1;
        self.unsynced = true;
        Ok(())
    }

    /// Writes what is buffered and waits until it is on disk.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.file.flush()?;
            self.file.get_ref().sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    pub fn has_unsynced(&self) -> bool {
        self.unsynced
    }
}

fn encode(record: &Record) -> io::Result<Vec<u8>> {
    fn bytes(out: &mut Vec<u8>, value: Option<&[u8]>) -> io::Result<()> {
        match value {
            None => out.extend_from_slice(&(-1_i32).to_le_bytes()),
            Some(value) => {
                let length = i32::try_from(value.len())
                    .map_err(|_| io::Error::new(ErrorKind::InvalidInput, "value too large"))?;
                out.extend_from_slice(&length.to_le_bytes());
                out.extend_from_slice(value);
            }
        }
        Ok(())
    }
    let mut out = Vec::with_capacity(
        32 + record.key.as_ref().map_or(0, Vec::len) + record.payload.as_ref().map_or(0, Vec::len),
    );
    out.extend_from_slice(&record.offset.to_le_bytes());
    out.extend_from_slice(&record.timestamp.unwrap_or(-1).to_le_bytes());
    bytes(&mut out, record.key.as_deref())?;
    bytes(&mut out, record.payload.as_deref())?;
    let count = u32::try_from(record.headers.len())
        .map_err(|_| io::Error::new(ErrorKind::InvalidInput, "too many headers"))?;
    out.extend_from_slice(&count.to_le_bytes());
    for (name, value) in &record.headers {
        let length = u32::try_from(name.len())
            .map_err(|_| io::Error::new(ErrorKind::InvalidInput, "header name too long"))?;
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        bytes(&mut out, value.as_deref())?;
    }
    Ok(out)
}

fn decode(body: &[u8]) -> Option<Record> {
    struct Cursor<'a>(&'a [u8]);
    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            if self.0.len() < n {
                return None;
            }
            let (taken, rest) = self.0.split_at(n);
            self.0 = rest;
            Some(taken)
        }
        fn i64(&mut self) -> Option<i64> {
            Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
        }
        fn i32(&mut self) -> Option<i32> {
            Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?))
        }
        fn u32(&mut self) -> Option<u32> {
            Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
        }
        fn bytes(&mut self) -> Option<Option<Vec<u8>>> {
            match self.i32()? {
                -1 => Some(None),
                length => Some(Some(self.take(usize::try_from(length).ok()?)?.to_vec())),
            }
        }
    }
    let mut cursor = Cursor(body);
    let offset = cursor.i64()?;
    let timestamp = Some(cursor.i64()?).filter(|timestamp| *timestamp >= 0);
    let key = cursor.bytes()?;
    let payload = cursor.bytes()?;
    let count = cursor.u32()?;
    let mut headers = Vec::new();
    for _ in 0..count {
        let length = usize::try_from(cursor.u32()?).ok()?;
        let name = String::from_utf8(cursor.take(length)?.to_vec()).ok()?;
        headers.push((name, cursor.bytes()?));
    }
    cursor.0.is_empty().then_some(Record {
        offset,
        timestamp,
        key,
        payload,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: i64) -> Record {
        Record {
            offset,
            timestamp: Some(1_700_000_000_000 + offset),
            key: Some(format!("key-{offset}").into_bytes()),
            payload: (offset % 2 == 0).then(|| vec![offset as u8; 100]),
            headers: vec![
                ("event-id".into(), Some(b"abc".to_vec())),
                ("empty".into(), None),
                ("event-id".into(), Some(Vec::new())),
            ],
        }
    }

    fn journal() -> Journal {
        Journal::open(std::env::temp_dir().join(format!("journal-{}", uuid::Uuid::new_v4())))
            .unwrap()
    }

    fn file_of(journal: &Journal, topic: &str, partition: i32) -> PathBuf {
        journal.path(topic, partition).unwrap()
    }

    #[test]
    fn records_read_back_as_they_were_appended_across_reopening() {
        let journal = journal();
        let mut log = journal.append_to("orders", 2).unwrap();
        for offset in 0..3 {
            log.append(&record(offset)).unwrap();
        }
        log.sync().unwrap();
        drop(log);
        let mut log = journal.append_to("orders", 2).unwrap();
        assert_eq!(log.next_offset(), 3);
        log.append(&record(3)).unwrap();
        log.sync().unwrap();
        let read = journal.read("orders", 2).unwrap();
        assert_eq!(read, (0..4).map(record).collect::<Vec<_>>());
        assert_eq!(
            journal.topics().unwrap(),
            BTreeMap::from([("orders".into(), 3)])
        );
    }

    #[test]
    fn a_torn_last_record_is_not_read_and_is_cut_off_before_the_next_append() {
        let journal = journal();
        let mut log = journal.append_to("orders", 0).unwrap();
        for offset in 0..3 {
            log.append(&record(offset)).unwrap();
        }
        log.sync().unwrap();
        drop(log);
        let path = file_of(&journal, "orders", 0);
        let whole = std::fs::metadata(&path).unwrap().len();
        // A crash in the middle of writing the third record.
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(whole - 7).unwrap();
        drop(file);
        assert_eq!(
            journal.read("orders", 0).unwrap(),
            vec![record(0), record(1)]
        );

        let mut log = journal.append_to("orders", 0).unwrap();
        assert_eq!(log.next_offset(), 2);
        log.append(&record(2)).unwrap();
        log.sync().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        assert_eq!(
            journal.read("orders", 0).unwrap(),
            (0..3).map(record).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_last_record_with_a_wrong_checksum_counts_as_torn() {
        let journal = journal();
        let mut log = journal.append_to("orders", 0).unwrap();
        log.append(&record(0)).unwrap();
        log.append(&record(1)).unwrap();
        log.sync().unwrap();
        drop(log);
        let path = file_of(&journal, "orders", 0);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(journal.read("orders", 0).unwrap(), vec![record(0)]);
        assert_eq!(journal.append_to("orders", 0).unwrap().next_offset(), 1);
    }

    #[test]
    fn a_file_torn_inside_its_magic_holds_nothing_and_takes_appends() {
        let journal = journal();
        drop(journal.append_to("orders", 0).unwrap());
        let path = file_of(&journal, "orders", 0);
        std::fs::write(&path, &MAGIC[..3]).unwrap();
        assert!(journal.read("orders", 0).unwrap().is_empty());
        let mut log = journal.append_to("orders", 0).unwrap();
        log.append(&record(0)).unwrap();
        log.sync().unwrap();
        assert_eq!(journal.read("orders", 0).unwrap(), vec![record(0)]);
    }

    #[test]
    fn an_offset_already_journalled_is_refused() {
        let journal = journal();
        let mut log = journal.append_to("orders", 0).unwrap();
        log.append(&record(5)).unwrap();
        assert!(log.append(&record(5)).is_err());
        assert_eq!(log.next_offset(), 6);
    }

    #[test]
    fn a_name_that_is_not_a_legal_topic_is_refused() {
        let journal = journal();
        assert!(journal.append_to("../escape", 0).is_err());
        assert!(journal.append_to("..", 0).is_err());
        assert!(journal.append_to("orders", -1).is_err());
    }
}
