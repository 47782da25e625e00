//! A crash-safe journal file: append, fsync, compact by atomic rename.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mqtt_session::{SessionState, Store, StoreOp};

use super::record::{self, Decoded};

/// The first bytes of every journal file (format version 1).
const MAGIC: &[u8; 8] = b"MQTTJRN1";
/// Compact once the log is this large and four times what its live state needs.
const COMPACT_AT: u64 = 1 << 20;

/// Why a [`FileStore`] failed. A failure is never hidden: the event loop ends with
/// it ([`crate::ClientError::Store`]), and nothing the store acknowledged is dropped.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading, writing or syncing the file failed (disk full, permissions, ...).
    Io(Arc<io::Error>),
    /// Not a journal file of this format.
    NotAJournal(PathBuf),
    /// A damaged record before the end of the file (a torn last record is only the
    /// mark of a crash during an append, and is dropped).
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the damaged record starts.
        offset: u64,
    },
    /// An entry this file format has no encoding for.
    Unsupported,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io(e) => write!(f, "store I/O: {e}"),
            StoreError::NotAJournal(p) => write!(f, "{} is not a journal file", p.display()),
            StoreError::Corrupt { path, offset } => {
                write!(f, "{} is damaged at byte {offset}", path.display())
            }
            StoreError::Unsupported => f.write_str("a journal entry this format cannot hold"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        StoreError::Io(Arc::new(e))
    }
}

/// A [`Store`] in one file: an append-only log of journal entries, each with a
/// checksum, made durable with `fsync` after every batch (one per event-loop round:
/// a group commit). When the log has grown well past what its live state needs, it
/// is rewritten from that state into a new file that replaces the old one by an
/// atomic rename, so a crash at any moment leaves one whole journal.
///
/// Why a log and not an embedded database: the data is a handful of records keyed by
/// operation, written in order and read back only at start; a log with checksums and
/// `fsync` gives exactly the needed guarantees with no dependency and one write per
/// batch.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    file: File,
    /// The state the log builds, kept to compact from.
    state: SessionState,
    len: u64,
    buf: Vec<u8>,
}

