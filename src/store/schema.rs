//! Schema version, first-open seeding and migrations.
//!
//! Every open checks the stored version in a read transaction (cheap); only a new or older
//! database takes a write transaction, which checks again so that two processes opening a new
//! file at once seed it once.

use super::tables::{View, WriteTables};
use super::{Store, StoreError};
use crate::domain::capabilities;
use crate::domain::function_catalogue;
use crate::domain::{Role, Service, Settings};
use redb::ReadableTable;

/// The schema this release writes.
pub const SCHEMA_VERSION: u64 = 4;

const VERSION_KEY: &str = "schema_version";
const CREATED_KEY: &str = "created_at";

/// A step from one schema version to the next, applied inside the opening write transaction.
pub(crate) struct Migration {
    pub from: u64,
    pub apply: fn(&mut WriteTables<'_>) -> Result<(), StoreError>,
}

/// Steps from older schemas.
const MIGRATIONS: &[Migration] = &[
    // 2 adds the change feed, whose table the write transaction has just created; readers
    // that knew nothing of it read everything.
    Migration {
        from: 1,
        apply: |t| {
            t.changed_everything();
            Ok(())
        },
    },
    // 3 adds the `upstream` table (opening the write transaction's tables created it) and the
    // feed's `Upstream` change, which older releases cannot read: they refuse the file.
    Migration { from: 2, apply: |_| Ok(()) },
    // 4 adds `call_site`, what the Moodle site did with forwarded calls (created likewise).
    Migration { from: 3, apply: |_| Ok(()) },
];

pub(super) fn prepare(store: &Store) -> Result<(), StoreError> {
    match stored_version(store)? {
        Some(v) if v == SCHEMA_VERSION => return Ok(()),
        Some(v) if v > SCHEMA_VERSION => return Err(too_new(store, v)),
        _ => {}
    }
    store.write(|t| {
        let version = t.meta.get(VERSION_KEY)?.map(|v| v.value());
        match version {
            None => seed(t),
            Some(v) if v > SCHEMA_VERSION => Err(too_new(store, v)),
            Some(v) => migrate(t, v, SCHEMA_VERSION, MIGRATIONS),
        }
    })
}

fn too_new(store: &Store, found: u64) -> StoreError {
    StoreError::SchemaTooNew { path: store.path().display().to_string(), found, supported: SCHEMA_VERSION }
}

fn stored_version(store: &Store) -> Result<Option<u64>, StoreError> {
    let view = store.read()?;
    match view.meta() {
        Ok(meta) => Ok(meta.get(VERSION_KEY)?.map(|v| v.value())),
        Err(StoreError::Storage(redb::Error::TableDoesNotExist(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn migrate(
    t: &mut WriteTables<'_>,
    mut version: u64,
    target: u64,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    while version < target {
        let step = migrations
            .iter()
            .find(|m| m.from == version)
            .ok_or_else(|| StoreError::Corrupt(format!("no migration from schema version {version}")))?;
        (step.apply)(t)?;
        version += 1;
        t.meta.insert(VERSION_KEY, version)?;
    }
    Ok(())
}

/// A new database: everything off, the built-in mobile service with Moodle's functions, and
/// the implicit "Authenticated user" role.
fn seed(t: &mut WriteTables<'_>) -> Result<(), StoreError> {
    let now = super::now();
    t.meta.insert(VERSION_KEY, SCHEMA_VERSION)?;
    t.meta.insert(CREATED_KEY, u64::try_from(now).unwrap_or(0))?;
    t.put_settings(&Settings::default())?;

    let id = t.next_id("service")?;
    t.put_service(
        &Service {
            id,
            name: "Moodle mobile web service".into(),
            shortname: crate::domain::types::MOBILE_SERVICE.into(),
            enabled: false,
            restricted_users: false,
            required_capability: None,
            download_files: true,
            upload_files: true,
            builtin: true,
            created: now,
            modified: now,
        },
        None,
    )?;
    for f in function_catalogue::mobile_functions() {
        t.set_service_function(id, f.name, true)?;
    }

    let role = t.next_id("role")?;
    t.put_role(
        &Role {
            id: role,
            shortname: "user".into(),
            name: "Authenticated user".into(),
            description: "All logged in users.".into(),
            implicit: true,
        },
        None,
    )?;
    for cap in capabilities::AUTHENTICATED_USER_DEFAULTS {
        t.set_role_cap(role, cap, true)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_marker(t: &mut WriteTables<'_>) -> Result<(), StoreError> {
        t.meta.insert("marker", 42)?;
        Ok(())
    }

    #[test]
    fn migrations_run_in_order_and_record_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("m.redb")).unwrap();
        let steps = [Migration { from: 1, apply: add_marker }, Migration { from: 2, apply: add_marker }];
        store.write(|t| migrate(t, 1, 3, &steps)).unwrap();
        let v = store.read().unwrap();
        assert_eq!(v.meta().unwrap().get("marker").unwrap().unwrap().value(), 42);
        assert_eq!(v.meta().unwrap().get(VERSION_KEY).unwrap().unwrap().value(), 3);
        let gap = store.write(|t| migrate(t, 5, 7, &steps)).unwrap_err();
        assert!(gap.to_string().contains("no migration from schema version 5"));
    }
}
