//! The console's state and what each key does to it. Rendering lives in `view`; the
//! terminal in `mod.rs`. Every change goes through `ops`, every read through the store.

use super::data::{Data, Loader};
use super::form::{Form, FormEvent};
use super::keys::{self, Action};
use super::screen::Screen;
use super::theme::Theme;
use crate::domain::access::{AccessRequest, Credentials, decide};
use crate::domain::iprestriction::{ClientAddr, IpRestriction};
use crate::domain::{AuthMethod, AuthPlugin, Protocol, TokenId, User, UserId, capabilities, function_catalogue};
use crate::functions::value::Value;
use crate::ops::{NewService, NewToken, NewUser, OpError, Ops, ServiceEdit, UserEdit};
use crate::store::{Queries, Store};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tui_textarea::TextArea;

/// How often the console asks the store whether anything changed.
const CHANGE_POLL: Duration = Duration::from_millis(1000);
/// Users are read a page at a time around the selection.
const USER_PAGE: usize = 200;
/// Moodle's default "valid until" for a new token: 30 days.
const TOKEN_DAYS: i64 = 30;

/// What a form is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// Site name and site URL (Advanced features).
    Site,
    NewUser,
    EditUser(String),
    NewRole,
    NewService,
    EditService(String),
    NewToken,
    Authorise(String),
    Check,
    TestCall,
}

/// A destructive action waiting for its confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    RevokeToken(TokenId),
    RevokeUserTokens(String),
    RevokeServiceTokens(String),
    DeleteUser(String),
    DeleteRole(String),
    DeleteService(String),
    RemoveFunction(String, String),
    Unauthorise(String, String),
    Quit,
}

/// A multi-select list with a search line: capabilities of a role, functions of a service,
/// roles of a user.
pub struct Picker {
    pub title: String,
    pub items: Vec<PickItem>,
    pub search: String,
    pub selected: usize,
    pub purpose: PickPurpose,
}

pub struct PickItem {
    pub key: String,
    pub detail: String,
    pub checked: bool,
    pub was_checked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickPurpose {
    RoleCapabilities(String),
    ServiceFunctions(String),
    UserRoles(String),
}

impl Picker {
    pub fn visible(&self) -> Vec<usize> {
        let needle = self.search.to_lowercase();
        (0..self.items.len())
            .filter(|i| {
                let it = &self.items[*i];
                needle.is_empty()
                    || it.key.to_lowercase().contains(&needle)
                    || it.detail.to_lowercase().contains(&needle)
            })
            .collect()
    }
}

pub enum Overlay {
    Help,
    Palette(TextArea<'static>),
    Form(Box<Form<Purpose>>),
    /// Yes/no; Cancel is focused first.
    Confirm {
        text: String,
        yes: &'static str,
        pending: Pending,
        yes_focused: bool,
    },
    /// Typed confirmation for bulk revocation.
    Typed {
        text: String,
        expect: String,
        input: TextArea<'static>,
        pending: Pending,
        error: Option<String>,
    },
    /// A new token, shown once.
    Secret {
        value: String,
        copied: bool,
    },
    Picker(Picker),
}

/// The Users screen reads a window of users around the selection.
#[derive(Default)]
pub struct UserPage {
    pub filter: String,
    pub offset: usize,
    pub rows: Vec<User>,
    pub total: usize,
    pub loaded: bool,
}

/// Roles and capabilities of the selected user.
pub struct UserDetail {
    pub user: UserId,
    pub roles: Vec<String>,
    pub capabilities: BTreeSet<String>,
}

/// The access check's inputs and verdicts.
#[derive(Default)]
pub struct Check {
    pub token: String,
    pub username: String,
    pub protocol: String,
    pub function: String,
    pub ip: String,
    pub verdict: Option<Verdict>,
    pub response: Option<String>,
    /// Test-call values by REST parameter name, kept between calls.
    pub params: HashMap<String, String>,
}

pub struct Verdict {
    pub pass: bool,
    pub sentence: String,
    pub fix: Option<Screen>,
}

pub struct App {
    pub store: Arc<Store>,
    ops: Ops,
    pub read_only: bool,
    pub theme: Theme,
    pub screen: Screen,
    history: Vec<Screen>,
    pub data: Option<Data>,
    loader: Loader,
    last_poll: Instant,
    /// When the data on screen was last known to match the database.
    pub confirmed: Instant,
    selection: HashMap<Screen, usize>,
    /// Which pane of the Logs screen has the focus: calls (0) or audit (1).
    pub pane: usize,
    pub filters: HashMap<Screen, String>,
    /// Keys go to the filter line.
    pub filtering: bool,
    pub overlay: Option<Overlay>,
    /// A one-line result of the last action; `true` when it is an error.
    pub message: Option<(String, bool)>,
    pub quit: bool,
    /// The service whose Functions or Authorised users are shown.
    pub service: Option<String>,
    pub users: UserPage,
    pub user_detail: Option<UserDetail>,
    pub check: Check,
    /// The API documentation's scroll: the function it is for, and the first line shown.
    pub docs_scroll: (usize, u16),
    /// Text to copy, picked up by the terminal layer (OSC 52).
    pub clipboard: Option<String>,
    /// Rows a page holds, set by the last render.
    pub page_rows: usize,
}

impl App {
    pub fn new(store: Arc<Store>, read_only: bool, theme: Theme) -> App {
        let mut loader = Loader::start(store.clone());
        loader.request();
        App {
            ops: Ops::as_os_user(store.clone()),
            store,
            read_only,
            theme,
            screen: Screen::Overview,
            history: Vec::new(),
            data: None,
            loader,
            last_poll: Instant::now(),
            confirmed: Instant::now(),
            selection: HashMap::new(),
            pane: 0,
            filters: HashMap::new(),
            filtering: false,
            overlay: None,
            message: None,
            quit: false,
            service: None,
            users: UserPage::default(),
            user_detail: None,
            check: Check { protocol: "rest".into(), ip: "127.0.0.1".into(), ..Check::default() },
            docs_scroll: (0, 0),
            clipboard: None,
            page_rows: 10,
        }
    }

    /// Picks up finished loads and asks for a new one when the database changed. Returns
    /// whether anything changed on screen.
    pub fn tick(&mut self) -> bool {
        let mut changed = false;
        if let Some(result) = self.loader.poll() {
            self.take_load(result);
            changed = true;
        }
        if self.last_poll.elapsed() >= CHANGE_POLL {
            self.last_poll = Instant::now();
            changed = true; // the data age moves
            let count = self.store.read().and_then(|v| v.change_count()).ok();
            let known = self.data.as_ref().map(|d| d.change_count);
            if count.is_some() && count == known {
                self.confirmed = Instant::now();
            } else if !self.loader.in_flight() {
                self.loader.request();
            }
            if self.screen == Screen::Logs {
                self.reload_logs();
            }
        }
        changed
    }

    /// Blocks until the load in flight, if any, is in (tests, benchmark).
    pub fn settle(&mut self) {
        while self.loader.in_flight() {
            if let Some(result) = self.loader.wait() {
                self.take_load(result);
            }
        }
    }

