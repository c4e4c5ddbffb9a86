//! Drawing: one function per screen, lists built only for their visible window (CONSOLE.md:
//! a table of 100 000 rows costs ~130 ms a frame, its visible window well under 1 ms).

use super::app::{App, Overlay, Picker};
use super::data::{Data, TokenIndex};
use super::form::Form;
use super::keys;
use super::screen::Screen;
use super::theme::Theme;
use crate::domain::time::format_time;
use crate::domain::walkthrough::Status;
use crate::domain::{AuthPlugin, Protocol, TokenState, capabilities, function_catalogue};
use crate::store::TokenSort;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// The first and last+1 rows of a list of `len` rows to show in `height` rows with `selected`
/// visible.
pub fn window(selected: usize, len: usize, height: usize) -> (usize, usize) {
    let height = height.max(1);
    let start = if selected < height { 0 } else { selected + 1 - height };
    (start, (start + height).min(len))
}

pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    let t = app.theme;
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "The terminal is {}×{}.\nwsconsole needs at least {MIN_WIDTH}×{MIN_HEIGHT}: enlarge the window.\n\nq quits.",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [header, body, status, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1), Constraint::Length(1)])
            .areas(area);
    draw_header(f, app, header);
    app.page_rows = usize::from(body.height.saturating_sub(4)).max(1);
    match &app.data {
        None => f.render_widget(Paragraph::new("Reading the database…").style(t.dim()), body),
        Some(_) => match app.screen {
            Screen::Overview => overview(f, app, body),
            Screen::Features => features(f, app, body),
            Screen::Protocols => protocols(f, app, body),
            Screen::Authentication => authentication(f, app, body),
            Screen::Users => users(f, app, body),
            Screen::Roles => roles(f, app, body),
            Screen::Services => services(f, app, body),
            Screen::ServiceFunctions => service_functions(f, app, body),
            Screen::AuthorisedUsers => authorised(f, app, body),
            Screen::Tokens => tokens(f, app, body),
            Screen::Logs => logs(f, app, body),
            Screen::Check => check(f, app, body),
            Screen::Docs => docs(f, app, body),
        },
    }
    draw_status(f, app, status);
    draw_footer(f, app, footer);
    if let Some(o) = &app.overlay {
        draw_overlay(f, app, o, body);
    }
}

fn draw_header(f: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    // Wide terminals get every tab's name; at 80 columns only the current one is spelled out.
    let wide = area.width >= 120;
    let mut spans = vec![Span::styled(" wsconsole ", t.title())];
    for s in Screen::ALL.into_iter().filter(|s| s.number().is_some()) {
        let active = s.tab() == app.screen.tab();
        let n = s.number().unwrap_or(' ');
        spans.push(Span::styled(format!("{n}"), t.key()));
        if active {
            spans.push(Span::styled(app.screen.tab().to_string(), t.active_tab()));
            spans.push(Span::raw(" "));
        } else if wide {
            spans.push(Span::raw(format!("{} ", s.tab())));
        } else {
            spans.push(Span::raw(" "));
        }
    }
    let age = match &app.data {
        Some(_) => format!("data {}s old", app.confirmed.elapsed().as_secs()),
        None => "loading".into(),
    };
    let right = if app.read_only { format!("READ-ONLY · {age}") } else { age };
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let pad = usize::from(area.width).saturating_sub(used + right.chars().count() + 1);
    spans.push(Span::raw(" ".repeat(pad)));
    spans.push(Span::styled(right, t.dim()));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(f: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let line = if app.filtering {
        Line::from(vec![Span::styled("/", t.key()), Span::raw(app.filter().to_string()), Span::styled("▏", t.key())])
    } else if let Some((m, err)) = &app.message {
        Line::from(Span::styled(m.clone(), if *err { t.bad() } else { t.good() }))
    } else if !app.filter().is_empty() {
        Line::from(vec![
            Span::styled("filter: ", t.dim()),
            Span::raw(app.filter().to_string()),
            Span::styled("  (Esc clears)", t.dim()),
        ])
    } else {
        // Which walkthrough steps this screen serves, so that a first-time administrator who
        // came from the Overview knows where they are.
        let serves: Vec<String> = app.data.as_ref().map_or_else(Vec::new, |d| {
            d.flows
                .iter()
                .flat_map(|flow| flow.steps.iter().map(move |s| (flow, s)))
                .filter(|(_, s)| Screen::of_place(s.place) == app.screen)
                .map(|(flow, s)| format!("step {} {} ({})", s.number, s.title, flow_short(flow.title)))
                .collect()
        });
        if serves.is_empty() {
            Line::from(Span::styled(app.screen.title(), t.dim()))
        } else {
            Line::from(vec![
                Span::styled(format!("{} · walkthrough: ", app.screen.title()), t.dim()),
                Span::raw(serves.join("; ")),
            ])
        }
    };
    f.render_widget(Paragraph::new(line), area);
}

/// "external system" or "users with token".
fn flow_short(title: &str) -> &'static str {
    if title.starts_with("Allow") { "external system" } else { "users with token" }
}

