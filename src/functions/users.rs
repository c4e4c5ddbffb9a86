//! `core_user_*`: read users by field or criteria, create, update and delete them.

use super::{CallContext, internal, invalid_parameter, op_error};
use crate::domain::access::MoodleException;
use crate::domain::capabilities as cap;
use crate::domain::{AuthMethod, User};
use crate::model::value::Value;
use crate::ops::{NewUser, UserChange, UserEdit};
use crate::store::Queries;

/// What the caller may see of other users (Moodle's `user_get_user_details`).
#[derive(Clone, Copy)]
struct Sight {
    /// `moodle/user:viewalldetails`: usernames, e-mail and account state of everyone.
    all_details: bool,
    /// `moodle/site:viewfullnames`: first and last names, of everyone, the caller included.
    full_names: bool,
}

/// A user as the caller may see them: everyone sees id, full name and pictures; the username,
/// e-mail and account state need `moodle/user:viewalldetails` or being the user; first and
/// last names need `moodle/site:viewfullnames`, even for oneself (recorded: Moodle leaves them
/// out of the caller's own record).
fn describe(ctx: &CallContext<'_>, u: &User, sight: Sight) -> Value {
    let site = &ctx.settings.site_url;
    let own = u.id == ctx.user.id;
    let mut out = vec![("id", Value::Int(i64::try_from(u.id).unwrap_or(i64::MAX)))];
    if own || sight.all_details {
        out.push(("username", Value::str(u.username.to_owned())));
    }
    if sight.full_names {
        out.push(("firstname", Value::str(u.firstname.to_owned())));
        out.push(("lastname", Value::str(u.lastname.to_owned())));
    }
    out.push(("fullname", Value::str(u.fullname())));
    if sight.all_details || own {
        out.extend([
            ("email", Value::str(u.email.to_owned())),
            ("department", Value::str("")),
            ("firstaccess", Value::Int(0)),
            ("lastaccess", Value::Int(0)),
            ("auth", Value::str(u.auth.name())),
            ("suspended", Value::Bool(u.suspended)),
            ("confirmed", Value::Bool(u.confirmed)),
            ("lang", Value::str(u.lang.to_owned())),
            ("theme", Value::str("")),
            ("timezone", Value::str("99")),
            ("mailformat", Value::Int(1)),
        ]);
    }
    out.extend([
        ("profileimageurlsmall", Value::str(format!("{site}/theme/image.php/boost/core/1/u/f2"))),
        ("profileimageurl", Value::str(format!("{site}/theme/image.php/boost/core/1/u/f1"))),
    ]);
    Value::map(out)
}

/// Users the caller may list: themselves always, others with `moodle/user:viewdetails`.
fn visible(ctx: &CallContext<'_>, users: Vec<User>) -> Result<Vec<Value>, MoodleException> {
    let others = ctx.has_capability(cap::USER_VIEW_DETAILS)?;
    let sight = Sight {
        all_details: ctx.has_capability(cap::USER_VIEW_ALL_DETAILS)?,
        full_names: ctx.has_capability(cap::VIEW_FULL_NAMES)?,
    };
    Ok(users.iter().filter(|u| others || u.id == ctx.user.id).map(|u| describe(ctx, u, sight)).collect())
}

fn user_by_id(ctx: &CallContext<'_>, id: i64) -> Result<Option<User>, MoodleException> {
    let Ok(id) = u64::try_from(id) else { return Ok(None) };
    Ok(Queries::user(ctx.view, id).map_err(internal)?.filter(|u| !u.deleted))
}

pub fn get_users_by_field(ctx: &CallContext<'_>, p: &Value) -> Result<Value, MoodleException> {
    let field = p.get("field").and_then(Value::as_str).unwrap_or_default();
    let values: Vec<String> =
        p.get("values").map(|v| v.items().iter().map(|i| i.php_string()).collect()).unwrap_or_default();
    let mut found: Vec<User> = Vec::new();
    let mut add = |u: User| {
        if !found.iter().any(|f| f.id == u.id) {
            found.push(u);
        }
    };
    match field {
        "id" => {
            for v in &values {
                if let Ok(id) = v.parse::<i64>()
                    && let Some(u) = user_by_id(ctx, id)?
                {
                    add(u);
                }
            }
        }
        "username" => {
            for v in &values {
                if let Some(u) = Queries::user_by_username(ctx.view, &v.trim().to_lowercase()).map_err(internal)? {
                    add(u);
                }
            }
        }
        // No e-mail index: one pass over the users for all the values together.
        "email" => {
            let wanted: std::collections::HashSet<String> = values.iter().map(|v| v.to_lowercase()).collect();
            for u in ctx.view.find_users("", 0, usize::MAX).map_err(internal)?.rows {
                if !u.email.is_empty() && wanted.contains(&u.email.to_lowercase()) {
                    add(u);
                }
            }
        }
        "idnumber" => {}
        other => {
            return Err(invalid_parameter(format!(
                "The search field '{other}' is not supported, look at the web service documentation"
            )));
        }
    }
    Ok(Value::List(visible(ctx, found)?))
}

