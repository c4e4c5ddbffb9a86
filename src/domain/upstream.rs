//! A Moodle site behind the endpoint (DESIGN.md §8): the site-wide settings toward it, and per
//! service the sealed credential wsconsole calls the site with, its rate limit and what the
//! last sync learned. Sealing and opening the credential is `secret::SiteKey`'s; the HTTP is
//! the endpoint's.

use super::types::{ServiceId, UnixTime};
use super::validate::FieldError;
use serde::{Deserialize, Serialize};

/// The settings toward the site, stored beside the main settings record (`upstream*` names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamSettings {
    /// `upstreamurl`: the site's base URL (its wwwroot), empty when no site is fronted.
    pub url: String,
    /// `upstreamconcurrency`: calls in flight toward the site at most, over every service.
    pub max_concurrent: u32,
    /// `upstreamtimeout`: seconds a call to the site may take in all.
    pub timeout_secs: u32,
    /// `upstreamca`: a PEM file of certificate authorities to trust besides the system's.
    pub ca_file: String,
    /// The site's own address (its wwwroot) as its site info gave it at the last sync: the
    /// one its answers' file URLs name, which may differ from `url` when wsconsole reaches
    /// the site by another name. Stored beside the record (a config entry of its own), so
    /// databases written before still read.
    #[serde(skip)]
    pub wwwroot: String,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        // A Moodle site on two cores saturates near 100 calls/s; 16 at once keeps it answering.
        UpstreamSettings {
            url: String::new(),
            max_concurrent: 16,
            timeout_secs: 30,
            ca_file: String::new(),
            wwwroot: String::new(),
        }
    }
}

impl UpstreamSettings {
    /// Whether a site is configured.
    pub fn is_set(&self) -> bool {
        !self.url.is_empty()
    }

    /// The addresses the site's answers may name it by: `url`, and its wwwroot when that
    /// differs.
    pub fn site_addresses(&self) -> impl Iterator<Item = &str> {
        let wwwroot = Some(self.wwwroot.as_str()).filter(|w| !w.is_empty() && *w != self.url);
        std::iter::once(self.url.as_str()).chain(wwwroot)
    }
}

/// One service's link to the site.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Upstream {
    pub service: ServiceId,
    pub credential: Option<SealedCredential>,
    /// Calls per minute this service may send to the site; 0 = no limit of its own.
    pub calls_per_minute: u32,
    /// What the last successful sync learned.
    pub sync: Option<SiteSync>,
    /// The last failure toward the site (sync or call), until a sync succeeds.
    pub last_error: Option<UpstreamError>,
}

/// A site token sealed with the key file (AEAD): never stored, logged or shown in clear.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedCredential {
    /// Nonce and ciphertext with its tag.
    pub sealed: Vec<u8>,
    pub set_at: UnixTime,
}

impl std::fmt::Debug for SealedCredential {
    /// Never prints even the sealed bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedCredential(set at {})", self.set_at)
    }
}

/// The site as `core_webservice_get_site_info` described it to the credential's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSync {
    pub at: UnixTime,
    pub site_name: String,
    pub release: String,
    /// The account whose token the credential is, as the site names it.
    pub username: String,
    /// The functions the site lets the credential's account call, sorted.
    pub functions: Vec<String>,
}

/// What the Moodle site did with a forwarded call, beside the call log's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteCall {
    /// The site's HTTP status; 0 when it gave none (unreachable, timed out).
    pub status: u16,
    pub latency_micros: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamError {
    pub at: UnixTime,
    pub message: String,
}

/// Site functions a connected service may not list: each runs other functions inside one call
/// (Moodle's app batches its start-up calls so), which the site would answer with everything
/// the site account may call, around the service's own list here — and with answers nested as
/// text, where the site account's key and file URLs would escape the front's rewriting.
pub const NOT_FORWARDED: [&str; 1] = ["tool_mobile_call_external_functions"];

/// Why `function` is not forwarded, if it is one of [`NOT_FORWARDED`]. A sync leaves these out
/// of what the site offers, so the access decision never grants them on a connected service;
/// `add-function` says why when asked for one.
pub fn not_forwarded(function: &str) -> Option<String> {
    NOT_FORWARDED.contains(&function).then(|| {
        format!(
            "{function} runs other functions inside one call: through the front door it would pass around the service's functions, so it is not forwarded"
        )
    })
}

/// Checks a site token as given: Moodle's tokens are 32 characters of PARAM_ALPHANUM; any
/// length up to 128 is accepted, nothing but letters and digits.
pub fn check_credential(raw: &str) -> Result<&str, FieldError> {
    let token = raw.trim();
    if token.is_empty() {
        return Err(FieldError::new("credential", "is empty: give the site token on the first line of stdin"));
    }
    if token.len() > 128 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FieldError::new("credential", "is not a Moodle token (letters and digits, at most 128)"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_moodle_tokens() {
        assert_eq!(check_credential(" 0123456789abcdef0123456789abcdef\n").unwrap().len(), 32);
        for bad in ["", "  ", "abc def", "abc;rm", &"a".repeat(129)] {
            assert!(check_credential(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_sealed_credential_prints_nothing_of_itself() {
        let c = SealedCredential { sealed: b"secretbytes".to_vec(), set_at: 5 };
        assert_eq!(format!("{c:?}"), "SealedCredential(set at 5)");
    }
}