fn draw_footer(f: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let short = |help: &'static str| help.split([':', '(', ';', '/']).next().unwrap_or(help).trim();
    let hints = keys::hints(app.screen, app.read_only);
    // "? help" and "q quit" always fit: the screen's own hints take what is left.
    let (always, own): (Vec<_>, Vec<_>) = hints.into_iter().partition(|(k, _)| k == "?" || k == "q");
    let width_of = |(k, h): &(String, &'static str)| k.chars().count() + short(h).chars().count() + 3;
    let reserved: usize = always.iter().map(width_of).sum();
    let mut spans = Vec::new();
    let mut width = reserved;
    for hint in own.iter().chain(always.iter()) {
        let w = width_of(hint);
        let is_always = always.iter().any(|a| a.0 == hint.0);
        if !is_always {
            if width + w > usize::from(area.width) {
                continue;
            }
            width += w;
        }
        spans.push(Span::styled(hint.0.clone(), t.key()));
        spans.push(Span::raw(format!(" {}  ", short(hint.1))));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn block<'a>(title: impl Into<String>, t: &Theme) -> Block<'a> {
    Block::default().borders(Borders::ALL).title(Span::styled(format!(" {} ", title.into()), t.title()))
}

fn yes_no(on: bool) -> &'static str {
    if on { "[x]" } else { "[ ]" }
}

fn data(app: &App) -> &Data {
    app.data.as_ref().expect("screens draw only with data")
}

/// A windowed table: `rows(i)` builds only the visible rows.
fn table<'a>(
    f: &mut Frame,
    app: &App,
    area: Rect,
    title: String,
    (header, widths): (Vec<&'a str>, Vec<Constraint>),
    len: usize,
    mut row: impl FnMut(usize) -> Row<'a>,
) {
    let t = app.theme;
    let height = usize::from(area.height.saturating_sub(3));
    let sel = app.selected().min(len.saturating_sub(1));
    let (start, end) = window(sel, len, height);
    let rows: Vec<Row> = (start..end)
        .map(|i| {
            let r = row(i);
            if i == sel { r.style(t.selected()) } else { r }
        })
        .collect();
    let title = if len > height { format!("{title} ({}/{len})", sel + 1) } else { title };
    let widget = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .block(block(title, &t));
    f.render_widget(widget, area);
    if len == 0 {
        let inner = Rect { x: area.x + 2, y: area.y + 2, width: area.width.saturating_sub(4), height: 1 };
        f.render_widget(Paragraph::new("Nothing here yet.").style(t.dim()), inner);
    }
}

fn overview(f: &mut Frame, app: &mut App, area: Rect) {
    let t = app.theme;
    let d = data(app);
    let sel = app.selected();
    let mut lines: Vec<Line> = Vec::new();
    let mut index = 0;
    let mut selected_line = 0;
    let mut detail = String::new();
    if let Some(warning) = endpoint_warning(d) {
        lines.push(Line::from(Span::styled(warning, t.bad())));
        lines.push(Line::raw(""));
    }
    for flow in &d.flows {
        lines.push(Line::from(Span::styled(flow.title, t.title())));
        for step in &flow.steps {
            let (mark, style) = match step.status {
                Status::Done => ("✓", t.good()),
                Status::Todo => ("✗", t.bad()),
                Status::Info => ("·", t.dim()),
            };
            let mut line = Line::from(vec![
                Span::styled(format!(" {mark} "), style),
                Span::raw(format!("{:>2}. {:<34}", step.number, step.title)),
                Span::styled(step.detail.clone(), style),
            ]);
            if index == sel {
                line = line.style(t.selected());
                selected_line = lines.len();
                detail = format!("{}\n→ {} (Enter)", step.description, step.place.title());
            }
            lines.push(line);
            index += 1;
        }
        lines.push(Line::raw(""));
    }
    let [list, info] = Layout::vertical([Constraint::Min(5), Constraint::Length(4)]).areas(area);
    let height = usize::from(list.height.saturating_sub(2));
    let scroll = selected_line.saturating_sub(height.saturating_sub(1));
    f.render_widget(
        Paragraph::new(lines)
            .block(block("Overview: set up web services", &t))
            .scroll((u16::try_from(scroll).unwrap_or(0), 0)),
        list,
    );
    f.render_widget(Paragraph::new(detail).wrap(Wrap { trim: true }).block(block("This step", &t)), info);
}

/// One line when the endpoint warned at its start that the site URL does not lead to it.
fn endpoint_warning(d: &Data) -> Option<String> {
    let e = d.endpoint.as_ref()?;
    e.warning.as_ref()?;
    let since = if e.site_url == d.settings.site_url { "" } else { " (changed since)" };
    Some(format!("⚠ siteurl{since} does not lead to the endpoint on {}: 2 Advanced features", e.listen))
}

fn toggles(f: &mut Frame, app: &App, area: Rect, title: &str, rows: Vec<(String, bool, String)>, foot: String) {
    toggles_after(f, app, area, title, Vec::new(), rows, foot);
}

/// Switchable rows under `fixed` ones: settings that are always on, shown without a switch.
fn toggles_after(
    f: &mut Frame,
    app: &App,
    area: Rect,
    title: &str,
    fixed: Vec<(String, String)>,
    rows: Vec<(String, bool, String)>,
    foot: String,
) {
    let t = app.theme;
    let sel = app.selected();
    let mut lines: Vec<Line> = fixed
        .into_iter()
        .map(|(label, note)| Line::from(vec![Span::raw(format!("   {label:<34}")), Span::styled(note, t.good())]))
        .collect();
    lines.extend(rows.into_iter().enumerate().flat_map(|(i, (label, on, note))| {
        let mut notes = note.lines().map(str::to_string).collect::<Vec<_>>().into_iter();
        let line = Line::from(vec![
            Span::raw(format!(" {} {label:<34}", yes_no(on))),
            Span::styled(notes.next().unwrap_or_default(), if on { t.good() } else { t.dim() }),
        ]);
        let first = if i == sel { line.style(t.selected()) } else { line };
        std::iter::once(first).chain(notes.map(move |n| Line::from(Span::styled(format!("{:7}{n}", ""), t.dim()))))
    }));
    lines.push(Line::raw(""));
    for l in foot.lines() {
        lines.push(Line::from(Span::styled(l.to_string(), t.dim())));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block(title, &t)), area);
}

fn features(f: &mut Frame, app: &mut App, area: Rect) {
    let d = data(app);
    let s = &d.settings;
    let rows = vec![
        ("Enable web services".into(), s.enable_web_services, "enablewebservices".into()),
        ("Maintenance mode".into(), s.maintenance, "maintenance_enabled".into()),
    ];
    let mut foot = format!(
        "Space switches the selected setting; e edits the site name and URL.\nSite name {} · site URL {}\ntoken duration {} days · debug {} · log lifetime {} days (wsconsole settings set NAME VALUE)",
        s.site_name,
        s.site_url,
        s.token_duration / 86_400,
        s.debug,
        s.log_lifetime_days
    );
    if let Some(e) = &d.endpoint {
        let when = crate::domain::time::format_time_in(e.started, &jiff::tz::TimeZone::system());
        match &e.warning {
            Some(w) => foot.push_str(&format!("\n\n⚠ The endpoint on {} warned at its start ({when}): {w}", e.listen)),
            None => foot
                .push_str(&format!("\n\nThe endpoint on {} (started {when}) is where the site URL leads.", e.listen)),
        }
    }
    toggles(f, app, area, "Advanced features", rows, foot);
}

fn protocols(f: &mut Frame, app: &mut App, area: Rect) {
    let d = data(app);
    let s = &d.settings;
    let mut rows: Vec<(String, bool, String)> = Protocol::ALL
        .iter()
        .map(|p| {
            (p.label().to_string(), s.protocols.contains(p), format!("{}\n{}", p.capability(), d.endpoint_url(*p)))
        })
        .collect();
    rows.push(("Web services documentation".into(), s.ws_documentation, "enablewsdocumentation".into()));
    let foot = "Users call a protocol only while it is enabled here and they hold its capability.".to_string();
    toggles(f, app, area, "Manage protocols", rows, foot);
}

fn authentication(f: &mut Frame, app: &mut App, area: Rect) {
    let s = &data(app).settings;
    // As Moodle's page: Manual accounts and No login have no switch, they are always on.
    let fixed = vec![
        (AuthPlugin::Manual.label().to_string(), "always on · password accounts, token.php".into()),
        ("No login".to_string(), "always on · accounts that may not log in".into()),
    ];
    let rows = AuthPlugin::OPTIONAL
        .iter()
        .map(|p| {
            let note = match p {
                AuthPlugin::Manual => "",
                AuthPlugin::Webservice => "username/password calls (simpleserver)",
            };
            (p.label().to_string(), s.auth_enabled(*p), note.to_string())
        })
        .collect();
    let foot = "Space switches the selected plugin (settings set auth webservice).".to_string();
    toggles_after(f, app, area, "Manage authentication", fixed, rows, foot);
}

fn users(f: &mut Frame, app: &mut App, area: Rect) {
    app.ensure_users();
    app.ensure_user_detail();
    let t = app.theme;
    let [list, detail] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area);
    let page = &app.users;
    let (offset, rows) = (page.offset, &page.rows);
    table(
        f,
        app,
        list,
        format!("Users ({})", page.total),
        (
            vec!["Username", "Auth", "Name", "State"],
            vec![Constraint::Length(16), Constraint::Length(10), Constraint::Min(10), Constraint::Length(9)],
        ),
        page.total,
        |i| match rows.get(i.wrapping_sub(offset)) {
            Some(u) => Row::new(vec![
                u.username.clone(),
                u.auth.name().to_string(),
                u.fullname(),
                if u.suspended { "suspended".into() } else { "active".to_string() },
            ]),
            None => Row::new(vec!["…"]),
        },
    );
    let mut lines: Vec<Line> = Vec::new();
    if let (Some(u), Some(dt)) = (app.users.rows.get(app.selected().wrapping_sub(app.users.offset)), &app.user_detail) {
        let s = &data(app).settings;
        lines.push(Line::from(Span::styled(u.username.clone(), t.title())));
        lines.push(Line::raw(format!("e-mail: {}", if u.email.is_empty() { "—" } else { &u.email })));
        lines.push(Line::raw(format!("password: {}", if u.password_hash.is_empty() { "none" } else { "set" })));
        lines.push(Line::raw(format!(
            "roles: {}",
            if dt.roles.is_empty() { "none (Authenticated user only)".into() } else { dt.roles.join(", ") }
        )));
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled("Protocol capabilities", t.title())));
        for p in Protocol::ALL {
            let has = dt.capabilities.contains(p.capability());
            let enabled = s.protocols.contains(&p);
            let style = if has {
                t.good()
            } else if enabled {
                t.bad()
            } else {
                t.dim()
            };
            let note = match (has, enabled) {
                (true, _) => "✓",
                (false, true) => "✗ missing: give it through a role (r)",
                (false, false) => "✗ (protocol off)",
            };
            lines.push(Line::from(Span::styled(format!("{} {note}", p.capability()), style)));
        }
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled("Effective capabilities", t.title())));
        for c in &dt.capabilities {
            lines.push(Line::raw(c.clone()));
        }
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block("User", &t)), detail);
}

