//! Input rules of the admin forms, each returning a message fit to show beside the field.

use std::fmt;

/// A rejected value: which field, and why, in words an administrator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError { field, message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

pub type FieldResult<T = ()> = Result<T, FieldError>;

/// Moodle's `user.username` is char(100).
pub const USERNAME_MAX: usize = 100;
pub const PASSWORD_MIN: usize = 8;
/// Bounds the argon2 input; far above any real password.
pub const PASSWORD_MAX: usize = 1024;
pub const NAME_MAX: usize = 100;
pub const EMAIL_MAX: usize = 100;
/// `external_services.name` is char(200).
pub const SERVICE_NAME_MAX: usize = 200;
/// `external_services.shortname` is char(255).
pub const SHORTNAME_MAX: usize = 255;
/// `external_tokens.name` is char(255).
pub const TOKEN_NAME_MAX: usize = 255;
pub const ROLE_NAME_MAX: usize = 255;
pub const ROLE_SHORTNAME_MAX: usize = 100;

/// Moodle's PARAM_USERNAME without `extendedusernamechars`: lower-case letters, digits and
/// `_ - . @`. Moodle lower-cases silently; we refuse, so what is stored is what was typed.
pub fn username(value: &str) -> FieldResult<String> {
    const FIELD: &str = "username";
    if value.is_empty() {
        return Err(FieldError::new(FIELD, "is required"));
    }
    if value.trim() != value {
        return Err(FieldError::new(FIELD, "must not start or end with spaces"));
    }
    if value.chars().count() > USERNAME_MAX {
        return Err(FieldError::new(FIELD, format!("must be at most {USERNAME_MAX} characters")));
    }
    if value.chars().any(|c| c.is_uppercase()) {
        return Err(FieldError::new(FIELD, format!("must be lower case (try \"{}\")", value.to_lowercase())));
    }
    if let Some(bad) =
        value.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.' | '@')))
    {
        return Err(FieldError::new(
            FIELD,
            format!("may contain only lower-case letters, digits and _ - . @ (not {bad:?})"),
        ));
    }
    Ok(value.to_string())
}

/// The password policy: at least 8 characters and not the username.
pub fn password(password: &str, username: &str) -> FieldResult {
    const FIELD: &str = "password";
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Err(FieldError::new(FIELD, format!("must be at least {PASSWORD_MIN} characters (has {len})")));
    }
    if password.len() > PASSWORD_MAX {
        return Err(FieldError::new(FIELD, format!("must be at most {PASSWORD_MAX} bytes")));
    }
    if password.to_lowercase() == username.to_lowercase() {
        return Err(FieldError::new(FIELD, "must not be the same as the username"));
    }
    if password.chars().any(char::is_control) {
        return Err(FieldError::new(FIELD, "must not contain control characters"));
    }
    Ok(())
}

/// A single-line text field (names, descriptions): trimmed, no control characters, bounded.
pub fn text(field: &'static str, value: &str, max: usize, required: bool) -> FieldResult<String> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(value.to_string())
}

/// An e-mail address, optional; checked for shape only (one `@`, a dot in the domain).
pub fn email(value: &str) -> FieldResult<String> {
    let value = text("email", value, EMAIL_MAX, false)?;
    if value.is_empty() {
        return Ok(value);
    }
    let ok = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.contains(char::is_whitespace)
        }
        None => false,
    };
    if !ok {
        return Err(FieldError::new("email", format!("\"{value}\" is not an e-mail address")));
    }
    Ok(value)
}

/// Moodle's PARAM_ALPHANUMEXT: letters, digits, `_` and `-`. Used for service and role short names.
pub fn alphanumext(field: &'static str, value: &str, max: usize) -> FieldResult<String> {
    if value.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if value.len() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if let Some(bad) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))) {
        return Err(FieldError::new(field, format!("may contain only letters, digits, _ and - (not {bad:?})")));
    }
    Ok(value.to_string())
}

pub fn service_shortname(value: &str) -> FieldResult<String> {
    alphanumext("shortname", value, SHORTNAME_MAX)
}

pub fn service_name(value: &str) -> FieldResult<String> {
    text("name", value, SERVICE_NAME_MAX, true)
}

pub fn role_shortname(value: &str) -> FieldResult<String> {
    alphanumext("shortname", value, ROLE_SHORTNAME_MAX)
}

/// A token's name; empty means "generate one" (Moodle's `Webservice-XXXXX`).
pub fn token_name(value: &str) -> FieldResult<String> {
    text("name", value, TOKEN_NAME_MAX, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_param_username() {
        for ok in ["wsuser", "jane.doe", "a_b-c", "x@example.com", "007"] {
            assert_eq!(username(ok).unwrap(), ok, "{ok}");
        }
        assert!(username("").unwrap_err().message.contains("required"));
        assert!(username("WSUser").unwrap_err().message.contains("lower case (try \"wsuser\")"));
        assert!(username("ws user").unwrap_err().message.contains("' '"));
        assert!(username("wsüser").unwrap_err().message.contains("'ü'"));
        assert!(username(" wsuser").unwrap_err().message.contains("spaces"));
        assert!(username(&"a".repeat(101)).is_err());
        assert!(username(&"a".repeat(100)).is_ok());
    }

    #[test]
    fn password_policy() {
        assert!(password("Secret-123", "jane").is_ok());
        let short = password("short", "jane").unwrap_err();
        assert_eq!(short.field, "password");
        assert!(short.message.contains("at least 8"), "{short}");
        assert!(password("janedoe1", "JaneDoe1").unwrap_err().message.contains("username"));
        assert!(password(&"x".repeat(2000), "jane").is_err());
        assert!(password("abc\u{7}defgh", "jane").is_err());
    }

    #[test]
    fn alphanumext_shortnames() {
        assert_eq!(service_shortname("my_service-1").unwrap(), "my_service-1");
        assert!(service_shortname("").is_err());
        assert!(service_shortname("my service").unwrap_err().message.contains("' '"));
        assert!(service_shortname("é").is_err());
        assert!(role_shortname("wsclient").is_ok());
    }

    #[test]
    fn text_fields_are_trimmed_and_bounded() {
        assert_eq!(service_name("  Test service ").unwrap(), "Test service");
        assert!(service_name("   ").unwrap_err().message.contains("required"));
        assert!(service_name(&"n".repeat(201)).is_err());
        assert!(text("firstname", "a\nb", 100, false).is_err());
        assert_eq!(token_name("").unwrap(), "");
    }

    #[test]
    fn emails_are_checked_for_shape() {
        assert_eq!(email("").unwrap(), "");
        assert_eq!(email("a@b.cd").unwrap(), "a@b.cd");
        for bad in ["a", "a@b", "@b.cd", "a@@b.cd", "a b@c.de", "a@.cd", "a@cd."] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }
}
