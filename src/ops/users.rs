//! Users: create, edit, password, suspend, delete.

use super::secrets::hash_password;
use super::{Audit, OpError, OpResult, Ops, not_found};
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

impl NewUser {
    /// An account with only a name and an authentication method: no password, empty profile.
    pub fn named(username: &str, auth: AuthMethod) -> NewUser {
        NewUser {
            username: username.into(),
            auth,
            password: None,
            firstname: String::new(),
            lastname: String::new(),
            email: String::new(),
        }
    }
}

impl std::fmt::Debug for NewUser {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser").field("username", &self.username).field("auth", &self.auth).finish_non_exhaustive()
    }
}

/// Changes to one user: any of password, profile fields, suspension.
#[derive(Clone, Default)]
pub struct UserChange {
    pub username: String,
    pub password: Option<String>,
    pub edit: UserEdit,
    pub suspended: Option<bool>,
}

impl std::fmt::Debug for UserChange {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChange").field("username", &self.username).field("edit", &self.edit).finish_non_exhaustive()
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

/// A new user, checked and with its password hashed: ready for a transaction.
struct NewRecord {
    username: String,
    auth: AuthMethod,
    password_hash: String,
    firstname: String,
    lastname: String,
    email: String,
}

/// Checks a new user and hashes its password (outside any transaction: argon2 takes tens of
/// milliseconds).
fn prepare_new(new: NewUser) -> OpResult<NewRecord> {
    let username = validate::username(&new.username)?;
    let firstname = validate::text("firstname", &new.firstname, NAME_MAX, false)?;
    let lastname = validate::text("lastname", &new.lastname, NAME_MAX, false)?;
    let email = validate::email(&new.email)?;
    let password = match (new.auth, new.password.as_deref().filter(|p| !p.is_empty())) {
        (AuthMethod::Nologin, _) | (AuthMethod::Webservice, None) => None,
        (AuthMethod::Manual, None) => {
            return Err(FieldError::new("password", "is required for manual accounts").into());
        }
        (_, Some(p)) => {
            validate::password(p, &username)?;
            Some(p)
        }
    };
    let password_hash = password.map(hash_password).unwrap_or_default();
    Ok(NewRecord { username, auth: new.auth, password_hash, firstname, lastname, email })
}

fn insert(t: &mut WriteTables<'_>, r: NewRecord, now: i64, audit: &mut Vec<Audit>) -> OpResult<User> {
    if Queries::user_by_username(t, &r.username)?.is_some() {
        return Err(OpError::Conflict(format!("username \"{}\" is already taken", r.username)));
    }
    let user = User {
        id: t.next_id("user")?,
        username: r.username,
        auth: r.auth,
        password_hash: r.password_hash,
        firstname: r.firstname,
        lastname: r.lastname,
        email: r.email,
        lang: "en".into(),
        suspended: false,
        confirmed: true,
        deleted: false,
        created: now,
        modified: now,
    };
    t.put_user(&user, None)?;
    audit.push(("create user", user.username.clone(), format!("auth {}", user.auth)));
    Ok(user)
}

/// A change, checked and with its password hashed.
struct ChangeRecord {
    username: String,
    password_hash: Option<String>,
    auth: Option<AuthMethod>,
    firstname: Option<String>,
    lastname: Option<String>,
    email: Option<String>,
    suspended: Option<bool>,
}

fn prepare_change(c: UserChange) -> OpResult<ChangeRecord> {
    let password_hash = match &c.password {
        Some(p) => {
            validate::password(p, &c.username)?;
            Some(hash_password(p))
        }
        None => None,
    };
    Ok(ChangeRecord {
        password_hash,
        auth: c.edit.auth,
        firstname: c.edit.firstname.map(|v| validate::text("firstname", &v, NAME_MAX, false)).transpose()?,
        lastname: c.edit.lastname.map(|v| validate::text("lastname", &v, NAME_MAX, false)).transpose()?,
        email: c.edit.email.map(|v| validate::email(&v)).transpose()?,
        suspended: c.suspended,
        username: c.username,
    })
}

fn change(t: &mut WriteTables<'_>, c: ChangeRecord, now: i64, audit: &mut Vec<Audit>) -> OpResult<User> {
    let old = live_user(t, &c.username)?;
    let mut u = old.clone();
    let target = c.username.clone();
    if let Some(hash) = c.password_hash {
        u.password_hash = hash;
        audit.push(("set password", target.clone(), String::new()));
    }
    let mut changed = Vec::new();
    if let Some(auth) = c.auth.filter(|a| *a != u.auth) {
        if auth == AuthMethod::Manual && u.password_hash.is_empty() {
            return Err(FieldError::new("auth", "a manual account needs a password: set one first").into());
        }
        changed.push(format!("auth {} → {auth}", u.auth));
        u.auth = auth;
    }
    for (field, new, slot) in [
        ("firstname", c.firstname, &mut u.firstname),
        ("lastname", c.lastname, &mut u.lastname),
        ("email", c.email, &mut u.email),
    ] {
        if let Some(v) = new.filter(|v| v != slot) {
            *slot = v;
            changed.push(field.to_string());
        }
    }
    if !changed.is_empty() {
        audit.push(("edit user", target.clone(), changed.join(", ")));
    }
    if let Some(s) = c.suspended.filter(|s| *s != u.suspended) {
        u.suspended = s;
        audit.push((if s { "suspend user" } else { "unsuspend user" }, target, String::new()));
    }
    u.modified = now;
    t.put_user(&u, Some(&old))?;
    Ok(u)
}

/// Deletes as Moodle does: the record stays, marked deleted, so that logs still name it; the
/// username is released, and tokens, roles and authorisations go. Returns tokens revoked.
fn delete(t: &mut WriteTables<'_>, username: &str, now: i64, audit: &mut Vec<Audit>) -> OpResult<usize> {
    let old = live_user(t, username)?;
    let revoked = t.remove_tokens_of_user(old.id)?;
    let roles: Vec<u64> = t.user_roles(old.id)?.assigned.iter().map(|r| r.id).collect();
    for role in roles {
        t.set_role_assignment(old.id, role, false)?;
    }
    for s in t.all_services()? {
        t.remove_authorised(s.id, old.id)?;
    }
    let u = User { deleted: true, password_hash: String::new(), modified: now, ..old.clone() };
    t.put_user(&u, Some(&old))?;
    audit.push(("delete user", username.to_string(), format!("{revoked} tokens revoked")));
    Ok(revoked)
}

impl Ops {
    pub fn create_user(&self, new: NewUser) -> OpResult<User> {
        Ok(self.create_users(vec![new])?.remove(0))
    }

