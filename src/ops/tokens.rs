//! Tokens: created by an administrator (shown once, stored as SHA-256) and revoked.

use super::secrets;
use super::{OpError, OpResult, Ops, not_found};
use crate::domain::secret::{SiteKey, hash_token};
use crate::domain::validate::{self, FieldError};
use crate::domain::{AuthMethod, ServiceId, Token, TokenOrigin, UnixTime, UserId, iprestriction};
use crate::store::Queries;

/// The "Create token" form (moodle-ws-reference.md §9.7).
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    pub username: String,
    /// Service shortname.
    pub service: String,
    /// Empty: `Webservice-` and 5 random characters.
    pub name: String,
    pub ip_restriction: String,
    /// `None`: no expiry.
    pub valid_until: Option<UnixTime>,
}

/// A new token: the value, to be shown once and never stored, and its record.
pub struct CreatedToken {
    pub value: String,
    pub token: Token,
}

impl std::fmt::Debug for CreatedToken {
    /// Never prints the value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken").field("token", &self.token).finish_non_exhaustive()
    }
}

impl Ops {
    pub fn create_token(&self, new: NewToken) -> OpResult<CreatedToken> {
        let name = validate::token_name(&new.name)?;
        let name = if name.is_empty() { secrets::token_name() } else { name };
        let ip_restriction = iprestriction::normalise(&new.ip_restriction)
            .map_err(|e| FieldError::new("iprestriction", e.to_string()))?;
        let value = secrets::new_token();
        let hash = hash_token(&value);
        let token = self.apply("create token", |t, now| {
            if let Some(until) = new.valid_until
                && until <= now
            {
                return Err(FieldError::new("validuntil", "must be in the future").into());
            }
            let user = Queries::user_by_username(t, &new.username)?.ok_or_else(|| not_found("user", &new.username))?;
            let state = if user.suspended {
                Some("Suspended")
            } else if !user.confirmed {
                Some("Unconfirmed")
            } else if user.auth == AuthMethod::Nologin {
                Some("No login")
            } else {
                None
            };
            if let Some(state) = state {
                return Err(OpError::Refused {
                    code: "forbiddenwsuser",
                    message: format!("{state} - Can not create token for an unconfirmed, deleted, suspended or guest user."),
                });
            }
            let service = Queries::service_by_shortname(t, &new.service)?.ok_or_else(|| not_found("service", &new.service))?;
            if service.restricted_users && t.authorisation(service.id, user.id)?.is_none() {
                return Err(OpError::Refused {
                    code: "usernotallowed",
                    message: format!(
                        "The user is not allowed for this service. First you need to allow this user on the {}'s allowed users administration page.",
                        service.name
                    ),
                });
            }
            if let Some(cap) = service.required_capability.as_deref()
                && !t.user_has_capability(user.id, cap)?
            {
                return Err(OpError::Refused {
                    code: "nocapabilitytousethisservice",
                    message: format!("The user hasn't the required capability to use this service ({cap})"),
                });
            }
            if Queries::token_by_hash(t, &hash)?.is_some() {
                // 128 random bits do not collide; refuse rather than overwrite if they ever do.
                return Err(OpError::Refused { code: "tokengenerationfailed", message: "Cannot generate a new token.".into() });
            }
            let token = Token {
                id: t.next_id("token")?,
                name: name.clone(),
                user: user.id,
                service: service.id,
                ip_restriction: ip_restriction.clone(),
                valid_until: new.valid_until,
                created: now,
                creator: self.actor().to_string(),
                last_access: None,
                origin: TokenOrigin::Admin,
            };
            t.put_token(&hash, &token)?;
            let summary = format!("#{} \"{}\" for {} on {}", token.id, token.name, user.username, service.shortname);
            Ok((token.clone(), format!("#{}", token.id), summary))
        })?;
        Ok(CreatedToken { value, token })
    }

    /// login/token.php's new token (DESIGN.md §4), when it has none to hand back
    /// (`domain::login::reusable_token`): valid for the token duration, its value derived from
    /// the site key and the row's id, owner, service and creation time, so that the next login
    /// can hand it back though only its hash is stored. Self-issued tokens of this user and
    /// service beyond `limit` are revoked, oldest first. Committed (durably) before it returns.
    pub fn issue_login_token(
        &self,
        key: &SiteKey,
        user: UserId,
        service: ServiceId,
        duration: i64,
        limit: u32,
    ) -> OpResult<CreatedToken> {
        let name = secrets::token_name();
        let (token, value) = self.apply("issue login token", |t, now| {
            // The login was checked on a snapshot: the user or service may have gone since.
            let user_ok = Queries::user(t, user)?.is_some_and(|u| !u.deleted && !u.suspended);
            let service_ok = Queries::service(t, service)?.is_some_and(|s| s.enabled);
            if !user_ok || !service_ok {
                return Err(OpError::Conflict("the user or the service changed during login".into()));
            }
            let mut own: Vec<Token> = Queries::tokens_of_user(t, user)?
                .into_iter()
                .map(|(_, tok)| tok)
                .filter(|tok| tok.service == service && tok.origin == TokenOrigin::Login)
                .collect();
            own.sort_by_key(|tok| (tok.created, tok.id));
            let excess = (own.len() + 1).saturating_sub(usize::try_from(limit.max(1)).unwrap_or(usize::MAX));
            for old in own.iter().take(excess) {
                t.remove_token(old.id)?;
            }
            let token = Token {
                id: t.next_id("token")?,
                name: name.clone(),
                user,
                service,
                ip_restriction: String::new(),
                valid_until: Some(now + duration),
                created: now,
                creator: self.actor().to_string(),
                last_access: Some(now),
                origin: TokenOrigin::Login,
            };
            let value = key.login_token(&token);
            let hash = hash_token(&value);
            if Queries::token_by_hash(t, &hash)?.is_some() {
                return Err(OpError::Refused {
                    code: "tokengenerationfailed",
                    message: "Cannot generate a new token.".into(),
                });
            }
            t.put_token(&hash, &token)?;
            let summary = format!("#{} \"{}\", {excess} older revoked", token.id, token.name);
            Ok(((token.clone(), value), format!("#{}", token.id), summary))
        })?;
        Ok(CreatedToken { value, token })
    }

    pub fn revoke_token(&self, id: u64) -> OpResult<Token> {
        self.apply("revoke token", |t, _| {
            let token = t.remove_token(id)?.ok_or_else(|| OpError::NotFound(format!("no token #{id}")))?;
            let user = Queries::user(t, token.user)?.map(|u| u.username).unwrap_or_default();
            let summary = format!("\"{}\" of {user}", token.name);
            Ok((token, format!("#{id}"), summary))
        })
    }

    /// Revokes every token of a user; returns how many.
    pub fn revoke_user_tokens(&self, username: &str) -> OpResult<usize> {
        self.apply("revoke user tokens", |t, _| {
            let u = Queries::user_by_username(t, username)?.ok_or_else(|| not_found("user", username))?;
            let n = t.remove_tokens_of_user(u.id)?;
            Ok((n, username.to_string(), format!("{n} tokens")))
        })
    }

    /// Revokes every token of a service; returns how many.
    pub fn revoke_service_tokens(&self, shortname: &str) -> OpResult<usize> {
        self.apply("revoke service tokens", |t, _| {
            let s = Queries::service_by_shortname(t, shortname)?.ok_or_else(|| not_found("service", shortname))?;
            let n = t.remove_tokens_of_service(s.id)?;
            Ok((n, shortname.to_string(), format!("{n} tokens")))
        })
    }
}
