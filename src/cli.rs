//! The command line: argument parsing and printing only; every change goes through `ops`,
//! every read through `store` queries.

use crate::domain::time::{format_time, parse_date};
use crate::domain::walkthrough::{self, Status};
use crate::domain::{AuthMethod, UnixTime, capabilities, config, function_catalogue};
use crate::ops::{NewService, NewToken, NewUser, Ops};
use crate::store::{self, Page, Queries, StateFilter, Store, TokenQuery, TokenSort, UserFilter};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(name = "wsconsole", version, about = "Set up Moodle-style web services from a terminal, and serve them.")]
pub struct Cli {
    /// The database file, shared by the console, the CLI and the endpoint.
    #[arg(long, global = true, env = "WSCONSOLE_DB", default_value = store::DEFAULT_PATH)]
    pub db: PathBuf,
    /// Accept a database file (and key file) that its group may read and write, or that another
    /// user owns, in a directory its group may write or another user owns (a file others may
    /// use, or in a directory others may write, stays refused).
    #[arg(long, global = true)]
    pub allow_shared_file: bool,
    /// Open the console without any action that writes (viewing only).
    #[arg(long)]
    pub read_only: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The setup walkthrough (Moodle's web services Overview), each step with its status.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Site settings, by Moodle's config names.
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Users: web-services accounts and the people behind tokens.
    #[command(subcommand)]
    User(UserCmd),
    /// Roles: capabilities assigned to users in the system context.
    #[command(subcommand)]
    Role(RoleCmd),
    /// External services: sets of functions, open to all users or to authorised ones.
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Tokens: create (shown once), list and revoke.
    #[command(subcommand)]
    Token(TokenCmd),
    /// The admin audit log, newest first.
    Audit {
        /// Keep entries whose actor, operation, target or summary contains this text.
        #[arg(long, default_value = "")]
        filter: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Runs the web-service endpoint on this database (REST, SOAP, XML-RPC, AMF, login/token.php).
    Serve {
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Failed authentications per client address and minute before it gets HTTP 429
        /// (0 turns the throttle off).
        #[arg(long, default_value_t = crate::endpoint::DEFAULT_FAILURE_LIMIT)]
        failure_limit: u32,
        /// Seconds within which a request must be received and answered, or it gets HTTP 408.
        #[arg(long, default_value_t = crate::endpoint::REQUEST_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
        request_timeout: u64,
        /// Open connections at most; beyond them accepting waits (lowered to fit the process's
        /// open-file limit, whose soft value is raised to the hard one).
        #[arg(long, default_value_t = crate::endpoint::MAX_CONNECTIONS as u64, value_parser = clap::value_parser!(u64).range(1..))]
        max_connections: u64,
        /// Seconds within which a request's head must arrive, on a new connection or the next
        /// one on keep-alive, or the connection is closed (slow and idle clients).
        #[arg(long, default_value_t = crate::endpoint::HEADER_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
        header_timeout: u64,
        /// MiB that request bodies and their decoding may hold at once; a request beyond it
        /// gets HTTP 503 before its body is read.
        #[arg(long, default_value_t = crate::endpoint::BODY_BUDGET >> 20, value_parser = clap::value_parser!(u64).range(8..))]
        body_budget: u64,
    },
    /// The capability and function catalogues.
    Catalogue {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SettingsCmd {
    /// Every setting with its value.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Sets one setting: enablewebservices 1|0, webserviceprotocols rest,soap,xmlrpc,amf,
    /// auth webservice, enablewsdocumentation, sitename, siteurl, tokenduration, debug, …
    Set { name: String, value: String },
}

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

#[derive(Subcommand, Debug)]
pub enum RoleCmd {
    /// Creates a role with capabilities from the catalogue.
    Add {
        shortname: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long = "cap", value_name = "CAPABILITY")]
        caps: Vec<String>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Allows capabilities on a role.
    Allow {
        shortname: String,
        #[arg(required = true)]
        caps: Vec<String>,
    },
    /// Removes capabilities from a role.
    Unset {
        shortname: String,
        #[arg(required = true)]
        caps: Vec<String>,
    },
    /// Assigns a role to a user in the system context.
    Assign {
        shortname: String,
        username: String,
    },
    Unassign {
        shortname: String,
        username: String,
    },
    Delete {
        shortname: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ServiceCmd {
    /// Creates a custom service.
    Add {
        shortname: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        enabled: bool,
        /// "Authorised users only".
        #[arg(long)]
        restricted: bool,
        #[arg(long, value_name = "CAP")]
        required_capability: Option<String>,
        #[arg(long)]
        download_files: bool,
        #[arg(long)]
        upload_files: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// A service's settings, functions and authorised users.
    Show {
        shortname: String,
    },
    Enable {
        shortname: String,
    },
    Disable {
        shortname: String,
    },
    /// Deletes a custom service and its tokens.
    Delete {
        shortname: String,
    },
    /// Adds functions from the catalogue.
    AddFunction {
        shortname: String,
        #[arg(required = true)]
        functions: Vec<String>,
    },
    RemoveFunction {
        shortname: String,
        #[arg(required = true)]
        functions: Vec<String>,
    },
    /// Authorises a user (or changes an authorisation) on an "authorised users only" service.
    Authorise {
        shortname: String,
        username: String,
        /// IP restriction, e.g. "10.0.0.0/8, 192.168.1.5".
        #[arg(long, default_value = "")]
        ip: String,
        /// YYYY-MM-DD or RFC 3339, or "never".
        #[arg(long, value_name = "DATE")]
        valid_until: Option<String>,
    },
    Unauthorise {
        shortname: String,
        username: String,
    },
}

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

/// A failed command: one line for stderr.
#[derive(Debug)]
pub struct CliError(pub String);

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

type Out<'a> = &'a mut dyn Write;

/// Runs a parsed command against the database, printing to `out`.
pub fn run(cli: Cli, out: Out<'_>) -> Result<(), CliError> {
    let policy = store::file_check::FilePolicy { allow_shared: cli.allow_shared_file };
    if cli.read_only && cli.command.is_some() {
        return Err(CliError("--read-only applies to the console (wsconsole with no subcommand)".into()));
    }
    let Some(command) = cli.command else {
        use std::io::IsTerminal;
        if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
            return Err(CliError(
                "the console needs a terminal; for scripts use the subcommands (wsconsole --help)".into(),
            ));
        }
        return crate::console::run(&cli.db, policy, cli.read_only).map_err(CliError);
    };
    let store = Arc::new(Store::open_with(&cli.db, store::CACHE_BYTES, policy)?);
    let ops = Ops::as_os_user(store.clone());
    match command {
        Command::Status { json } => status(&store, json, out),
        Command::Settings(c) => settings(&ops, c, out),
        Command::User(c) => user(&ops, c, out),
        Command::Role(c) => role(&ops, c, out),
        Command::Service(c) => service(&ops, c, out),
        Command::Token(c) => token(&ops, c, out),
        Command::Audit { filter, limit, json } => audit(&store, &filter, limit, json, out),
        Command::Catalogue { json } => catalogue(json, out),
        Command::Serve { listen, failure_limit, request_timeout, max_connections, header_timeout, body_budget } => {
            let config = crate::endpoint::Config {
                failure_limit,
                request_timeout: std::time::Duration::from_secs(request_timeout),
                max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
                header_timeout: std::time::Duration::from_secs(header_timeout),
                body_budget: body_budget << 20,
            };
            serve(store, listen, config)
        }
    }
}

fn serve(store: Arc<Store>, listen: std::net::SocketAddr, config: crate::endpoint::Config) -> Result<(), CliError> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // An unsafe key file stops the start before anything listens.
    store.site_key()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| CliError(format!("cannot listen on {listen}: {e}")))?;
        tracing::info!(address = %listener.local_addr()?, db = %store.path().display(), "wsconsole endpoint listening");
        crate::endpoint::serve(store, listener, config, crate::endpoint::shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn time_or_null(t: Option<UnixTime>) -> Value {
    t.map_or(Value::Null, Value::from)
}

fn print_json(out: Out<'_>, v: &Value) -> Result<(), CliError> {
    writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

/// Prints rows as left-aligned columns under a header.
fn print_table(out: Out<'_>, header: &[&str], rows: &[Vec<String>]) -> Result<(), CliError> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn status(store: &Store, json: bool, out: Out<'_>) -> Result<(), CliError> {
    let facts = store.read()?.walkthrough_facts(store::now())?;
    let flows = walkthrough::steps(&facts);
    if json {
        return print_json(out, &serde_json::to_value(&flows)?);
    }
    for flow in &flows {
        writeln!(out, "{}", flow.title)?;
        for s in &flow.steps {
            let mark = match s.status {
                Status::Done => "done",
                Status::Todo => "todo",
                Status::Info => "    ",
            };
            writeln!(out, "  {:>2}. [{mark}] {:<32} {}   ({})", s.number, s.title, s.detail, s.place.title())?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn settings(ops: &Ops, c: SettingsCmd, out: Out<'_>) -> Result<(), CliError> {
    match c {
        SettingsCmd::Show { json } => {
            let s = Queries::settings(&ops.store().read()?)?;
            let values = config::show(&s);
            if json {
                let map: serde_json::Map<String, Value> =
                    values.into_iter().map(|(k, v)| (k.to_string(), Value::from(v))).collect();
                return print_json(out, &Value::Object(map));
            }
            for (name, value) in values {
                writeln!(out, "{name} = {value}{}", setting_note(name))?;
            }
        }
        SettingsCmd::Set { name, value } => {
            let s = ops.set_setting(&name, &value)?;
            let now = config::value(&s, &name).unwrap_or_default();
            writeln!(out, "{name} = {now}{}", setting_note(&name))?;
        }
    }
    Ok(())
}

/// What a setting's value leaves unsaid: `auth` lists only the optional plugins.
fn setting_note(name: &str) -> &'static str {
    if name == "auth" { "  (manual and nologin: always enabled)" } else { "" }
}

/// Reads a password: from a no-echo prompt (twice) on a terminal, else the first line of stdin.
fn read_password(prompt: &str, optional: bool) -> Result<Option<String>, CliError> {
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

fn user_json(u: &crate::domain::User) -> Value {
    json!({
        "id": u.id, "username": u.username, "auth": u.auth.name(), "firstname": u.firstname,
        "lastname": u.lastname, "fullname": u.fullname(), "email": u.email, "suspended": u.suspended,
        "confirmed": u.confirmed, "timecreated": u.created, "timemodified": u.modified,
    })
}

fn user(ops: &Ops, c: UserCmd, out: Out<'_>) -> Result<(), CliError> {
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

fn role(ops: &Ops, c: RoleCmd, out: Out<'_>) -> Result<(), CliError> {
    match c {
        RoleCmd::Add { shortname, name, caps } => {
            let r = ops.create_role(&shortname, &name, &caps)?;
            writeln!(out, "created role {} ({})", r.shortname, r.name)?;
        }
        RoleCmd::List { json } => {
            let v = ops.store().read()?;
            let mut rows = Vec::new();
            let mut objects = Vec::new();
            for r in v.all_roles()? {
                let caps = v.role_capabilities(r.id)?;
                let holders = v.role_holders(r.id)?.len();
                objects.push(json!({
                    "id": r.id, "shortname": r.shortname, "name": r.name, "description": r.description,
                    "capabilities": caps, "users": if r.implicit { Value::from("all") } else { Value::from(holders) },
                }));
                rows.push(vec![
                    r.shortname.clone(),
                    r.name.clone(),
                    if r.implicit { "all".into() } else { holders.to_string() },
                    caps.join(", "),
                ]);
            }
            if json {
                return print_json(out, &Value::Array(objects));
            }
            print_table(out, &["SHORTNAME", "NAME", "USERS", "CAPABILITIES"], &rows)?;
        }
        RoleCmd::Allow { shortname, caps } => {
            let now = ops.set_role_capabilities(&shortname, &caps, true)?;
            writeln!(out, "{shortname}: {}", now.join(", "))?;
        }
        RoleCmd::Unset { shortname, caps } => {
            let now = ops.set_role_capabilities(&shortname, &caps, false)?;
            writeln!(out, "{shortname}: {}", now.join(", "))?;
        }
        RoleCmd::Assign { shortname, username } => {
            ops.set_role_assignment(&shortname, &username, true)?;
            writeln!(out, "assigned {shortname} to {username}")?;
        }
        RoleCmd::Unassign { shortname, username } => {
            ops.set_role_assignment(&shortname, &username, false)?;
            writeln!(out, "unassigned {shortname} from {username}")?;
        }
        RoleCmd::Delete { shortname } => {
            ops.delete_role(&shortname)?;
            writeln!(out, "deleted role {shortname}")?;
        }
    }
    Ok(())
}

/// `never` or a date; `None` when the option was not given.
fn valid_until(arg: Option<&str>) -> Result<Option<UnixTime>, CliError> {
    match arg.map(str::trim) {
        None | Some("never") | Some("") => Ok(None),
        Some(d) => Ok(Some(parse_date(d, &jiff::tz::TimeZone::system()).map_err(CliError)?)),
    }
}

fn service(ops: &Ops, c: ServiceCmd, out: Out<'_>) -> Result<(), CliError> {
    match c {
        ServiceCmd::Add { shortname, name, enabled, restricted, required_capability, download_files, upload_files } => {
            let s = ops.create_service(NewService {
                name,
                shortname,
                enabled,
                restricted_users: restricted,
                required_capability,
                download_files,
                upload_files,
            })?;
            writeln!(out, "created service {} ({})", s.shortname, s.name)?;
        }
        ServiceCmd::List { json } => {
            let v = ops.store().read()?;
            let mut rows = Vec::new();
            let mut objects = Vec::new();
            for s in v.all_services()? {
                let functions = v.service_function_names(s.id)?;
                let users = v.authorised_users(s.id)?.len();
                objects.push(json!({
                    "id": s.id, "name": s.name, "shortname": s.shortname, "enabled": s.enabled,
                    "restrictedusers": s.restricted_users, "requiredcapability": s.required_capability,
                    "downloadfiles": s.download_files, "uploadfiles": s.upload_files, "builtin": s.builtin,
                    "functions": functions, "timecreated": s.created, "timemodified": s.modified,
                }));
                rows.push(vec![
                    s.shortname.clone(),
                    s.name.clone(),
                    if s.builtin { "built-in".into() } else { "custom".into() },
                    if s.enabled { "enabled".into() } else { "disabled".into() },
                    functions.len().to_string(),
                    if s.restricted_users { format!("{users} authorised") } else { "all users".into() },
                ]);
            }
            if json {
                return print_json(out, &Value::Array(objects));
            }
            print_table(out, &["SHORTNAME", "NAME", "KIND", "STATE", "FUNCTIONS", "USERS"], &rows)?;
        }
        ServiceCmd::Show { shortname } => {
            let v = ops.store().read()?;
            let s =
                v.service_by_shortname(&shortname)?.ok_or_else(|| CliError(format!("no service \"{shortname}\"")))?;
            writeln!(out, "name:                  {}", s.name)?;
            writeln!(out, "shortname:             {}", s.shortname)?;
            writeln!(out, "kind:                  {}", if s.builtin { "built-in" } else { "custom" })?;
            writeln!(out, "enabled:               {}", yes(s.enabled))?;
            writeln!(out, "authorised users only: {}", yes(s.restricted_users))?;
            writeln!(
                out,
                "required capability:   {}",
                s.required_capability.as_deref().unwrap_or("No required capability")
            )?;
            writeln!(out, "can download files:    {}", yes(s.download_files))?;
            writeln!(out, "can upload files:      {}", yes(s.upload_files))?;
            writeln!(out, "functions:")?;
            let functions = v.service_function_names(s.id)?;
            if functions.is_empty() {
                writeln!(out, "  This service has no functions.")?;
            }
            for f in functions {
                writeln!(out, "  {f}")?;
            }
            if s.restricted_users {
                writeln!(out, "authorised users:")?;
                for a in v.authorised_users(s.id)? {
                    let name = Queries::user(&v, a.user)?.map(|u| u.username).unwrap_or_default();
                    let until = a.valid_until.map(format_time).unwrap_or_else(|| "no expiry".into());
                    let ip = if a.ip_restriction.is_empty() { "any IP".into() } else { a.ip_restriction.clone() };
                    writeln!(out, "  {name}  ({ip}; valid until {until})")?;
                }
            } else {
                writeln!(out, "users:                 all users")?;
            }
            writeln!(out, "tokens:                {}", v.token_ids_of_service(s.id)?.len())?;
        }
        ServiceCmd::Enable { shortname } => {
            ops.set_service_enabled(&shortname, true)?;
            writeln!(out, "enabled {shortname}")?;
        }
        ServiceCmd::Disable { shortname } => {
            ops.set_service_enabled(&shortname, false)?;
            writeln!(out, "disabled {shortname}")?;
        }
        ServiceCmd::Delete { shortname } => {
            let n = ops.delete_service(&shortname)?;
            writeln!(out, "deleted service {shortname} ({n} tokens deleted)")?;
        }
        ServiceCmd::AddFunction { shortname, functions } => {
            let now = ops.set_service_functions(&shortname, &functions, true)?;
            writeln!(out, "{shortname}: {}", now.join(", "))?;
        }
        ServiceCmd::RemoveFunction { shortname, functions } => {
            let now = ops.set_service_functions(&shortname, &functions, false)?;
            writeln!(out, "{shortname}: {}", if now.is_empty() { "no functions".into() } else { now.join(", ") })?;
        }
        ServiceCmd::Authorise { shortname, username, ip, valid_until: until } => {
            let a = ops.authorise_user(&shortname, &username, &ip, valid_until(until.as_deref())?)?;
            let until = a.valid_until.map(format_time).unwrap_or_else(|| "no expiry".into());
            writeln!(out, "authorised {username} on {shortname} (valid until {until})")?;
        }
        ServiceCmd::Unauthorise { shortname, username } => {
            ops.unauthorise_user(&shortname, &username)?;
            writeln!(out, "unauthorised {username} on {shortname}")?;
        }
    }
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// "1 token", "2 tokens".
fn count_tokens(n: usize) -> String {
    if n == 1 { "1 token".into() } else { format!("{n} tokens") }
}

fn token(ops: &Ops, c: TokenCmd, out: Out<'_>) -> Result<(), CliError> {
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

fn token_list(ops: &Ops, a: TokenListArgs, out: Out<'_>) -> Result<(), CliError> {
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

fn audit(store: &Store, filter: &str, limit: usize, json: bool, out: Out<'_>) -> Result<(), CliError> {
    let entries = store.read()?.audit_entries(filter, limit)?;
    if json {
        let rows = entries
            .iter()
            .map(|e| json!({"time": e.time, "actor": e.actor, "operation": e.operation, "target": e.target, "summary": e.summary}))
            .collect();
        return print_json(out, &Value::Array(rows));
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| vec![format_time(e.time), e.actor.clone(), e.operation.clone(), e.target.clone(), e.summary.clone()])
        .collect();
    print_table(out, &["TIME", "ACTOR", "OPERATION", "TARGET", "SUMMARY"], &rows)
}

fn catalogue(json: bool, out: Out<'_>) -> Result<(), CliError> {
    if json {
        let caps: Vec<Value> =
            capabilities::CATALOGUE.iter().map(|c| json!({"name": c.name, "description": c.description})).collect();
        let functions: Vec<Value> = function_catalogue::FUNCTIONS
            .iter()
            .map(|f| json!({"name": f.name, "description": f.description, "type": f.kind.name(), "capabilities": f.capabilities}))
            .collect();
        return print_json(out, &json!({"capabilities": caps, "functions": functions}));
    }
    writeln!(out, "Capabilities:")?;
    for c in capabilities::CATALOGUE {
        writeln!(out, "  {:<38} {}", c.name, c.description)?;
    }
    writeln!(out, "\nFunctions:")?;
    for f in function_catalogue::FUNCTIONS {
        writeln!(out, "  {:<32} {:<5} {}", f.name, f.kind.name(), f.description)?;
        if !f.capabilities.is_empty() {
            writeln!(out, "  {:<32}       requires {}", "", f.capabilities.join(", "))?;
        }
    }
    Ok(())
}
