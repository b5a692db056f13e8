//! # ironbell-store-sqlite
//!
//! The embedded [`Store`] backend: every object and its change history in one SQLite file
//! in WAL mode. This is what `ironbell serve` uses on one machine; several processes may
//! share the file (each sees the others' writes, in watches too). It is not a network
//! store: for several machines use the etcd backend.
//!
//! Start reading at [`SqliteStore::open`]; the trait semantics are those of
//! [`ironbell_store::Store`], checked by the shared conformance suite.
//!
//! ## Schema (`PRAGMA user_version = 1`, created on first open)
//!
//! ```sql
//! meta(key TEXT PRIMARY KEY, value INTEGER)       -- 'revision', 'compacted'
//! events(rev INTEGER PRIMARY KEY, api_version, kind, namespace, name, type, data)
//!         INDEX (api_version, kind, rev)
//! objects(api_version, kind, namespace, name, rv INTEGER)
//!         PRIMARY KEY (api_version, kind, namespace, name), WITHOUT ROWID
//! ```
//!
//! Every write appends one row to `events`: `type` is `ADDED`, `MODIFIED` or `DELETED`, and
//! `data` is the whole object as JSON as it was after the write, with
//! `metadata.resourceVersion` equal to `rev` (for a deletion, its last state). `objects` is
//! the index of what exists now: each live object's key and the revision of the event that
//! holds its current state. An object's data is written once, not once for history and once
//! for its current state; a list reads `objects` in key order and joins `events` by `rev`.
//!
//! ## Revisions and watches
//!
//! One store-wide counter, `meta.revision`, as in etcd. **Every written object gets its own
//! revision**: a commit of three operations takes three consecutive revisions, all made
//! visible at once by the single SQLite transaction. An object's `resourceVersion` is the
//! decimal revision of its last write, and each write adds exactly one row to `events`
//! keyed by that revision. A list returns the revision at its snapshot.
//!
//! Because writers are serialised by SQLite (`BEGIN IMMEDIATE`), revisions become visible
//! in order and never with holes, so a watch from revision `r` delivers exactly the events
//! with `rev > r`, in order: a watcher that resumes from any revision it has seen misses and
//! repeats nothing (which one revision per commit could not guarantee for a watcher that
//! stopped in the middle of a commit). A watch replays from `events`, then follows new
//! rows; it wakes on an in-process notification after each commit and also polls every
//! [`Options::poll_interval`] (100 ms by default) to see commits by other processes.
//!
//! A watch's namespace and selector apply to each event's object as it is after the change:
//! an object relabelled out of a selector produces no event there (not a `Deleted`).
//!
//! Write semantics beyond the trait's: `create` keeps a `status` it is given (imports and
//! moves carry it), overwrites `resourceVersion`, `uid`, `generation` (1) and
//! `creationTimestamp`, and fills an empty name from `generateName`; `update` bumps
//! `generation` when anything but `metadata` and `status` changed. Finalizers are stored but
//! not acted on: `delete` removes at once.
//!
//! History is bounded: when more than [`Options::keep_events`] (100 000 by default) events
//! lie after the compaction point (plus a slack of 1/64 so that this is not done on every
//! commit), a commit moves the point to keep exactly that many and deletes the events up
//! to it, except those that still hold a live object's current state. The point is kept in
//! `meta.compacted`; a watch from before it fails with [`StoreError::TooOld`].
//!
//! ## Secrets in history
//!
//! A `v1` Secret's values (`data`, `stringData`) live only in the event that holds its
//! current state: when a Secret is updated, the values are removed from its earlier events,
//! and when it is deleted, from all of them (its `DELETED` event keeps the metadata). So an
//! old BMC password does not linger in the file; a watch replaying history sees those
//! earlier versions without values, then the current one with them.
//!
//! ## File safety
//!
//! The database is created with mode 0600 (SQLite gives its `-wal` and `-shm` files the
//! database's mode), since it holds BMC credentials; an existing file readable by others is
//! tightened to 0600 on open. Creating the directory is the caller's job
//! (`ironbell-ops` creates it 0700).
//!
//! ## Controllers: one process at a time
//!
//! Several processes may serve from one file, but only one may run controllers (else two
//! BMC controllers run every Job twice). [`SqliteStore::lock_controllers`] takes an
//! exclusive `flock` on `<database>.lock` and writes the holder's PID into it; a second
//! process gets [`LockError::Held`] naming that PID. The lock goes when the
//! [`ControllerLock`] is dropped or the process dies.
//!
//! ## Durability and concurrency
//!
//! Commits run with `synchronous=FULL`, so a commit that returned survives a crash or
//! power loss. One writer connection per [`SqliteStore`] (behind a mutex) and a small pool
//! of reader connections, so lists and watches never wait for the writer. All SQLite work
//! runs on tokio's blocking thread pool.

