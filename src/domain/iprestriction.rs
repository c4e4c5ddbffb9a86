//! IP restrictions, matched exactly as Moodle's `address_in_subnet()` (moodle-ws-reference.md §3.4).
//!
//! A restriction is a comma-separated list of entries:
//! 1. CIDR: `a.b.c.d/nn`, `x:…:x/nnn` (`/0` matches every address of that family);
//! 2. a range in the last group: `a.b.c.d-e`, `x:…:x-yyyy`;
//! 3. an exact address, or a partial one by whole groups: `123.121`, `123.121.`, `baba:`.
//!
//! IPv4 addresses only ever match IPv4 entries and IPv6 only IPv6. At runtime an entry that does
//! not parse is skipped, as Moodle does; at input time [`IpRestriction::parse`] refuses it with a
//! message naming it, so that a typo never silently locks a client out.

use std::fmt;
use std::net::IpAddr;

/// A client address as Moodle normalises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAddr {
    V4(u32),
    V6([u16; 8]),
}

impl ClientAddr {
    /// Parses a textual address the way Moodle's `cleanremoteaddr()` does. `0.0.0.0` (Moodle's
    /// "unknown address") parses but never matches a restriction.
    pub fn parse(text: &str) -> Option<ClientAddr> {
        let text = text.trim();
        if text.contains(':') { parse_v6(text).map(ClientAddr::V6) } else { parse_v4(text).map(ClientAddr::V4) }
    }

    fn is_unknown(self) -> bool {
        self == ClientAddr::V4(0)
    }
}

impl From<IpAddr> for ClientAddr {
    /// A socket address. IPv4-mapped IPv6 (`::ffff:a.b.c.d`, from a dual-stack listener) is
    /// taken as the IPv4 address it carries, as a web server in front of Moodle reports it.
    fn from(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => ClientAddr::V4(u32::from(v4)),
            IpAddr::V6(v6) => ClientAddr::V6(v6.segments()),
        }
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ClientAddr::V4(v) => write!(f, "{}", std::net::Ipv4Addr::from(v)),
            ClientAddr::V6(g) => write!(f, "{}", std::net::Ipv6Addr::from(g)),
        }
    }
}

/// One parsed entry of a restriction list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    V4Net {
        net: u32,
        prefix: u8,
    },
    V4Range {
        start: u32,
        end: u32,
    },
    V6Net {
        net: u128,
        prefix: u8,
    },
    /// The first seven groups fixed, the last between `start` and `end`.
    V6Range {
        head: [u16; 7],
        start: u16,
        end: u16,
    },
}

impl Entry {
    fn matches(self, addr: ClientAddr) -> bool {
        match (self, addr) {
            (Entry::V4Net { net, prefix }, ClientAddr::V4(a)) => {
                let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
                a & mask == net & mask
            }
            (Entry::V4Range { start, end }, ClientAddr::V4(a)) => start <= a && a <= end,
            (Entry::V6Net { net, prefix }, ClientAddr::V6(g)) => {
                let a = u128::from(std::net::Ipv6Addr::from(g));
                let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
                a & mask == net & mask
            }
            (Entry::V6Range { head, start, end }, ClientAddr::V6(g)) => {
                g[..7] == head[..] && start <= g[7] && g[7] <= end
            }
            _ => false,
        }
    }
}

/// Why an entry of a restriction list was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRestrictionError {
    pub entry: String,
    pub reason: &'static str,
}

impl fmt::Display for IpRestrictionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" is not {}", self.entry, self.reason)
    }
}

impl std::error::Error for IpRestrictionError {}

/// A parsed restriction list. Empty means "no restriction" to callers that store it, but
/// [`IpRestriction::matches`] of an empty list is false, as in Moodle.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpRestriction {
    entries: Vec<Entry>,
}

impl IpRestriction {
    /// Strict parse for input forms: every non-empty entry must be meaningful.
    pub fn parse(list: &str) -> Result<IpRestriction, IpRestrictionError> {
        let mut entries = Vec::new();
        for raw in list.split(',') {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let entry = parse_entry(raw).map_err(|reason| IpRestrictionError { entry: raw.to_string(), reason })?;
            entries.push(entry);
        }
        Ok(IpRestriction { entries })
    }

