//! Generating secrets from the OS's CSPRNG: token values, token name suffixes, password hashes.

use crate::domain::secret::TOKEN_NAME_PREFIX;

/// A new token: 128 random bits as 32 lowercase hex characters (Moodle's format).
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

/// Moodle's generated token name: `Webservice-` and 5 random letters or digits.
pub fn token_name() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::from(TOKEN_NAME_PREFIX);
    while out.len() < TOKEN_NAME_PREFIX.len() + 5 {
        let mut b = [0u8; 1];
        rand::fill(&mut b);
        // Reject the top of the byte range so that every character is equally likely.
        if usize::from(b[0]) < ALPHABET.len() * 4 {
            out.push(char::from(ALPHABET[usize::from(b[0]) % ALPHABET.len()]));
        }
    }
    out
}

/// An argon2id PHC string with a fresh salt (parameters: `secret::password_hasher`).
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::PasswordHasher;
    crate::domain::secret::password_hasher()
        .hash_password(password.as_bytes())
        .expect("argon2 hashes a bounded password with a fresh salt")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::secret::{is_token_format, verify_password};

    #[test]
    fn tokens_are_moodle_format_and_distinct() {
        let a = new_token();
        assert!(is_token_format(&a), "{a}");
        assert_ne!(a, new_token());
    }

    #[test]
    fn token_names() {
        let n = token_name();
        assert!(n.starts_with("Webservice-") && n.len() == 16, "{n}");
        assert!(n[11..].chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn password_hash_is_argon2id_and_verifies() {
        let h = hash_password("Secret-123");
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        assert!(verify_password(&h, "Secret-123"));
        assert!(!verify_password(&h, "secret-123"));
    }
}