fn roles(f: &mut Frame, app: &mut App, area: Rect) {
    let t = app.theme;
    let d = data(app);
    let visible = app.visible_roles();
    let [list, detail] = Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    table(
        f,
        app,
        list,
        "Roles".into(),
        (
            vec!["Short name", "Name", "Capabilities", "Holders"],
            vec![Constraint::Length(18), Constraint::Min(16), Constraint::Length(12), Constraint::Length(10)],
        ),
        visible.len(),
        |i| {
            let r = &d.roles[visible[i]];
            Row::new(vec![
                r.role.shortname.clone(),
                r.role.name.clone(),
                r.capabilities.len().to_string(),
                if r.role.implicit { "everybody".into() } else { r.holders.to_string() },
            ])
        },
    );
    let mut lines = Vec::new();
    if let Some(&i) = visible.get(app.selected()) {
        for c in &d.roles[i].capabilities {
            let desc = capabilities::CATALOGUE.iter().find(|x| x.name == c).map_or("", |x| x.description);
            lines.push(Line::from(vec![Span::raw(format!("{c:<40} ")), Span::styled(desc, t.dim())]));
        }
        if lines.is_empty() {
            lines.push(Line::from(Span::styled("No capability: press e to pick some.", t.dim())));
        }
    }
    f.render_widget(Paragraph::new(lines).block(block("Capabilities (e picks them)", &t)), detail);
}

