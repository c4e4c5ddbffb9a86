//! The command line: argument parsing and printing only, one file per noun; every change goes
//! through `ops`, every read through `store` queries. `serve` starts the endpoint through
//! [`crate::serve`].

mod audit;
mod docs;
mod role;
mod service;
mod settings;
mod status;
mod token;
mod user;

use audit::{audit, catalogue};
pub use role::RoleCmd;
use role::role;
pub use service::ServiceCmd;
use service::service;
pub use settings::SettingsCmd;
use settings::settings;
use status::status;
use token::token;
pub use token::{SortArg, StateArg, TokenCmd, TokenListArgs};
use user::user;
pub use user::{AuthArg, UserCmd};

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
#[command(
    name = "wsconsole",
    version = version_text(),
    about = "Set up Moodle-style web services from a terminal, and serve them."
)]
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
        /// Also serve Prometheus metrics at /metrics on this address (off unless given; kept
        /// apart from the web services: bind it where only the monitoring system reaches).
        #[arg(long, value_name = "ADDR")]
        metrics_listen: Option<std::net::SocketAddr>,
    },
    /// The capability and function catalogues.
    Catalogue {
        #[arg(long)]
        json: bool,
    },
    /// Shell completions (bash, zsh, fish, elvish, powershell), on stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The man page, on stdout; with --dir, one page per command and subcommand there.
    Man {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `--version`: the release, and the database schema it opens (and writes; older ones are
/// migrated on open, newer ones refused).
fn version_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| format!("{} (database schema {})", env!("CARGO_PKG_VERSION"), store::SCHEMA_VERSION))
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
    // Generated from the CLI's definition: no database is opened.
    match &command {
        Command::Completions { shell } => return docs::completions(*shell, out),
        Command::Man { dir } => return docs::man(dir.as_deref(), out),
        _ => {}
    }
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
        Command::Completions { .. } | Command::Man { .. } => unreachable!("answered before the database is opened"),
        Command::Serve {
            listen,
            failure_limit,
            request_timeout,
            max_connections,
            header_timeout,
            body_budget,
            metrics_listen,
        } => {
            let config = crate::endpoint::Config {
                failure_limit,
                request_timeout: std::time::Duration::from_secs(request_timeout),
                max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
                header_timeout: std::time::Duration::from_secs(header_timeout),
                body_budget: body_budget << 20,
            };
            crate::serve::serve(store, listen, metrics_listen, config).map_err(CliError)
        }
    }
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

/// `never` or a date; `None` when the option was not given.
fn valid_until(arg: Option<&str>) -> Result<Option<UnixTime>, CliError> {
    match arg.map(str::trim) {
        None | Some("never") | Some("") => Ok(None),
        Some(d) => Ok(Some(parse_date(d, &jiff::tz::TimeZone::system()).map_err(CliError)?)),
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
