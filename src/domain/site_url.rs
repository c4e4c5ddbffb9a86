//! Whether the `siteurl` setting points at the endpoint. Site info's `siteurl` and the SOAP
//! WSDL's `soap:address` come from it, as Moodle's come from `wwwroot`: a site URL that leads
//! elsewhere hands clients an address that refuses them. `wsconsole serve` checks it once at
//! start, logs the warning and records it (`EndpointStart`) for the console's Overview.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};

/// What the endpoint recorded when it started: the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStart {
    /// Where it listens, as bound (`127.0.0.1:8080`).
    pub listen: String,
    pub started: super::UnixTime,
    /// The site URL it checked.
    pub site_url: String,
    /// Why the site URL may not reach it; `None` when it does.
    pub warning: Option<String>,
}

/// The host and port of an `http://` or `https://` URL, and whether it is `https`.
pub fn host_port(url: &str) -> Option<(String, u16, bool)> {
    let (https, rest) = match url.split_once("://")? {
        ("http", rest) => (false, rest),
        ("https", rest) => (true, rest),
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default = if https { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default,
            None => return None,
        };
        (host.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), default),
        }
    };
    (!host.is_empty()).then_some((host.to_ascii_lowercase(), port, https))
}

/// The URL as logs and the console show it: a user name and password in it (`user:pass@`)
/// are never shown.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[end..]),
        None => url.to_string(),
    }
}

/// The warning for a site URL that does not lead to `listen`, given the addresses its host
/// resolves to; `None` when it does, or when a reverse proxy in front is configured
/// (`trustedproxies`), which can make any public address lead here.
pub fn check(site_url: &str, listen: SocketAddr, trusted_proxies: &str, resolved: &[IpAddr]) -> Option<String> {
    let shown = redacted(site_url);
    let fix = format!(
        "set it to where clients reach this endpoint (wsconsole settings set siteurl http://{listen}, or Advanced features in the console), or set trustedproxies to the proxy in front"
    );
    let Some((host, port, https)) = host_port(site_url) else {
        return Some(format!("siteurl \"{shown}\" is not an http:// or https:// address: {fix}"));
    };
    if !trusted_proxies.trim().is_empty() {
        return None;
    }
    if https {
        return Some(format!(
            "siteurl {shown} is https://, which this endpoint does not serve (it listens on http://{listen}) and no proxy in front is configured: SOAP clients and apps are sent to an address that refuses them; {fix}"
        ));
    }
    let ours = |a: &IpAddr| {
        *a == listen.ip() || listen.ip().is_unspecified() || (a.is_loopback() && listen.ip().is_loopback())
    };
    if port == listen.port() && resolved.iter().any(ours) {
        return None;
    }
    let seen =
        if resolved.is_empty() { format!("{host} does not resolve") } else { format!("{host}:{port} is not it") };
    Some(format!(
        "siteurl {shown} does not point at this endpoint (listening on {listen}; {seen}) and no proxy in front is configured: site info and the SOAP WSDL hand clients that address; {fix}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn urls_give_their_host_and_port() {
        assert_eq!(host_port("http://127.0.0.1:8080"), Some(("127.0.0.1".into(), 8080, false)));
        assert_eq!(host_port("https://Moodle.example.com/ws"), Some(("moodle.example.com".into(), 443, true)));
        assert_eq!(host_port("http://[::1]:9000/"), Some(("::1".into(), 9000, false)));
        assert_eq!(host_port("http://[::1]"), Some(("::1".into(), 80, false)));
        assert_eq!(host_port("http://localhost"), Some(("localhost".into(), 80, false)));
        assert_eq!(host_port("ftp://x"), None);
        assert_eq!(host_port("http://:80"), None);
        assert_eq!(host_port("http://h:notaport"), None);
    }

    #[test]
    fn a_site_url_that_leads_here_gives_no_warning() {
        let listen: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(check("http://127.0.0.1:8080", listen, "", &[ip("127.0.0.1")]), None);
        assert_eq!(check("http://localhost:8080", listen, "", &[ip("::1"), ip("127.0.0.1")]), None);
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(check("http://ws.example.com:8080", any, "", &[ip("192.0.2.7")]), None);
        // Behind a configured proxy, the public address is the proxy's to answer.
        assert_eq!(check("https://moodle.example.com", listen, "127.0.0.1", &[]), None);
    }

    #[test]
    fn a_site_url_that_leads_elsewhere_is_named_with_the_fix() {
        let listen: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        let w = check("http://127.0.0.1:8080", listen, "", &[ip("127.0.0.1")]).unwrap();
        assert!(w.contains("does not point at this endpoint (listening on 127.0.0.1:9000"), "{w}");
        assert!(w.contains("wsconsole settings set siteurl http://127.0.0.1:9000"), "{w}");
        let w = check("https://moodle.example.com", listen, "", &[ip("192.0.2.7")]).unwrap();
        assert!(w.contains("is https://, which this endpoint does not serve"), "{w}");
        let w = check("http://nowhere.invalid:9000", listen, "", &[]).unwrap();
        assert!(w.contains("nowhere.invalid does not resolve"), "{w}");
        let w = check("http://192.0.2.7:9000", listen, "", &[ip("192.0.2.7")]).unwrap();
        assert!(w.contains("192.0.2.7:9000 is not it"), "{w}");
        let w = check("http://admin:s3cret@192.0.2.7:9000/x", listen, "", &[ip("192.0.2.7")]).unwrap();
        assert!(w.contains("siteurl http://***@192.0.2.7:9000/x does not point") && !w.contains("s3cret"), "{w}");
    }

    #[test]
    fn credentials_in_a_url_are_never_shown() {
        assert_eq!(redacted("https://u:p@h.example/m?x=@y"), "https://***@h.example/m?x=@y");
        assert_eq!(redacted("http://h:8080/a@b"), "http://h:8080/a@b");
        assert_eq!(redacted("not a url"), "not a url");
    }
}
