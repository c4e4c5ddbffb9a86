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
    /// `--allow-shared-file`: a file its group may read and write, or owned by another user,
    /// in a directory its group may write or another user owns. Others' access and a
    /// directory others may write stay refused.
    pub allow_shared: bool,
}

/// Opens (creating if missing) the database at `path`, or says why it will not.
pub fn open(path: &Path, policy: FilePolicy) -> Result<File, String> {
    let dir_path = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| "the path names no file".to_string())?;
    // The directory is checked on its descriptor, and the file opened relative to it: a
    // directory renamed or swapped after the check is not the one used.
    let dir = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir_path)
        .map_err(|e| format!("directory {}: {}", dir_path.display(), super::io_cause(&e)))?;
    let dir_meta = dir.metadata().map_err(|e| e.to_string())?;
    check_directory(dir_path, &dir_meta, policy)?;
    let file = open_or_create_at(&dir, name)?;
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

/// Whoever may write the directory may plant or swap the file: only its owner (the running
/// user, or root) may, or, on purpose, its group.
fn check_directory(dir: &Path, meta: &std::fs::Metadata, policy: FilePolicy) -> Result<(), String> {
    let mode = meta.mode() & 0o7777;
    let shown = dir.display();
    if mode & 0o002 != 0 {
        return Err(format!(
            "its directory {shown} may be written by others (mode {mode:o}), so anyone could plant or swap the file: keep the database in a directory only its owner may write (for example /var/lib/wsconsole, mode 0700)"
        ));
    }
    if mode & 0o020 != 0 && !policy.allow_shared {
        return Err(format!(
            "its directory {shown} may be written by its group (mode {mode:o}), so they could plant or swap the file: chmod g-w {shown}, or give --allow-shared-file to share it on purpose"
        ));
    }
    let me = effective_uid();
    if meta.uid() != me && meta.uid() != 0 && me != 0 && !policy.allow_shared {
        return Err(format!(
            "its directory {shown} belongs to another user (uid {}, you are uid {me}), who could swap the file: run wsconsole as that user (sudo -u), or give --allow-shared-file to share it on purpose",
            meta.uid()
        ));
    }
    Ok(())
}

/// The existing file `name` in `dir`, never through a symbolic link; or a new one, made only
/// if no file of that name exists at that moment.
fn open_or_create_at(dir: &File, name: &std::ffi::OsStr) -> Result<File, String> {
    let existing = || openat(dir, name, libc::O_RDWR | libc::O_NOFOLLOW);
    let created = || openat(dir, name, libc::O_RDWR | libc::O_NOFOLLOW | libc::O_CREAT | libc::O_EXCL);
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

/// `openat(2)`, close-on-exec, mode 0600 when it creates.
fn openat(dir: &File, name: &std::ffi::OsStr, flags: libc::c_int) -> std::io::Result<File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(name.as_bytes()).map_err(|_| std::io::Error::from(ErrorKind::InvalidInput))?;
    // SAFETY: `dir` is an open descriptor and `name` a NUL-terminated string, both alive for
    // the call; a descriptor returned is new and owned by nothing else.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC, 0o600 as libc::c_uint) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: see above.
    Ok(unsafe { File::from_raw_fd(fd) })
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

        chmod(shared.path(), 0o770);
        let e = open(&shared.path().join("ws.redb"), FilePolicy::default()).unwrap_err();
        assert!(e.contains("may be written by its group (mode 770)") && e.contains("chmod g-w"), "{e}");
        assert!(!shared.path().join("ws.redb").exists(), "nothing is created there");
        open(&shared.path().join("ws.redb"), FilePolicy { allow_shared: true }).unwrap();
    }
}