use std::io::{Read, Seek, Write as _};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::Stream;
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::backend::{
    self, check_resource_version as check_rv, parse_resource_version as parse_rv,
};
use ironbell_store::{
    ListParams, ObjectList, Op, Result, Store, StoreError, WatchEvent, WatchStream,
};
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, watch};

/// The schema version this code writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// Most reader connections kept open for reuse.
const MAX_IDLE_READERS: usize = 8;
/// Lists at least this long are parsed on several threads.
const PARALLEL_PARSE_MIN: usize = 2048;
/// Objects [`Store::list_each`] reads, parses and hands over at a time (one page parsed on
/// several threads, at most three pages in memory).
const LIST_PAGE: usize = PARALLEL_PARSE_MIN;
/// Most events a watch reads in one query.
const WATCH_BATCH: i64 = 512;

/// Tuning of a [`SqliteStore`].
#[derive(Clone, Debug)]
pub struct Options {
    /// How many of the most recent events to keep for watches (default 100 000).
    pub keep_events: u64,
    /// How often a watch looks for commits made by other processes (default 100 ms).
    pub poll_interval: Duration,
    /// How long a write waits for another process holding the write lock (default 10 s).
    pub busy_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            keep_events: 100_000,
            poll_interval: Duration::from_millis(100),
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// The embedded store: one SQLite file. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

struct Inner {
    path: PathBuf,
    options: Options,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// The latest revision this handle committed; watches wait on it.
    committed: watch::Sender<u64>,
    rng: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the connection usable: an open transaction
    // rolls back when dropped.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn backend(context: impl std::fmt::Display, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{context}: {e}"))
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` with default [`Options`]. Blocks on file I/O;
    /// call it at startup or inside `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, Options::default())
    }

    /// Opens (or creates) the store at `path` with the given options.
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let what = format!("opening {}", path.display());
        private_files(&path).map_err(|e| backend(&what, e))?;
        let mut writer = Connection::open(&path).map_err(|e| backend(&what, e))?;
        writer
            .busy_timeout(options.busy_timeout)
            .map_err(|e| backend(&what, e))?;
        let mode: String = writer
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| backend(&what, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(backend(
                &what,
                format!("cannot enable WAL (journal mode {mode})"),
            ));
        }
        writer
            .execute_batch("PRAGMA synchronous=FULL;")
            .map_err(|e| backend(&what, e))?;
        migrate(&mut writer).map_err(|e| backend(&what, e))?;
        let inner = Inner {
            path,
            options,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            committed: watch::Sender::new(0),
            rng: Mutex::new(seed()),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The file [`SqliteStore::lock_controllers`] locks: `<database>.lock`.
    pub fn lock_path(&self) -> PathBuf {
        let mut name = self.inner.path.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the right to run controllers on this store (see the crate docs): an exclusive
    /// `flock` on [`SqliteStore::lock_path`], held until the returned guard is dropped.
    /// Fails at once with [`LockError::Held`] if another process holds it.
    pub fn lock_controllers(&self) -> std::result::Result<ControllerLock, LockError> {
        let path = self.lock_path();
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    path,
                    pid: text.trim().parse().ok(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(ControllerLock { _file: file, path })
    }

    /// The current store-wide revision.
    pub async fn revision(&self) -> Result<u64> {
        self.read(|conn| Ok(read_meta(conn)?.0)).await
    }

    /// Runs `f` on a reader connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.with_reader(f))
            .await
            .map_err(|e| backend("reader task", e))?
    }

    async fn write(&self, writes: Vec<Write>) -> Result<Vec<DynamicObject>> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.write(writes))
            .await
            .map_err(|e| backend("writer task", e))?
    }
}

