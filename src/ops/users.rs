//! Users: create, edit, password, suspend, delete.

use super::secrets::hash_password;
use super::{OpError, OpResult, Ops, not_found};
use crate::domain::validate::{self, FieldError, NAME_MAX};
use crate::domain::{AuthMethod, User};
use crate::store::{Queries, WriteTables};

/// The "Add a new user" form.
#[derive(Clone)]
pub struct NewUser {
    pub username: String,
    pub auth: AuthMethod,
    /// Required for `manual` (the site login and login/token.php use it); optional for
    /// `webservice` (only username/password calls need it); ignored for `nologin`.
    pub password: Option<String>,
    pub firstname: String,
    pub lastname: String,
    pub email: String,
}

impl std::fmt::Debug for NewUser {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser").field("username", &self.username).field("auth", &self.auth).finish_non_exhaustive()
    }
}

/// An edit of the profile fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserEdit {
    pub auth: Option<AuthMethod>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub email: Option<String>,
}

fn live_user(t: &WriteTables<'_>, username: &str) -> OpResult<User> {
    Queries::user_by_username(t, username)?.ok_or_else(|| not_found("user", username))
}

impl Ops {
    pub fn create_user(&self, new: NewUser) -> OpResult<User> {
        let username = validate::username(&new.username)?;
        let firstname = validate::text("firstname", &new.firstname, NAME_MAX, false)?;
        let lastname = validate::text("lastname", &new.lastname, NAME_MAX, false)?;
        let email = validate::email(&new.email)?;
        let password = match (new.auth, new.password.as_deref().filter(|p| !p.is_empty())) {
            (AuthMethod::Nologin, _) => None,
            (AuthMethod::Manual, None) => {
                return Err(FieldError::new("password", "is required for manual accounts").into());
            }
            (_, Some(p)) => {
                validate::password(p, &username)?;
                Some(p)
            }
            (AuthMethod::Webservice, None) => None,
        };
        // Hash before the transaction: argon2 takes tens of milliseconds.
        let password_hash = password.map(hash_password).unwrap_or_default();
        self.apply("create user", |t, now| {
            if Queries::user_by_username(t, &username)?.is_some() {
                return Err(OpError::Conflict(format!("username \"{username}\" is already taken")));
            }
            let user = User {
                id: t.next_id("user")?,
                username: username.clone(),
                auth: new.auth,
                password_hash,
                firstname,
                lastname,
                email,
                lang: "en".into(),
                suspended: false,
                confirmed: true,
                deleted: false,
                created: now,
                modified: now,
            };
            t.put_user(&user, None)?;
            let summary = format!("auth {}", user.auth);
            Ok((user, username.clone(), summary))
        })
    }

    pub fn edit_user(&self, username: &str, edit: UserEdit) -> OpResult<User> {
        let firstname = edit.firstname.map(|v| validate::text("firstname", &v, NAME_MAX, false)).transpose()?;
        let lastname = edit.lastname.map(|v| validate::text("lastname", &v, NAME_MAX, false)).transpose()?;
        let email = edit.email.map(|v| validate::email(&v)).transpose()?;
        self.apply("edit user", |t, now| {
            let old = live_user(t, username)?;
            let mut u = old.clone();
            if let Some(auth) = edit.auth {
                if auth == AuthMethod::Manual && u.password_hash.is_empty() {
                    return Err(FieldError::new("auth", "a manual account needs a password: set one first").into());
                }
                u.auth = auth;
            }
            u.firstname = firstname.unwrap_or(u.firstname);
            u.lastname = lastname.unwrap_or(u.lastname);
            u.email = email.unwrap_or(u.email);
            u.modified = now;
            t.put_user(&u, Some(&old))?;
            let mut changed = Vec::new();
            if u.auth != old.auth {
                changed.push(format!("auth {} → {}", old.auth, u.auth));
            }
            for (field, a, b) in [
                ("firstname", &old.firstname, &u.firstname),
                ("lastname", &old.lastname, &u.lastname),
                ("email", &old.email, &u.email),
            ] {
                if a != b {
                    changed.push(field.to_string());
                }
            }
            Ok((u, username.to_string(), changed.join(", ")))
        })
    }

    pub fn set_password(&self, username: &str, password: &str) -> OpResult<User> {
        validate::password(password, username)?;
        let hash = hash_password(password);
        self.apply("set password", |t, now| {
            let old = live_user(t, username)?;
            let u = User { password_hash: hash, modified: now, ..old.clone() };
            t.put_user(&u, Some(&old))?;
            Ok((u, username.to_string(), String::new()))
        })
    }

    pub fn set_suspended(&self, username: &str, suspended: bool) -> OpResult<User> {
        self.apply(if suspended { "suspend user" } else { "unsuspend user" }, |t, now| {
            let old = live_user(t, username)?;
            let u = User { suspended, modified: now, ..old.clone() };
            t.put_user(&u, Some(&old))?;
            Ok((u, username.to_string(), String::new()))
        })
    }

    /// Deletes a user as Moodle does: the record stays, marked deleted, so that logs still
    /// name it; its username is released, and its tokens, roles and authorisations go.
    pub fn delete_user(&self, username: &str) -> OpResult<usize> {
        self.apply("delete user", |t, now| {
            let old = live_user(t, username)?;
            let revoked = t.remove_tokens_of_user(old.id)?;
            let roles: Vec<u64> = t.user_roles(old.id)?.assigned.iter().map(|r| r.id).collect();
            for role in roles {
                t.role_assignments.remove((old.id, role))?;
            }
            for s in t.all_services()? {
                t.service_users.remove((s.id, old.id))?;
            }
            let u = User { deleted: true, password_hash: String::new(), modified: now, ..old.clone() };
            t.put_user(&u, Some(&old))?;
            Ok((revoked, username.to_string(), format!("{revoked} tokens revoked")))
        })
    }
}