    fn take_load(&mut self, result: super::data::Loaded) {
        match result {
            Ok(mut data) => {
                if let Some(old) = &self.data {
                    data.tokens.set_order(old.tokens.sort, old.tokens.descending);
                }
                let filter = self.filters.get(&Screen::Tokens).cloned().unwrap_or_default();
                data.tokens.set_filter(&filter);
                self.data = Some(data);
                self.confirmed = Instant::now();
                self.users.loaded = false;
                self.user_detail = None;
            }
            Err(e) => self.message = Some((format!("cannot read the database: {e}"), true)),
        }
    }

    /// Re-reads everything in the background (Ctrl-R).
    pub fn refresh(&mut self) {
        self.loader.request();
        self.users.loaded = false;
        self.user_detail = None;
    }

    /// After a change of our own: the next key must act on what the change left, so wait for
    /// the re-read (milliseconds on a small database, ~0.5 s at 200 000 tokens).
    fn after_write(&mut self) {
        self.refresh();
        self.settle();
    }

    fn reload_logs(&mut self) {
        let Some(data) = self.data.as_mut() else { return };
        if let Ok((calls, audit)) = self.store.read().and_then(|v| super::data::load_logs(&v)) {
            data.calls = calls;
            data.audit = audit;
        }
    }

    pub fn selected(&self) -> usize {
        self.selection.get(&self.screen).copied().unwrap_or(0)
    }

    fn set_selected(&mut self, i: usize) {
        self.selection.insert(self.screen, i);
    }

    pub fn filter(&self) -> &str {
        self.filters.get(&self.screen).map_or("", String::as_str)
    }

    /// Rows on the current screen, for moving the selection.
    pub fn row_count(&mut self) -> usize {
        let Some(d) = &self.data else { return 0 };
        match self.screen {
            Screen::Overview => d.flows.iter().map(|f| f.steps.len()).sum(),
            Screen::Features => 2,
            Screen::Protocols => Protocol::ALL.len() + 1,
            Screen::Authentication => AuthPlugin::OPTIONAL.len(),
            Screen::Users => {
                self.ensure_users();
                self.users.total
            }
            Screen::Roles => self.visible_roles().len(),
            Screen::Services => self.visible_services().len(),
            Screen::ServiceFunctions => self.current_service().map_or(0, |s| s.functions.len()),
            Screen::AuthorisedUsers => self.current_service().map_or(0, |s| s.authorised.len()),
            Screen::Tokens => d.tokens.len(),
            Screen::Logs => {
                if self.pane == 0 {
                    self.visible_calls().len()
                } else {
                    self.visible_audit().len()
                }
            }
            Screen::Check => 0,
            Screen::Docs => self.visible_functions().len(),
        }
    }

    /// The rows of a list whose fields contain the screen's filter (case-insensitive), by index.
    fn matching<'a, F: IntoIterator<Item = &'a str>>(
        &self,
        screen: Screen,
        len: usize,
        fields: impl Fn(usize) -> F,
    ) -> Vec<usize> {
        let f = self.filters.get(&screen).map(|s| s.to_lowercase()).unwrap_or_default();
        (0..len).filter(|i| f.is_empty() || fields(*i).into_iter().any(|s| s.to_lowercase().contains(&f))).collect()
    }

    pub fn visible_roles(&self) -> Vec<usize> {
        let Some(d) = &self.data else { return Vec::new() };
        self.matching(Screen::Roles, d.roles.len(), |i| [d.roles[i].role.shortname.as_str(), &d.roles[i].role.name])
    }

    pub fn visible_services(&self) -> Vec<usize> {
        let Some(d) = &self.data else { return Vec::new() };
        let s = |i: usize| &d.services[i].service;
        self.matching(Screen::Services, d.services.len(), |i| [s(i).shortname.as_str(), &s(i).name])
    }

    pub fn visible_calls(&self) -> Vec<usize> {
        let Some(d) = &self.data else { return Vec::new() };
        self.matching(Screen::Logs, d.calls.len(), |i| {
            let c = &d.calls[i];
            [c.username.as_str(), &c.call.function, &c.call.outcome, &c.call.remote_ip, &c.call.protocol]
        })
    }

    pub fn visible_audit(&self) -> Vec<usize> {
        let Some(d) = &self.data else { return Vec::new() };
        self.matching(Screen::Logs, d.audit.len(), |i| {
            let a = &d.audit[i];
            [a.actor.as_str(), &a.operation, &a.target, &a.summary]
        })
    }

    pub fn visible_functions(&self) -> Vec<&'static function_catalogue::FunctionInfo> {
        let all = function_catalogue::FUNCTIONS;
        self.matching(Screen::Docs, all.len(), |i| [all[i].name, all[i].description])
            .into_iter()
            .map(|i| &all[i])
            .collect()
    }

    pub fn current_service(&self) -> Option<&super::data::ServiceRow> {
        let d = self.data.as_ref()?;
        d.service(self.service.as_deref()?)
    }

    /// The service selected on External services.
    fn selected_service(&self) -> Option<String> {
        let d = self.data.as_ref()?;
        let i = *self.visible_services().get(self.selection.get(&Screen::Services).copied().unwrap_or(0))?;
        Some(d.services[i].service.shortname.clone())
    }

    /// Reads the users page holding the selection, if it is not the one in memory.
    pub fn ensure_users(&mut self) {
        let filter = self.filters.get(&Screen::Users).cloned().unwrap_or_default();
        let sel = self.selection.get(&Screen::Users).copied().unwrap_or(0);
        let inside = sel >= self.users.offset && sel < self.users.offset + self.users.rows.len();
        if self.users.loaded && self.users.filter == filter && (inside || self.users.total == 0) {
            return;
        }
        let offset = sel.saturating_sub(USER_PAGE / 2);
        match self.store.read().and_then(|v| v.find_users(&filter, offset, USER_PAGE)) {
            Ok(page) => {
                self.users = UserPage { filter, offset, rows: page.rows, total: page.total, loaded: true };
            }
            Err(e) => self.message = Some((format!("cannot read users: {e}"), true)),
        }
    }

    pub fn selected_user(&mut self) -> Option<User> {
        self.ensure_users();
        let sel = self.selection.get(&Screen::Users).copied().unwrap_or(0);
        self.users.rows.get(sel.checked_sub(self.users.offset)?).cloned()
    }

    /// Roles and capabilities of the selected user, read once per selection.
    pub fn ensure_user_detail(&mut self) {
        let Some(u) = self.selected_user() else { return };
        if self.user_detail.as_ref().is_some_and(|d| d.user == u.id) {
            return;
        }
        let Ok(v) = self.store.read() else { return };
        let roles =
            v.user_roles(u.id).map(|r| r.assigned.into_iter().map(|r| r.shortname).collect()).unwrap_or_default();
        let capabilities = v.user_capabilities(u.id).unwrap_or_default();
        self.user_detail = Some(UserDetail { user: u.id, roles, capabilities });
    }

