//! [`DiskStore`]: a session store in a redb database file.
//!
//! redb gives crash-safe transactions (copy-on-write pages, a checksummed
//! commit slot, an exclusive file lock), so one store commit is one redb
//! transaction and a crash leaves either all of it or none of it. Records
//! are MQTT packets (see `record.rs`), checked by the codec when read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytestring::ByteString;
use mqtide_proto::{IncomingState, PacketId, ProtocolVersion, StoreChange, StoredPublish};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::record;
use super::{SessionStore, StoreBatch, StoreError, StoreIdentity, StoredState};

const META: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("meta");
/// Acceptance number → the message.
const OUT_MESSAGES: TableDefinition<'static, u64, &[u8]> =
    TableDefinition::new("outgoing_messages");
/// Acceptance number → its flow state (small, rewritten at each step).
const OUT_STATES: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("outgoing_states");
/// Incoming QoS 2 packet identifier → 0 received, 1 acknowledged.
const INCOMING: TableDefinition<'static, u16, u8> = TableDefinition::new("incoming_qos2");

const FORMAT: &[u8] = b"mqtide-session-1";

/// When a commit is made durable (fsync), and so what a commit costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitPolicy {
    /// Every commit reaches the disk before the event loop goes on: the
    /// safest, and under load the loop batches naturally (everything that
    /// arrived during one fsync goes into the next). Each step of a lone
    /// message waits for an fsync.
    #[default]
    SyncEachCommit,
    /// At most one commit (one fsync) per interval. The client does not
    /// wait for it: it goes on reading and taking commands, and holds back
    /// every write and delivery that depends on the uncommitted changes
    /// until the commit is made, so the crash guarantees are the same. The
    /// price is up to one interval of latency per protocol step; the gain
    /// is fewer, larger fsyncs under load (less I/O and disk wear, and
    /// more throughput where an fsync is slow).
    GroupCommit(Duration),
}

/// A session store in a [redb](https://www.redb.org) database file. See
/// the [module docs](crate::store) for what it keeps and guarantees.
///
/// ```no_run
/// # async fn demo() -> Result<(), mqtide::Error> {
/// use std::time::Duration;
/// use mqtide::store::DiskStore;
///
/// let store = DiskStore::open("sensor-1.session")?;
/// let client = mqtide::Client::builder("mqtt://localhost:1883")
///     .client_id("sensor-1")
///     .session_expiry(Duration::from_secs(3600))
///     .session_store(store)
///     .connect()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct DiskStore {
    db: Database,
    path: PathBuf,
    policy: CommitPolicy,
    salvage: bool,
}

/// Options for opening a [`DiskStore`].
#[derive(Debug, Clone)]
pub struct DiskStoreBuilder {
    path: PathBuf,
    policy: CommitPolicy,
    salvage: bool,
}

impl DiskStoreBuilder {
    /// When commits reach the disk (default: every commit).
    pub fn commit_policy(mut self, policy: CommitPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// With damaged records, resume from the intact ones and delete the
    /// damaged (reported in the log) instead of refusing with
    /// [`StoreError::Damaged`]. Off by default: a damaged record may be a
    /// message the application was promised.
    pub fn salvage(mut self, salvage: bool) -> Self {
        self.salvage = salvage;
        self
    }

    /// Opens (or creates) the store. Fails with [`StoreError::Locked`]
    /// when another process has it open.
    pub fn open(self) -> Result<DiskStore, StoreError> {
        let path = self.path;
        if !path.try_exists().map_err(|e| io_error(&path, e))? {
            create_whole(&path)?;
        }
        let db = Database::create(&path).map_err(|e| db_error(&path, e))?;
        Ok(DiskStore {
            db,
            path,
            policy: self.policy,
            salvage: self.salvage,
        })
    }
}

impl DiskStore {
    /// Opens (or creates) the store at `path`, syncing every commit.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::builder(path).open()
    }

