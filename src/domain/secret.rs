//! Tokens and passwords as values: token format and hashing, password verification, and the
//! secrets derived from the site key. Generating them needs the OS's random source, which
//! lives in `ops::secrets`; the key itself is read by `store::keyfile`.

use super::types::{ServiceId, Token, TokenHash, UserId};
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Moodle's token format: 32 lowercase hex characters.
pub const TOKEN_LEN: usize = 32;

/// Bytes of the random nonce that [`SiteKey::seal_credential`] takes.
pub const CREDENTIAL_NONCE_LEN: usize = 24;

/// Prefix of generated token names (`tokennameprefix`).
pub const TOKEN_NAME_PREFIX: &str = "Webservice-";

pub fn hash_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// Moodle cleans `wstoken` with PARAM_ALPHANUM before looking it up: anything else is removed.
/// Returns `None` when nothing is left or the value is too long to be a token worth hashing.
pub fn clean_token(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    if raw.len() > 256 || !raw.bytes().any(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    if raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
        // A real token is already clean: nothing to copy.
        return Some(raw.into());
    }
    Some(raw.chars().filter(char::is_ascii_alphanumeric).collect::<String>().into())
}

pub fn is_token_format(token: &str) -> bool {
    token.len() == TOKEN_LEN && token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The site key: 32 random bytes kept in a 0600 file beside the database (DESIGN.md §3), never
/// in it. Secrets that must be shown again (a user's private access key, a self-issued token
/// handed back on the next login) are derived from it and from what the database stores, so
/// that the database file alone never reveals a usable secret.
#[derive(Clone)]
pub struct SiteKey {
    bytes: [u8; SiteKey::LEN],
    /// HMAC-SHA256 keyed with `bytes`, its padded key already hashed: each derivation clones
    /// it instead of hashing the key again (two of its four SHA-256 blocks).
    keyed: hmac::Hmac<Sha256>,
}

impl PartialEq for SiteKey {
    fn eq(&self, other: &SiteKey) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for SiteKey {}

/// A derived secret's first half in hex: token-shaped (`TOKEN_LEN` hex characters). Site info
/// makes one per call: written into a buffer, not collected character by character.
fn token_hex(secret: &[u8; 32]) -> String {
    let mut text = [0u8; TOKEN_LEN];
    hex::encode_to_slice(&secret[..TOKEN_LEN / 2], &mut text).expect("TOKEN_LEN / 2 bytes fill TOKEN_LEN hex digits");
    String::from_utf8(text.to_vec()).expect("hex digits are ASCII")
}

impl SiteKey {
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: [u8; SiteKey::LEN]) -> SiteKey {
        let keyed = hmac::Hmac::<Sha256>::new_from_slice(&bytes).expect("HMAC takes a key of any length");
        SiteKey { bytes, keyed }
    }

    /// HMAC-SHA256 of `purpose` and `parts`, each length-prefixed so that no two inputs share
    /// a message.
    fn derive(&self, purpose: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        for part in std::iter::once(purpose.as_bytes()).chain(parts.iter().copied()) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Site info's `userprivateaccesskey` (Moodle's per-user `core_files` key): 32 hex
    /// characters, the same on every call for the same user, different between users.
    pub fn user_private_access_key(&self, user: UserId) -> String {
        token_hex(&self.derive("userprivateaccesskey", &[&user.to_be_bytes()]))
    }

    /// A service's site credential sealed (XChaCha20-Poly1305 under a key derived for this use
    /// alone) with `nonce`, which must be fresh random bytes: the nonce, then the ciphertext and
    /// its tag. The service id is bound in, so a sealed credential moved to another service's
    /// row does not open.
    pub fn seal_credential(&self, service: ServiceId, nonce: [u8; CREDENTIAL_NONCE_LEN], credential: &str) -> Vec<u8> {
        use chacha20poly1305::aead::{Aead, KeyInit as _, Payload};
        let cipher = chacha20poly1305::XChaCha20Poly1305::new(&self.derive("upstreamcredential", &[]).into());
        let aad = service.to_be_bytes();
        let sealed = cipher
            .encrypt(&nonce.into(), Payload { msg: credential.as_bytes(), aad: &aad })
            .expect("XChaCha20-Poly1305 seals any message of this size");
        [nonce.as_slice(), &sealed].concat()
    }

    /// The credential [`seal_credential`](Self::seal_credential) sealed for `service`; `None`
    /// when it was sealed under another key, for another service, or altered.
    pub fn open_credential(&self, service: ServiceId, sealed: &[u8]) -> Option<String> {
        use chacha20poly1305::aead::{Aead, KeyInit as _, Payload};
        if sealed.len() < CREDENTIAL_NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(CREDENTIAL_NONCE_LEN);
        let cipher = chacha20poly1305::XChaCha20Poly1305::new(&self.derive("upstreamcredential", &[]).into());
        let aad = service.to_be_bytes();
        let nonce: [u8; CREDENTIAL_NONCE_LEN] = nonce.try_into().ok()?;
        let plain = cipher.decrypt(&nonce.into(), Payload { msg: ciphertext, aad: &aad }).ok()?;
        String::from_utf8(plain).ok()
    }

    /// The value of a token issued by login/token.php, from fields its row keeps for its whole
    /// life (id, owner, service, creation time): login/token.php can hand it back while it is
    /// valid, as Moodle does, though only its hash is stored.
    pub fn login_token(&self, token: &Token) -> String {
        let parts: [&[u8]; 4] = [
            &token.id.to_be_bytes(),
            &token.user.to_be_bytes(),
            &token.service.to_be_bytes(),
            &token.created.to_be_bytes(),
        ];
        token_hex(&self.derive("logintoken", &parts))
    }
}

impl std::fmt::Debug for SiteKey {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SiteKey(..)")
    }
}