/// The right to run controllers on a store, held until dropped (see
/// [`SqliteStore::lock_controllers`]).
#[derive(Debug)]
pub struct ControllerLock {
    _file: std::fs::File,
    path: PathBuf,
}

impl ControllerLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The controller lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process runs controllers on this store.
    #[error(
        "another process{} already runs controllers on this store (lock {}); stop it, or \
         serve only boot and metadata from this process",
        .pid.map(|p| format!(" (PID {p})")).unwrap_or_default(),
        .path.display()
    )]
    Held {
        /// The lock file.
        path: PathBuf,
        /// The holder's PID, as it wrote it.
        pid: Option<u32>,
    },
    /// The lock file could not be opened or written.
    #[error("cannot use the lock file {}", .path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Creates the database file with mode 0600 if it does not exist, and tightens an existing
/// database, `-wal` or `-shm` file that others can read to 0600.
fn private_files(path: &Path) -> std::io::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = Path::new(&name);
        if let Ok(meta) = std::fs::metadata(file)
            && meta.permissions().mode() & 0o077 != 0
        {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// Creates the schema on a new file; refuses a newer one.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    match version {
        0 => {
            tx.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 INSERT INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0);
                 CREATE TABLE events (
                     rev INTEGER PRIMARY KEY,
                     api_version TEXT NOT NULL,
                     kind TEXT NOT NULL,
                     namespace TEXT NOT NULL,
                     name TEXT NOT NULL,
                     type TEXT NOT NULL,
                     data TEXT NOT NULL
                 );
                 CREATE INDEX events_by_kind ON events (api_version, kind, rev);
                 CREATE TABLE objects (
                     api_version TEXT NOT NULL,
                     kind TEXT NOT NULL,
                     namespace TEXT NOT NULL,
                     name TEXT NOT NULL,
                     rv INTEGER NOT NULL,
                     PRIMARY KEY (api_version, kind, namespace, name)
                 ) WITHOUT ROWID;
                 PRAGMA user_version = 1;",
            )?;
        }
        SCHEMA_VERSION => {}
        newer => {
            return Err(rusqlite::Error::ToSqlConversionFailure(
                format!(
                    "database schema version {newer} is newer than this program's ({SCHEMA_VERSION})"
                )
                .into(),
            ));
        }
    }
    tx.commit()
}

/// `(revision, compacted)`.
fn read_meta(conn: &Connection) -> Result<(u64, u64)> {
    let get = |key: &str| -> Result<u64> {
        let v: i64 = conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)))
            .map_err(|e| backend(format_args!("reading meta {key}"), e))?;
        Ok(u64::try_from(v).unwrap_or(0))
    };
    Ok((get("revision")?, get("compacted")?))
}

fn set_meta(conn: &Connection, key: &str, value: u64) -> Result<()> {
    conn.prepare_cached("UPDATE meta SET value = ?2 WHERE key = ?1")
        .and_then(|mut s| s.execute(params![key, to_sql_int(value)]))
        .map_err(|e| backend(format_args!("writing meta {key}"), e))?;
    Ok(())
}

fn to_sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// One write inside a transaction.
enum Write {
    Op(Op),
    Status(DynamicObject),
}

fn parse_object(data: &str, what: impl FnOnce() -> String) -> Result<DynamicObject> {
    DynamicObject::from_json(data).map_err(|e| backend(format!("corrupt stored {}", what()), e))
}

fn encode(obj: &DynamicObject) -> Result<String> {
    obj.to_json().map_err(|e| {
        backend(
            format_args!(
                "encoding {} {}/{}",
                obj.types.kind,
                obj.namespace(),
                obj.name()
            ),
            e,
        )
    })
}

impl Inner {
    fn open_reader(&self) -> Result<Connection> {
        let what = format!("opening a reader on {}", self.path.display());
        let conn = Connection::open(&self.path).map_err(|e| backend(&what, e))?;
        conn.busy_timeout(self.options.busy_timeout)
            .map_err(|e| backend(&what, e))?;
        // Large lists read the file through the OS page cache without copies.
        conn.execute_batch("PRAGMA mmap_size = 1073741824;")
            .map_err(|e| backend(&what, e))?;
        Ok(conn)
    }

