//! File URLs in the Moodle site's answers, pointed at the front door (DESIGN.md §8): a caller
//! fetches a file through wsconsole, which checks its token, never from the site directly.
//!
//! Two kinds are rewritten, as Moodle writes them into answers (plain in XML, with `\/` in
//! its JSON): `<site>/webservice/pluginfile.php/…` (the caller adds its token) becomes
//! `<front>/webservice/pluginfile.php/…`, and `<site>/tokenpluginfile.php/<key>/…` (the key
//! is the site account's, which would open its files around the front) becomes
//! `<front>/tokenpluginfile.php/<caller's own key>/…`. Other URLs of the site are left alone.

use std::borrow::Cow;

pub const PLUGINFILE: &str = "/webservice/pluginfile.php";
pub const TOKENPLUGINFILE: &str = "/tokenpluginfile.php";

/// The rewrite for one caller.
pub struct FileUrls<'a> {
    /// The site's base URL (`upstreamurl`), without a trailing slash.
    pub site: &'a str,
    /// Where callers reach wsconsole (`siteurl`), without a trailing slash.
    pub front: &'a str,
    /// The caller's private access key from wsconsole.
    pub caller_key: &'a str,
}

impl FileUrls<'_> {
    /// `body` with the site's file URLs pointed at the front; borrowed when it holds none.
    pub fn rewrite<'b>(&self, body: &'b [u8]) -> Cow<'b, [u8]> {
        let mut body = Cow::Borrowed(body);
        for escaped in [false, true] {
            if let Some(changed) = self.rewrite_form(&body, escaped) {
                body = Cow::Owned(changed);
            }
        }
        body
    }

    /// One spelling: plain slashes, or JSON's `\/`.
    fn rewrite_form(&self, body: &[u8], escaped: bool) -> Option<Vec<u8>> {
        let spell = |s: &str| if escaped { s.replace('/', "\\/") } else { s.to_string() };
        let (site, front) = (spell(self.site.trim_end_matches('/')), spell(self.front.trim_end_matches('/')));
        let (pluginfile, tokenpluginfile, slash) = (spell(PLUGINFILE), spell(TOKENPLUGINFILE), spell("/"));
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        for at in memchr::memmem::find_iter(body, site.as_bytes()) {
            if at < copied || !starts_a_url(&body[..at]) {
                continue;
            }
            let rest = &body[at + site.len()..];
            let replaced = if rest.starts_with(pluginfile.as_bytes()) {
                Some((front.clone(), site.len()))
            } else if let Some(after) = rest.strip_prefix(tokenpluginfile.as_bytes())
                && let Some(after) = after.strip_prefix(slash.as_bytes())
            {
                // The site's key: letters and digits up to the next slash.
                let key_len = after.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
                (key_len > 0 && after[key_len..].starts_with(slash.as_bytes())).then(|| {
                    let with = format!("{front}{tokenpluginfile}{slash}{}", self.caller_key);
                    (with, site.len() + tokenpluginfile.len() + slash.len() + key_len)
                })
            } else {
                None
            };
            if let Some((with, len)) = replaced {
                let out = out.get_or_insert_with(|| Vec::with_capacity(body.len()));
                out.extend_from_slice(&body[copied..at]);
                out.extend_from_slice(with.as_bytes());
                copied = at + len;
            }
        }
        let mut out = out?;
        out.extend_from_slice(&body[copied..]);
        Some(out)
    }
}

/// Whether a URL starting after `before` starts there, rather than inside another URL (a
/// query parameter's value, a path): only then is it the site's own link. A URL written inside
/// another (`https://elsewhere/?u=<site>/tokenpluginfile.php/…`) must not get the caller's key,
/// which would then travel to that other place.
fn starts_a_url(before: &[u8]) -> bool {
    const ENTITIES: [&[u8]; 4] = [b"&quot;", b"&#39;", b"&#039;", b"&apos;"];
    match before.last() {
        None => true,
        Some(b'"' | b'\'' | b'>' | b'(' | b'[' | b',') => true,
        Some(c) if c.is_ascii_whitespace() => true,
        // An attribute's quote, escaped in XML.
        Some(b';') => ENTITIES.iter().any(|e| before.ends_with(e)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URLS: FileUrls =
        FileUrls { site: "https://moodle.example.com", front: "http://front:8080", caller_key: "ME" };

    fn rewrite(s: &str) -> String {
        String::from_utf8(URLS.rewrite(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn pluginfile_urls_point_at_the_front_in_json_and_xml() {
        assert_eq!(
            rewrite(r#"{"fileurl":"https:\/\/moodle.example.com\/webservice\/pluginfile.php\/5\/user\/f.png"}"#),
            r#"{"fileurl":"http:\/\/front:8080\/webservice\/pluginfile.php\/5\/user\/f.png"}"#
        );
        assert_eq!(
            rewrite("<VALUE>https://moodle.example.com/webservice/pluginfile.php/5/a.pdf?forcedownload=1</VALUE>"),
            "<VALUE>http://front:8080/webservice/pluginfile.php/5/a.pdf?forcedownload=1</VALUE>"
        );
    }

    #[test]
    fn a_token_url_gets_the_callers_key_in_place_of_the_site_accounts() {
        assert_eq!(
            rewrite(r#"<img src=\"https:\/\/moodle.example.com\/tokenpluginfile.php\/0a1b2c\/5\/f.png\">"#),
            r#"<img src=\"http:\/\/front:8080\/tokenpluginfile.php\/ME\/5\/f.png\">"#
        );
        assert_eq!(
            rewrite("a https://moodle.example.com/tokenpluginfile.php/0a1b2c/5/f.png b"),
            "a http://front:8080/tokenpluginfile.php/ME/5/f.png b"
        );
        // In XML, an HTML attribute's quotes are entities.
        assert_eq!(
            rewrite("src=&quot;https://moodle.example.com/tokenpluginfile.php/0a1b2c/5/f.png&quot;"),
            "src=&quot;http://front:8080/tokenpluginfile.php/ME/5/f.png&quot;"
        );
    }

    #[test]
    fn other_urls_and_look_alike_hosts_are_left_alone() {
        for s in [
            // Inside another URL: a query's value, a path.
            r#"<img src=\"https:\/\/evil.example\/l?u=https:\/\/moodle.example.com\/tokenpluginfile.php\/a\/1\">"#,
            "https://evil.example/https://moodle.example.com/webservice/pluginfile.php/1/x",
            r#"{"siteurl":"https:\/\/moodle.example.com","img":"https:\/\/moodle.example.com\/theme\/image.php\/u\/f1"}"#,
            "https://moodle.example.com.evil/webservice/pluginfile.php/1/x",
            "https://moodle.example.com/pluginfile.php/5/user/icon/f1",
            "https://moodle.example.com/tokenpluginfile.php/noslash",
            "",
        ] {
            assert!(matches!(URLS.rewrite(s.as_bytes()), Cow::Borrowed(_)), "{s}");
        }
        // Several in one answer, each rewritten once.
        let many = "https://moodle.example.com/webservice/pluginfile.php/1 https://moodle.example.com/webservice/pluginfile.php/2";
        assert_eq!(
            rewrite(many),
            "http://front:8080/webservice/pluginfile.php/1 http://front:8080/webservice/pluginfile.php/2"
        );
    }
}
