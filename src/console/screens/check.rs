//! 9 Access check and test client: would this call pass, and if not which check fails and
//! where to fix it (the endpoint's own decision, run off the UI thread and run again whenever
//! the data changes); then `t` sends the call to the endpoint, with a token or with a username
//! and password, and shows the answer.

use super::{Hint, Meta, Screen, ScreenId, of_place};
use crate::console::effect::{Answer, Ctx, Effect, Effects, Job, Target};
use crate::console::form::Form;
use crate::console::keys::Action;
use crate::console::overlays::form::FormDialog;
use crate::console::test_client::{self, Call, Credentials as CallCredentials};
use crate::console::widgets::{block, wrap_indented};
use crate::domain::access::{AccessRequest, Credentials, Place, decide};
use crate::domain::iprestriction::ClientAddr;
use crate::domain::secret::verify_password;
use crate::domain::time::format_time_in;
use crate::domain::{Protocol, UnixTime, function_catalogue};
use crate::store::{Queries, Store};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use std::collections::HashMap;

pub const ID: ScreenId = ScreenId("check");
static META: Meta = Meta {
    id: ID,
    title: "Access check / test client",
    number: Some('9'),
    tab: "Check",
    aliases: &["test", "client"],
    parent: None,
};

/// The call to check.
#[derive(Clone)]
struct Inputs {
    token: String,
    username: String,
    /// Empty: checked as if the password were right.
    password: String,
    protocol: String,
    function: String,
    ip: String,
}

pub struct Verdict {
    pub pass: bool,
    pub sentence: String,
    pub fix: Option<Place>,
    /// When it was decided, and the time of the data it was decided on.
    pub at: UnixTime,
    pub data_at: UnixTime,
}

pub struct Check {
    inputs: Inputs,
    verdict: Option<Verdict>,
    response: Option<String>,
    /// The answer pane's first line shown.
    scroll: u16,
    /// Test-call values by REST parameter name, kept between calls (never the secrets).
    params: HashMap<String, String>,
}

impl Default for Check {
    fn default() -> Check {
        Check {
            inputs: Inputs {
                token: String::new(),
                username: String::new(),
                password: String::new(),
                protocol: "rest".into(),
                function: String::new(),
                ip: "127.0.0.1".into(),
            },
            verdict: None,
            response: None,
            scroll: 0,
            params: HashMap::new(),
        }
    }
}

enum Purpose {
    Check,
    Call,
}

struct Response(String);

impl Check {
    fn check_form(&self) -> Form {
        let functions: Vec<String> = function_catalogue::FUNCTIONS.iter().map(|f| f.name.to_string()).collect();
        let protocols: Vec<String> = Protocol::ALL.iter().map(|p| p.name().to_string()).collect();
        let c = &self.inputs;
        Form::new("Access check", Purpose::Check)
            .text("token", "Token (name or id)", &c.token)
            .note("a token from the Tokens screen; or leave empty and give a user and password")
            .text("username", "Or user", &c.username)
            .user()
            .note("a username/password call (simpleserver.php)")
            .secret("password", "Password")
            .note("empty: checked as if the password were right")
            .choice("protocol", "Protocol", protocols, &c.protocol)
            .choice("function", "Function", functions, &c.function)
            .text("ip", "Client IP", &c.ip)
    }

    /// Runs the endpoint's access decision for the inputs, in the background.
    fn decide(&self, cx: &Ctx) -> Effect {
        let c = self.inputs.clone();
        let token = if c.token.is_empty() {
            None
        } else {
            Some(c.token.parse::<u64>().ok().or_else(|| cx.data.tokens.find_by_name(&c.token)))
        };
        let data_at = cx.data.read_at;
        Effect::Job(Job::new(Target::Screen(ID), "checking access…", move |store| {
            let now = crate::store::now();
            let (pass, sentence, fix) = verdict(store, &c, token, now);
            Verdict { pass, sentence, fix, at: now, data_at }
        }))
    }