    fn with_reader<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let pooled = lock(&self.readers).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let out = f(&mut conn);
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    fn next_u64(&self) -> u64 {
        let mut state = lock(&self.rng);
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn new_uid(&self) -> String {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    fn generated_name(&self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut r = self.next_u64();
        let mut name = prefix.to_string();
        for _ in 0..5 {
            name.push(char::from(ALPHABET[(r % ALPHABET.len() as u64) as usize]));
            r /= ALPHABET.len() as u64;
        }
        name
    }

    /// Applies the writes in one transaction; returns the written objects.
    fn write(&self, writes: Vec<Write>) -> Result<Vec<DynamicObject>> {
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| backend("starting a write transaction", e))?;
        let (mut rev, compacted) = read_meta(&tx)?;
        let now = ironbell_model::values::now();
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            let obj = match w {
                Write::Op(Op::Create(obj)) => self.create(&tx, obj, &mut rev, &now)?,
                Write::Op(Op::Update(obj)) => update(&tx, obj, &mut rev, false)?,
                Write::Status(obj) => update(&tx, obj, &mut rev, true)?,
                Write::Op(Op::Delete {
                    types,
                    namespace,
                    name,
                    resource_version,
                }) => delete(
                    &tx,
                    &types,
                    &namespace,
                    &name,
                    resource_version.as_deref(),
                    &mut rev,
                )?,
            };
            out.push(obj);
        }
        set_meta(&tx, "revision", rev)?;
        let keep = self.options.keep_events.max(1);
        if rev.saturating_sub(compacted) > keep + keep / 64 {
            compact_to(&tx, rev - keep)?;
        }
        tx.commit()
            .map_err(|e| backend("committing a write transaction", e))?;
        drop(conn);
        self.committed.send_replace(rev);
        Ok(out)
    }

    fn create(
        &self,
        tx: &Connection,
        mut obj: DynamicObject,
        rev: &mut u64,
        now: &ironbell_model::Timestamp,
    ) -> Result<DynamicObject> {
        if obj.metadata.name().is_empty() {
            match obj.metadata.generate_name.as_deref() {
                Some(prefix) if !prefix.is_empty() => {
                    obj.metadata.name = Some(self.generated_name(prefix));
                }
                _ => return Err(backend::name_required(&obj)),
            }
        }
        ironbell_store::check_names(&obj)?;
        *rev += 1;
        let m = &mut obj.metadata;
        m.resource_version = Some(rev.to_string());
        m.uid = Some(self.new_uid());
        m.generation = Some(1);
        m.creation_timestamp = Some(*now);
        let data = encode(&obj)?;
        ironbell_store::check_size(&obj, &data)?;
        let (t, ns, name) = (&obj.types, obj.namespace(), obj.name());
        let inserted = tx
            .prepare_cached(
                "INSERT INTO objects (api_version, kind, namespace, name, rv)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![t.api_version, t.kind, ns, name, to_sql_int(*rev)])
            });
        match inserted {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::AlreadyExists {
                    kind: t.kind.clone(),
                    namespace: ns.to_string(),
                    name: name.to_string(),
                });
            }
            Err(e) => return Err(backend(format_args!("creating {} {ns}/{name}", t.kind), e)),
        }
        record(tx, *rev, t, ns, name, "ADDED", &data)?;
        Ok(obj)
    }
}