    /// Creates every user or none, in one transaction.
    pub fn create_users(&self, new: Vec<NewUser>) -> OpResult<Vec<User>> {
        let records = new.into_iter().map(prepare_new).collect::<OpResult<Vec<_>>>()?;
        self.apply_all(|t, now, audit| records.into_iter().map(|r| insert(t, r, now, audit)).collect())
    }

    pub fn edit_user(&self, username: &str, edit: UserEdit) -> OpResult<User> {
        self.change_user(UserChange { username: username.into(), edit, ..UserChange::default() })
    }

    pub fn set_password(&self, username: &str, password: &str) -> OpResult<User> {
        self.change_user(UserChange {
            username: username.into(),
            password: Some(password.into()),
            ..UserChange::default()
        })
    }

    pub fn set_suspended(&self, username: &str, suspended: bool) -> OpResult<User> {
        self.change_user(UserChange { username: username.into(), suspended: Some(suspended), ..UserChange::default() })
    }

    fn change_user(&self, c: UserChange) -> OpResult<User> {
        Ok(self.change_users(vec![c])?.remove(0))
    }

    /// Applies every change or none, in one transaction.
    pub fn change_users(&self, changes: Vec<UserChange>) -> OpResult<Vec<User>> {
        let records = changes.into_iter().map(prepare_change).collect::<OpResult<Vec<_>>>()?;
        self.apply_all(|t, now, audit| records.into_iter().map(|c| change(t, c, now, audit)).collect())
    }

    /// Deletes a user (see [`delete`]); returns how many tokens were revoked.
    pub fn delete_user(&self, username: &str) -> OpResult<usize> {
        self.delete_users(&[username.to_string()])
    }

    /// Deletes every user or none, in one transaction; returns how many tokens were revoked.
    pub fn delete_users(&self, usernames: &[String]) -> OpResult<usize> {
        self.apply_all(|t, now, audit| {
            let mut revoked = 0;
            for name in usernames {
                revoked += delete(t, name, now, audit)?;
            }
            Ok(revoked)
        })
    }
}