    /// Lenient parse for matching: unparsable entries are skipped, as Moodle does.
    pub fn parse_lenient(list: &str) -> IpRestriction {
        let entries = list
            .split(',')
            .map(str::trim)
            .filter(|raw| !raw.is_empty())
            .filter_map(|raw| parse_entry(raw).ok())
            .collect();
        IpRestriction { entries }
    }

    pub fn matches(&self, addr: ClientAddr) -> bool {
        !addr.is_unknown() && self.entries.iter().any(|e| e.matches(addr))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Moodle's `address_in_subnet($addr, $subnetstr)`, on text.
pub fn address_in_subnet(addr: &str, list: &str) -> bool {
    if addr == "0.0.0.0" {
        return false;
    }
    match ClientAddr::parse(addr) {
        Some(a) => IpRestriction::parse_lenient(list).matches(a),
        None => false,
    }
}

/// Normalises a stored restriction for display and storage: entries trimmed, joined by ", ".
/// Validates first; the text of each entry is kept as typed.
pub fn normalise(list: &str) -> Result<String, IpRestrictionError> {
    IpRestriction::parse(list)?;
    Ok(list.split(',').map(str::trim).filter(|e| !e.is_empty()).collect::<Vec<_>>().join(", "))
}

fn parse_entry(raw: &str) -> Result<Entry, &'static str> {
    if raw.contains('/') {
        parse_cidr(raw)
    } else if raw.contains('-') {
        parse_range(raw)
    } else {
        parse_partial(raw)
    }
}

/// 1: `ip/mask`. The mask must be a plain decimal integer in range (PHP's `is_number`).
fn parse_cidr(raw: &str) -> Result<Entry, &'static str> {
    let mut parts = raw.split('/');
    let ip = parts.next().unwrap_or("").trim();
    let mask = parts.next().unwrap_or("").trim();
    let mask: i64 = parse_php_int(mask).ok_or("a network: the mask after / must be a whole number")?;
    if ip.contains(':') {
        let groups = parse_v6(ip).ok_or("a network: the address before / is not IPv6")?;
        let prefix = u8::try_from(mask).ok().filter(|m| *m <= 128).ok_or("a network: an IPv6 mask is 0 to 128")?;
        Ok(Entry::V6Net { net: u128::from(std::net::Ipv6Addr::from(groups)), prefix })
    } else {
        let net = parse_v4(ip).ok_or("a network: the address before / is not IPv4")?;
        let prefix = u8::try_from(mask).ok().filter(|m| *m <= 32).ok_or("a network: an IPv4 mask is 0 to 32")?;
        Ok(Entry::V4Net { net, prefix })
    }
}

/// 2: `start-end`, where end replaces the last group of start.
fn parse_range(raw: &str) -> Result<Entry, &'static str> {
    let parts: Vec<&str> = raw.split('-').collect();
    let [start, end] = parts[..] else {
        return Err("a range: write one address, a dash, and the last group's end (10.0.0.5-20)");
    };
    let (start, end) = (start.trim(), end.trim());
    if raw.contains(':') {
        let g = parse_v6(start).ok_or("a range: the start is not an IPv6 address")?;
        let last = u16::from_str_radix(end, 16)
            .ok()
            .filter(|_| (1..=4).contains(&end.len()))
            .ok_or("a range: the end must be one hex group")?;
        if last < g[7] {
            return Err("a range: the end is below the start");
        }
        let mut head = [0u16; 7];
        head.copy_from_slice(&g[..7]);
        Ok(Entry::V6Range { head, start: g[7], end: last })
    } else {
        let s = parse_v4(start).ok_or("a range: the start is not an IPv4 address")?;
        let last = parse_octet(end).ok_or("a range: the end must be a number from 0 to 255")?;
        let e = (s & 0xffff_ff00) | u32::from(last);
        if e < s {
            return Err("a range: the end is below the start");
        }
        Ok(Entry::V4Range { start: s, end: e })
    }
}