fn services(f: &mut Frame, app: &mut App, area: Rect) {
    let d = data(app);
    let visible = app.visible_services();
    table(
        f,
        app,
        area,
        "External services: built-in, then custom".into(),
        (
            vec!["Name", "Short name", "Kind", "On", "Users", "Functions", "Authorised"],
            vec![
                Constraint::Min(18),
                Constraint::Length(18),
                Constraint::Length(8),
                Constraint::Length(4),
                Constraint::Length(11),
                Constraint::Length(9),
                Constraint::Length(10),
            ],
        ),
        visible.len(),
        |i| {
            let s = &d.services[visible[i]];
            let sv = &s.service;
            Row::new(vec![
                sv.name.clone(),
                sv.shortname.clone(),
                if sv.builtin { "built-in" } else { "custom" }.into(),
                yes_no(sv.enabled).into(),
                if sv.restricted_users { "authorised" } else { "all" }.into(),
                s.functions.len().to_string(),
                if sv.restricted_users { s.authorised.len().to_string() } else { "—".into() },
            ])
        },
    );
}

fn service_functions(f: &mut Frame, app: &mut App, area: Rect) {
    let t = app.theme;
    let Some(s) = app.current_service() else {
        f.render_widget(
            Paragraph::new("Pick a service on External services (6), then f.").block(block("Functions", &t)),
            area,
        );
        return;
    };
    let title = format!("Functions of \"{}\"", s.service.name);
    let functions = s.functions.clone();
    table(
        f,
        app,
        area,
        title,
        (
            vec!["Function", "Description", "Required capabilities"],
            vec![Constraint::Length(34), Constraint::Min(20), Constraint::Length(30)],
        ),
        functions.len(),
        |i| {
            let info = function_catalogue::find(&functions[i]);
            Row::new(vec![
                functions[i].clone(),
                info.map_or(String::new(), |x| x.description.to_string()),
                info.map_or(String::new(), |x| x.capabilities.join(", ")),
            ])
        },
    );
}