/// The memory an argon2 check works in (7 MiB with the current parameters), kept from one
/// check to the next by whoever runs them in a row. Allocating it afresh for each check left
/// two alive at once under a login flood: the allocator gives a freed area back to the
/// system only after a delay, and the next check had already taken a new one.
#[derive(Default)]
pub struct PasswordWork(Vec<argon2::Block>);

impl PasswordWork {
    /// Bytes held.
    pub fn held(&self) -> usize {
        self.0.len() * argon2::Block::SIZE
    }
}

/// The largest argon2 memory a stored hash may ask for, in 1 KiB blocks (64 MiB, nine times
/// what this hasher uses, three times the crate's default): a hash asking more is refused
/// rather than let one login take the machine's memory.
const MAX_WORK_BLOCKS: usize = 64 * 1024;

/// Checks a password against an argon2 PHC string. Costs ~20 ms of CPU by design.
pub fn verify_password(phc: &str, password: &str) -> bool {
    verify_password_in(phc, password, &mut PasswordWork::default())
}

/// [`verify_password`] in `work`, grown to what the hash's parameters need. The same
/// computation as the crate's `PasswordVerifier` (parameters, salt and algorithm from the
/// string; the outputs compared in constant time by `Output`'s equality), but in memory the
/// caller keeps.
pub fn verify_password_in(phc: &str, password: &str, work: &mut PasswordWork) -> bool {
    use argon2::password_hash::phc::{Output, PasswordHash};
    let Ok(hash) = PasswordHash::new(phc) else { return false };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else { return false };
    let (Ok(algorithm), Ok(params)) =
        (argon2::Algorithm::try_from(hash.algorithm.as_str()), argon2::Params::try_from(&hash))
    else {
        return false;
    };
    let version = match hash.version.map(argon2::Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let blocks = params.block_count();
    if blocks > MAX_WORK_BLOCKS {
        return false;
    }
    if work.0.len() < blocks {
        // Exact, and failing softly: the crate's own verifier answers "out of memory" too.
        if work.0.try_reserve_exact(blocks - work.0.len()).is_err() {
            return false;
        }
        work.0.resize(blocks, argon2::Block::default());
    }
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = &mut out[..expected.len()];
    let argon = argon2::Argon2::new(algorithm, version, params);
    if argon.hash_password_into_with_memory(password.as_bytes(), salt, out, &mut work.0[..blocks]).is_err() {
        return false;
    }
    Output::new(out).is_ok_and(|computed| computed == *expected)
}

/// A password check against a fixed hash, for unknown users: costs what a real check costs, so
/// that response times do not tell which usernames exist.
pub fn waste_a_password_check(password: &str, work: &mut PasswordWork) {
    let _ = verify_password_in(dummy_hash(), password, work);
}

/// The password hasher: argon2id with OWASP's "m=7 MiB, t=5, p=1" configuration, which OWASP
/// rates as strong as the crate's default (19 MiB, t=2) while needing a third of the memory per
/// concurrent check, which is what bounds the endpoint under a login flood. Checks read the
/// parameters from each stored hash, so hashes made with other parameters keep working.
pub fn password_hasher() -> argon2::Argon2<'static> {
    let params = argon2::Params::new(7 * 1024, 5, 1, None).expect("valid argon2 parameters");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// A hash of no account's password, made with the current parameters so that checking it
/// costs what checking a real one costs.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        use argon2::password_hash::PasswordHasher;
        password_hasher()
            .hash_password_with_salt(b"not a password", b"wsconsole-dummy-salt")
            .expect("argon2 hashes a fixed password")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_sha256() {
        assert_eq!(hex::encode(hash_token("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn clean_token_is_param_alphanum() {
        assert_eq!(clean_token("abc-def!").as_deref(), Some("abcdef"));
        assert_eq!(clean_token("abc123").as_deref(), Some("abc123"));
        assert_eq!(clean_token("é1").as_deref(), Some("1"));
        assert_eq!(clean_token("").as_deref(), None);
        assert_eq!(clean_token("!!").as_deref(), None);
        assert_eq!(clean_token(&"a".repeat(300)), None);
    }

    #[test]
    fn token_format() {
        assert!(is_token_format("05d26cbd3d5da4fb831f50abd3ae7900"));
        assert!(!is_token_format("05D26CBD3D5DA4FB831F50ABD3AE7900"));
        assert!(!is_token_format("05d26cbd"));
    }

    #[test]
    fn hashes_made_with_other_parameters_still_verify() {
        use argon2::password_hash::PasswordHasher;
        let old = argon2::Argon2::default().hash_password_with_salt(b"pw", b"saltsaltsalt").unwrap().to_string();
        assert!(old.contains("m=19456,t=2"), "{old}");
        assert!(verify_password(&old, "pw"));
        assert!(!verify_password(&old, "px"));
    }

    /// One work area through hashes of every kind, bigger and smaller: each verdict is the
    /// crate's own verifier's, and the area keeps the largest size it was grown to.
    #[test]
    fn a_kept_work_area_verifies_as_the_crate_does() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        use argon2::{Algorithm, Argon2, Params, Version};
        let kinds = [
            (Algorithm::Argon2id, Version::V0x13, Params::new(7 * 1024, 5, 1, None).unwrap()),
            (Algorithm::Argon2id, Version::V0x13, Params::default()),
            (Algorithm::Argon2i, Version::V0x13, Params::new(64, 2, 1, None).unwrap()),
            (Algorithm::Argon2d, Version::V0x10, Params::new(256, 1, 2, Some(16)).unwrap()),
            (Algorithm::Argon2id, Version::V0x13, Params::new(7 * 1024, 5, 1, None).unwrap()),
        ];
        let mut work = PasswordWork::default();
        for (algorithm, version, params) in kinds {
            let hasher = Argon2::new(algorithm, version, params);
            let phc = hasher.hash_password_with_salt(b"pw", b"saltsaltsalt").unwrap().to_string();
            for given in ["pw", "px", ""] {
                let crate_says = hasher.verify_password(given.as_bytes(), phc.as_str()).is_ok();
                assert_eq!(verify_password_in(&phc, given, &mut work), crate_says, "{phc} with {given:?}");
                assert_eq!(crate_says, given == "pw");
            }
        }
        assert_eq!(work.held(), Params::default().block_count() * argon2::Block::SIZE, "19 MiB, the largest");
        // Parameters out of range, a cut hash, no salt, memory past the cap (`m` of 4 TiB,
        // which the crate itself accepts as a parameter): refused, nothing spent or kept.
        let huge = argon2::Argon2::default().hash_password_with_salt(b"pw", b"saltsaltsalt").unwrap().to_string();
        assert!(!verify_password_in(&huge.replace("m=19456", "m=4294967295"), "pw", &mut work));
        assert!(!verify_password_in(&huge.replace("m=19456", "m=65540"), "pw", &mut work));
        assert_eq!(work.held(), Params::default().block_count() * argon2::Block::SIZE, "not grown past the cap");
        let at_cap = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(64 * 1024, 1, 1, None).unwrap());
        let at_cap = at_cap.hash_password_with_salt(b"pw", b"saltsaltsalt").unwrap().to_string();
        assert!(verify_password_in(&at_cap, "pw", &mut work), "64 MiB is still allowed");
        let phc = password_hasher().hash_password_with_salt(b"pw", b"saltsaltsalt").unwrap().to_string();
        for bad in
            [phc.replace("m=7168", "m=1"), phc[..phc.len() - 4].to_string(), "$argon2id$v=19$m=7168,t=5,p=1".into()]
        {
            assert!(!verify_password_in(&bad, "pw", &mut work), "{bad}");
        }
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2_hash() {
        // If it did not parse, the "same time" check would cost nothing.
        use argon2::password_hash::phc::PasswordHash;
        let parsed = PasswordHash::new(dummy_hash()).expect("a valid PHC string");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(dummy_hash().contains("m=7168,t=5,p=1"), "{}", dummy_hash());
        assert!(verify_password(dummy_hash(), "not a password"));
        assert!(!verify_password(dummy_hash(), "anything"));
    }

    fn login_token(id: u64, user: u64, created: i64) -> Token {
        Token {
            id,
            name: String::new(),
            user,
            service: 1,
            ip_restriction: String::new(),
            valid_until: None,
            created,
            creator: String::new(),
            last_access: None,
            origin: crate::domain::TokenOrigin::Login,
        }
    }

    #[test]
    fn derived_secrets_are_token_shaped_stable_and_distinct() {
        let key = SiteKey::from_bytes([7; 32]);
        let other_key = SiteKey::from_bytes([8; 32]);
        let a = key.user_private_access_key(3);
        assert!(is_token_format(&a), "{a}");
        assert_eq!(a, key.user_private_access_key(3), "stable for a user");
        assert_ne!(a, key.user_private_access_key(4), "different between users");
        assert_ne!(a, other_key.user_private_access_key(3), "different under another key");
        let t = key.login_token(&login_token(3, 3, 100));
        assert!(is_token_format(&t), "{t}");
        assert_eq!(t, key.login_token(&login_token(3, 3, 100)));
        assert_ne!(t, a, "a token is never a user's access key, even with the same numbers");
        assert_ne!(t, key.login_token(&login_token(4, 3, 100)));
        assert_ne!(t, key.login_token(&login_token(3, 3, 101)));
        assert_eq!(format!("{key:?}"), "SiteKey(..)");
    }

    #[test]
    fn a_credential_opens_only_with_its_key_and_service_and_unaltered() {
        let key = SiteKey::from_bytes([7; 32]);
        let sealed = key.seal_credential(4, [1; CREDENTIAL_NONCE_LEN], "0123456789abcdef0123456789abcdef");
        assert_eq!(key.open_credential(4, &sealed).as_deref(), Some("0123456789abcdef0123456789abcdef"));
        assert!(!sealed.windows(16).any(|w| w == b"0123456789abcdef"), "sealed, not in clear");
        assert_eq!(key.open_credential(5, &sealed), None, "another service's row");
        assert_eq!(SiteKey::from_bytes([8; 32]).open_credential(4, &sealed), None, "another key");
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(key.open_credential(4, &altered), None);
        assert_eq!(key.open_credential(4, &sealed[..10]), None);
        let again = key.seal_credential(4, [2; CREDENTIAL_NONCE_LEN], "0123456789abcdef0123456789abcdef");
        assert_ne!(again, sealed, "a fresh nonce, a different sealing");
    }

    #[test]
    fn verify_rejects_garbage_hash() {
        assert!(!verify_password("not a phc string", "x"));
        assert!(!verify_password("", "x"));
    }
}
