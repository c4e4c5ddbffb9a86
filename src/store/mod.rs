//! The store: one redb file shared by every process (DESIGN.md §2), its schema and migrations,
//! typed reads in one read transaction and writes in one write transaction. No business rules.

mod access_data;
mod codec;
pub mod feed;
pub mod file_check;
mod header;
pub mod keyfile;
mod query;
mod records;
mod schema;
mod tables;
mod token_listing;
mod walkthrough_facts;
mod write;

pub use header::{Header, HeaderView};
pub use query::*;
pub use records::RecordCache;
pub use schema::SCHEMA_VERSION;
pub use tables::{ReadView, View, WriteTables};
pub use token_listing::{StateFilter, TokenQuery, TokenRow, TokenSort, UserFilter};
pub use write::ActivityTables;

use redb::{Builder, ConcurrencyMode, Database, DatabaseError, ReadableDatabase};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The default database file, in the working directory.
pub const DEFAULT_PATH: &str = "wsconsole.redb";

/// redb's page cache is 1 GiB by default; this bounds each process's share. Pages the cache
/// misses come from the OS page cache: the endpoint benchmark served the same requests per
/// second with 6 MiB as with 16 MiB or 256 MiB, and its peak RSS fell by 10 MiB.
pub const CACHE_BYTES: usize = 6 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened: one line naming the file and the cause.
    #[error("cannot open database {path}: {cause}")]
    Open { path: String, cause: String },
    #[error(
        "database {path} has schema version {found}, newer than this wsconsole understands ({supported}): use a newer wsconsole"
    )]
    SchemaTooNew { path: String, found: u64, supported: u64 },
    /// The key file beside the database is missing and cannot be made, or is unsafe.
    #[error("{0}")]
    Key(String),
    #[error("database is damaged: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Storage(#[from] redb::Error),
}

macro_rules! from_redb {
    ($($t:ty),*) => { $( impl From<$t> for StoreError { fn from(e: $t) -> Self { StoreError::Storage(e.into()) } } )* };
}
from_redb!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// An open database. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Store {
    db: Database,
    path: PathBuf,
    /// A second descriptor of the file redb has open (not of whatever the path names later),
    /// for [`Store::header_view`].
    file: std::fs::File,
    /// The site key, read from the key file on first need.
    key: std::sync::OnceLock<crate::domain::secret::SiteKey>,
    /// What the administrator allowed of the database file, and so of its key file.
    policy: file_check::FilePolicy,
    /// Transactions the change feed keeps ([`feed::FEED_KEEP`]; fewer in tests).
    feed_keep: u64,
}