fn authorised(f: &mut Frame, app: &mut App, area: Rect) {
    let t = app.theme;
    let Some(s) = app.current_service() else {
        f.render_widget(
            Paragraph::new("Pick a service on External services (6), then a.").block(block("Authorised users", &t)),
            area,
        );
        return;
    };
    let title = if s.service.restricted_users {
        format!("Authorised users of \"{}\"", s.service.name)
    } else {
        format!("\"{}\" is open to all users: authorisations are not used", s.service.name)
    };
    let rows: Vec<(String, String, String, String)> = s
        .authorised
        .iter()
        .map(|a| {
            (
                a.username.clone(),
                if a.entry.ip_restriction.is_empty() { "any".into() } else { a.entry.ip_restriction.clone() },
                a.entry.valid_until.map_or("no expiry".into(), format_time),
                if a.missing.is_empty() { "✓".into() } else { format!("✗ lacks {}", a.missing.join(", ")) },
            )
        })
        .collect();
    let bad = t.bad();
    table(
        f,
        app,
        area,
        title,
        (
            vec!["User", "IP restriction", "Valid until", "Capabilities"],
            vec![Constraint::Length(16), Constraint::Length(18), Constraint::Length(22), Constraint::Min(20)],
        ),
        rows.len(),
        |i| {
            let (a, b, c, d) = rows[i].clone();
            let missing = d.starts_with('✗');
            let cell = if missing { Cell::from(d).style(bad) } else { Cell::from(d) };
            Row::new(vec![Cell::from(a), Cell::from(b), Cell::from(c), cell])
        },
    );
}

fn sort_name(s: TokenSort) -> &'static str {
    match s {
        TokenSort::ValidUntil => "valid until",
        TokenSort::Name => "name",
        TokenSort::User => "user",
        TokenSort::Service => "service",
        TokenSort::LastAccess => "last access",
        TokenSort::Created => "created",
    }
}

fn tokens(f: &mut Frame, app: &mut App, area: Rect) {
    let t = app.theme;
    let ix: &TokenIndex = &data(app).tokens;
    let now = crate::store::now();
    let wide = area.width >= 140;
    let title = format!(
        "Tokens: {} of {} · sorted by {}{}",
        ix.len(),
        ix.total(),
        sort_name(ix.sort),
        if ix.descending { " ↓" } else { "" }
    );
    let mut header =
        vec!["Name", "User", "Service", "IP", "Valid until", if wide { "Last access" } else { "Last use" }, "State"];
    let mut widths = if wide {
        vec![
            Constraint::Length(18),
            Constraint::Length(14),
            Constraint::Min(12),
            Constraint::Length(16),
            Constraint::Length(21),
            Constraint::Length(21),
            Constraint::Length(8),
        ]
    } else {
        vec![
            Constraint::Length(14),
            Constraint::Length(10),
            Constraint::Min(6),
            Constraint::Length(11),
            Constraint::Length(11),
            Constraint::Length(10),
            Constraint::Length(8),
        ]
    };
    if wide {
        header.push("Creator");
        widths.push(Constraint::Length(14));
    }
    let day = super::app::day;
    let (good, warn, bad) = (t.good(), t.warn(), t.bad());
    // The selected token's creator and dates, on a line of their own under the list.
    let [area, detail] = Layout::vertical([Constraint::Min(4), Constraint::Length(1)]).areas(area);
    if let Some(v) = ix.view(app.selected().min(ix.len().saturating_sub(1))) {
        let e = v.entry;
        let text = format!(
            " {}: created by {} {} · last access {} · {} on {}",
            e.name,
            v.creator,
            format_time(e.created),
            e.last_access.map_or("never".into(), format_time),
            v.username,
            v.service_shortname,
        );
        f.render_widget(Paragraph::new(text).style(t.dim()), detail);
    }
    table(f, app, area, title, (header, widths), ix.len(), |i| {
        let Some(v) = ix.view(i) else { return Row::new(vec!["?"]) };
        let e = v.entry;
        let state = TokenState::at(e.valid_until, now);
        let state_cell = Cell::from(state.name()).style(match state {
            TokenState::Valid => good,
            TokenState::Expiring => warn,
            TokenState::Expired => bad,
        });
        let fmt =
            |t: Option<i64>, none: &str| t.map_or(none.to_string(), |x| if wide { format_time(x) } else { day(x) });
        let mut cells = vec![
            Cell::from(e.name.to_string()),
            Cell::from(v.username.to_string()),
            Cell::from(v.service_name.to_string()),
            Cell::from(if e.ip_restriction.is_empty() { "any".to_string() } else { e.ip_restriction.to_string() }),
            Cell::from(fmt(e.valid_until, "no expiry")),
            Cell::from(fmt(e.last_access, "never")),
            state_cell,
        ];
        if wide {
            cells.push(Cell::from(v.creator.to_string()));
        }
        Row::new(cells)
    });
}