    /// Options for opening the store at `path`.
    pub fn builder(path: impl AsRef<Path>) -> DiskStoreBuilder {
        DiskStoreBuilder {
            path: path.as_ref().to_path_buf(),
            policy: CommitPolicy::default(),
            salvage: false,
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl Into<redb::Error>) -> StoreError {
        db_error(&self.path, e)
    }

    /// Creates the tables and claims the store for `identity`, or checks
    /// that it already belongs to it.
    fn claim(&self, identity: &StoreIdentity) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(|e| self.err(e))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| self.err(e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            let stored = read_identity(&meta).map_err(|e| self.err(e))?;
            match stored {
                None => {
                    meta.insert("format", FORMAT).map_err(|e| self.err(e))?;
                    meta.insert("client_id", identity.client_id.as_bytes())
                        .map_err(|e| self.err(e))?;
                    meta.insert("protocol", &[identity.protocol.level()][..])
                        .map_err(|e| self.err(e))?;
                }
                Some(Ok(stored)) if &stored == identity => {}
                Some(Ok(stored)) => {
                    return Err(StoreError::WrongSession {
                        path: self.path.clone(),
                        stored: describe(&stored),
                        wanted: describe(identity),
                    });
                }
                Some(Err(detail)) => {
                    return Err(StoreError::Corrupt {
                        path: self.path.clone(),
                        detail,
                    });
                }
            }
            txn.open_table(OUT_MESSAGES).map_err(|e| self.err(e))?;
            txn.open_table(OUT_STATES).map_err(|e| self.err(e))?;
            txn.open_table(INCOMING).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Reads every record: the state, the damaged records, and the keys
    /// of the damaged outgoing records.
    fn read(&self) -> Result<(StoredState, Vec<String>, Vec<u64>), StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let mut state = StoredState::default();
        let mut damaged = Vec::new();
        let mut damaged_keys = Vec::new();

        let meta = txn.open_table(META).map_err(|e| self.err(e))?;
        if let Some(seq) = meta.get("last_seq").map_err(|e| self.err(e))? {
            match <[u8; 8]>::try_from(seq.value()) {
                Ok(bytes) => state.session.last_seq = u64::from_be_bytes(bytes),
                Err(_) => damaged.push("the publish counter".to_string()),
            }
        }
        if let Some(id) = meta.get("assigned_client_id").map_err(|e| self.err(e))? {
            match std::str::from_utf8(id.value()) {
                Ok(id) => state.session.assigned_client_id = Some(ByteString::from(id)),
                Err(_) => damaged.push("the assigned client id".to_string()),
            }
        }
        if let Some(subs) = meta.get("subscriptions").map_err(|e| self.err(e))? {
            match record::decode_subscriptions(subs.value()) {
                Ok(subs) => state.subscriptions = subs,
                Err(e) => damaged.push(format!("the subscription list: {e}")),
            }
        }

        let messages = txn.open_table(OUT_MESSAGES).map_err(|e| self.err(e))?;
        let states = txn.open_table(OUT_STATES).map_err(|e| self.err(e))?;
        for row in messages.iter().map_err(|e| self.err(e))? {
            let (seq, bytes) = row.map_err(|e| self.err(e))?;
            let seq = seq.value();
            let flow = match states.get(seq).map_err(|e| self.err(e))? {
                Some(flow) => record::decode_state(flow.value()),
                None => Err("its flow state is missing".to_string()),
            };
            match (record::decode_publish(bytes.value()), flow) {
                (Ok(publish), Ok((packet_id, released))) => {
                    let stored = StoredPublish {
                        seq,
                        publish,
                        packet_id,
                        released,
                    };
                    state.session.outgoing.insert(seq, stored);
                }
                (Err(e), _) | (_, Err(e)) => {
                    damaged.push(format!("outgoing publish #{seq}: {e}"));
                    damaged_keys.push(seq);
                }
            }
        }
        for row in states.iter().map_err(|e| self.err(e))? {
            let (seq, _) = row.map_err(|e| self.err(e))?;
            let seq = seq.value();
            if messages.get(seq).map_err(|e| self.err(e))?.is_none() {
                damaged.push(format!("outgoing publish #{seq}: its message is missing"));
                damaged_keys.push(seq);
            }
        }
        let incoming = txn.open_table(INCOMING).map_err(|e| self.err(e))?;
        for row in incoming.iter().map_err(|e| self.err(e))? {
            let (id, flag) = row.map_err(|e| self.err(e))?;
            let incoming_state = match flag.value() {
                0 => IncomingState::Received,
                1 => IncomingState::Acknowledged,
                other => {
                    damaged.push(format!("incoming QoS 2 id {}: state {other}", id.value()));
                    continue;
                }
            };
            state.session.incoming.insert(id.value(), incoming_state);
        }
        Ok((state, damaged, damaged_keys))
    }

    fn write(&mut self, batch: StoreBatch<'_>) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(|e| self.err(e))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| self.err(e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            let mut messages = txn.open_table(OUT_MESSAGES).map_err(|e| self.err(e))?;
            let mut states = txn.open_table(OUT_STATES).map_err(|e| self.err(e))?;
            let mut incoming = txn.open_table(INCOMING).map_err(|e| self.err(e))?;
            let mut last_seq = None;
            for change in batch.changes {
                match change {
                    StoreChange::PublishAccepted { seq, publish } => {
                        let bytes =
                            record::encode_publish(publish).map_err(|detail| StoreError::Io {
                                path: self.path.clone(),
                                detail: detail.into(),
                            })?;
                        messages
                            .insert(seq, bytes.as_slice())
                            .map_err(|e| db_error(&self.path, e))?;
                        states
                            .insert(seq, &record::encode_state(None, false)[..])
                            .map_err(|e| db_error(&self.path, e))?;
                        last_seq = Some(*seq);
                    }
                    StoreChange::PublishSent { seq, packet_id } => {
                        set_state(&mut states, *seq, Some(*packet_id), false)
                            .map_err(|e| db_error(&self.path, e))?;
                    }
                    StoreChange::PublishReleased { seq } => {
                        let sent = match states.get(seq).map_err(|e| db_error(&self.path, e))? {
                            Some(flow) => record::decode_state(flow.value()).ok().and_then(|s| s.0),
                            None => None,
                        };
                        if let Some(packet_id) = sent {
                            set_state(&mut states, *seq, Some(packet_id), true)
                                .map_err(|e| db_error(&self.path, e))?;
                        }
                    }
                    StoreChange::PublishDone { seq } => {
                        messages.remove(seq).map_err(|e| db_error(&self.path, e))?;
                        states.remove(seq).map_err(|e| db_error(&self.path, e))?;
                    }
                    StoreChange::IncomingReceived { packet_id } => {
                        incoming
                            .insert(packet_id.get(), 0)
                            .map_err(|e| db_error(&self.path, e))?;
                    }
                    StoreChange::IncomingAcknowledged { packet_id } => {
                        incoming
                            .insert(packet_id.get(), 1)
                            .map_err(|e| db_error(&self.path, e))?;
                    }
                    StoreChange::IncomingReleased { packet_id } => {
                        incoming
                            .remove(packet_id.get())
                            .map_err(|e| db_error(&self.path, e))?;
                    }
                    StoreChange::IncomingCleared => {
                        incoming
                            .retain(|_, _| false)
                            .map_err(|e| db_error(&self.path, e))?;
                    }
                    StoreChange::ClientIdAssigned(id) => {
                        meta.insert("assigned_client_id", &id.as_bytes()[..])
                            .map_err(|e| db_error(&self.path, e))?;
                    }
                    other => {
                        return Err(StoreError::Io {
                            path: self.path.clone(),
                            detail: format!("a change this store does not know: {other:?}").into(),
                        });
                    }
                }
            }
            if let Some(seq) = last_seq {
                meta.insert("last_seq", &seq.to_be_bytes()[..])
                    .map_err(|e| db_error(&self.path, e))?;
            }
            if let Some(subscriptions) = batch.subscriptions {
                let encoded = record::encode_subscriptions(subscriptions).map_err(|detail| {
                    StoreError::Io {
                        path: self.path.clone(),
                        detail: detail.into(),
                    }
                })?;
                match encoded {
                    Some(bytes) => {
                        meta.insert("subscriptions", bytes.as_slice())
                            .map_err(|e| db_error(&self.path, e))?;
                    }
                    None => {
                        meta.remove("subscriptions")
                            .map_err(|e| db_error(&self.path, e))?;
                    }
                }
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Deletes the damaged outgoing records (salvage).
    fn drop_damaged(&self, keys: &[u64]) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(|e| self.err(e))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| self.err(e))?;
        {
            let mut messages = txn.open_table(OUT_MESSAGES).map_err(|e| self.err(e))?;
            let mut states = txn.open_table(OUT_STATES).map_err(|e| self.err(e))?;
            for key in keys {
                messages.remove(key).map_err(|e| self.err(e))?;
                states.remove(key).map_err(|e| self.err(e))?;
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }
}

impl SessionStore for DiskStore {
    fn load(&mut self, identity: &StoreIdentity) -> Result<StoredState, StoreError> {
        self.claim(identity)?;
        let (state, damaged, damaged_keys) = self.read()?;
        if damaged.is_empty() {
            return Ok(state);
        }
        let intact = state.session.outgoing.len() + state.session.incoming.len();
        if !self.salvage {
            return Err(StoreError::Damaged {
                path: self.path.clone(),
                damaged,
                intact,
            });
        }
        for what in &damaged {
            tracing::warn!(path = %self.path.display(), "dropping a damaged session record: {what}");
        }
        self.drop_damaged(&damaged_keys)?;
        Ok(state)
    }

    fn commit(&mut self, batch: StoreBatch<'_>) -> Result<(), StoreError> {
        self.write(batch)
    }

    fn commit_interval(&self) -> Duration {
        match self.policy {
            CommitPolicy::SyncEachCommit => Duration::ZERO,
            CommitPolicy::GroupCommit(interval) => interval,
        }
    }
}

#[cfg(test)]
#[path = "disk_tests.rs"]
mod tests;

fn set_state(
    states: &mut redb::Table<'_, u64, &[u8]>,
    seq: u64,
    packet_id: Option<PacketId>,
    released: bool,
) -> Result<(), redb::StorageError> {
    // Only flows the store holds (a change for another is a no-op, as in
    // `StoredSession::apply`).
    if states.get(seq)?.is_some() {
        states.insert(seq, &record::encode_state(packet_id, released)[..])?;
    }
    Ok(())
}

/// The stored identity: `None` for a new store, `Some(Err)` if unreadable.
fn read_identity(
    meta: &redb::Table<'_, &str, &[u8]>,
) -> Result<Option<Result<StoreIdentity, String>>, redb::StorageError> {
    let Some(format) = meta.get("format")? else {
        return Ok(None);
    };
    if format.value() != FORMAT {
        return Ok(Some(Err(format!(
            "not an mqtide session store (format {:?})",
            String::from_utf8_lossy(format.value())
        ))));
    }
    let client_id = meta
        .get("client_id")?
        .map(|v| String::from_utf8(v.value().to_vec()));
    let protocol = meta
        .get("protocol")?
        .and_then(|v| v.value().first().copied())
        .and_then(ProtocolVersion::from_level);
    Ok(Some(match (client_id, protocol) {
        (Some(Ok(client_id)), Some(protocol)) => Ok(StoreIdentity {
            client_id,
            protocol,
        }),
        _ => Err("the store's identity record is damaged".to_string()),
    }))
}

fn describe(identity: &StoreIdentity) -> String {
    format!(
        "client id {:?} (MQTT level {})",
        identity.client_id,
        identity.protocol.level()
    )
}

/// Creates a new store at `path` so that a process killed at any point
/// leaves either no file there or a whole, empty database.
///
/// redb sizes a new file before it writes the header's magic number, so a
/// kill in between leaves a file it refuses for ever ("magic number
/// mismatch") though nothing was ever stored in it. So the database is
/// made under a name of this process's own beside `path` and linked to
/// `path` only when it is whole; the link fails rather than replace a
/// store another process made first, and then that one is opened. A file
/// system without hard links gets a rename. A kill before the link leaves
/// only the side file, which a later creation by the same process id
/// replaces.
fn create_whole(path: &Path) -> Result<(), StoreError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let side = path.with_file_name(format!(".{name}.{}.creating", std::process::id()));
    match std::fs::remove_file(&side) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&side, e)),
    }
    drop(Database::create(&side).map_err(|e| db_error(&side, e))?);
    let linked = match std::fs::hard_link(&side, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => std::fs::rename(&side, path),
    };
    linked.map_err(|e| io_error(path, e))?;
    match std::fs::remove_file(&side) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&side, e)),
    }
    sync_parent(path)
}

/// The new name reaches the disk with its directory.
#[cfg(unix)]
fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}

/// Windows has no handle on a directory to sync; NTFS journals the name.
#[cfg(not(unix))]
fn sync_parent(_: &Path) -> Result<(), StoreError> {
    Ok(())
}

fn io_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        detail: e.to_string().into(),
    }
}

fn db_error(path: &Path, e: impl Into<redb::Error>) -> StoreError {
    let path = path.to_path_buf();
    match e.into() {
        redb::Error::DatabaseAlreadyOpen => StoreError::Locked { path },
        redb::Error::Corrupted(detail) => StoreError::Corrupt { path, detail },
        redb::Error::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => StoreError::Corrupt {
            path,
            detail: e.to_string(),
        },
        other => StoreError::Io {
            path,
            detail: other.to_string().into(),
        },
    }
}
