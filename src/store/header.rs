//! redb's file header, mapped read-only: every commit by any process rewrites it (a commit slot
//! with a new transaction id), so comparing two reads tells whether a commit finished between
//! them, for the cost of a 320-byte comparison and no system call. It rests on redb 4.6's file
//! format (the header's place and size); the test below checks that assumption.

/// The part of redb's file header that every commit rewrites: 64 bytes of database header and
/// two commit slots of 128 bytes (redb 4.6's `DB_HEADER_SIZE`).
const HEADER_BYTES: usize = 320;
pub type Header = [u64; HEADER_BYTES / 8];

/// The database file's header, mapped read-only.
pub struct HeaderView {
    map: memmap2::Mmap,
}

impl HeaderView {
    pub(super) fn new(file: &std::fs::File) -> Option<HeaderView> {
        if file.metadata().ok()?.len() < HEADER_BYTES as u64 {
            return None;
        }
        // SAFETY: the mapping is read-only, and only read with volatile loads, since other
        // processes write the file while it is mapped. redb never shortens the file below its
        // header (another program truncating the file would make the reads fault).
        let map = unsafe { memmap2::MmapOptions::new().len(HEADER_BYTES).map(file) }.ok()?;
        Some(HeaderView { map })
    }

    /// The header as it is now; a write in progress may show partly, which only reads as a
    /// change.
    pub fn read(&self) -> Header {
        let words = self.map.as_ptr().cast::<u64>();
        // SAFETY: the mapping is page-aligned and HEADER_BYTES long.
        std::array::from_fn(|i| unsafe { std::ptr::read_volatile(words.add(i)) })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use crate::ops::Ops;
    use std::collections::HashSet;
    use std::sync::Arc;

    /// What the freshness check rests on: every commit, by any handle, rewrites the mapped
    /// part of the header, and never back to an earlier state.
    #[test]
    fn every_commit_changes_the_mapped_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.redb");
        let ours = Store::open(&path).unwrap();
        let header = ours.header_view().expect("the header maps");
        let theirs = Ops::new(Arc::new(Store::open(&path).unwrap()), "other");
        let mut seen = HashSet::from([header.read()]);
        for round in 0..10 {
            theirs.set_maintenance(round % 2 == 0).unwrap();
            assert!(seen.insert(header.read()), "a configuring commit, round {round}");
            ours.write_activity(|t| t.prune_calls_before(0, 1)).unwrap();
            assert!(seen.insert(header.read()), "an activity commit, round {round}");
        }
    }
}