fn logs(f: &mut Frame, app: &mut App, area: Rect) {
    let d = data(app);
    if app.pane == 0 {
        let visible = app.visible_calls();
        table(
            f,
            app,
            area,
            "Endpoint calls, newest first (Tab: admin audit)".into(),
            (
                vec!["Time", "User", "Function", "Proto", "IP", "Outcome", "µs"],
                vec![
                    Constraint::Length(20),
                    Constraint::Length(12),
                    Constraint::Min(20),
                    Constraint::Length(6),
                    Constraint::Length(15),
                    Constraint::Length(16),
                    Constraint::Length(7),
                ],
            ),
            visible.len(),
            |i| {
                let c = &d.calls[visible[i]];
                Row::new(vec![
                    format_time(c.call.time),
                    c.username.clone(),
                    c.call.function.to_string(),
                    c.call.protocol.to_string(),
                    c.call.remote_ip.clone(),
                    c.call.outcome.to_string(),
                    c.call.duration_micros.to_string(),
                ])
            },
        );
    } else {
        let visible = app.visible_audit();
        table(
            f,
            app,
            area,
            "Admin audit, newest first (Tab: endpoint calls)".into(),
            (
                vec!["Time", "Actor", "Operation", "Target", "Summary"],
                vec![
                    Constraint::Length(20),
                    Constraint::Length(12),
                    Constraint::Length(18),
                    Constraint::Length(22),
                    Constraint::Min(10),
                ],
            ),
            visible.len(),
            |i| {
                let a = &d.audit[visible[i]];
                Row::new(vec![
                    format_time(a.time),
                    a.actor.clone(),
                    a.operation.clone(),
                    a.target.clone(),
                    a.summary.clone(),
                ])
            },
        );
    }
}

fn check(f: &mut Frame, app: &mut App, area: Rect) {
    let t = app.theme;
    let c = &app.check;
    let mut lines = vec![
        Line::raw(format!(
            "Token: {}   User: {}",
            if c.token.is_empty() { "—" } else { &c.token },
            if c.username.is_empty() { "—" } else { &c.username }
        )),
        Line::raw(format!(
            "Protocol: {}   Function: {}   Client IP: {}",
            c.protocol,
            if c.function.is_empty() { "—" } else { &c.function },
            c.ip
        )),
        Line::raw(""),
    ];
    match &c.verdict {
        None => lines.push(Line::from(Span::styled(
            "Press Enter to pick a token (or a user), a function and a client IP: the console says whether the call would pass, and if not which check fails and where to fix it.",
            t.dim(),
        ))),
        Some(v) => {
            lines.push(Line::from(Span::styled(
                format!("{} {}", if v.pass { "✓ PASS:" } else { "✗ FAIL:" }, v.sentence),
                if v.pass { t.good() } else { t.bad() },
            )));
            if let Some(fix) = v.fix {
                lines.push(Line::from(vec![Span::raw("Fix it in: "), Span::styled(fix.title(), t.key()), Span::raw(" (x goes there)")]));
            }
        }
    }
    let [top, bottom] = Layout::vertical([Constraint::Length(9), Constraint::Min(3)]).areas(area);
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block("Access check", &t)), top);
    let url = app.data.as_ref().map(|d| d.settings.site_url.clone()).unwrap_or_default();
    let response = c.response.clone().unwrap_or_else(|| {
        format!("t sends the call to the endpoint at {url} (REST, JSON) and shows the answer here.")
    });
    f.render_widget(Paragraph::new(response).wrap(Wrap { trim: false }).block(block("Test client", &t)), bottom);
}