    fn test_form(&self, cx: &Ctx) -> Effects {
        let c = &self.inputs;
        if c.function.is_empty() {
            return vec![Effect::Open(Box::new(FormDialog::new(self.check_form(), ID)))];
        }
        let writes = function_catalogue::find(&c.function)
            .is_some_and(|f| !matches!(f.kind, function_catalogue::FunctionKind::Read));
        if cx.read_only && writes {
            return vec![Effect::Fail(format!(
                "read-only: the test client sends no call that writes ({})",
                c.function
            ))];
        }
        let mut form = Form::new(format!("Test call: {}", c.function), Purpose::Call);
        if c.token.is_empty() && !c.username.is_empty() {
            form = form.text("wsusername", "Username", &c.username).secret("wspassword", "Password");
            if let Some(f) = form.field_mut("wspassword") {
                f.input.set(&c.password);
            }
        } else {
            form =
                form.secret("wstoken", "Token value").note("the token itself, as shown when it was created; paste it");
        }
        for name in test_client::test_params(&c.function) {
            let value = self.params.get(*name).cloned().unwrap_or_default();
            form = form.text(name, name, &value);
        }
        vec![Effect::Open(Box::new(FormDialog::new(form, ID)))]
    }

    fn send(&mut self, form: &Form, cx: &Ctx) -> Effects {
        let secret = |k: &str| ["wstoken", "wsusername", "wspassword"].contains(&k);
        for f in form.fields.iter().filter(|f| !secret(f.key)) {
            self.params.insert(f.key.to_string(), f.text());
        }
        let credentials = match form.field("wstoken") {
            Some(_) => CallCredentials::Token(form.raw("wstoken").trim().to_string()),
            None => CallCredentials::Password { username: form.value("wsusername"), password: form.raw("wspassword") },
        };
        let call = Call {
            site: cx.data.settings.site_url.clone(),
            protocol: Protocol::parse(&self.inputs.protocol).unwrap_or(Protocol::Rest),
            function: self.inputs.function.clone(),
            credentials,
            fields: form
                .fields
                .iter()
                .filter(|f| !secret(f.key) && !f.text().trim().is_empty())
                .map(|f| (f.key.to_string(), f.text().trim().to_string()))
                .collect(),
        };
        self.response = None;
        self.scroll = 0;
        let what = format!("sending the call to {}", cx.data.settings.site_url);
        vec![Effect::Job(Job::background(Target::Screen(ID), what, move |_store| Response(call.send())))]
    }

    fn response_lines(&self) -> u16 {
        self.response.as_ref().map_or(0, |r| u16::try_from(r.lines().count()).unwrap_or(u16::MAX))
    }
}

/// The verdict for `c`: whether it passes, the sentence, the screen that fixes a failure.
fn verdict(store: &Store, c: &Inputs, token: Option<Option<u64>>, now: UnixTime) -> (bool, String, Option<Place>) {
    let protocol = Protocol::parse(&c.protocol).unwrap_or(Protocol::Rest);
    let Some(remote) = ClientAddr::parse(&c.ip) else {
        return (false, format!("\"{}\" is not an IP address.", c.ip), None);
    };
    let decided = store.read().map_err(|e| e.to_string()).and_then(|v| {
        let credentials = match token {
            Some(None) => return Ok((false, format!("No token named \"{}\".", c.token), Some(Place::Tokens))),
            Some(Some(id)) => Credentials::Token(v.token_hash_by_id(id).map_err(|e| e.to_string())?),
            None => Credentials::Password { username: &c.username, password: &c.password },
        };
        let req = AccessRequest { protocol, credentials, function: Some(&c.function), remote, now };
        let given = !c.password.is_empty();
        let check = |u: &crate::domain::User, p: &str| !given || verify_password(&u.password_hash, p);
        Ok(match decide(&v, &req, &check).map_err(|e| e.to_string())? {
            Ok(g) => {
                let mut said = format!(
                    "The call passes: user \"{}\" may call {}() through service \"{}\" over {}{}.",
                    g.user.username,
                    g.function,
                    g.service.name,
                    protocol.label(),
                    if c.token.is_empty() && !given { " (with the right password)" } else { "" }
                );
                if g.forward {
                    said.push(' ');
                    said.push_str(&forwarded_to(&v, g.service.id).map_err(|e| e.to_string())?);
                }
                (true, said, None)
            }
            Err(denial) => (false, denial.explain(), Some(denial.place())),
        })
    });
    decided.unwrap_or_else(|e| (false, e, None))
}