/// 3: a full address, or a prefix of whole groups (`123.121`, `123.121.`, `baba:baba`, `baba:`).
fn parse_partial(raw: &str) -> Result<Entry, &'static str> {
    if raw.contains(':') {
        if let Some(g) = parse_v6(raw) {
            return Ok(Entry::V6Net { net: u128::from(std::net::Ipv6Addr::from(g)), prefix: 128 });
        }
        let mut groups: Vec<&str> = raw.split(':').collect();
        if groups.last() == Some(&"") {
            groups.pop();
        }
        if groups.is_empty() || groups.len() > 8 {
            return Err("an IPv6 address or prefix");
        }
        let mut net = 0u128;
        for (i, g) in groups.iter().enumerate() {
            let v = u16::from_str_radix(g, 16)
                .ok()
                .filter(|_| (1..=4).contains(&g.len()))
                .ok_or("an IPv6 address or prefix")?;
            net |= u128::from(v) << (112 - 16 * i);
        }
        let prefix = u8::try_from(groups.len() * 16).map_err(|_| "an IPv6 address or prefix")?;
        Ok(Entry::V6Net { net, prefix })
    } else {
        let mut octets: Vec<&str> = raw.split('.').collect();
        if octets.last() == Some(&"") {
            octets.pop();
        }
        if octets.is_empty() || octets.len() > 4 {
            return Err("an IPv4 address or prefix");
        }
        let mut net = 0u32;
        for (i, o) in octets.iter().enumerate() {
            let v = parse_octet(o).ok_or("an IPv4 address or prefix")?;
            net |= u32::from(v) << (24 - 8 * i);
        }
        let prefix = u8::try_from(octets.len() * 8).map_err(|_| "an IPv4 address or prefix")?;
        Ok(Entry::V4Net { net, prefix })
    }
}

/// PHP's `is_number()` on a string: `(string)(int)$v === $v`.
fn parse_php_int(s: &str) -> Option<i64> {
    let v: i64 = s.parse().ok()?;
    (v.to_string() == s).then_some(v)
}

/// One to three ASCII digits, at most 255 (leading zeros allowed, as Moodle's regex does).
fn parse_octet(s: &str) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().and_then(|v| u8::try_from(v).ok())
}

/// `cleanremoteaddr()` for IPv4: exactly four dotted octets.
fn parse_v4(s: &str) -> Option<u32> {
    let s = s.trim();
    let mut out = 0u32;
    let mut n = 0;
    for part in s.split('.') {
        if n == 4 {
            return None;
        }
        out = (out << 8) | u32::from(parse_octet(part)?);
        n += 1;
    }
    (n == 4).then_some(out)
}