    fn go(&mut self, screen: Screen) {
        if screen != self.screen {
            self.history.push(self.screen);
            if self.history.len() > 50 {
                self.history.remove(0);
            }
            self.screen = screen;
            self.pane = 0;
            self.filtering = false;
            if matches!(screen, Screen::ServiceFunctions | Screen::AuthorisedUsers) && self.service.is_none() {
                self.service = self.selected_service();
            }
        }
    }

    fn say(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), false));
    }

    fn fail(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), true));
    }

    /// Handles one terminal event. Returns whether the screen needs drawing.
    pub fn handle(&mut self, event: &Event) -> bool {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => {
                self.key(key);
                true
            }
            Event::Resize(..) => true,
            Event::Paste(text) => {
                self.paste(text);
                true
            }
            _ => false,
        }
    }

    fn paste(&mut self, text: &str) {
        let line = text.lines().next().unwrap_or("");
        match &mut self.overlay {
            Some(Overlay::Form(form)) => {
                if let Some(f) = form.fields.get_mut(form.focus).filter(|f| f.is_text()) {
                    f.input.insert_str(line);
                    form.dirty = true;
                }
            }
            Some(Overlay::Typed { input, .. }) => {
                input.insert_str(line);
            }
            _ if self.filtering => {
                let mut f = self.filter().to_string();
                f.push_str(line);
                self.set_filter(f);
            }
            _ => {}
        }
    }

    pub fn key(&mut self, key: &KeyEvent) {
        let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if self.overlay.is_some() {
            if ctrl_c {
                let dirty = matches!(&self.overlay, Some(Overlay::Form(f)) if f.dirty);
                if dirty {
                    self.confirm("Quit and lose what you typed in this form?", "Quit", Pending::Quit);
                } else {
                    self.quit = true;
                }
                return;
            }
            self.overlay_key(key);
            return;
        }
        self.message = None;
        if self.filtering {
            self.filter_key(key);
            return;
        }
        if let Some(action) = keys::lookup(self.screen, key, self.read_only) {
            self.act(action);
        }
    }

    fn filter_key(&mut self, key: &KeyEvent) {
        let mut f = self.filter().to_string();
        match key.code {
            KeyCode::Esc => {
                f.clear();
                self.filtering = false;
            }
            KeyCode::Enter | KeyCode::Down | KeyCode::Up => self.filtering = false,
            KeyCode::Backspace => {
                f.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => f.push(c),
            _ => return,
        }
        self.set_filter(f);
    }

    fn set_filter(&mut self, f: String) {
        if self.screen == Screen::Tokens
            && let Some(d) = self.data.as_mut()
        {
            d.tokens.set_filter(&f);
        }
        self.filters.insert(self.screen, f);
        self.set_selected(0);
    }

    pub fn act(&mut self, action: Action) {
        let rows = self.row_count();
        let sel = self.selected();
        let page = self.page_rows.max(1);
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.overlay = Some(Overlay::Help),
            Action::Palette => self.overlay = Some(Overlay::Palette(TextArea::default())),
            Action::Filter => self.filtering = true,
            Action::Refresh => {
                self.refresh();
                self.say("reloading…");
            }
            Action::Back => {
                if !self.filter().is_empty() {
                    self.set_filter(String::new());
                } else if let Some(prev) = self.history.pop() {
                    self.screen = prev;
                    self.pane = 0;
                }
            }
            Action::Up => self.set_selected(sel.saturating_sub(1)),
            Action::Down => self.set_selected((sel + 1).min(rows.saturating_sub(1))),
            Action::Top => self.set_selected(0),
            Action::Bottom => self.set_selected(rows.saturating_sub(1)),
            // The function list fits the screen; the documentation beside it may not.
            Action::PageUp if self.screen == Screen::Docs => {
                self.docs_scroll.1 = self.docs_scroll.1.saturating_sub(u16::try_from(page).unwrap_or(u16::MAX));
            }
            Action::PageDown if self.screen == Screen::Docs => {
                self.docs_scroll.1 = self.docs_scroll.1.saturating_add(u16::try_from(page).unwrap_or(u16::MAX));
            }
            Action::PageUp => self.set_selected(sel.saturating_sub(page)),
            Action::PageDown => self.set_selected((sel + page).min(rows.saturating_sub(1))),
            Action::NextPane | Action::PrevPane => {
                if self.screen == Screen::Logs {
                    self.pane = 1 - self.pane.min(1);
                    self.set_selected(0);
                }
            }
            Action::Go(s) => {
                if matches!(s, Screen::ServiceFunctions | Screen::AuthorisedUsers) {
                    self.service = None;
                }
                self.go(s);
            }
            Action::Open => self.open(),
            Action::Toggle => self.toggle(),
            Action::New => self.new_item(),
            Action::Edit => self.edit_item(),
            Action::Delete => self.delete_item(),
            Action::Suspend => self.suspend(),
            Action::AssignRoles => self.pick_user_roles(),
            Action::Functions | Action::AuthorisedUsers => {
                self.service = self.selected_service();
                if self.service.is_some() {
                    self.go(if action == Action::Functions {
                        Screen::ServiceFunctions
                    } else {
                        Screen::AuthorisedUsers
                    });
                }
            }
            Action::RevokeUserTokens | Action::RevokeServiceTokens => self.revoke_many(action),
            Action::Sort | Action::Reverse => {
                if let Some(d) = self.data.as_mut() {
                    if action == Action::Sort {
                        d.tokens.next_sort();
                    } else {
                        d.tokens.reverse();
                    }
                }
            }
            Action::Send => self.open_test_call(),
        }
    }

    /// Enter on the Overview (go to the step's screen), or `x` on the check (go to the screen
    /// that fixes the failing check).
    fn open(&mut self) {
        match self.screen {
            Screen::Overview => {
                let Some(d) = &self.data else { return };
                let sel = self.selected();
                if let Some(step) = d.flows.iter().flat_map(|f| &f.steps).nth(sel) {
                    let target = Screen::of_place(step.place);
                    self.go(target);
                }
            }
            Screen::Check => {
                if let Some(fix) = self.check.verdict.as_ref().and_then(|v| v.fix) {
                    self.go(fix);
                }
            }
            _ => {}
        }
    }

    fn toggle(&mut self) {
        let Some(d) = &self.data else { return };
        let s = d.settings.clone();
        let sel = self.selected();
        let result = match self.screen {
            Screen::Features => match sel {
                0 => self.ops.set_web_services(!s.enable_web_services).map(|_| "Enable web services"),
                _ => self.ops.set_maintenance(!s.maintenance).map(|_| "Maintenance mode"),
            },
            Screen::Protocols => match Protocol::ALL.get(sel) {
                Some(p) => self.ops.set_protocol(*p, !s.protocols.contains(p)).map(|_| p.label()),
                None => self.ops.set_documentation(!s.ws_documentation).map(|_| "Web services documentation"),
            },
            Screen::Authentication => match AuthPlugin::OPTIONAL.get(sel) {
                Some(p) => self.ops.set_auth_plugin(*p, !s.auth_enabled(*p)).map(|_| p.label()),
                None => return,
            },
            Screen::Services => {
                let Some(short) = self.selected_service() else { return };
                let on = d.service(&short).is_some_and(|s| s.service.enabled);
                self.ops.set_service_enabled(&short, !on).map(|_| "Service enabled")
            }
            _ => return,
        };
        match result {
            Ok(what) => {
                self.say(format!("{what}: changed"));
                self.after_write();
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn user_form(&self, title: &str, purpose: Purpose, u: Option<&User>) -> Form<Purpose> {
        let auths: Vec<String> = AuthMethod::ALL.iter().map(|a| a.name().to_string()).collect();
        let auth = u.map_or("webservice", |u| u.auth.name());
        let mut f = Form::new(title, purpose);
        if u.is_none() {
            f = f.text("username", "Username", "").note("username", "lower case letters, digits, . _ - @");
        }
        f.choice("auth", "Authentication", auths, auth)
            .note("auth", "webservice: calls only · manual: can also log in (login/token.php)")
            .secret("password", if u.is_some() { "New password" } else { "Password" })
            .note(
                "password",
                if u.is_some() {
                    "leave empty to keep the current one"
                } else {
                    "required for manual; optional for webservice"
                },
            )
            .text("firstname", "First name", u.map_or("", |u| &u.firstname))
            .text("lastname", "Last name", u.map_or("", |u| &u.lastname))
            .text("email", "E-mail", u.map_or("", |u| &u.email))
    }

    fn new_item(&mut self) {
        let Some(d) = &self.data else { return };
        let form = match self.screen {
            Screen::Users => self.user_form("Add a user", Purpose::NewUser, None),
            Screen::Roles => Form::new("Add a role", Purpose::NewRole)
                .text("shortname", "Short name", "")
                .text("name", "Name", "")
                .note("name", "capabilities are picked next"),
            Screen::Services => Form::new("Add a custom service", Purpose::NewService)
                .text("name", "Name", "")
                .text("shortname", "Short name", "")
                .note("shortname", "letters, digits, _ and -, e.g. ext_system")
                .check("enabled", "Enabled", true)
                .check("restricted", "Authorised users only", true)
                .choice("requiredcapability", "Required capability", required_caps(), "")
                .check("download", "Can download files", false)
                .check("upload", "Can upload files", false),
            Screen::Tokens => {
                let services: Vec<String> = d.services.iter().map(|s| s.service.shortname.clone()).collect();
                let default = d.services.iter().find(|s| !s.service.builtin).or(d.services.first());
                let until = day(crate::store::now() + TOKEN_DAYS * 86_400);
                Form::new("Create a token", Purpose::NewToken)
                    .text("username", "User", "")
                    .note("username", "type a username")
                    .choice("service", "Service", services, default.map_or("", |s| s.service.shortname.as_str()))
                    .text("name", "Name", "")
                    .note("name", "empty: Webservice- and 5 random characters")
                    .text("iprestriction", "IP restriction", "")
                    .note("iprestriction", "empty: any address; e.g. 192.168.1.0/24, 10.0.0.1-20")
                    .text("validuntil", "Valid until", &until)
                    .note("validuntil", "YYYY-MM-DD (local time); empty: no expiry")
            }
            Screen::ServiceFunctions => {
                let Some(s) = self.current_service() else { return };
                let short = s.service.shortname.clone();
                let items = function_catalogue::FUNCTIONS
                    .iter()
                    .filter(|f| !s.functions.iter().any(|x| x == f.name))
                    .map(|f| PickItem {
                        key: f.name.to_string(),
                        detail: format!(
                            "{} — needs {}",
                            f.description,
                            if f.capabilities.is_empty() { "no capability".into() } else { f.capabilities.join(", ") }
                        ),
                        checked: false,
                        was_checked: false,
                    })
                    .collect();
                self.overlay = Some(Overlay::Picker(Picker {
                    title: format!("Add functions to {short}"),
                    items,
                    search: String::new(),
                    selected: 0,
                    purpose: PickPurpose::ServiceFunctions(short),
                }));
                return;
            }
            Screen::AuthorisedUsers => {
                let Some(s) = self.current_service() else { return };
                Form::new(
                    format!("Authorise a user on {}", s.service.name),
                    Purpose::Authorise(s.service.shortname.clone()),
                )
                .text("username", "User", "")
                .text("iprestriction", "IP restriction", "")
                .note("iprestriction", "empty: any address")
                .text("validuntil", "Valid until", "")
                .note("validuntil", "YYYY-MM-DD (local time); empty: no expiry")
            }
            _ => return,
        };
        self.overlay = Some(Overlay::Form(Box::new(form)));
    }

    fn edit_item(&mut self) {
        match self.screen {
            Screen::Features => {
                let Some(d) = &self.data else { return };
                let s = &d.settings;
                let form = Form::new("Site", Purpose::Site)
                    .text("sitename", "Site name", &s.site_name)
                    .text("siteurl", "Site URL", &s.site_url)
                    .note("siteurl", "where clients reach the endpoint, http:// or https:// (Moodle's wwwroot)");
                self.overlay = Some(Overlay::Form(Box::new(form)));
            }
            Screen::Users => {
                let Some(u) = self.selected_user() else { return };
                let form =
                    self.user_form(&format!("Edit {}", u.username), Purpose::EditUser(u.username.clone()), Some(&u));
                self.overlay = Some(Overlay::Form(Box::new(form)));
            }
            Screen::Roles => {
                let Some(d) = &self.data else { return };
                let Some(&i) = self.visible_roles().get(self.selected()) else { return };
                let r = &d.roles[i];
                self.overlay = Some(Overlay::Picker(capability_picker(&r.role.shortname, &r.capabilities)));
            }
            Screen::Services => {
                let Some(short) = self.selected_service() else { return };
                let Some(s) = self.data.as_ref().and_then(|d| d.service(&short)) else { return };
                let s = &s.service;
                let mut form = Form::new(format!("Edit {}", s.name), Purpose::EditService(short.clone()));
                if !s.builtin {
                    form = form.text("name", "Name", &s.name);
                }
                form = form.check("enabled", "Enabled", s.enabled);
                if !s.builtin {
                    form = form.check("restricted", "Authorised users only", s.restricted_users).choice(
                        "requiredcapability",
                        "Required capability",
                        required_caps(),
                        s.required_capability.as_deref().unwrap_or(""),
                    );
                }
                form = form.check("download", "Can download files", s.download_files).check(
                    "upload",
                    "Can upload files",
                    s.upload_files,
                );
                self.overlay = Some(Overlay::Form(Box::new(form)));
            }
            Screen::AuthorisedUsers => {
                let Some(s) = self.current_service() else { return };
                let Some(a) = s.authorised.get(self.selected()) else { return };
                let form = Form::new(
                    format!("Authorisation of {}", a.username),
                    Purpose::Authorise(s.service.shortname.clone()),
                )
                .text("username", "User", &a.username)
                .text("iprestriction", "IP restriction", &a.entry.ip_restriction)
                .text("validuntil", "Valid until", &a.entry.valid_until.map(day).unwrap_or_default())
                .note("validuntil", "YYYY-MM-DD (local time); empty: no expiry");
                self.overlay = Some(Overlay::Form(Box::new(form)));
            }
            Screen::Check => self.open_check_form(),
            _ => {}
        }
    }

    fn confirm(&mut self, text: impl Into<String>, yes: &'static str, pending: Pending) {
        self.overlay = Some(Overlay::Confirm { text: text.into(), yes, pending, yes_focused: false });
    }

    fn delete_item(&mut self) {
        match self.screen {
            Screen::Users => {
                let Some(u) = self.selected_user() else { return };
                self.confirm(
                    format!("Delete user \"{}\"? Their tokens are revoked; logs keep their name.", u.username),
                    "Delete",
                    Pending::DeleteUser(u.username),
                );
            }
            Screen::Roles => {
                let Some(d) = &self.data else { return };
                let Some(&i) = self.visible_roles().get(self.selected()) else { return };
                let r = d.roles[i].role.shortname.clone();
                self.confirm(
                    format!("Delete role \"{r}\"? Its holders lose its capabilities."),
                    "Delete",
                    Pending::DeleteRole(r),
                );
            }
            Screen::Services => {
                let Some(short) = self.selected_service() else { return };
                self.confirm(
                    format!("Delete service \"{short}\"? Its tokens are deleted with it."),
                    "Delete",
                    Pending::DeleteService(short),
                );
            }
            Screen::ServiceFunctions => {
                let Some(s) = self.current_service() else { return };
                let Some(f) = s.functions.get(self.selected()) else { return };
                let p = Pending::RemoveFunction(s.service.shortname.clone(), f.clone());
                self.confirm(format!("Remove {f}() from \"{}\"?", s.service.name), "Remove", p);
            }
            Screen::AuthorisedUsers => {
                let Some(s) = self.current_service() else { return };
                let Some(a) = s.authorised.get(self.selected()) else { return };
                let p = Pending::Unauthorise(s.service.shortname.clone(), a.username.clone());
                self.confirm(format!("Stop authorising \"{}\" on \"{}\"?", a.username, s.service.name), "Remove", p);
            }
            Screen::Tokens => {
                let Some(d) = &self.data else { return };
                let Some(t) = d.tokens.view(self.selected()) else { return };
                let text = format!(
                    "Revoke token \"{}\" of user \"{}\" for service \"{}\"? Calls with it fail at once.",
                    t.entry.name, t.username, t.service_name
                );
                let p = Pending::RevokeToken(t.entry.id);
                self.confirm(text, "Revoke", p);
            }
            _ => {}
        }
    }

    fn revoke_many(&mut self, action: Action) {
        let Some(d) = &self.data else { return };
        let Some(t) = d.tokens.view(self.selected()) else { return };
        let (what, name, pending) = if action == Action::RevokeUserTokens {
            ("user", t.username.to_string(), Pending::RevokeUserTokens(t.username.to_string()))
        } else {
            ("service", t.service_shortname.to_string(), Pending::RevokeServiceTokens(t.service_shortname.to_string()))
        };
        self.overlay = Some(Overlay::Typed {
            text: format!("Revoke every token of {what} \"{name}\"? Type {name} and press Enter."),
            expect: name,
            input: TextArea::default(),
            pending,
            error: None,
        });
    }

    fn suspend(&mut self) {
        let Some(u) = self.selected_user() else { return };
        match self.ops.set_suspended(&u.username, !u.suspended) {
            Ok(_) => {
                self.say(format!("{} {}", u.username, if u.suspended { "unsuspended" } else { "suspended" }));
                self.after_write();
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn pick_user_roles(&mut self) {
        let Some(u) = self.selected_user() else { return };
        let Some(d) = &self.data else { return };
        let held: Vec<String> = self
            .store
            .read()
            .and_then(|v| v.user_roles(u.id))
            .map(|r| r.assigned.into_iter().map(|r| r.shortname).collect())
            .unwrap_or_default();
        let items = d
            .roles
            .iter()
            .filter(|r| !r.role.implicit)
            .map(|r| {
                let on = held.contains(&r.role.shortname);
                PickItem {
                    key: r.role.shortname.clone(),
                    detail: format!("{}: {}", r.role.name, r.capabilities.join(", ")),
                    checked: on,
                    was_checked: on,
                }
            })
            .collect();
        self.overlay = Some(Overlay::Picker(Picker {
            title: format!("Roles of {}", u.username),
            items,
            search: String::new(),
            selected: 0,
            purpose: PickPurpose::UserRoles(u.username),
        }));
    }

    fn run_pending(&mut self, p: Pending) {
        let result: Result<String, OpError> = match &p {
            Pending::Quit => {
                self.quit = true;
                return;
            }
            Pending::RevokeToken(id) => self.ops.revoke_token(*id).map(|t| {
                if let Some(d) = self.data.as_mut() {
                    d.tokens.remove(&[t.id]);
                }
                format!("token \"{}\" revoked", t.name)
            }),
            Pending::RevokeUserTokens(u) => {
                self.ops.revoke_user_tokens(u).map(|n| format!("{n} tokens of {u} revoked"))
            }
            Pending::RevokeServiceTokens(s) => {
                self.ops.revoke_service_tokens(s).map(|n| format!("{n} tokens of {s} revoked"))
            }
            Pending::DeleteUser(u) => self.ops.delete_user(u).map(|_| format!("user {u} deleted")),
            Pending::DeleteRole(r) => self.ops.delete_role(r).map(|_| format!("role {r} deleted")),
            Pending::DeleteService(s) => self.ops.delete_service(s).map(|_| format!("service {s} deleted")),
            Pending::RemoveFunction(s, f) => {
                self.ops.set_service_functions(s, std::slice::from_ref(f), false).map(|_| format!("{f} removed"))
            }
            Pending::Unauthorise(s, u) => self.ops.unauthorise_user(s, u).map(|_| format!("{u} no longer authorised")),
        };
        match result {
            Ok(m) => {
                self.say(m);
                self.after_write();
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn overlay_key(&mut self, key: &KeyEvent) {
        let Some(overlay) = self.overlay.take() else { return };
        match overlay {
            Overlay::Help => {
                if !matches!(key.code, KeyCode::Esc | KeyCode::Char('?' | 'q') | KeyCode::Enter | KeyCode::F(1)) {
                    self.overlay = Some(Overlay::Help);
                }
            }
            Overlay::Palette(mut input) => match key.code {
                KeyCode::Esc => {}
                KeyCode::Enter => {
                    let text = input.lines().concat();
                    match Screen::from_alias(&text) {
                        Some(s) => self.act(Action::Go(s)),
                        None => self.fail(format!(
                            "no screen called \"{}\" (try :tokens, :users, :roles, :services)",
                            text.trim()
                        )),
                    }
                }
                KeyCode::Tab => self.overlay = Some(Overlay::Palette(input)),
                _ => {
                    input.input(*key);
                    self.overlay = Some(Overlay::Palette(input));
                }
            },
            Overlay::Confirm { text, yes, pending, yes_focused } => match key.code {
                KeyCode::Esc | KeyCode::Char('n') => self.say("cancelled"),
                KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::BackTab | KeyCode::Char('h' | 'l') => {
                    self.overlay = Some(Overlay::Confirm { text, yes, pending, yes_focused: !yes_focused });
                }
                KeyCode::Enter if yes_focused => self.run_pending(pending),
                KeyCode::Enter => self.say("cancelled"),
                _ => self.overlay = Some(Overlay::Confirm { text, yes, pending, yes_focused }),
            },
            Overlay::Typed { text, expect, mut input, pending, .. } => match key.code {
                KeyCode::Esc => self.say("cancelled"),
                KeyCode::Enter => {
                    if input.lines().concat().trim() == expect {
                        self.run_pending(pending);
                    } else {
                        let error = Some(format!("type {expect} exactly, or Esc to cancel"));
                        self.overlay = Some(Overlay::Typed { text, expect, input, pending, error });
                    }
                }
                _ => {
                    if key.code != KeyCode::Tab {
                        input.input(*key);
                    }
                    self.overlay = Some(Overlay::Typed { text, expect, input, pending, error: None });
                }
            },
            Overlay::Secret { value, copied } => match key.code {
                KeyCode::Char('y') => {
                    self.clipboard = Some(value.clone());
                    self.overlay = Some(Overlay::Secret { value, copied: true });
                }
                KeyCode::Esc | KeyCode::Enter => {
                    self.say(if copied {
                        "token copied; it is not shown again"
                    } else {
                        "the token is not shown again"
                    });
                }
                _ => self.overlay = Some(Overlay::Secret { value, copied }),
            },
            Overlay::Picker(mut p) => {
                let visible = p.visible();
                match key.code {
                    KeyCode::Esc => return self.say("cancelled"),
                    KeyCode::Enter => return self.apply_picker(p),
                    KeyCode::Up => p.selected = p.selected.saturating_sub(1),
                    KeyCode::Down => p.selected = (p.selected + 1).min(visible.len().saturating_sub(1)),
                    KeyCode::Char(' ') => {
                        if let Some(&i) = visible.get(p.selected) {
                            p.items[i].checked = !p.items[i].checked;
                        }
                    }
                    KeyCode::Backspace => {
                        p.search.pop();
                        p.selected = 0;
                    }
                    KeyCode::Char(c) => {
                        p.search.push(c);
                        p.selected = 0;
                    }
                    _ => {}
                }
                self.overlay = Some(Overlay::Picker(p));
            }
            Overlay::Form(mut form) => match form.handle(key) {
                FormEvent::Cancel => self.say("cancelled"),
                FormEvent::Submit => self.submit(form),
                FormEvent::Changed => {
                    self.validate_live(&mut form);
                    self.overlay = Some(Overlay::Form(form));
                }
                FormEvent::None => self.overlay = Some(Overlay::Form(form)),
            },
        }
    }

    /// Checks as you type: IP restrictions, dates, and usernames (with suggestions).
    fn validate_live(&self, form: &mut Form<Purpose>) {
        let key = form.focused_key();
        let value = form.value(key);
        match key {
            "iprestriction" => {
                if let Some(f) = form.field_mut(key) {
                    f.error = IpRestriction::parse(&value).err().map(|e| e.to_string());
                }
            }
            "siteurl" => {
                if let Some(f) = form.field_mut(key) {
                    let mut scratch = crate::domain::Settings::default();
                    f.error = crate::domain::config::apply(&mut scratch, key, &value).err().map(|e| e.message);
                }
            }
            "validuntil" => {
                if let Some(f) = form.field_mut(key) {
                    f.error = if value.is_empty() { None } else { parse_day(&value).err() };
                }
            }
            "username" if !matches!(form.purpose, Purpose::NewUser) => {
                let found = self.store.read().and_then(|v| v.find_users(&value, 0, 5));
                if let (Some(f), Ok(page)) = (form.field_mut(key), found) {
                    let names: Vec<String> = page.rows.iter().map(|u| u.username.clone()).collect();
                    f.note = if value.is_empty() {
                        "type a username".into()
                    } else if page.rows.iter().any(|u| u.username == value) {
                        "✓ user found".into()
                    } else if names.is_empty() {
                        "no such user".into()
                    } else {
                        format!("{} match: {}", page.total, names.join(", "))
                    };
                }
            }
            _ => {}
        }
    }

    fn submit(&mut self, mut form: Box<Form<Purpose>>) {
        form.clear_errors();
        let purpose = form.purpose.clone();
        let result: Result<String, OpError> = match &purpose {
            Purpose::Site => self
                .ops
                .set_settings(&[("sitename", &form.value("sitename")), ("siteurl", &form.value("siteurl"))])
                .map(|s| format!("site URL {} saved", s.site_url)),
            Purpose::NewUser => {
                let auth = AuthMethod::parse(&form.chosen("auth")).unwrap_or(AuthMethod::Webservice);
                let password = Some(form.raw("password")).filter(|p| !p.is_empty());
                self.ops
                    .create_user(NewUser {
                        username: form.value("username"),
                        auth,
                        password,
                        firstname: form.value("firstname"),
                        lastname: form.value("lastname"),
                        email: form.value("email"),
                    })
                    .map(|u| format!("user {} created", u.username))
            }
            Purpose::EditUser(name) => {
                let edit = UserEdit {
                    auth: AuthMethod::parse(&form.chosen("auth")),
                    firstname: Some(form.value("firstname")),
                    lastname: Some(form.value("lastname")),
                    email: Some(form.value("email")),
                };
                let password = form.raw("password");
                self.ops.edit_user(name, edit).and_then(|u| {
                    if !password.is_empty() {
                        self.ops.set_password(name, &password)?;
                    }
                    Ok(format!("user {} saved", u.username))
                })
            }
            Purpose::NewRole => self.ops.create_role(&form.value("shortname"), &form.value("name"), &[]).map(|r| {
                self.overlay = Some(Overlay::Picker(capability_picker(&r.shortname, &[])));
                format!("role {} created: pick its capabilities", r.shortname)
            }),
            Purpose::NewService => self
                .ops
                .create_service(NewService {
                    name: form.value("name"),
                    shortname: form.value("shortname"),
                    enabled: form.checked("enabled"),
                    restricted_users: form.checked("restricted"),
                    required_capability: Some(form.chosen("requiredcapability")).filter(|c| !c.is_empty()),
                    download_files: form.checked("download"),
                    upload_files: form.checked("upload"),
                })
                .map(|s| {
                    self.service = Some(s.shortname.clone());
                    format!("service \"{}\" created: press f to add functions, a to authorise users", s.name)
                }),
            Purpose::EditService(short) => {
                let has = |k: &str| form.field(k).is_some();
                let edit = ServiceEdit {
                    name: has("name").then(|| form.value("name")),
                    enabled: Some(form.checked("enabled")),
                    restricted_users: has("restricted").then(|| form.checked("restricted")),
                    required_capability: has("requiredcapability")
                        .then(|| Some(form.chosen("requiredcapability")).filter(|c| !c.is_empty())),
                    download_files: Some(form.checked("download")),
                    upload_files: Some(form.checked("upload")),
                };
                self.ops.edit_service(short, edit).map(|s| format!("service \"{}\" saved", s.name))
            }
            Purpose::NewToken => match parse_optional_day(&form.value("validuntil")) {
                Err(e) => Err(OpError::Invalid(crate::domain::validate::FieldError::new("validuntil", e))),
                Ok(valid_until) => self
                    .ops
                    .create_token(NewToken {
                        username: form.value("username"),
                        service: form.chosen("service"),
                        name: form.value("name"),
                        ip_restriction: form.value("iprestriction"),
                        valid_until,
                    })
                    .map(|created| {
                        self.overlay = Some(Overlay::Secret { value: created.value, copied: false });
                        format!("token \"{}\" created", created.token.name)
                    }),
            },
            Purpose::Authorise(short) => match parse_optional_day(&form.value("validuntil")) {
                Err(e) => Err(OpError::Invalid(crate::domain::validate::FieldError::new("validuntil", e))),
                Ok(until) => self
                    .ops
                    .authorise_user(short, &form.value("username"), &form.value("iprestriction"), until)
                    .map(|_| format!("{} authorised on {short}", form.value("username"))),
            },
            Purpose::Check => {
                self.check.token = form.value("token");
                self.check.username = form.value("username");
                self.check.protocol = form.chosen("protocol");
                self.check.function = form.chosen("function");
                self.check.ip = form.value("ip");
                self.run_check();
                return;
            }
            Purpose::TestCall => {
                for f in &form.fields {
                    self.check.params.insert(f.key.to_string(), f.text());
                }
                self.send_test_call(&form);
                return;
            }
        };
        match result {
            Ok(m) => {
                self.say(m);
                self.after_write();
            }
            Err(e) => {
                match e {
                    OpError::Invalid(fe) => form.set_error(fe.field, fe.message),
                    OpError::NotFound(m) if m.starts_with("user") => form.set_error("username", m),
                    other => form.set_error("", other.to_string()),
                }
                self.overlay = Some(Overlay::Form(form));
            }
        }
    }

    fn apply_picker(&mut self, p: Picker) {
        let on: Vec<String> = p.items.iter().filter(|i| i.checked && !i.was_checked).map(|i| i.key.clone()).collect();
        let off: Vec<String> = p.items.iter().filter(|i| !i.checked && i.was_checked).map(|i| i.key.clone()).collect();
        let result = match &p.purpose {
            PickPurpose::RoleCapabilities(r) => self
                .ops
                .set_role_capabilities(r, &on, true)
                .and_then(|_| self.ops.set_role_capabilities(r, &off, false))
                .map(|_| format!("role {r}: {} added, {} removed", on.len(), off.len())),
            PickPurpose::ServiceFunctions(s) => {
                self.ops.set_service_functions(s, &on, true).map(|_| format!("{} functions added to {s}", on.len()))
            }
            PickPurpose::UserRoles(u) => {
                let pairs = |v: &[String]| v.iter().map(|r| (r.clone(), u.clone())).collect::<Vec<_>>();
                self.ops
                    .set_role_assignments(&pairs(&on), true)
                    .and_then(|_| self.ops.set_role_assignments(&pairs(&off), false))
                    .map(|_| format!("{u}: {} roles assigned, {} unassigned", on.len(), off.len()))
            }
        };
        match result {
            Ok(m) => {
                self.say(m);
                self.after_write();
            }
            Err(e) => {
                self.fail(e.to_string());
                self.overlay = Some(Overlay::Picker(p));
            }
        }
    }

    fn open_check_form(&mut self) {
        let functions: Vec<String> = function_catalogue::FUNCTIONS.iter().map(|f| f.name.to_string()).collect();
        let protocols: Vec<String> = Protocol::ALL.iter().map(|p| p.name().to_string()).collect();
        let c = &self.check;
        let form = Form::new("Access check", Purpose::Check)
            .text("token", "Token (name or id)", &c.token)
            .note("token", "a token from the Tokens screen; or leave empty and give a user")
            .text("username", "Or user", &c.username)
            .note("username", "checked as a username/password call with the right password")
            .choice("protocol", "Protocol", protocols, &c.protocol)
            .choice("function", "Function", functions, &c.function)
            .text("ip", "Client IP", &c.ip);
        self.overlay = Some(Overlay::Form(Box::new(form)));
    }

    /// Runs `access::decide` as the endpoint would for these inputs.
    pub fn run_check(&mut self) {
        let c = &self.check;
        let protocol = Protocol::parse(&c.protocol).unwrap_or(Protocol::Rest);
        let Some(remote) = ClientAddr::parse(&c.ip) else {
            self.check.verdict =
                Some(Verdict { pass: false, sentence: format!("\"{}\" is not an IP address.", c.ip), fix: None });
            return;
        };
        let verdict = self.store.read().map_err(|e| e.to_string()).and_then(|v| {
            let hash = if c.token.is_empty() {
                None
            } else {
                let by_name = || self.data.as_ref().and_then(|d| d.tokens.find_by_name(&c.token));
                let id = c.token.parse::<u64>().ok().or_else(by_name);
                match id {
                    Some(id) => v.token_hash_by_id(id).map_err(|e| e.to_string())?,
                    None => {
                        return Ok(Verdict {
                            pass: false,
                            sentence: format!("No token named \"{}\".", c.token),
                            fix: Some(Screen::Tokens),
                        });
                    }
                }
            };
            let credentials = if c.token.is_empty() {
                Credentials::Password { username: &c.username, password: "x" }
            } else {
                Credentials::Token(hash)
            };
            let req =
                AccessRequest { protocol, credentials, function: Some(&c.function), remote, now: crate::store::now() };
            let decision = decide(&v, &req, &|_, _| true).map_err(|e| e.to_string())?;
            Ok(match decision {
                Ok(g) => Verdict {
                    pass: true,
                    sentence: format!(
                        "The call passes: user \"{}\" may call {}() through service \"{}\" over {}.",
                        g.user.username,
                        g.function,
                        g.service.name,
                        protocol.label()
                    ),
                    fix: None,
                },
                Err(denial) => {
                    Verdict { pass: false, sentence: denial.explain(), fix: Some(Screen::of_place(denial.place())) }
                }
            })
        });
        self.check.verdict = Some(verdict.unwrap_or_else(|e| Verdict { pass: false, sentence: e, fix: None }));
        self.check.response = None;
    }

    fn open_test_call(&mut self) {
        if self.check.function.is_empty() {
            return self.open_check_form();
        }
        let writes = function_catalogue::find(&self.check.function)
            .is_some_and(|f| !matches!(f.kind, function_catalogue::FunctionKind::Read));
        if self.read_only && writes {
            return self
                .fail(format!("read-only: the test client sends no call that writes ({})", self.check.function));
        }
        let mut form = Form::new(format!("Test call: {}", self.check.function), Purpose::TestCall)
            .secret("wstoken", "Token value")
            .note("wstoken", "the token itself, as shown when it was created");
        for name in test_params(&self.check.function) {
            let value = self.check.params.get(*name).cloned().unwrap_or_default();
            form = form.text(name, name, &value);
        }
        if let Some(t) = self.check.params.get("wstoken") {
            form.set_value("wstoken", t);
        }
        self.overlay = Some(Overlay::Form(Box::new(form)));
    }

    /// Sends the call to the endpoint at the site URL, in the access check's protocol.
    fn send_test_call(&mut self, form: &Form<Purpose>) {
        let Some(d) = &self.data else { return };
        let site = d.settings.site_url.trim_end_matches('/');
        let function = self.check.function.clone();
        let token = form.raw("wstoken").trim().to_string();
        let fields: Vec<(String, String)> = form
            .fields
            .iter()
            .filter(|f| f.key != "wstoken" && !f.text().trim().is_empty())
            .map(|f| (f.key.to_string(), f.text().trim().to_string()))
            .collect();
        let protocol = Protocol::parse(&self.check.protocol).unwrap_or(Protocol::Rest);
        let query = form_urlencoded::Serializer::new(String::new()).append_pair("wstoken", &token).finish();
        let (url, content_type, body) = match protocol {
            Protocol::Rest => {
                let mut pairs: Vec<(String, String)> = vec![
                    ("wstoken".into(), token),
                    ("wsfunction".into(), function),
                    ("moodlewsrestformat".into(), "json".into()),
                ];
                pairs.extend(fields);
                let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
                (format!("{site}/webservice/rest/server.php"), "application/x-www-form-urlencoded", body.into_bytes())
            }
            Protocol::Xmlrpc => {
                // Positional: the declared parameters in order, up to the first one left empty.
                let values: Vec<Value> =
                    named_args(&function, fields).into_iter().map_while(|(_, v)| v).collect::<Vec<_>>();
                let body = crate::wire::xmlrpc::method_call(&function, &values);
                (format!("{site}/webservice/xmlrpc/server.php?{query}"), "text/xml", body.into_bytes())
            }
            Protocol::Soap => {
                let parts: Vec<(String, Value)> =
                    named_args(&function, fields).into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
                let body = crate::wire::soap::call_envelope(&function, &parts);
                (format!("{site}/webservice/soap/server.php?{query}"), "text/xml; charset=utf-8", body.into_bytes())
            }
            Protocol::Amf => {
                let values: Vec<Value> = named_args(&function, fields).into_iter().map_while(|(_, v)| v).collect();
                let body = crate::wire::amf::call_packet(&function, &values);
                (format!("{site}/webservice/amf/server.php?{query}"), "application/x-amf", body)
            }
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        let response = agent
            .post(&url)
            .header("Content-Type", content_type)
            .send(&body[..])
            .map_err(|e| format!("cannot reach the endpoint at {url}: {e} (is `wsconsole serve` running?)"))
            .and_then(|mut r| {
                let status = r.status();
                r.body_mut()
                    .read_to_vec()
                    .map(|bytes| {
                        let body = readable_answer(protocol, bytes);
                        format!("HTTP {} from {}\n{body}", status.as_u16(), url.split('?').next().unwrap_or(&url))
                    })
                    .map_err(|e| e.to_string())
            });
        self.check.response = Some(response.unwrap_or_else(|e| e));
    }
}

/// An answer as the test client shows it: JSON indented, AMF decoded (its reply target, then
/// the value as JSON), anything else as it came.
fn readable_answer(protocol: Protocol, bytes: Vec<u8>) -> String {
    if protocol == Protocol::Amf && !bytes.is_empty() {
        return match crate::wire::amf::parse_packet(&bytes) {
            Ok(p) => p
                .messages
                .into_iter()
                .map(|m| {
                    let value = match m.body {
                        crate::wire::amf::Body::Call(mut v) if v.len() == 1 => v.remove(0),
                        crate::wire::amf::Body::Call(v) => Value::List(v),
                        crate::wire::amf::Body::Flex(f) => Value::List(f.params),
                    };
                    let json = crate::wire::encode::json(&value);
                    let pretty = serde_json::from_str::<serde_json::Value>(&json)
                        .ok()
                        .and_then(|v| serde_json::to_string_pretty(&v).ok())
                        .unwrap_or(json);
                    format!("{}\n{pretty}", m.target)
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => format!("(not an AMF packet: {e})"),
        };
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(text)
}

/// The test form's fields (REST names, `users[0][username]`) as the function's parameters,
/// in declared order; `None` for a parameter left empty.
fn named_args(function: &str, fields: Vec<(String, String)>) -> Vec<(String, Option<Value>)> {
    let mut given = crate::wire::params::from_pairs(fields).unwrap_or_default();
    let keys =
        crate::functions::definition(function).map(crate::functions::Definition::param_names).unwrap_or_default();
    keys.into_iter()
        .map(|k| {
            let value = given.iter().position(|(name, _)| name == k).map(|i| given.remove(i).1.into_lists());
            (k.to_string(), value)
        })
        .collect()
}

fn required_caps() -> Vec<String> {
    std::iter::once(String::new()).chain(capabilities::CATALOGUE.iter().map(|c| c.name.to_string())).collect()
}

fn capability_picker(role: &str, held: &[String]) -> Picker {
    Picker {
        title: format!("Capabilities of role {role} (Space toggles, Enter saves)"),
        items: capabilities::CATALOGUE
            .iter()
            .map(|c| {
                let on = held.iter().any(|h| h == c.name);
                PickItem { key: c.name.to_string(), detail: c.description.to_string(), checked: on, was_checked: on }
            })
            .collect(),
        search: String::new(),
        selected: 0,
        purpose: PickPurpose::RoleCapabilities(role.to_string()),
    }
}

/// `YYYY-MM-DD` (midnight, local time, as the CLI and Moodle's date selector read it) or an
/// RFC 3339 time.
fn parse_day(text: &str) -> Result<i64, String> {
    crate::domain::time::parse_date(text, &jiff::tz::TimeZone::system())
}

/// A day as the date fields show it (local time), read back by [`parse_day`].
pub fn day(t: i64) -> String {
    crate::domain::time::format_date_in(t, &jiff::tz::TimeZone::system())
}

fn parse_optional_day(text: &str) -> Result<Option<i64>, String> {
    if text.trim().is_empty() { Ok(None) } else { parse_day(text).map(Some) }
}

/// The REST parameter names of a function's test form: each scalar leaf of its parameter
/// schema, with the first list item's brackets (`users[0][username]`).
pub fn test_params(function: &str) -> &'static [&'static str] {
    use crate::functions::schema::Schema;
    use std::sync::OnceLock;
    static CACHE: OnceLock<HashMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    fn leaves(prefix: String, s: &Schema, out: &mut Vec<&'static str>) {
        match s {
            Schema::Value { .. } => out.push(Box::leak(prefix.into_boxed_str())),
            Schema::Single { keys, .. } => {
                for (k, sub) in keys {
                    let name = if prefix.is_empty() { (*k).to_string() } else { format!("{prefix}[{k}]") };
                    leaves(name, sub, out);
                }
            }
            Schema::Multiple { item, .. } => leaves(format!("{prefix}[0]"), item, out),
        }
    }
    let cache = CACHE.get_or_init(|| {
        crate::functions::all()
            .iter()
            .map(|d| {
                let mut out = Vec::new();
                leaves(String::new(), &d.params, &mut out);
                out.truncate(12);
                (d.info.name, out)
            })
            .collect()
    });
    cache.get(function).map_or(&[], Vec::as_slice)
}