/// The stored `(rv, object)` or `NotFound`.
fn load(tx: &Connection, types: &TypeKey, ns: &str, name: &str) -> Result<(u64, DynamicObject)> {
    let row: Option<(i64, String)> = tx
        .prepare_cached(
            "SELECT o.rv, e.data FROM objects o JOIN events e ON e.rev = o.rv
             WHERE o.api_version = ?1 AND o.kind = ?2 AND o.namespace = ?3 AND o.name = ?4",
        )
        .and_then(|mut s| {
            s.query_row(params![types.api_version, types.kind, ns, name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })
        .map_err(|e| backend(format_args!("reading {} {ns}/{name}", types.kind), e))?;
    let Some((rv, data)) = row else {
        return Err(StoreError::NotFound {
            kind: types.kind.clone(),
            namespace: ns.to_string(),
            name: name.to_string(),
        });
    };
    let obj = parse_object(&data, || format!("{} {ns}/{name}", types.kind))?;
    Ok((u64::try_from(rv).unwrap_or(0), obj))
}

fn update(
    tx: &Connection,
    obj: DynamicObject,
    rev: &mut u64,
    status_only: bool,
) -> Result<DynamicObject> {
    let (types, ns, name) = (
        obj.types.clone(),
        obj.namespace().to_string(),
        obj.name().to_string(),
    );
    let given = parse_rv(
        &types,
        &ns,
        &name,
        obj.metadata.resource_version.as_deref(),
        true,
    )?
    .unwrap_or_default();
    let (current, old) = load(tx, &types, &ns, &name)?;
    check_rv(&types, &ns, &name, given, current)?;
    *rev += 1;
    let mut new = backend::merge_update(old, obj, status_only);
    new.metadata.resource_version = Some(rev.to_string());
    let data = encode(&new)?;
    ironbell_store::check_size(&new, &data)?;
    tx.prepare_cached(
        "UPDATE objects SET rv = ?5
         WHERE api_version = ?1 AND kind = ?2 AND namespace = ?3 AND name = ?4",
    )
    .and_then(|mut s| {
        s.execute(params![
            types.api_version,
            types.kind,
            ns,
            name,
            to_sql_int(*rev)
        ])
    })
    .map_err(|e| backend(format_args!("updating {} {ns}/{name}", types.kind), e))?;
    record(tx, *rev, &types, &ns, &name, "MODIFIED", &data)?;
    forget_secret_values(tx, &types, &ns, &name, *rev)?;
    Ok(new)
}

fn delete(
    tx: &Connection,
    types: &TypeKey,
    ns: &str,
    name: &str,
    precondition: Option<&str>,
    rev: &mut u64,
) -> Result<DynamicObject> {
    let wanted = parse_rv(types, ns, name, precondition, false)?;
    let (current, mut last) = load(tx, types, ns, name)?;
    if let Some(given) = wanted {
        check_rv(types, ns, name, given, current)?;
    }
    *rev += 1;
    last.metadata.resource_version = Some(rev.to_string());
    let data = encode(&last)?;
    tx.prepare_cached(
        "DELETE FROM objects
         WHERE api_version = ?1 AND kind = ?2 AND namespace = ?3 AND name = ?4",
    )
    .and_then(|mut s| s.execute(params![types.api_version, types.kind, ns, name]))
    .map_err(|e| backend(format_args!("deleting {} {ns}/{name}", types.kind), e))?;
    record(tx, *rev, types, ns, name, "DELETED", &data)?;
    forget_secret_values(tx, types, ns, name, *rev + 1)?;
    Ok(last)
}

fn record(
    tx: &Connection,
    rev: u64,
    types: &TypeKey,
    ns: &str,
    name: &str,
    kind_of_change: &str,
    data: &str,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO events (rev, api_version, kind, namespace, name, type, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            to_sql_int(rev),
            types.api_version,
            types.kind,
            ns,
            name,
            kind_of_change,
            data
        ])
    })
    .map_err(|e| {
        backend(
            format_args!("recording the change of {} {ns}/{name}", types.kind),
            e,
        )
    })?;
    Ok(())
}

/// For a `v1` Secret, removes the values (`data`, `stringData`) from its events before
/// revision `before` (see the crate docs: old credentials do not stay in history).
fn forget_secret_values(
    tx: &Connection,
    types: &TypeKey,
    ns: &str,
    name: &str,
    before: u64,
) -> Result<()> {
    if types.api_version != "v1" || types.kind != "Secret" {
        return Ok(());
    }
    tx.prepare_cached(
        "UPDATE events SET data = json_remove(data, '$.data', '$.stringData')
         WHERE api_version = 'v1' AND kind = 'Secret' AND namespace = ?1 AND name = ?2
           AND rev < ?3 AND (json_type(data, '$.data') IS NOT NULL
                             OR json_type(data, '$.stringData') IS NOT NULL)",
    )
    .and_then(|mut s| s.execute(params![ns, name, to_sql_int(before)]))
    .map_err(|e| {
        backend(
            format_args!("forgetting old values of Secret {ns}/{name}"),
            e,
        )
    })?;
    Ok(())
}