fn docs(f: &mut Frame, app: &mut App, area: Rect) {
    let t = app.theme;
    let list = app.visible_functions();
    let [left, right] = Layout::horizontal([Constraint::Length(36), Constraint::Min(20)]).areas(area);
    let names: Vec<&str> = list.iter().map(|x| x.name).collect();
    table(f, app, left, "Functions".into(), (vec!["Name"], vec![Constraint::Min(10)]), names.len(), |i| {
        Row::new(vec![names[i].to_string()])
    });
    let mut text = Text::default();
    if let Some(info) = list.get(app.selected())
        && let Some(def) = crate::functions::definition(info.name)
    {
        text.push_line(Line::from(Span::styled(info.name, t.title())));
        text.push_line(Line::raw(info.description));
        text.push_line(Line::raw(format!(
            "{} · capabilities: {}",
            if matches!(info.kind, function_catalogue::FunctionKind::Read) { "read" } else { "write" },
            if info.capabilities.is_empty() { "none".into() } else { info.capabilities.join(", ") }
        )));
        text.push_line(Line::raw(""));
        // Each protocol's form of a call: a heading, the call, what to know about it.
        let mut protocol_form = |heading: &str, call: String, note: Option<&'static str>| {
            text.push_line(Line::from(Span::styled(heading.to_string(), t.title())));
            text.push_line(Line::raw(call));
            if let Some(note) = note {
                text.push_line(Line::from(Span::styled(note, t.dim())));
            }
            text.push_line(Line::raw(""));
        };
        let names = def.param_names();
        let rest_fields: String = super::app::test_params(info.name).iter().map(|p| format!("&{p}=…")).collect();
        protocol_form(
            "REST (POST)",
            format!("wstoken=…&wsfunction={}&moodlewsrestformat=json{rest_fields}", info.name),
            None,
        );
        let positional: String = names.iter().map(|k| format!("<param><value>…{k}…</value></param>")).collect();
        protocol_form(
            "XML-RPC (POST …/webservice/xmlrpc/server.php?wstoken=…)",
            format!("<methodCall><methodName>{}</methodName><params>{positional}</params></methodCall>", info.name),
            Some("parameters are positional, in the order of Parameters below"),
        );
        let parts: String = names.iter().map(|k| format!("<{k}>…</{k}>")).collect();
        protocol_form(
            "SOAP (POST …/webservice/soap/server.php?wstoken=…)",
            format!(
                "<SOAP-ENV:Envelope …><SOAP-ENV:Body><ns1:{0}>{parts}</ns1:{0}></SOAP-ENV:Body></SOAP-ENV:Envelope>",
                info.name
            ),
            Some("RPC/encoded, parts by name; the WSDL is …/server.php?wstoken=…&wsdl=1"),
        );
        protocol_form(
            "AMF (POST …/webservice/amf/server.php?wstoken=…)",
            format!("remoting message: target {}, body [{}]", info.name, names.join(", ")),
            None,
        );
        text.push_line(Line::from(Span::styled("Errors", t.title())));
        text.push_line(Line::raw(
            "invalidtoken, accessexception (see the access check, 9), invalidparameter, nopermissions",
        ));
        text.push_line(Line::raw(""));
        text.push_line(Line::from(Span::styled("Parameters", t.title())));
        for l in def.params.describe() {
            text.push_line(Line::raw(l));
        }
        text.push_line(Line::raw(""));
        text.push_line(Line::from(Span::styled("Returns", t.title())));
        match &def.returns {
            Some(r) => {
                for l in r.describe() {
                    text.push_line(Line::raw(l));
                }
            }
            None => text.push_line(Line::raw("null")),
        }
    }
    // A new function starts at its top; the scroll stops at the last line.
    let selected = app.selected();
    if app.docs_scroll.0 != selected {
        app.docs_scroll = (selected, 0);
    }
    // Rows once wrapped, over- rather than under-estimated (word wrap may need one more).
    let inner = usize::from(right.width.saturating_sub(2)).max(1);
    let rows: usize = text.lines.iter().map(|l| l.width() / inner + 1).sum();
    let last = u16::try_from(rows.saturating_sub(usize::from(right.height.saturating_sub(2)))).unwrap_or(u16::MAX);
    app.docs_scroll.1 = app.docs_scroll.1.min(last);
    let title = if app.docs_scroll.1 > 0 { "Documentation (PgUp/PgDn)" } else { "Documentation (PgDn for more)" };
    let docs = Paragraph::new(text).wrap(Wrap { trim: false }).scroll((app.docs_scroll.1, 0)).block(block(title, &t));
    f.render_widget(docs, right);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

