//! Refuses clients that keep failing authentication (wrong passwords, bad tokens): after
//! `LIMIT` failures from one IP within `WINDOW`, that IP's password attempts, and its failing
//! token attempts, get HTTP 429 with Retry-After until the window ends. Valid tokens from the
//! same address (a NAT, a proxy) keep working, and other addresses are unaffected. Memory is
//! bounded by pruning old windows.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The default number of failures allowed per address and window.
pub const LIMIT: u32 = 20;
pub const WINDOW: Duration = Duration::from_secs(60);
const MAX_TRACKED: usize = 100_000;

pub struct Throttle {
    /// 0 turns the throttle off.
    limit: u32,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Throttle {
    pub fn new(limit: u32) -> Throttle {
        Throttle { limit, failures: Mutex::new(HashMap::new()) }
    }

    /// `Some(seconds to wait)` when this IP is refused now.
    pub fn check(&self, ip: IpAddr) -> Option<u64> {
        if self.limit == 0 {
            return None;
        }
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let (start, count) = *map.get(&key(ip))?;
        let elapsed = start.elapsed();
        (count >= self.limit && elapsed < WINDOW).then(|| (WINDOW - elapsed).as_secs().max(1))
    }

    pub fn failed(&self, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, (start, _)| start.elapsed() < WINDOW);
            // Still full of recent entries: forget a tenth, so the map stays bounded and this
            // pass runs once per that many new addresses, not on every failure.
            if map.len() >= MAX_TRACKED {
                let drop: Vec<IpAddr> = map.keys().take(MAX_TRACKED / 10).copied().collect();
                for k in drop {
                    map.remove(&k);
                }
            }
        }
        let entry = map.entry(key(ip)).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }
}

/// IPv6 clients are counted per /64 (what one host usually gets), IPv4 per address.
fn key(ip: IpAddr) -> IpAddr {
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
}
