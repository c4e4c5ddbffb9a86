//! `wsconsole token`: tokens created (shown once), listed and revoked.

use super::*;

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum StateArg {
    Valid,
    Expiring,
    Expired,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SortArg {
    Validuntil,
    Name,
    User,
    Service,
    Lastaccess,
    Created,
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Creates a token and prints it alone on stdout: it is shown this once, never stored.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        service: String,
        /// Default: "Webservice-" and 5 random characters.
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        ip: String,
        /// YYYY-MM-DD or RFC 3339, or "never" (the default).
        #[arg(long, value_name = "DATE|never")]
        valid_until: Option<String>,
    },
    List(TokenListArgs),
    /// Revokes one token by id, or all of a user's or a service's.
    Revoke {
        #[arg(required_unless_present_any = ["user", "service"], conflicts_with_all = ["user", "service"])]
        id: Option<u64>,
        #[arg(long, conflicts_with = "service")]
        user: Option<String>,
        #[arg(long)]
        service: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct TokenListArgs {
    /// Exact username.
    #[arg(long)]
    user: Option<String>,
    /// Part of the username.
    #[arg(long, conflicts_with = "user")]
    user_contains: Option<String>,
    /// Service shortname.
    #[arg(long)]
    service: Option<String>,
    /// Part of the token name.
    #[arg(long)]
    name: Option<String>,
    #[arg(long, value_enum)]
    state: Option<StateArg>,
    #[arg(long, value_enum, default_value = "validuntil")]
    sort: SortArg,
    #[arg(long)]
    desc: bool,
    #[arg(long, default_value_t = 0)]
    offset: usize,
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long)]
    json: bool,
}

/// "1 token", "2 tokens".
pub(super) fn count_tokens(n: usize) -> String {
    if n == 1 { "1 token".into() } else { format!("{n} tokens") }
}

pub(super) fn token(ops: &Ops, c: TokenCmd, out: Out<'_>) -> Result<(), CliError> {
    match c {
        TokenCmd::Create { user, service, name, ip, valid_until: until } => {
            let created = ops.create_token(NewToken {
                username: user,
                service,
                name,
                ip_restriction: ip,
                valid_until: valid_until(until.as_deref())?,
            })?;
            writeln!(out, "{}", created.value)?;
            if std::io::stderr().is_terminal() {
                eprintln!(
                    "token #{} \"{}\" created. Copy it now: it is not stored and cannot be shown again.",
                    created.token.id, created.token.name
                );
            }
        }
        TokenCmd::List(a) => token_list(ops, a, out)?,
        TokenCmd::Revoke { id, user, service } => {
            if let Some(id) = id {
                let t = ops.revoke_token(id)?;
                writeln!(out, "revoked token #{id} \"{}\"", t.name)?;
            } else if let Some(user) = user {
                let n = ops.revoke_user_tokens(&user)?;
                writeln!(out, "revoked {} of {user}", count_tokens(n))?;
            } else if let Some(service) = service {
                let n = ops.revoke_service_tokens(&service)?;
                writeln!(out, "revoked {} of service {service}", count_tokens(n))?;
            }
        }
    }
    Ok(())
}

pub(super) fn token_list(ops: &Ops, a: TokenListArgs, out: Out<'_>) -> Result<(), CliError> {
    let now = store::now();
    let q = TokenQuery {
        name: a.name,
        user: a.user.map(UserFilter::Exact).or(a.user_contains.map(UserFilter::Contains)),
        service: a.service,
        state: a.state.map(|s| match s {
            StateArg::Valid => StateFilter::Valid,
            StateArg::Expiring => StateFilter::Expiring,
            StateArg::Expired => StateFilter::Expired,
        }),
        sort: match a.sort {
            SortArg::Validuntil => TokenSort::ValidUntil,
            SortArg::Name => TokenSort::Name,
            SortArg::User => TokenSort::User,
            SortArg::Service => TokenSort::Service,
            SortArg::Lastaccess => TokenSort::LastAccess,
            SortArg::Created => TokenSort::Created,
        },
        descending: a.desc,
        offset: a.offset,
        limit: a.limit.unwrap_or(usize::MAX),
        now,
    };
    let page = ops.store().read()?.list_tokens(&q)?;
    if a.json {
        let rows = page
            .rows
            .iter()
            .map(|r| {
                json!({
                    "id": r.token.id, "name": r.token.name, "username": r.username,
                    "service": r.service_shortname, "iprestriction": r.token.ip_restriction,
                    "validuntil": time_or_null(r.token.valid_until), "lastaccess": time_or_null(r.token.last_access),
                    "creator": r.token.creator, "timecreated": r.token.created,
                    "state": r.token.state(now).name(),
                })
            })
            .collect();
        return print_json(out, &Value::Array(rows));
    }
    let rows: Vec<Vec<String>> = page
        .rows
        .iter()
        .map(|r| {
            vec![
                r.token.id.to_string(),
                r.token.name.clone(),
                r.username.clone(),
                r.service_shortname.clone(),
                if r.token.ip_restriction.is_empty() { "-".into() } else { r.token.ip_restriction.clone() },
                r.token.valid_until.map(format_time).unwrap_or_else(|| "no expiry".into()),
                r.token.last_access.map(format_time).unwrap_or_else(|| "never".into()),
                r.token.creator.clone(),
                r.token.state(now).name().into(),
            ]
        })
        .collect();
    print_table(
        out,
        &["ID", "NAME", "USER", "SERVICE", "IP RESTRICTION", "VALID UNTIL", "LAST ACCESS", "CREATOR", "STATE"],
        &rows,
    )?;
    if page.total > page.rows.len() {
        writeln!(out, "({} of {} tokens shown)", page.rows.len(), page.total)?;
    }
    Ok(())
}
