//! Refuses clients that keep failing authentication (wrong passwords, bad tokens): after
//! `LIMIT` failures from one IP within `WINDOW`, that IP's password attempts, and its failing
//! token attempts, get HTTP 429 with Retry-After until the window ends. Password checks in
//! flight count too ([`Throttle::admit`]): a burst sent at once gets no more checks than the
//! limit. Valid tokens from the
//! same address (a NAT, a proxy) keep working, and other addresses are unaffected. Memory is
//! bounded by pruning old windows.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The default number of failures allowed per address and window.
pub const LIMIT: u32 = 20;
pub const WINDOW: Duration = Duration::from_secs(60);
const MAX_TRACKED: usize = 100_000;

pub struct Throttle {
    /// 0 turns the throttle off.
    limit: u32,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

/// One address's window: failures counted in it, and password checks admitted and not done.
#[derive(Clone, Copy)]
struct Entry {
    start: Instant,
    failures: u32,
    in_flight: u32,
}

impl Entry {
    fn new() -> Entry {
        Entry { start: Instant::now(), failures: 0, in_flight: 0 }
    }

    /// Seconds until the window ends, at least 1.
    fn wait(&self) -> u64 {
        WINDOW.saturating_sub(self.start.elapsed()).as_secs().max(1)
    }
}

/// A password check admitted for an address. It counts as in flight until dropped, so that
/// the failures counted and the checks in flight never pass the limit together, however many
/// requests arrive at once. It owns its throttle, so that it can go with the check to the
/// thread that runs it.
pub struct Admission {
    throttle: Arc<Throttle>,
    ip: IpAddr,
    counted: bool,
}

impl Admission {
    /// The check failed: it counts as a failure of its address.
    pub fn failed(&self) {
        self.throttle.failed(self.ip);
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let mut map = self.throttle.lock();
        let k = key(self.ip);
        if let Some(e) = map.get_mut(&k) {
            e.in_flight = e.in_flight.saturating_sub(1);
            // A window with nothing in it (the checks succeeded) need not be remembered.
            if e.in_flight == 0 && e.failures == 0 {
                map.remove(&k);
            }
        }
    }
}

impl Throttle {
    pub fn new(limit: u32) -> Throttle {
        Throttle { limit, entries: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(seconds to wait)` when this IP's failures reached the limit in this window.
    pub fn check(&self, ip: IpAddr) -> Option<u64> {
        if self.limit == 0 {
            return None;
        }
        let map = self.lock();
        let e = map.get(&key(ip))?;
        (e.failures >= self.limit && e.start.elapsed() < WINDOW).then(|| e.wait())
    }

    /// Admits one password check from `ip`, or says how long to wait: refused once the
    /// failures counted and the checks in flight reach the limit.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admission, u64> {
        if self.limit == 0 {
            return Ok(Admission { throttle: self.clone(), ip, counted: false });
        }
        let mut map = self.lock();
        Self::bound(&mut map);
        let e = map.entry(key(ip)).or_insert_with(Entry::new);
        if e.start.elapsed() >= WINDOW {
            *e = Entry { in_flight: e.in_flight, ..Entry::new() };
        }
        if e.failures + e.in_flight >= self.limit {
            // Checks still in flight may all succeed: try again soon, not after the window.
            return Err(if e.failures >= self.limit { e.wait() } else { 1 });
        }
        e.in_flight += 1;
        Ok(Admission { throttle: self.clone(), ip, counted: true })
    }

    /// Addresses refused for now: their failures reached the limit in a window not yet over.
    pub fn refusing(&self) -> usize {
        if self.limit == 0 {
            return 0;
        }
        self.lock().values().filter(|e| e.failures >= self.limit && e.start.elapsed() < WINDOW).count()
    }

    pub fn failed(&self, ip: IpAddr) {
        if self.limit == 0 {
            return;
        }
        let mut map = self.lock();
        Self::bound(&mut map);
        let e = map.entry(key(ip)).or_insert_with(Entry::new);
        if e.start.elapsed() >= WINDOW {
            *e = Entry { in_flight: e.in_flight, ..Entry::new() };
        }
        e.failures += 1;
    }

    /// Keeps the map bounded: windows that ended go first. If it is still full of recent
    /// entries, a tenth of those with no check in flight is forgotten, the fewest failures
    /// first, so that a refused address is the last to be forgotten and this pass runs once
    /// per that many new addresses, not on every request.
    fn bound(map: &mut HashMap<IpAddr, Entry>) {
        if map.len() < MAX_TRACKED {
            return;
        }
        map.retain(|_, e| e.in_flight > 0 || e.start.elapsed() < WINDOW);
        if map.len() >= MAX_TRACKED {
            let mut idle: Vec<(u32, IpAddr)> =
                map.iter().filter(|(_, e)| e.in_flight == 0).map(|(k, e)| (e.failures, *k)).collect();
            let forget = (MAX_TRACKED / 10).min(idle.len());
            if forget > 0 {
                idle.select_nth_unstable(forget - 1);
                for (_, k) in &idle[..forget] {
                    map.remove(k);
                }
            }
        }
    }
}

/// IPv6 clients are counted per /64 (what one host usually gets), IPv4 per address.
pub fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_one_ip_only_after_the_limit() {
        let t = Throttle::new(LIMIT);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..LIMIT - 1 {
            t.failed(a);
        }
        assert_eq!(t.check(a), None);
        t.failed(a);
        let wait = t.check(a).expect("refused");
        assert!((1..=60).contains(&wait));
        assert_eq!(t.check(b), None);
        // Rotating addresses inside one IPv6 /64 does not help.
        let v6 = Throttle::new(LIMIT);
        for i in 0..LIMIT {
            v6.failed(format!("2001:db8::{i:x}").parse().unwrap());
        }
        assert!(v6.check("2001:db8::ffff".parse().unwrap()).is_some());
        assert!(v6.check("2001:db8:0:1::1".parse().unwrap()).is_none());
        let off = Throttle::new(0);
        for _ in 0..100 {
            off.failed(a);
        }
        assert_eq!(off.check(a), None);
    }

    #[test]
    fn checks_in_flight_count_against_the_limit() {
        let t = Arc::new(Throttle::new(5));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        // Five at once are admitted; the sixth is refused before any of them has failed.
        let admitted: Vec<Admission> = (0..5).map(|_| t.admit(a).unwrap()).collect();
        assert_eq!(t.admit(a).err(), Some(1), "in flight: try again soon");
        assert!(t.admit("10.0.0.2".parse().unwrap()).is_ok(), "other addresses are not affected");
        for adm in &admitted {
            adm.failed();
        }
        drop(admitted);
        let wait = t.admit(a).err().expect("five failures: refused for the window");
        assert!((2..=60).contains(&wait), "{wait}");
        // Successes free their place.
        let u = Arc::new(Throttle::new(2));
        for _ in 0..10 {
            drop(u.admit(a).unwrap());
        }
        assert!(u.admit(a).is_ok());
        assert!(u.lock().is_empty(), "successes leave nothing to remember");
    }

    #[test]
    fn a_full_table_forgets_the_fewest_failures_first() {
        let t = Arc::new(Throttle::new(3));
        let v4 = |i: u32| IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        let refused: Vec<IpAddr> = (0..1000).map(v4).collect();
        for ip in &refused {
            for _ in 0..3 {
                t.failed(*ip);
            }
        }
        for i in 1000..MAX_TRACKED as u32 {
            t.failed(v4(i));
        }
        assert_eq!(t.lock().len(), MAX_TRACKED);
        // One more address: the table makes room among those with one failure.
        t.failed("192.0.2.1".parse().unwrap());
        assert!(t.lock().len() <= MAX_TRACKED - MAX_TRACKED / 10 + 1);
        assert!(refused.iter().all(|ip| t.check(*ip).is_some()), "no refused address was forgotten");
    }
}
