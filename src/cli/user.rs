//! `wsconsole user`: accounts, their passwords and their state.

use super::*;

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum AuthArg {
    Manual,
    Webservice,
    Nologin,
}

impl From<AuthArg> for AuthMethod {
    fn from(a: AuthArg) -> Self {
        match a {
            AuthArg::Manual => AuthMethod::Manual,
            AuthArg::Webservice => AuthMethod::Webservice,
            AuthArg::Nologin => AuthMethod::Nologin,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Creates a user. The password is asked for (or read from stdin when it is not a
    /// terminal): required for manual, optional for webservice, none for nologin.
    Add {
        username: String,
        #[arg(long, value_enum, default_value = "manual")]
        auth: AuthArg,
        #[arg(long, default_value = "")]
        firstname: String,
        #[arg(long, default_value = "")]
        lastname: String,
        #[arg(long, default_value = "")]
        email: String,
    },
    /// Lists live users.
    List {
        /// Keep users whose username, name or e-mail contains this text.
        #[arg(long, default_value = "")]
        filter: String,
        #[arg(long)]
        json: bool,
    },
    /// A user's details, roles, capabilities and tokens.
    Show {
        username: String,
    },
    /// Sets a user's password (asked for, or read from stdin when it is not a terminal).
    Passwd {
        username: String,
    },
    Suspend {
        username: String,
    },
    Unsuspend {
        username: String,
    },
    /// Deletes a user: its tokens, roles and authorisations go; the name is released.
    Delete {
        username: String,
    },
}

/// Reads a password: from a no-echo prompt (twice) on a terminal, else the first line of stdin.
pub(super) fn read_password(prompt: &str, optional: bool) -> Result<Option<String>, CliError> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt)?;
        if first.is_empty() && optional {
            return Ok(None);
        }
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            return Err(CliError("the passwords differ; nothing was changed".into()));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    Ok(if password.is_empty() && optional { None } else { Some(password) })
}

pub(super) fn user_json(u: &crate::domain::User) -> Value {
    json!({
        "id": u.id, "username": u.username, "auth": u.auth.name(), "firstname": u.firstname,
        "lastname": u.lastname, "fullname": u.fullname(), "email": u.email, "suspended": u.suspended,
        "confirmed": u.confirmed, "timecreated": u.created, "timemodified": u.modified,
    })
}

pub(super) fn user(ops: &Ops, c: UserCmd, out: Out<'_>) -> Result<(), CliError> {
    match c {
        UserCmd::Add { username, auth, firstname, lastname, email } => {
            let auth = AuthMethod::from(auth);
            let password = match auth {
                AuthMethod::Nologin => None,
                AuthMethod::Webservice => read_password("Password (empty for none): ", true)?,
                AuthMethod::Manual => read_password("Password: ", false)?,
            };
            let u = ops.create_user(NewUser { username, auth, password, firstname, lastname, email })?;
            writeln!(out, "created user {} (id {}, auth {})", u.username, u.id, u.auth)?;
        }
        UserCmd::List { filter, json } => {
            let Page { rows, .. } = ops.store().read()?.find_users(&filter, 0, usize::MAX)?;
            if json {
                return print_json(out, &Value::Array(rows.iter().map(user_json).collect()));
            }
            let rows: Vec<Vec<String>> = rows
                .iter()
                .map(|u| {
                    vec![
                        u.id.to_string(),
                        u.username.clone(),
                        u.auth.name().into(),
                        if u.suspended { "suspended".into() } else { "active".into() },
                        u.fullname(),
                        u.email.clone(),
                    ]
                })
                .collect();
            print_table(out, &["ID", "USERNAME", "AUTH", "STATE", "NAME", "EMAIL"], &rows)?;
        }
        UserCmd::Show { username } => {
            let v = ops.store().read()?;
            let u =
                Queries::user_by_username(&v, &username)?.ok_or_else(|| CliError(format!("no user \"{username}\"")))?;
            let roles = v.user_roles(u.id)?;
            let caps = v.user_capabilities(u.id)?;
            let settings = Queries::settings(&v)?;
            writeln!(out, "username:  {}", u.username)?;
            writeln!(out, "id:        {}", u.id)?;
            writeln!(out, "auth:      {}", u.auth)?;
            writeln!(out, "name:      {}", u.fullname())?;
            writeln!(out, "email:     {}", u.email)?;
            writeln!(out, "state:     {}", if u.suspended { "suspended" } else { "active" })?;
            writeln!(out, "password:  {}", if u.password_hash.is_empty() { "none" } else { "set" })?;
            let names: Vec<String> = roles
                .assigned
                .iter()
                .map(|r| r.shortname.clone())
                .chain(roles.implicit.iter().map(|r| format!("{} (everybody)", r.shortname)))
                .collect();
            writeln!(out, "roles:     {}", names.join(", "))?;
            writeln!(out, "capabilities:")?;
            for c in &caps {
                writeln!(out, "  {c}")?;
            }
            for m in capabilities::missing_protocols(&caps, &settings) {
                let note = if m.enabled { "  (enabled protocol: calls will fail)" } else { "" };
                writeln!(out, "  missing {}{note}", m.protocol.capability())?;
            }
            writeln!(out, "tokens:    {}", v.token_ids_of_user(u.id)?.len())?;
        }
        UserCmd::Passwd { username } => {
            let password = read_password("New password: ", false)?.unwrap_or_default();
            ops.set_password(&username, &password)?;
            writeln!(out, "password set for {username}")?;
        }
        UserCmd::Suspend { username } => {
            ops.set_suspended(&username, true)?;
            writeln!(out, "suspended {username}")?;
        }
        UserCmd::Unsuspend { username } => {
            ops.set_suspended(&username, false)?;
            writeln!(out, "unsuspended {username}")?;
        }
        UserCmd::Delete { username } => {
            let n = ops.delete_user(&username)?;
            writeln!(out, "deleted {username} ({n} tokens revoked)")?;
        }
    }
    Ok(())
}
