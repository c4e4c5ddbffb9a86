//! The key file (DESIGN.md §3): the site key's 32 random bytes in a file beside the database,
//! `<database>.key`, created 0600 on first need and refused when another user could have read
//! or replaced it. The database never holds the key, so a copy of the database alone reveals
//! no usable secret.

use super::file_check::FilePolicy;
use crate::domain::secret::SiteKey;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Where the key of the database at `db` is kept.
pub fn path_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".key");
    db.with_file_name(name)
}

/// Reads the key at `path`, creating it first if there is none. `owner` is the uid the file
/// must belong to (the database file's owner); `policy` is the database file's: a database
/// shared with its group on purpose may share its key with that group too. Errors are one
/// sentence naming the file.
pub fn load_or_create(path: &Path, owner: u32, policy: FilePolicy) -> Result<SiteKey, String> {
    let read = |path: &Path, owner: u32| read(path, owner, policy);
    match read(path, owner) {
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        other => return other.map_err(|e| describe(path, &e)),
    }
    create(path, owner).map_err(|e| format!("cannot create key file {}: {}", path.display(), plain(&e)))?;
    read(path, owner).map_err(|e| describe(path, &e))
}

/// Writes a new key under a temporary name and links it into place, so that a process that
/// races this one finds either no key or a whole one, and both end up with the same. It is
/// given to the database's owner (root running `serve` on the service's database makes the
/// service's key, not its own).
fn create(path: &Path, owner: u32) -> std::io::Result<()> {
    let mut bytes = [0u8; SiteKey::LEN];
    rand::fill(&mut bytes);
    let mut suffix = [0u8; 8];
    rand::fill(&mut suffix);
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        hex::encode(suffix)
    ));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        if f.metadata()?.uid() != owner {
            std::os::unix::fs::fchown(&f, Some(owner), None)?;
        }
        f.write_all(&bytes)?;
        f.sync_all()?;
        match std::fs::hard_link(&tmp, path) {
            // Another process made it first: theirs is the key.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
            other => other,
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    result?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The new name must survive a crash as the key's bytes do.
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn read(path: &Path, owner: u32, policy: FilePolicy) -> std::io::Result<SiteKey> {
    let refused = |why: String| std::io::Error::new(ErrorKind::PermissionDenied, why);
    // A symbolic link could point anywhere another user chose: never follow one.
    let mut f = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(refused("it is not a regular file".into()));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o007 != 0 || (mode & 0o070 != 0 && !policy.allow_shared) {
        let whom = if mode & 0o007 != 0 { "other users" } else { "its group" };
        return Err(refused(format!("{whom} may read or change it (mode {mode:o}); run chmod 600 {}", path.display())));
    }
    if meta.uid() != owner {
        return Err(refused(format!("it belongs to uid {}, not to the database's owner (uid {owner})", meta.uid())));
    }
    let mut bytes = [0u8; SiteKey::LEN];
    let mut rest = Vec::new();
    f.read_exact(&mut bytes).map_err(|_| std::io::Error::new(ErrorKind::InvalidData, "it is too short"))?;
    f.read_to_end(&mut rest)?;
    if !rest.is_empty() {
        return Err(std::io::Error::new(ErrorKind::InvalidData, "it is too long"));
    }
    Ok(SiteKey::from_bytes(bytes))
}

fn describe(path: &Path, e: &std::io::Error) -> String {
    let cause = match e.raw_os_error() {
        Some(libc::ELOOP) => "it is a symbolic link".to_string(),
        _ if e.kind() == ErrorKind::InvalidData => format!("it is damaged ({e}; a key is {} bytes)", SiteKey::LEN),
        _ => plain(e),
    };
    format!("refusing key file {}: {cause}", path.display())
}

fn plain(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::PermissionDenied if e.raw_os_error().is_some() => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn me(dir: &Path) -> u32 {
        std::fs::metadata(dir).unwrap().uid()
    }

    #[test]
    fn made_once_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("ws.redb"));
        assert_eq!(path.file_name().unwrap(), "ws.redb.key");
        let a = load_or_create(&path, me(dir.path()), FilePolicy::default()).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 32);
        assert_eq!(load_or_create(&path, me(dir.path()), FilePolicy::default()).unwrap(), a, "the same key every time");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["ws.redb.key"], "no temporary file is left");
    }

    #[test]
    fn racing_processes_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("ws.redb"));
        let uid = me(dir.path());
        let keys: Vec<SiteKey> = std::thread::scope(|s| {
            let handles: Vec<_> =
                (0..8).map(|_| s.spawn(|| load_or_create(&path, uid, FilePolicy::default()).unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn unsafe_key_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let uid = me(dir.path());
        let path = path_for(&dir.path().join("ws.redb"));
        let mine = FilePolicy::default();
        let shared = FilePolicy { allow_shared: true };
        load_or_create(&path, uid, mine).unwrap();

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create(&path, uid, shared).unwrap_err();
        assert!(e.contains("other users may read or change it (mode 644)") && e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = load_or_create(&path, uid, mine).unwrap_err();
        assert!(e.contains("its group may read or change it (mode 640)"), "{e}");
        load_or_create(&path, uid, shared).expect("a database shared on purpose shares its key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();

        let e = load_or_create(&path, uid + 1, mine).unwrap_err();
        assert!(e.contains("belongs to uid"), "{e}");

        let link = path_for(&dir.path().join("linked.redb"));
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let e = load_or_create(&link, uid, mine).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");

        let short = path_for(&dir.path().join("short.redb"));
        std::fs::write(&short, b"abc").unwrap();
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = load_or_create(&short, uid, mine).unwrap_err();
        assert!(e.contains("damaged"), "{e}");
        assert_eq!(std::fs::read(&short).unwrap(), b"abc", "a damaged key is never replaced");
    }
}