/// `cleanremoteaddr()` for IPv6, including its quirks: a trailing dotted quad becomes two groups
/// written as the concatenated hex of each octet pair (`10.1.1.1` → `a1:11`), and `::` expands
/// at its first occurrence.
fn parse_v6(s: &str) -> Option<[u16; 8]> {
    let s = s.trim();
    let mut parts: Vec<String> = s.split(':').map(str::to_string).collect();
    let mut text = s.to_string();
    if parts.last().is_some_and(|p| p.contains('.')) {
        let v4 = parse_v4(parts.pop().as_deref().unwrap_or(""))?;
        let b = v4.to_be_bytes();
        parts.push(format!("{:x}{:x}", b[0], b[1]));
        parts.push(format!("{:x}{:x}", b[2], b[3]));
        text = parts.join(":");
    }
    let count = parts.len();
    if !(3..=8).contains(&count) {
        return None;
    }
    if count != 8 {
        if !text.contains("::") {
            return None;
        }
        let at = parts.iter().position(String::is_empty)?;
        parts.splice(at..=at, std::iter::repeat_n("0".to_string(), 1 + 8 - count));
        for p in parts.iter_mut().filter(|p| p.is_empty()) {
            *p = "0".to_string();
        }
    }
    let mut groups = [0u16; 8];
    if parts.len() != 8 {
        return None;
    }
    for (g, p) in groups.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *g = u16::from_str_radix(p, 16).ok()?;
    }
    Some(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moodle's own cases, lib/tests/moodlelib_test.php `test_address_in_subnet`.
    #[test]
    fn moodle_cidr_cases() {
        assert!(address_in_subnet("123.121.234.1", "123.121.234.1/32"));
        assert!(!address_in_subnet("123.121.23.1", "123.121.23.0/32"));
        assert!(address_in_subnet("10.10.10.100", "123.121.23.45/0"));
        assert!(address_in_subnet("123.121.234.1", "123.121.234.0/24"));
        assert!(!address_in_subnet("123.121.34.1", "123.121.234.0/24"));
        assert!(address_in_subnet("123.121.234.1", "123.121.234.0/30"));
        assert!(!address_in_subnet("123.121.23.8", "123.121.23.0/30"));
        assert!(address_in_subnet("baba:baba::baba", "baba:baba::baba/128"));
        assert!(!address_in_subnet("bab:baba::baba", "bab:baba::cece/128"));
        assert!(address_in_subnet("baba:baba::baba", "cece:cece::cece/0"));
        assert!(address_in_subnet("baba:baba::00ba", "baba:baba::/120"));
        assert!(!address_in_subnet("baba:baba::aba", "baba:baba::/120"));
        assert!(address_in_subnet("baba::baba:00ba", "baba::baba:0/112"));
        assert!(!address_in_subnet("baba::aba:00ba", "baba::baba:0/112"));
        assert!(!address_in_subnet("aba::baba:0000", "baba::baba:0/112"));
        // Fixed input.
        assert!(address_in_subnet("123.121.23.1   ", " 123.121.23.0 / 24"));
        assert!(address_in_subnet("::ffff:10.1.1.1", " 0:0:0:000:0:ffff:a1:10 / 126"));
        // Incorrect input.
        assert!(!address_in_subnet("123.121.234.1", "123.121.234.1/-2"));
        assert!(!address_in_subnet("123.121.234.1", "123.121.234.1/64"));
        assert!(!address_in_subnet("123.121.234.x", "123.121.234.1/24"));
        assert!(!address_in_subnet("123.121.234.0", "123.121.234.xx/24"));
        assert!(!address_in_subnet("123.121.234.1", "123.121.234.1/xx0"));
        assert!(!address_in_subnet("::1", "::aa:0/xx0"));
        assert!(!address_in_subnet("::1", "::aa:0/-5"));
        assert!(!address_in_subnet("::1", "::aa:0/130"));
        assert!(!address_in_subnet("x:1", "::aa:0/130"));
        assert!(!address_in_subnet("::1", "::ax:0/130"));
    }

    #[test]
    fn moodle_range_cases() {
        assert!(address_in_subnet("123.121.234.12", "123.121.234.12-14"));
        assert!(address_in_subnet("123.121.234.13", "123.121.234.12-14"));
        assert!(address_in_subnet("123.121.234.14", "123.121.234.12-14"));
        assert!(!address_in_subnet("123.121.234.1", "123.121.234.12-14"));
        assert!(!address_in_subnet("123.121.234.20", "123.121.234.12-14"));
        assert!(!address_in_subnet("123.121.23.12", "123.121.234.12-14"));
        assert!(!address_in_subnet("123.12.234.12", "123.121.234.12-14"));
        assert!(address_in_subnet("baba:baba::baba", "baba:baba::baba-babe"));
        assert!(address_in_subnet("baba:baba::babc", "baba:baba::baba-babe"));
        assert!(address_in_subnet("baba:baba::babe", "baba:baba::baba-babe"));
        assert!(!address_in_subnet("bab:baba::bab0", "bab:baba::baba-babe"));
        assert!(!address_in_subnet("bab:baba::babf", "bab:baba::baba-babe"));
        assert!(!address_in_subnet("bab:baba::bfbe", "bab:baba::baba-babe"));
        assert!(!address_in_subnet("bfb:baba::babe", "bab:baba::baba-babe"));
        // Fixed input.
        assert!(address_in_subnet("123.121.234.12", "123.121.234.12 - 14 "));
        assert!(address_in_subnet("bab:baba::babe", "bab:baba::baba - babe  "));
        // Incorrect input.
        assert!(!address_in_subnet("123.121.234.12", "123.121.234.12-234.14"));
        assert!(!address_in_subnet("123.121.234.12", "123.121.234.12-256"));
        assert!(!address_in_subnet("123.121.234.12", "123.121.234.12--256"));
    }

    #[test]
    fn moodle_partial_cases() {
        assert!(address_in_subnet("123.121.234.12", "123.121.234.12"));
        assert!(!address_in_subnet("123.121.23.12", "123.121.23.13"));
        assert!(address_in_subnet("123.121.234.12", "123.121.234."));
        assert!(address_in_subnet("123.121.234.12", "123.121.234"));
        assert!(address_in_subnet("123.121.234.12", "123.121"));
        assert!(address_in_subnet("123.121.234.12", "123"));
        assert!(!address_in_subnet("123.121.234.1", "12.121.234."));
        assert!(!address_in_subnet("123.121.234.1", "12.121.234"));
        assert!(address_in_subnet("baba:baba::bab", "baba:baba::bab"));
        assert!(!address_in_subnet("baba:baba::ba", "baba:baba::bc"));
        assert!(address_in_subnet("baba:baba::bab", "baba:baba"));
        assert!(address_in_subnet("baba:baba::bab", "baba:"));
        assert!(!address_in_subnet("bab:baba::bab", "baba:"));
    }

    #[test]
    fn moodle_list_cases() {
        let list = "::1/64, 124., 123.121.234.10-30";
        assert!(address_in_subnet("123.121.234.12", list));
        assert!(address_in_subnet("124.121.234.12", list));
        assert!(address_in_subnet("::2", list));
        assert!(!address_in_subnet("12.121.234.12", list));
        assert!(!address_in_subnet("123.123.123.123", ""));
    }

    #[test]
    fn families_never_cross() {
        assert!(!address_in_subnet("10.0.0.1", "::/0"));
        assert!(!address_in_subnet("::1", "0.0.0.0/0"));
        assert!(address_in_subnet("10.0.0.1", "0.0.0.0/0"));
        // The unknown address matches nothing, not even "any".
        assert!(!address_in_subnet("0.0.0.0", "0.0.0.0/0"));
    }

    #[test]
    fn socket_addresses_are_canonical() {
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(ClientAddr::from(mapped), ClientAddr::parse("127.0.0.1").unwrap());
        let r = IpRestriction::parse("127.0.0.0/8").unwrap();
        assert!(r.matches(ClientAddr::from(mapped)));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(IpRestriction::parse("2001:db8:").unwrap().matches(ClientAddr::from(v6)));
    }

    #[test]
    fn strict_parse_names_the_bad_entry() {
        assert!(IpRestriction::parse("").unwrap().is_empty());
        assert!(IpRestriction::parse(" , ").unwrap().is_empty());
        assert_eq!(IpRestriction::parse("10.0.0.1, 192.168.").unwrap().entries.len(), 2);
        for (list, bad) in [
            ("10.0.0.1, 10.0.0.x", "10.0.0.x"),
            ("10.0.0.0/33", "10.0.0.0/33"),
            ("123.121.234.12-234.14", "123.121.234.12-234.14"),
            ("123.121.234.12-256", "123.121.234.12-256"),
            ("10.0.0.20-10", "10.0.0.20-10"),
            ("::aa:0/130", "::aa:0/130"),
            ("localhost", "localhost"),
            ("1.2.3.4.5", "1.2.3.4.5"),
            ("10.0.0.0/024", "10.0.0.0/024"),
        ] {
            let err = IpRestriction::parse(list).unwrap_err();
            assert_eq!(err.entry, bad, "{list}");
            assert!(err.to_string().contains(bad));
        }
    }

    #[test]
    fn normalise_keeps_entries_as_typed() {
        assert_eq!(normalise(" 10.0.0.1 ,,192.168.0.0/16 ").unwrap(), "10.0.0.1, 192.168.0.0/16");
        assert!(normalise("nonsense").is_err());
    }
}