impl FileStore {
    /// Opens (or creates) the journal at `path`. A record cut short at the end (a
    /// crash during an append) is dropped; damage anywhere else is an error.
    pub fn open(path: impl AsRef<Path>) -> Result<FileStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut state = SessionState::empty();
        let len = if bytes.is_empty() {
            file.write_all(MAGIC)?;
            file.sync_all()?;
            sync_dir(&path)?;
            MAGIC.len() as u64
        } else {
            if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
                return Err(StoreError::NotAJournal(path));
            }
            let mut at = MAGIC.len();
            while at < bytes.len() {
                match record::decode(&bytes[at..]) {
                    Decoded::Op(op, n) => {
                        state.apply(&op);
                        at += n;
                    }
                    Decoded::Incomplete => break,
                    // The last record may be garbage from a torn write; earlier ones not.
                    Decoded::Invalid if is_last(&bytes[at..]) => break,
                    Decoded::Invalid => {
                        return Err(StoreError::Corrupt {
                            path,
                            offset: at as u64,
                        })
                    }
                }
            }
            if at < bytes.len() {
                file.set_len(at as u64)?;
                file.sync_all()?;
            }
            at as u64
        };
        file.seek(SeekFrom::Start(len))?;
        Ok(FileStore {
            path,
            file,
            state,
            len,
            buf: Vec::new(),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rewrites the journal from its live state (a new file, fsynced, renamed over
    /// the old one, directory fsynced).
    pub fn compact(&mut self) -> Result<(), StoreError> {
        let tmp = self.path.with_extension("compacting");
        let mut out = MAGIC.to_vec();
        for op in self.state.to_ops() {
            if !record::encode(&op, &mut out) {
                return Err(StoreError::Unsupported);
            }
        }
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&out)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        sync_dir(&self.path)?;
        let mut file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        file.seek(SeekFrom::End(0))?;
        self.file = file;
        self.len = out.len() as u64;
        Ok(())
    }

    fn live_size(&self) -> u64 {
        let payloads: usize = self
            .state
            .inflight
            .iter()
            .map(|s| match &s.command {
                mqtt_session::StoredCommand::Publish(m) => m.payload.len() + 64,
                _ => 64,
            })
            .sum::<usize>()
            + self.state.queued.len() * 64
            + self.state.inbound_qos2.len() * 16;
        payloads as u64
    }
}

impl Store for FileStore {
    type Error = StoreError;

    fn persist(&mut self, ops: &[StoreOp]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        for op in ops {
            if !record::encode(op, &mut self.buf) {
                return Err(StoreError::Unsupported);
            }
        }
        if let Err(e) = self
            .file
            .write_all(&self.buf)
            .and_then(|()| self.file.sync_data())
        {
            // Leave no partial batch behind for the next append to follow: a torn
            // record in the middle would read as damage. Best effort; a crash now is
            // the same torn tail that opening forgives.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(e.into());
        }
        self.len += self.buf.len() as u64;
        for op in ops {
            self.state.apply(op);
        }
        if self.len > COMPACT_AT && self.len > 4 * self.live_size() {
            self.compact()?;
        }
        Ok(())
    }

    fn load(&mut self) -> Result<SessionState, StoreError> {
        Ok(self.state.clone())
    }
}

/// True when the (invalid) record at the front of `rest` is the file's last: its
/// length field reaches the end, or is itself garbage.
fn is_last(rest: &[u8]) -> bool {
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    record::HEADER + len >= rest.len()
}

/// Makes a create or rename in `path`'s directory durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use mqtt_proto::{PacketId, QoS, TopicName};
    use mqtt_session::Message;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("filestore-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn publish(op: u64, payload: &'static [u8]) -> StoreOp {
        let topic = TopicName::from_string("t".into()).unwrap();
        StoreOp::Publish {
            op,
            message: Message::new(topic, Bytes::from_static(payload), QoS::ExactlyOnce),
        }
    }

    fn pid(v: u16) -> PacketId {
        PacketId::new(v).unwrap()
    }

    #[test]
    fn what_was_persisted_is_there_after_reopening() {
        let path = dir("reopen").join("j");
        let mut s = FileStore::open(&path).unwrap();
        s.persist(&[publish(1, b"a"), publish(2, b"b")]).unwrap();
        s.persist(&[
            StoreOp::Assign {
                op: 1,
                packet_id: pid(10),
            },
            StoreOp::Release { op: 1 },
            StoreOp::InboundReceived { packet_id: pid(7) },
        ])
        .unwrap();
        drop(s);
        let state = FileStore::open(&path).unwrap().load().unwrap();
        assert_eq!(state.inflight.len(), 1);
        assert!(state.inflight[0].released);
        assert_eq!(state.queued.len(), 1);
        assert_eq!(state.inbound_qos2, vec![(pid(7), true)]);
    }

    /// A crash during an append leaves part of a record: it is dropped, and what
    /// came before is intact.
    #[test]
    fn a_torn_last_record_is_dropped() {
        let path = dir("torn").join("j");
        let mut s = FileStore::open(&path).unwrap();
        s.persist(&[publish(1, b"kept")]).unwrap();
        s.persist(&[publish(2, b"torn")]).unwrap();
        drop(s);
        let full = std::fs::read(&path).unwrap();
        for cut in 1..20 {
            std::fs::write(&path, &full[..full.len() - cut]).unwrap();
            let mut s = FileStore::open(&path).unwrap();
            let state = s.load().unwrap();
            assert_eq!(state.queued.len(), 1, "cut {cut}");
            // Appends continue after the good prefix.
            s.persist(&[publish(3, b"after")]).unwrap();
            drop(s);
            assert_eq!(
                FileStore::open(&path).unwrap().load().unwrap().queued.len(),
                2
            );
        }
    }

    #[test]
    fn damage_before_the_end_is_an_error() {
        let path = dir("damage").join("j");
        let mut s = FileStore::open(&path).unwrap();
        s.persist(&[publish(1, b"one"), publish(2, b"two")])
            .unwrap();
        drop(s);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[MAGIC.len() + record::HEADER + 2] ^= 0xFF; // inside the first record
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            FileStore::open(&path),
            Err(StoreError::Corrupt { offset: 8, .. })
        ));
        std::fs::write(&path, b"something else entirely").unwrap();
        assert!(matches!(
            FileStore::open(&path),
            Err(StoreError::NotAJournal(_))
        ));
    }

    #[test]
    fn compaction_keeps_the_live_state_only() {
        let path = dir("compact").join("j");
        let mut s = FileStore::open(&path).unwrap();
        for op in 1..=500u64 {
            s.persist(&[publish(op, b"0123456789"), StoreOp::Complete { op }])
                .unwrap();
        }
        s.persist(&[
            publish(1000, b"live"),
            StoreOp::Assign {
                op: 1000,
                packet_id: pid(3),
            },
        ])
        .unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        s.compact().unwrap();
        let after = std::fs::metadata(&path).unwrap().len();
        assert!(after < before / 20, "{before} -> {after}");
        s.persist(&[StoreOp::Release { op: 1000 }]).unwrap();
        drop(s);
        let state = FileStore::open(&path).unwrap().load().unwrap();
        assert_eq!(state.inflight.len(), 1);
        assert!(state.inflight[0].released && state.inflight[0].op == 1000);
        assert!(state.queued.is_empty());
    }
}
