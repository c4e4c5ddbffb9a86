//! Tokens and passwords as values: token format and hashing, password verification.
//! Generating them needs the OS's random source, which lives in `ops::secrets`.

use super::types::TokenHash;
use sha2::{Digest, Sha256};

/// Moodle's token format: 32 lowercase hex characters.
pub const TOKEN_LEN: usize = 32;

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

/// Checks a password against an argon2 PHC string. Costs ~20 ms of CPU by design.
pub fn verify_password(phc: &str, password: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;
    match PasswordHash::new(phc) {
        Ok(parsed) => password_hasher().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A password check against a fixed hash, for unknown users: costs what a real check costs, so
/// that response times do not tell which usernames exist.
pub fn waste_a_password_check(password: &str) {
    let _ = verify_password(dummy_hash(), password);
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

    #[test]
    fn verify_rejects_garbage_hash() {
        assert!(!verify_password("not a phc string", "x"));
        assert!(!verify_password("", "x"));
    }
}