/// Where a connected service's call goes, and how the site was last seen.
fn forwarded_to(
    v: &crate::store::ReadView,
    service: crate::domain::ServiceId,
) -> Result<String, crate::store::StoreError> {
    use crate::store::Queries;
    let site = v.settings()?.upstream.url;
    let link = v.upstream(service)?.unwrap_or_default();
    let account = link.sync.as_ref().map_or("the service's credential".to_string(), |s| format!("\"{}\"", s.username));
    let mut said = format!("It is forwarded to {site} as {account}");
    match (&link.sync, &link.last_error) {
        (_, Some(e)) => said.push_str(&format!(
            "; the site's last error ({}): {}",
            crate::domain::time::format_time(e.at),
            e.message
        )),
        (Some(s), None) => said.push_str(&format!(
            "; last sync {}: {} ({})",
            crate::domain::time::format_time(s.at),
            s.site_name,
            s.release
        )),
        (None, None) => said.push_str("; never synced: wsconsole service sync"),
    }
    said.push('.');
    Ok(said)
}

impl Screen for Check {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        let page = u16::try_from(cx.page()).unwrap_or(10);
        let last = self.response_lines();
        match action {
            Action::Edit => vec![Effect::Open(Box::new(FormDialog::new(self.check_form(), ID)))],
            Action::Open => {
                self.verdict.as_ref().and_then(|v| v.fix).map(|p| Effect::Go(of_place(p))).into_iter().collect()
            }
            Action::Send => self.test_form(cx),
            Action::Copy => match &self.response {
                Some(r) => vec![Effect::Copy(r.clone()), Effect::Say("answer copied (OSC 52)".into())],
                None => Vec::new(),
            },
            Action::Up => self.scroll(self.scroll.saturating_sub(1)),
            Action::Down => self.scroll((self.scroll + 1).min(last)),
            Action::PageUp => self.scroll(self.scroll.saturating_sub(page)),
            Action::PageDown => self.scroll((self.scroll + page).min(last)),
            Action::Top => self.scroll(0),
            Action::Bottom => self.scroll(last.saturating_sub(page)),
            _ => Vec::new(),
        }
    }

    fn hint(&self, action: Action, _cx: &Ctx) -> Hint {
        match action {
            Action::Open if self.verdict.as_ref().and_then(|v| v.fix).is_none() => Hint::Hidden,
            Action::Send if self.inputs.function.is_empty() => Hint::Hidden,
            Action::Copy if self.response.is_none() => Hint::Hidden,
            _ => Hint::Shown,
        }
    }

    fn refreshed(&mut self, cx: &Ctx) -> Effects {
        let t = &cx.data.touched;
        let relevant = t.config || !t.tokens.is_empty();
        if self.verdict.is_some() && relevant { vec![self.decide(cx)] } else { Vec::new() }
    }

    fn reply(&mut self, answer: Answer, _cx: &Ctx) -> Effects {
        match answer.downcast::<Verdict>() {
            Ok(v) => self.verdict = Some(*v),
            Err(other) => {
                if let Ok(r) = other.downcast::<Response>() {
                    self.response = Some(r.0);
                }
            }
        }
        Vec::new()
    }

    fn submit(&mut self, form: Box<Form>, cx: &Ctx) -> Effects {
        match form.purpose::<Purpose>() {
            Some(Purpose::Check) => {
                self.inputs = Inputs {
                    token: form.value("token"),
                    username: form.value("username"),
                    password: form.raw("password"),
                    protocol: form.chosen("protocol"),
                    function: form.chosen("function"),
                    ip: form.value("ip"),
                };
                self.response = None;
                vec![self.decide(cx)]
            }
            _ => self.send(&form, cx),
        }
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let c = &self.inputs;
        let width = usize::from(area.width.saturating_sub(2));
        let dash = |s: &str| if s.is_empty() { "—".to_string() } else { s.to_string() };
        let who = if c.token.is_empty() && !c.username.is_empty() {
            format!("User: {} (password {})", c.username, if c.password.is_empty() { "assumed right" } else { "given" })
        } else {
            format!("Token: {}", dash(&c.token))
        };
        let call = format!("Protocol: {} · Function: {} · Client IP: {}", c.protocol, dash(&c.function), c.ip);
        let mut lines = vec![Line::raw(who)];
        lines.extend(wrap_indented(&call, width, 2).into_iter().map(Line::raw));
        match &self.verdict {
            None => {
                let text = "Press Enter to pick a token (or a user and password), a function and a client IP: the console says whether the call would pass, and if not which check fails and where to fix it.";
                lines.extend(wrap_indented(text, width, 0).into_iter().map(|l| Line::from(Span::styled(l, t.dim()))));
            }
            Some(v) => {
                let head = if v.pass { "✓ PASS: " } else { "✗ FAIL: " };
                let style = if v.pass { t.good() } else { t.bad() };
                let text = format!("{head}{}", v.sentence);
                lines.extend(wrap_indented(&text, width, 8).into_iter().map(|l| Line::from(Span::styled(l, style))));
                if let Some(fix) = v.fix {
                    let text = format!("Fix it in: {} (x goes there)", fix.title());
                    lines.extend(
                        wrap_indented(&text, width, 11).into_iter().map(|l| Line::from(Span::styled(l, t.key()))),
                    );
                }
                let tz = jiff::tz::TimeZone::system();
                let when = format!(
                    "decided {} on the data read {}; decided again whenever the data changes",
                    format_time_in(v.at, &tz),
                    format_time_in(v.data_at, &tz)
                );
                lines.extend(wrap_indented(&when, width, 2).into_iter().map(|l| Line::from(Span::styled(l, t.dim()))));
            }
        }
        let top_rows = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX).min(area.height.saturating_sub(4));
        let [top, bottom] = Layout::vertical([Constraint::Length(top_rows), Constraint::Min(3)]).areas(area);
        f.render_widget(Paragraph::new(lines).block(block("Access check", &t)), top);
        let response = self.response.clone().unwrap_or_else(|| {
            format!("t sends the call to the endpoint at {} and shows the answer here.", cx.data.settings.site_url)
        });
        let title =
            if self.response.is_some() { "Test client (↑↓ PgUp PgDn scroll, y copies)" } else { "Test client" };
        let pane = Paragraph::new(response).wrap(Wrap { trim: false }).scroll((self.scroll, 0)).block(block(title, &t));
        f.render_widget(pane, bottom);
    }
}