/// Drops the events up to and including `upto`, except those holding a live object's
/// current state, and records the compaction point.
fn compact_to(tx: &Connection, upto: u64) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM events WHERE rev <= ?1 AND rev NOT IN (SELECT rv FROM objects WHERE rv <= ?1)",
    )
    .and_then(|mut s| s.execute([to_sql_int(upto)]))
    .map_err(|e| backend("compacting history", e))?;
    set_meta(tx, "compacted", upto)
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn get(&self, types: &TypeKey, namespace: &str, name: &str) -> Result<DynamicObject> {
        let (types, ns, name) = (types.clone(), namespace.to_string(), name.to_string());
        self.read(move |conn| Ok(load(conn, &types, &ns, &name)?.1))
            .await
    }

    async fn list(&self, types: &TypeKey, params: &ListParams) -> Result<ObjectList> {
        let (types, params) = (types.clone(), params.clone());
        self.read(move |conn| list(conn, &types, &params)).await
    }

    /// Reads the list in one read transaction (one snapshot, as [`Store::list`]) but
    /// parses and hands over 2,048 objects at a time, so that a reflector keeping
    /// compact records never holds the whole list.
    async fn list_each(
        &self,
        types: &TypeKey,
        params: &ListParams,
        each: &mut (dyn FnMut(DynamicObject) + Send),
    ) -> Result<u64> {
        let (types, params) = (types.clone(), params.clone());
        // One page waits while the next is read and parsed.
        let (pages_tx, mut pages) = mpsc::channel::<Vec<DynamicObject>>(1);
        let inner = self.inner.clone();
        let reader = tokio::task::spawn_blocking(move || {
            inner.with_reader(|conn| {
                list_pages(conn, &types, &params, &mut |page| {
                    pages_tx.blocking_send(page).is_ok()
                })
            })
        });
        while let Some(page) = pages.recv().await {
            page.into_iter().for_each(&mut *each);
        }
        reader.await.map_err(|e| backend("reader task", e))?
    }

    async fn update_status(&self, obj: DynamicObject) -> Result<DynamicObject> {
        single(self.write(vec![Write::Status(obj)]).await?)
    }

    async fn commit(&self, ops: Vec<Op>) -> Result<Vec<DynamicObject>> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        self.write(ops.into_iter().map(Write::Op).collect()).await
    }

    async fn watch(
        &self,
        types: &TypeKey,
        params: &ListParams,
        resource_version: Option<u64>,
    ) -> Result<WatchStream> {
        let (current, compacted) = self.read(|conn| read_meta(conn)).await?;
        let start = match resource_version {
            None => current,
            Some(r) if r < compacted => {
                return Err(StoreError::TooOld {
                    requested: r,
                    oldest: compacted,
                });
            }
            Some(r) => r,
        };
        let (tx, rx) = mpsc::channel(256);
        let watcher = Watcher {
            store: self.clone(),
            types: types.clone(),
            params: params.clone(),
            last: start,
            tx,
        };
        tokio::spawn(watcher.run());
        Ok(Box::pin(receiver_stream(rx)))
    }

    async fn compact(&self, keep_after: u64) -> Result<()> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = lock(&inner.writer);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| backend("starting a compaction", e))?;
            let (rev, compacted) = read_meta(&tx)?;
            let upto = keep_after.min(rev);
            if upto > compacted {
                compact_to(&tx, upto)?;
            }
            tx.commit()
                .map_err(|e| backend("committing a compaction", e))
        })
        .await
        .map_err(|e| backend("compaction task", e))?
    }
}

fn single(mut objs: Vec<DynamicObject>) -> Result<DynamicObject> {
    objs.pop()
        .ok_or_else(|| StoreError::Backend("write returned no object".into()))
}

/// The query of a list (namespace, name, data of each object, in key order) and its
/// namespace parameter.
fn list_query(params: &ListParams) -> (&'static str, &str) {
    match &params.namespace {
        Some(ns) => (
            "SELECT o.namespace, o.name, e.data FROM objects o JOIN events e ON e.rev = o.rv
             WHERE o.api_version = ?1 AND o.kind = ?2 AND o.namespace = ?3
             ORDER BY o.namespace, o.name",
            ns.as_str(),
        ),
        None => (
            "SELECT o.namespace, o.name, e.data FROM objects o JOIN events e ON e.rev = o.rv
             WHERE o.api_version = ?1 AND o.kind = ?2 AND ?3 = ?3
             ORDER BY o.namespace, o.name",
            "",
        ),
    }
}