impl Store {
    /// Opens (creating with mode 0600 if missing) the database at `path`, in redb's MultiWriter
    /// mode so that the console, the CLI and the endpoint share it; seeds or migrates it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(path, CACHE_BYTES)
    }

    /// As [`Store::open`], with a page cache of `cache_bytes`: the console reads whole tables
    /// into its own index once per change, so a large cache would only hold pages twice.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Store, StoreError> {
        Store::open_with(path, cache_bytes, file_check::FilePolicy::default())
    }

    /// As [`Store::open_with_cache`], with what the administrator allowed of the file
    /// (`--allow-shared-file`).
    pub fn open_with(path: &Path, cache_bytes: usize, policy: file_check::FilePolicy) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let fail = |cause: String| StoreError::Open { path: shown.clone(), cause };

        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(fail(format!("directory {} does not exist", dir.display())));
        }
        if path.is_dir() {
            return Err(fail("it is a directory".into()));
        }

        // Opened here (created 0600 if missing, checked on its descriptor: `file_check`) and
        // handed to redb, so that `file` is the very file redb uses even if the path is
        // renamed or replaced meanwhile.
        let file = file_check::open(path, policy).map_err(fail)?;
        let own = file.try_clone().map_err(|e| fail(io_cause(&e)))?;
        let db = open_redb(file, cache_bytes).map_err(fail)?;
        let store = Store {
            db,
            path: path.to_path_buf(),
            file: own,
            key: std::sync::OnceLock::new(),
            policy,
            feed_keep: feed::FEED_KEEP,
        };
        schema::prepare(&store)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps only the last `n` transactions in the change feed (tests of falling behind).
    pub fn set_feed_keep(&mut self, n: u64) {
        self.feed_keep = n.max(1);
    }

    /// The header of the file this store has open, mapped read-only: it changes with every
    /// commit by any process (the endpoint's freshness check). `None` where it cannot be
    /// mapped. redb's locks belong to its own descriptor's open file description, which the
    /// store's second descriptor shares, so mapping it leaves them alone.
    pub fn header_view(&self) -> Option<HeaderView> {
        HeaderView::new(&self.file)
    }

    /// The site key from the key file beside the database (`keyfile`), created on first need.
    /// A refusal is not remembered: fixing the file's mode and asking again works.
    pub fn site_key(&self) -> Result<&crate::domain::secret::SiteKey, StoreError> {
        if let Some(k) = self.key.get() {
            return Ok(k);
        }
        use std::os::unix::fs::MetadataExt;
        let owner =
            self.file.metadata().map_err(|e| StoreError::Key(format!("cannot read the database's owner: {e}")))?.uid();
        let key =
            keyfile::load_or_create(&keyfile::path_for(&self.path), owner, self.policy).map_err(StoreError::Key)?;
        Ok(self.key.get_or_init(|| key))
    }

    /// A read transaction: a consistent view that sees every commit made before it began, by
    /// any process. It can be shared between threads.
    pub fn read(&self) -> Result<ReadView, StoreError> {
        Ok(ReadView::new(self.db.begin_read()?))
    }

    /// Runs `f` in one write transaction and commits durably if it returns `Ok`; on `Err`
    /// nothing is written. Keep `f` to milliseconds: other processes wait for it.
    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&mut WriteTables<'_>) -> Result<T, E>) -> Result<T, E> {
        let txn = self.db.begin_write().map_err(StoreError::from)?;
        let result = {
            let mut tables = WriteTables::open(&txn)?;
            f(&mut tables).and_then(|v| {
                tables.record_changes(self.feed_keep)?;
                tables.count_change()?;
                Ok(v)
            })
        };
        match result {
            Ok(v) => {
                txn.commit().map_err(StoreError::from)?;
                Ok(v)
            }
            Err(e) => {
                drop(txn);
                Err(e)
            }
        }
    }

    /// A write of the endpoint's own activity (call-log rows, token last access, log pruning):
    /// it leaves the change count alone, so that readers who cache what the administrator
    /// configured (the console) need not reload for it. Only those writes are possible here.
    pub fn write_activity<T>(
        &self,
        f: impl FnOnce(&mut ActivityTables<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let txn = self.db.begin_write()?;
        let result = {
            let mut tables = WriteTables::open(&txn)?;
            f(&mut ActivityTables(&mut tables)).and_then(|v| {
                tables.record_changes(self.feed_keep)?;
                Ok(v)
            })
        };
        match result {
            Ok(v) => {
                txn.commit()?;
                Ok(v)
            }
            Err(e) => {
                drop(txn);
                Err(e)
            }
        }
    }

    /// The raw database, for benchmarks that compare the store API with plain redb.
    pub fn raw(&self) -> &Database {
        &self.db
    }
}

fn open_redb(file: std::fs::File, cache_bytes: usize) -> Result<Database, String> {
    // A damaged file can trip redb's internal assertions in debug builds; report it, never panic.
    let opened = std::panic::catch_unwind(move || {
        Builder::new()
            .set_concurrency_mode(ConcurrencyMode::MultiWriter)
            .set_cache_size(cache_bytes)
            .create_with_backend(redb::backends::FileBackend::new(file)?)
    });
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(database_cause(e)),
        Err(_) => Err("the file is damaged (redb could not read it)".into()),
    }
}

fn database_cause(e: DatabaseError) -> String {
    match e {
        DatabaseError::DatabaseAlreadyOpen => {
            "it is locked by another program that opened it exclusively (every wsconsole process shares it; is another tool holding it?)".into()
        }
        DatabaseError::LockProtocolMismatch => "another process has it open with an incompatible redb version".into(),
        DatabaseError::RepairAborted => "it needs a repair that could not be done".into(),
        DatabaseError::UpgradeRequired(v) => format!("it is in an old redb file format ({v})"),
        DatabaseError::TransactionInProgress => "a transaction is still in progress".into(),
        DatabaseError::Storage(redb::StorageError::Io(e)) => io_cause(&e),
        DatabaseError::Storage(redb::StorageError::Corrupted(m)) => format!("the file is damaged ({m})"),
        DatabaseError::Storage(e) => e.to_string(),
        other => other.to_string(),
    }
}

fn io_cause(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::NotFound => "no such file or directory".into(),
        ErrorKind::InvalidData => "it is not a wsconsole database (not a redb file)".into(),
        ErrorKind::IsADirectory => "it is a directory".into(),
        _ => e.to_string(),
    }
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