impl Check {
    fn scroll(&mut self, to: u16) -> Effects {
        self.scroll = to;
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::upstream::SiteSync;
    use crate::ops::{NewService, NewToken, NewUser, Ops};
    use std::sync::Arc;

    /// The access check says where a connected service's call goes, as whom, and how the site
    /// was last seen.
    #[test]
    fn a_connected_service_s_call_is_said_to_be_forwarded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("c.redb")).unwrap());
        let ops = Ops::new(store.clone(), "t");
        ops.set_web_services(true).unwrap();
        ops.set_protocol(Protocol::Rest, true).unwrap();
        ops.create_user(NewUser::named("ann", crate::domain::AuthMethod::Webservice)).unwrap();
        ops.create_role("c", "C", &["webservice/rest:use".to_string()]).unwrap();
        ops.set_role_assignment("c", "ann", true).unwrap();
        let new =
            NewService { name: "Front".into(), shortname: "front".into(), enabled: true, ..NewService::default() };
        ops.create_service(new).unwrap();
        ops.set_service_functions("front", &["core_webservice_get_site_info".to_string()], true).unwrap();
        let token =
            ops.create_token(NewToken { username: "ann".into(), service: "front".into(), ..NewToken::default() });
        let id = token.unwrap().token.id;
        let inputs = Inputs {
            token: "t".into(),
            username: String::new(),
            password: String::new(),
            protocol: "rest".into(),
            function: "core_webservice_get_site_info".into(),
            ip: "127.0.0.1".into(),
        };
        let said = |store: &Store| verdict(store, &inputs, Some(Some(id)), crate::store::now());
        let (pass, sentence, _) = said(&store);
        assert!(pass && !sentence.contains("forwarded"), "{sentence}");

        ops.set_setting("upstreamurl", "https://moodle.example.com").unwrap();
        ops.set_upstream_credential("front", "0123456789abcdef0123456789abcdef").unwrap();
        let (pass, sentence, _) = said(&store);
        assert!(pass && sentence.contains("forwarded to https://moodle.example.com"), "{sentence}");
        assert!(sentence.contains("never synced"), "{sentence}");
        let sync = SiteSync {
            at: 1_800_000_000,
            site_name: "Campus".into(),
            release: "4.3".into(),
            username: "svc".into(),
            functions: vec!["core_webservice_get_site_info".into()],
        };
        ops.record_upstream_sync("front", sync, "https://moodle.example.com").unwrap();
        let (_, sentence, _) = said(&store);
        assert!(sentence.contains("as \"svc\"") && sentence.contains("Campus (4.3)"), "{sentence}");
        ops.record_upstream_error("front", "the site could not be reached: refused").unwrap();
        let (_, sentence, _) = said(&store);
        assert!(sentence.contains("last error") && sentence.contains("could not be reached"), "{sentence}");
    }
}
