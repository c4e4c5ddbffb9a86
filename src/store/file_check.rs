//! Opening the database file without adopting one that another user planted or can read: a
//! new file is created with `O_EXCL | O_NOFOLLOW`, mode 0600; an existing one is opened without
//! following a symbolic link and checked on the descriptor (so it cannot be swapped between
//! the check and the use). Each refusal is one sentence with the fix.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// What an administrator allowed on purpose.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilePolicy {
    /// `--allow-shared-file`: a file its group may read and write, or owned by another member
    /// of that group. Others' access and a directory others may write stay refused.
    pub allow_shared: bool,
}

/// Opens (creating if missing) the database at `path`, or says why it will not.
pub fn open(path: &Path, policy: FilePolicy) -> Result<File, String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir_meta = std::fs::metadata(dir).map_err(|e| format!("directory {}: {e}", dir.display()))?;
    if dir_meta.mode() & 0o002 != 0 {
        return Err(format!(
            "its directory {} may be written by others (mode {:o}), so anyone could plant or swap the file: keep the database in a directory only its owner may write (for example /var/lib/wsconsole, mode 0700)",
            dir.display(),
            dir_meta.mode() & 0o7777
        ));
    }
    let file = open_or_create(path)?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    let mode = meta.mode() & 0o777;
    let fix = format!("chmod 600 {}", path.display());
    if mode & 0o007 != 0 {
        return Err(format!("other users may read or change it (mode {mode:o}): {fix}"));
    }
    if mode & 0o070 != 0 && !policy.allow_shared {
        return Err(format!(
            "its group may read or change it (mode {mode:o}): {fix}, or give --allow-shared-file to share it on purpose"
        ));
    }
    let me = effective_uid();
    if meta.uid() != me && me != 0 && !policy.allow_shared {
        return Err(format!(
            "it belongs to another user (uid {}, you are uid {me}): run wsconsole as its owner (sudo -u), or give --allow-shared-file to share it on purpose",
            meta.uid()
        ));
    }
    Ok(file)
}

/// The existing file, never through a symbolic link; or a new one, made only if no file of
/// that name exists at that moment.
fn open_or_create(path: &Path) -> Result<File, String> {
    let existing = || OpenOptions::new().read(true).write(true).custom_flags(libc::O_NOFOLLOW).open(path);
    let created = || {
        OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)
    };
    let result = match existing() {
        Err(e) if e.kind() == ErrorKind::NotFound => match created() {
            // Another process made it meanwhile: open theirs, and check it like any other.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => existing(),
            other => other,
        },
        other => other,
    };
    result.map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => "it is a symbolic link: give the path of the file itself".to_string(),
        _ => super::io_cause(&e),
    })
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_new_file_is_0600_and_an_own_0600_file_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ws.redb");
        open(&path, FilePolicy::default()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        open(&path, FilePolicy::default()).unwrap();
    }

    #[test]
    fn unsafe_files_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ws.redb");
        std::fs::write(&path, b"").unwrap();
        chmod(&path, 0o666);
        let e = open(&path, FilePolicy::default()).unwrap_err();
        assert!(e.contains("other users may read or change it (mode 666): chmod 600"), "{e}");
        assert!(open(&path, FilePolicy { allow_shared: true }).is_err(), "others are never allowed");
        chmod(&path, 0o660);
        let e = open(&path, FilePolicy::default()).unwrap_err();
        assert!(e.contains("its group may read or change it (mode 660)") && e.contains("--allow-shared-file"), "{e}");
        open(&path, FilePolicy { allow_shared: true }).unwrap();

        chmod(&path, 0o600);
        let link = dir.path().join("link.redb");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let e = open(&link, FilePolicy::default()).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        let dangling = dir.path().join("dangling.redb");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(open(&dangling, FilePolicy::default()).unwrap_err().contains("symbolic link"));
        assert!(!dir.path().join("nowhere").exists(), "nothing is created through a link");

        let shared = tempfile::tempdir().unwrap();
        chmod(shared.path(), 0o1777);
        let e = open(&shared.path().join("ws.redb"), FilePolicy { allow_shared: true }).unwrap_err();
        assert!(e.contains("may be written by others (mode 1777)"), "{e}");
        assert!(!shared.path().join("ws.redb").exists(), "nothing is created there");
    }
}