/// [`list`] in pages of [`LIST_PAGE`] parsed objects handed to `emit` as they are read,
/// within one read transaction; stops early when `emit` says false. Returns the revision
/// of the snapshot.
fn list_pages(
    conn: &mut Connection,
    types: &TypeKey,
    params: &ListParams,
    emit: &mut dyn FnMut(Vec<DynamicObject>) -> bool,
) -> Result<u64> {
    let what = || format!("listing {}", types.kind);
    let tx = conn.transaction().map_err(|e| backend(what(), e))?;
    let (revision, _) = read_meta(&tx)?;
    {
        let (sql, ns) = list_query(params);
        let mut stmt = tx.prepare_cached(sql).map_err(|e| backend(what(), e))?;
        let mut rows = stmt
            .query_map(params![types.api_version, types.kind, ns], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| backend(what(), e))?;
        let mut raw: Vec<(String, String, String)> = Vec::with_capacity(LIST_PAGE);
        loop {
            let row = rows.next();
            let end = row.is_none();
            if let Some(row) = row {
                raw.push(row.map_err(|e| backend(what(), e))?);
            }
            if raw.len() == LIST_PAGE || (end && !raw.is_empty()) {
                let page = parse_rows(&raw, types, params)?;
                raw.clear();
                if !emit(page) {
                    break;
                }
            }
            if end {
                break;
            }
        }
    }
    tx.commit().map_err(|e| backend(what(), e))?;
    Ok(revision)
}

fn list(conn: &mut Connection, types: &TypeKey, params: &ListParams) -> Result<ObjectList> {
    let what = || format!("listing {}", types.kind);
    // One read transaction: the revision and the rows come from the same snapshot.
    let tx = conn.transaction().map_err(|e| backend(what(), e))?;
    let (revision, _) = read_meta(&tx)?;
    let mut raw: Vec<(String, String, String)> = Vec::new();
    {
        let (sql, ns) = list_query(params);
        let mut stmt = tx.prepare_cached(sql).map_err(|e| backend(what(), e))?;
        let rows = stmt
            .query_map(params![types.api_version, types.kind, ns], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| backend(what(), e))?;
        for row in rows {
            raw.push(row.map_err(|e| backend(what(), e))?);
        }
    }
    // End the read transaction before the CPU-bound part.
    tx.commit().map_err(|e| backend(what(), e))?;
    let items = parse_rows(&raw, types, params)?;
    Ok(ObjectList {
        items,
        resource_version: revision,
    })
}

/// Parses listed rows (only their metadata: bodies stay raw JSON) and applies the selector.
/// Parsing is most of a large list's time, so big lists are split across the available
/// cores; order is kept.
fn parse_rows(
    raw: &[(String, String, String)],
    types: &TypeKey,
    params: &ListParams,
) -> Result<Vec<DynamicObject>> {
    let parse_chunk = |chunk: &[(String, String, String)]| -> Result<Vec<DynamicObject>> {
        let mut out = Vec::with_capacity(chunk.len());
        for (ns, name, data) in chunk {
            let obj = parse_object(data, || format!("{} {ns}/{name}", types.kind))?;
            if params.matches(&obj) {
                out.push(obj);
            }
        }
        Ok(out)
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(8);
    if threads < 2 || raw.len() < PARALLEL_PARSE_MIN {
        return parse_chunk(raw);
    }
    let parts: Vec<Result<Vec<DynamicObject>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = raw
            .chunks(raw.len().div_ceil(threads))
            .map(|chunk| scope.spawn(move || parse_chunk(chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(StoreError::Backend("list parser thread panicked".into()))
                })
            })
            .collect()
    });
    let mut items = Vec::with_capacity(raw.len());
    for part in parts {
        items.extend(part?);
    }
    Ok(items)
}

fn receiver_stream<T: Send + 'static>(rx: mpsc::Receiver<T>) -> impl Stream<Item = T> + Send {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
}