fn draw_overlay(f: &mut Frame, app: &App, o: &Overlay, body: Rect) {
    let t = app.theme;
    match o {
        Overlay::Help => {
            let help = keys::help(app.screen, app.read_only);
            let rows = usize::from(body.height.saturating_sub(2)).max(1);
            // One column when it fits; otherwise two, side by side, over the whole body.
            let (area, columns) = if help.len() < rows { (centered(body, 76, body.height), 1) } else { (body, 2) };
            f.render_widget(Clear, area);
            let title = format!("Keys: {} (Esc or ? closes)", app.screen.title());
            let outer = block(title, &t);
            let inner = outer.inner(area);
            f.render_widget(outer, area);
            let per_column = help.len().div_ceil(columns);
            let parts = Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns]).spacing(2).split(inner);
            for (c, part) in parts.iter().enumerate() {
                let key_width = if columns == 1 { 22 } else { 12 };
                let lines: Vec<Line> = help
                    .iter()
                    .skip(c * per_column)
                    .take(per_column)
                    .map(|(k, h)| Line::from(vec![Span::styled(format!("{k:<key_width$}"), t.key()), Span::raw(*h)]))
                    .collect();
                f.render_widget(Paragraph::new(lines), *part);
            }
        }
        Overlay::Palette(input) => {
            let area = centered(body, 60, 5);
            f.render_widget(Clear, area);
            let text = vec![
                Line::from(vec![
                    Span::styled(":", t.key()),
                    Span::raw(input.lines().concat()),
                    Span::styled("▏", t.key()),
                ]),
                Line::from(Span::styled(
                    "overview features protocols auth users roles services tokens logs check docs",
                    t.dim(),
                )),
            ];
            f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block("Go to", &t)), area);
        }
        Overlay::Confirm { text, yes, yes_focused, .. } => {
            let area = centered(body, 64, 7);
            f.render_widget(Clear, area);
            let button = |label: &str, on: bool| {
                Span::styled(format!("[ {label} ]"), if on { t.selected() } else { t.normal() })
            };
            let lines = vec![
                Line::raw(text.clone()),
                Line::raw(""),
                Line::from(vec![button("Cancel", !yes_focused), Span::raw("   "), button(yes, *yes_focused)]),
            ];
            f.render_widget(
                Paragraph::new(lines).wrap(Wrap { trim: true }).block(block("Confirm (← → choose, Enter)", &t)),
                area,
            );
        }
        Overlay::Typed { text, input, error, .. } => {
            let area = centered(body, 64, 8);
            f.render_widget(Clear, area);
            let mut lines = vec![
                Line::raw(text.clone()),
                Line::raw(""),
                Line::from(vec![
                    Span::styled("> ", t.key()),
                    Span::raw(input.lines().concat()),
                    Span::styled("▏", t.key()),
                ]),
            ];
            if let Some(e) = error {
                lines.push(Line::from(Span::styled(e.clone(), t.bad())));
            }
            f.render_widget(
                Paragraph::new(lines).wrap(Wrap { trim: true }).block(block("Confirm by typing", &t)),
                area,
            );
        }
        Overlay::Secret { value, copied } => {
            let area = centered(body, 70, 9);
            f.render_widget(Clear, area);
            let lines = vec![
                Line::from(Span::styled("Copy this token now: it will not be shown again.", t.warn())),
                Line::raw(""),
                Line::from(Span::styled(value.clone(), t.title())),
                Line::raw(""),
                Line::from(vec![
                    Span::styled("y", t.key()),
                    Span::raw(if *copied { " copied (OSC 52) ✓   " } else { " copies it (OSC 52)   " }),
                    Span::styled("Enter", t.key()),
                    Span::raw(" closes"),
                ]),
            ];
            f.render_widget(Paragraph::new(lines).block(block("New token", &t)), area);
        }
        Overlay::Picker(p) => picker(f, app, p, body),
        Overlay::Form(form) => draw_form(f, &t, form, body),
    }
}

fn picker(f: &mut Frame, app: &App, p: &Picker, body: Rect) {
    let t = app.theme;
    let area = centered(body, body.width.saturating_sub(4), body.height);
    f.render_widget(Clear, area);
    let visible = p.visible();
    let height = usize::from(area.height.saturating_sub(4));
    let (start, end) = window(p.selected, visible.len(), height);
    let mut lines = vec![Line::from(vec![
        Span::styled("search: ", t.dim()),
        Span::raw(p.search.clone()),
        Span::styled("▏", t.key()),
    ])];
    for (row, &i) in visible[start..end].iter().enumerate() {
        let it = &p.items[i];
        let line = Line::from(vec![
            Span::raw(format!("{} {:<36} ", yes_no(it.checked), it.key)),
            Span::styled(it.detail.clone(), t.dim()),
        ]);
        lines.push(if start + row == p.selected { line.style(t.selected()) } else { line });
    }
    if visible.is_empty() {
        lines.push(Line::from(Span::styled("nothing matches", t.dim())));
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(block(format!("{} · type to search, Space ticks, Enter saves, Esc cancels", p.title), &t)),
        area,
    );
}

fn draw_form<P>(f: &mut Frame, t: &Theme, form: &Form<P>, body: Rect) {
    let mut lines = Vec::new();
    for (i, field) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        let label = Span::styled(format!("{:>20} ", field.label), if focused { t.focus() } else { t.normal() });
        let mut value = field.display();
        if focused && field.is_text() {
            value.push('▏');
        }
        let value =
            Span::styled(value, if focused { Style::default().add_modifier(Modifier::UNDERLINED) } else { t.normal() });
        lines.push(Line::from(vec![label, value]));
        match &field.error {
            Some(e) => lines.push(Line::from(Span::styled(format!("{:>20} ✗ {e}", ""), t.bad()))),
            None if !field.note.is_empty() && focused => {
                lines.push(Line::from(Span::styled(format!("{:>20} {}", "", field.note), t.dim())));
            }
            None => {}
        }
    }
    if let Some(e) = &form.error {
        lines.push(Line::from(Span::styled(format!("✗ {e}"), t.bad())));
    }
    lines.push(Line::from(Span::styled("Tab/↑↓ move · Space/←→ change · Enter saves · Esc cancels", t.dim())));
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let area = centered(body, 76, height);
    f.render_widget(Clear, area);
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block(form.title.clone(), t)), area);
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn the_window_keeps_the_selection_visible() {
        assert_eq!(window(0, 100, 10), (0, 10));
        assert_eq!(window(9, 100, 10), (0, 10));
        assert_eq!(window(10, 100, 10), (1, 11));
        assert_eq!(window(99, 100, 10), (90, 100));
        assert_eq!(window(0, 3, 10), (0, 3));
        assert_eq!(window(0, 0, 10), (0, 0));
    }
}
