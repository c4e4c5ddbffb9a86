//! Places toward the Moodle site (calls in flight, files being sent), shared so that no caller
//! can take them all: a caller (an account, whichever of its tokens or its password it calls
//! with) that holds a quarter of them (at least one) gets another only while more than a
//! quarter stay free. A client alone may use three quarters (a burst of the
//! Moodle app's calls goes through), and however many calls a client fires at once, the last
//! quarter stays for the other callers, of its service or any other. Nothing waits in a
//! queue: a place is there now or the caller is told at once.

use crate::domain::UserId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why no place was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Every place is taken.
    All,
    /// The places left are kept for callers holding fewer.
    Kept,
}

pub struct SitePlaces {
    places: u32,
    /// A quarter of the places, at least one.
    quarter: u32,
    taken: Mutex<Taken>,
}

/// Places taken, in all and by each caller holding any (so the map is no larger than the
/// places).
#[derive(Default)]
struct Taken {
    all: u32,
    by: HashMap<UserId, u32>,
}

/// A place, given back when dropped.
pub struct Place {
    of: Arc<SitePlaces>,
    holder: UserId,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut taken = self.of.lock();
        taken.all -= 1;
        if let Some(n) = taken.by.get_mut(&self.holder) {
            *n -= 1;
            if *n == 0 {
                taken.by.remove(&self.holder);
            }
        }
    }
}

impl SitePlaces {
    pub fn new(places: u32) -> SitePlaces {
        SitePlaces { places, quarter: places.div_ceil(4).max(1), taken: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Taken> {
        self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for `holder` now, unless every place is taken, or it holds a quarter of them
    /// and no more than a quarter are free.
    pub fn take(self: &Arc<Self>, holder: UserId) -> Result<Place, Full> {
        let mut taken = self.lock();
        let free = self.places - taken.all;
        if free == 0 {
            return Err(Full::All);
        }
        let mine = taken.by.get(&holder).copied().unwrap_or(0);
        if mine >= self.quarter && free <= self.quarter {
            return Err(Full::Kept);
        }
        taken.all += 1;
        taken.by.insert(holder, mine + 1);
        Ok(Place { of: self.clone(), holder })
    }

    /// Places taken now, and callers holding them.
    #[cfg(test)]
    fn load(&self) -> (usize, usize) {
        let taken = self.lock();
        (taken.all as usize, taken.by.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_alone_gets_three_quarters_and_the_last_quarter_stays_for_others() {
        let places = Arc::new(SitePlaces::new(8));
        let (greedy, other, third) = (1, 2, 3);
        let mine: Vec<Place> = (0..6).map(|_| places.take(greedy).unwrap()).collect();
        assert_eq!(places.take(greedy).err(), Some(Full::Kept), "two of eight kept for the others");
        let theirs = places.take(other).unwrap();
        let last = places.take(third).unwrap();
        assert_eq!(places.take(4).err(), Some(Full::All));
        assert_eq!(places.load(), (8, 3));
        drop(last);
        assert_eq!(places.take(greedy).err(), Some(Full::Kept), "a freed place is not the greedy one's");
        let again = places.take(4).unwrap();
        drop((mine, theirs, again));
        assert_eq!(places.load(), (0, 0), "nothing is kept for callers with no place");
    }

    #[test]
    fn small_caps_still_keep_a_place_for_another_caller() {
        // Of two places, a caller gets one; the other is for someone else.
        let places = Arc::new(SitePlaces::new(2));
        let held = places.take(1).unwrap();
        assert_eq!(places.take(1).err(), Some(Full::Kept));
        let other = places.take(2).unwrap();
        assert_eq!(places.take(3).err(), Some(Full::All));
        drop((held, other));
        // Of one place, the first caller takes it.
        let places = Arc::new(SitePlaces::new(1));
        let held = places.take(1).unwrap();
        assert_eq!(places.take(2).err(), Some(Full::All));
        drop(held);
        assert!(places.take(2).is_ok());
    }

    /// Many threads taking and giving back at once: no caller ever holds more than three
    /// quarters, and the counts end at zero.
    #[test]
    fn under_contention_no_caller_takes_the_last_quarter() {
        let places = Arc::new(SitePlaces::new(8));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let (places, most) = (places.clone(), most.clone());
                s.spawn(move || {
                    let holder = t % 2;
                    for _ in 0..2000 {
                        let mut taken = Vec::new();
                        while let Ok(p) = places.take(holder) {
                            taken.push(p);
                        }
                        let counts = places.lock().by.get(&holder).copied().unwrap_or(0) as usize;
                        most.fetch_max(counts, std::sync::atomic::Ordering::Relaxed);
                        drop(taken);
                    }
                });
            }
        });
        assert!(most.load(std::sync::atomic::Ordering::Relaxed) <= 6);
        assert_eq!(places.load(), (0, 0));
    }
}