/// SQL LIKE with `%` wildcards, case-insensitive, as Moodle's user search.
fn like(pattern: &str, text: &str) -> bool {
    let parts: Vec<String> = pattern.to_lowercase().split('%').map(str::to_string).collect();
    let text = text.to_lowercase();
    if parts.len() == 1 {
        return text == parts[0];
    }
    let mut rest = text.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part.as_str()) else { return false };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part.as_str());
        } else {
            let Some(at) = rest.find(part.as_str()) else { return false };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

pub fn get_users(ctx: &CallContext<'_>, p: &Value) -> Result<Value, MoodleException> {
    let mut warnings = Vec::new();
    let mut criteria = Vec::new();
    for c in p.get("criteria").map(Value::items).unwrap_or_default() {
        let key = c.get("key").and_then(Value::as_str).unwrap_or_default().to_string();
        let val = c.get("value").and_then(Value::as_str).unwrap_or_default().to_string();
        if !["id", "lastname", "firstname", "idnumber", "username", "email", "auth"].contains(&key.as_str()) {
            warnings.push(Value::map([
                ("item", Value::str(key.clone())),
                ("warningcode", Value::str("invalidfieldparameter")),
                (
                    "message",
                    Value::str(format!(
                        "The search key '{key}' is not supported, look at the web service documentation"
                    )),
                ),
            ]));
            continue;
        }
        if val.is_empty() {
            warnings.push(Value::map([
                ("item", Value::str(key.clone())),
                ("warningcode", Value::str("invalidfieldparameter")),
                ("message", Value::str(format!("The value for the search key '{key}' can not be empty"))),
            ]));
            continue;
        }
        criteria.push((key, val));
    }
    let mut users = Vec::new();
    if !criteria.is_empty() {
        for u in ctx.view.find_users("", 0, usize::MAX).map_err(internal)?.rows {
            let matches = criteria.iter().all(|(k, v)| match k.as_str() {
                "id" => u.id.to_string() == *v,
                "username" => like(v, &u.username),
                "firstname" => like(v, &u.firstname),
                "lastname" => like(v, &u.lastname),
                "email" => like(v, &u.email),
                "auth" => u.auth.name() == v,
                _ => false,
            });
            if matches {
                users.push(u);
            }
        }
    }
    Ok(Value::map([("users", Value::List(visible(ctx, users)?)), ("warnings", Value::List(warnings))]))
}

fn auth_method(name: &str) -> Result<AuthMethod, MoodleException> {
    AuthMethod::parse(name).ok_or_else(|| invalid_parameter(format!("Invalid authentication type: {name}")))
}

/// Checks a new user as `ops::create_user` will, so that a batch fails before any write.
fn check_new_user(n: &NewUser) -> Result<(), MoodleException> {
    use crate::domain::validate;
    let field = |e: validate::FieldError| invalid_parameter(e.to_string());
    validate::username(&n.username).map_err(field)?;
    validate::email(&n.email).map_err(field)?;
    validate::text("firstname", &n.firstname, validate::NAME_MAX, false).map_err(field)?;
    validate::text("lastname", &n.lastname, validate::NAME_MAX, false).map_err(field)?;
    match (n.auth, n.password.as_deref().filter(|p| !p.is_empty())) {
        (AuthMethod::Nologin, _) | (AuthMethod::Webservice, None) => Ok(()),
        (AuthMethod::Manual, None) => Err(invalid_parameter("password: is required for manual accounts")),
        (_, Some(p)) => validate::password(p, &n.username).map_err(field),
    }
}

pub fn create_users(ctx: &CallContext<'_>, p: &Value) -> Result<Value, MoodleException> {
    ctx.require_capability(cap::USER_CREATE)?;
    let list = p.get("users").map(Value::items).unwrap_or_default();
    // Check every user before creating any, as Moodle's transaction does.
    let mut new_users = Vec::new();
    for u in &list {
        let s = |k: &str| u.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let n = NewUser {
            username: s("username"),
            auth: auth_method(u.get("auth").and_then(Value::as_str).unwrap_or("manual"))?,
            password: u.get("password").and_then(Value::as_str).map(str::to_string),
            firstname: s("firstname"),
            lastname: s("lastname"),
            email: s("email"),
        };
        let taken = Queries::user_by_username(ctx.view, &n.username).map_err(internal)?.is_some()
            || new_users.iter().any(|o: &NewUser| o.username == n.username);
        if taken {
            return Err(invalid_parameter(format!("Username already exists: {}", n.username)));
        }
        check_new_user(&n)?;
        new_users.push(n);
    }
    // One transaction for the whole list, as Moodle's.
    let created = ctx.ops().create_users(new_users).map_err(op_error)?;
    Ok(Value::List(
        created
            .into_iter()
            .map(|u| {
                Value::map([
                    ("id", Value::Int(i64::try_from(u.id).unwrap_or(i64::MAX))),
                    ("username", Value::str(u.username)),
                ])
            })
            .collect(),
    ))
}

pub fn update_users(ctx: &CallContext<'_>, p: &Value) -> Result<Value, MoodleException> {
    use crate::domain::validate;
    ctx.require_capability(cap::USER_UPDATE)?;
    let mut warnings = Vec::new();
    // Check every change before applying any.
    let mut plan = Vec::new();
    for u in p.get("users").map(Value::items).unwrap_or_default() {
        let id = u.get("id").and_then(Value::as_int).unwrap_or(0);
        let Some(existing) = user_by_id(ctx, id)? else {
            warnings.push(Value::map([
                ("item", Value::str("user")),
                ("itemid", Value::Int(id)),
                ("warningcode", Value::str("invaliduserid")),
                ("message", Value::str("Invalid user ID")),
            ]));
            continue;
        };
        ctx.require_covers_user(&existing)?;
        if u.get("username").and_then(Value::as_str).is_some_and(|n| n != existing.username) {
            return Err(invalid_parameter("Changing a username is not supported"));
        }
        let s = |k: &str| u.get(k).and_then(Value::as_str).map(str::to_string);
        let field = |e: validate::FieldError| invalid_parameter(e.to_string());
        let auth = s("auth").map(|a| auth_method(&a)).transpose()?;
        let password = s("password");
        if let Some(pw) = &password {
            validate::password(pw, &existing.username).map_err(field)?;
        }
        if let Some(email) = s("email") {
            validate::email(&email).map_err(field)?;
        }
        let edit = UserEdit { auth, firstname: s("firstname"), lastname: s("lastname"), email: s("email") };
        let suspended = u.get("suspended").and_then(Value::as_bool);
        plan.push(UserChange { username: existing.username, password, edit, suspended });
    }
    // One transaction for the whole list, as Moodle's.
    ctx.ops().change_users(plan).map_err(op_error)?;
    Ok(Value::map([("warnings", Value::List(warnings))]))
}

pub fn delete_users(ctx: &CallContext<'_>, p: &Value) -> Result<Value, MoodleException> {
    ctx.require_capability(cap::USER_DELETE)?;
    let ids: Vec<i64> =
        p.get("userids").map(|v| v.items().iter().filter_map(|i| i.as_int()).collect()).unwrap_or_default();
    let mut users = Vec::new();
    for id in ids {
        let u = user_by_id(ctx, id)?.ok_or_else(|| {
            MoodleException::new(
                "dml_missing_record_exception",
                "invalidrecord",
                "Can't find data record in database table user.",
            )
        })?;
        if u.id == ctx.user.id {
            return Err(super::moodle_error("usernotdeleteddeleted", "You cannot delete yourself"));
        }
        ctx.require_covers_user(&u)?;
        users.push(u);
    }
    let names: Vec<String> = users.into_iter().map(|u| u.username).collect();
    ctx.ops().delete_users(&names).map_err(op_error)?;
    Ok(Value::Null)
}