/// The task behind one watch: reads events after `last`, sends the matching ones, waits.
struct Watcher {
    store: SqliteStore,
    types: TypeKey,
    params: ListParams,
    last: u64,
    tx: mpsc::Sender<Result<WatchEvent>>,
}

/// One read of the events table.
struct Batch {
    revision: u64,
    compacted: u64,
    events: Vec<(u64, String, String)>,
}

impl Watcher {
    async fn run(mut self) {
        let mut committed = self.store.inner.committed.subscribe();
        let poll = self.store.inner.options.poll_interval;
        loop {
            if self.tx.is_closed() {
                return;
            }
            let (types, params, last) = (self.types.clone(), self.params.clone(), self.last);
            let batch = self
                .store
                .read(move |conn| read_events(conn, &types, &params, last))
                .await;
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    let _ = self.tx.send(Err(e)).await;
                    return;
                }
            };
            if self.last < batch.compacted {
                let _ = self
                    .tx
                    .send(Err(StoreError::TooOld {
                        requested: self.last,
                        oldest: batch.compacted,
                    }))
                    .await;
                return;
            }
            let full = batch.events.len() as i64 >= WATCH_BATCH;
            for (rev, kind_of_change, data) in batch.events {
                self.last = rev;
                let obj = match parse_object(&data, || format!("{} event {rev}", self.types.kind)) {
                    Ok(o) => o,
                    Err(e) => {
                        let _ = self.tx.send(Err(e)).await;
                        return;
                    }
                };
                if !self.params.matches(&obj) {
                    continue;
                }
                let ev = match kind_of_change.as_str() {
                    "ADDED" => WatchEvent::Added(obj),
                    "DELETED" => WatchEvent::Deleted(obj),
                    _ => WatchEvent::Modified(obj),
                };
                if self.tx.send(Ok(ev)).await.is_err() {
                    return;
                }
            }
            if full {
                continue;
            }
            // Every event up to the snapshot's revision has been seen.
            self.last = self.last.max(batch.revision);
            tokio::select! {
                _ = committed.changed() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = self.tx.closed() => return,
            }
        }
    }
}

fn read_events(
    conn: &mut Connection,
    types: &TypeKey,
    params: &ListParams,
    last: u64,
) -> Result<Batch> {
    let what = || format!("watching {}", types.kind);
    let tx = conn.transaction().map_err(|e| backend(what(), e))?;
    let (revision, compacted) = read_meta(&tx)?;
    let mut events = Vec::new();
    if last < compacted {
        return Ok(Batch {
            revision,
            compacted,
            events,
        });
    }
    {
        let (sql, ns) = match &params.namespace {
            Some(ns) => (
                "SELECT rev, type, data FROM events
                 WHERE api_version = ?1 AND kind = ?2 AND rev > ?3 AND namespace = ?4
                 ORDER BY rev LIMIT ?5",
                ns.as_str(),
            ),
            None => (
                "SELECT rev, type, data FROM events
                 WHERE api_version = ?1 AND kind = ?2 AND rev > ?3 AND ?4 = ?4
                 ORDER BY rev LIMIT ?5",
                "",
            ),
        };
        let mut stmt = tx.prepare_cached(sql).map_err(|e| backend(what(), e))?;
        let rows = stmt
            .query_map(
                params![
                    types.api_version,
                    types.kind,
                    to_sql_int(last),
                    ns,
                    WATCH_BATCH
                ],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .map_err(|e| backend(what(), e))?;
        for row in rows {
            let (rev, t, data) = row.map_err(|e| backend(what(), e))?;
            events.push((u64::try_from(rev).unwrap_or(0), t, data));
        }
    }
    tx.commit().map_err(|e| backend(what(), e))?;
    Ok(Batch {
        revision,
        compacted,
        events,
    })
}

/// A seed for uids and generated names: 8 bytes of `/dev/urandom`, mixed with std's
/// randomly keyed hasher and the clock (either alone suffices).
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::io::Read;
    let mut bytes = [0u8; 8];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(u64::from_le_bytes(bytes));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.write_u8(u8::from(from_os));
    h.finish() ^ u64::from_le_bytes(bytes)
}
