//! A service's link to the Moodle site behind the endpoint, on External services: `m` opens
//! its form (the site's URL, the service's site token in a masked field, its calls a minute),
//! `s` syncs it with the site in the background. The token is never shown: only whether it is
//! set and when.

use super::services::ID;
use crate::console::data::ServiceRow;
use crate::console::effect::{Ctx, Effect, Effects, Job, Target, Write, Written};
use crate::console::form::Form;
use crate::domain::time::format_time;
use crate::domain::upstream::{Upstream, check_credential};

/// The form's purpose: the service it links.
pub struct Link(pub String);

/// What a sync answered, for the screen's reply.
pub struct Synced(pub Result<String, String>);

fn url_rule(value: &str) -> Result<(), String> {
    let mut scratch = crate::domain::Settings::default();
    crate::domain::config::apply(&mut scratch, "upstreamurl", value).map_err(|e| e.message)
}

fn credential_rule(value: &str) -> Result<(), String> {
    if value.is_empty() { Ok(()) } else { check_credential(value).map(|_| ()).map_err(|e| e.message) }
}

fn rate_rule(value: &str) -> Result<(), String> {
    value.trim().parse::<u32>().map(|_| ()).map_err(|_| "a whole number of calls a minute (0: no limit)".into())
}

/// The link form of `s`.
pub fn form(s: &ServiceRow, cx: &Ctx) -> Form {
    let link = s.upstream.as_ref();
    let set = link.and_then(|u| u.credential.as_ref());
    let token_note = match set {
        Some(c) => format!("set {}; empty keeps it", format_time(c.set_at)),
        None => "a Moodle account's token; never shown again".into(),
    };
    let rate = link.map_or(0, |u| u.calls_per_minute);
    let mut form = Form::new(format!("Moodle site behind \"{}\"", s.service.name), Link(s.service.shortname.clone()))
        .text("upstreamurl", "Moodle site URL", &cx.data.settings.upstream.url)
        .rule(url_rule)
        .note("its wwwroot, for every service; empty: no site")
        .secret("credential", "Site token")
        .rule(credential_rule)
        .note(token_note)
        .text("rate", "Calls a minute", &rate.to_string())
        .rule(rate_rule)
        .note("to the site; 0: no limit of its own");
    if set.is_some() {
        form = form.check("remove", "Remove the site token", false).note("its calls are answered here again");
    }
    form
}

/// The change the submitted form asks for.
pub fn submit(form: Box<Form>, cx: &Ctx) -> Write {
    let short = form.purpose::<Link>().map(|l| l.0.clone()).unwrap_or_default();
    let url = form.value("upstreamurl");
    let url_changed = url != cx.data.settings.upstream.url;
    let credential = form.raw("credential").trim().to_string();
    let remove = form.checked("remove");
    let rate: u32 = form.value("rate").parse().unwrap_or(0);
    let had = cx.data.service(&short).and_then(|s| s.upstream.as_ref()).map_or(0, |u| u.calls_per_minute);
    Write::from_form(form, ID, move |ops| {
        let mut said = Vec::new();
        if url_changed {
            ops.set_setting("upstreamurl", &url)?;
            said.push(if url.is_empty() { "no Moodle site".to_string() } else { format!("Moodle site {url}") });
        }
        if remove {
            ops.remove_upstream_credential(&short)?;
            said.push("site token removed: its calls are answered here".into());
        } else if !credential.is_empty() {
            ops.set_upstream_credential(&short, &credential)?;
            said.push("site token saved: s syncs".into());
        }
        if rate != had {
            ops.set_upstream_rate(&short, rate)?;
            said.push(format!("{rate} calls a minute"));
        }
        if said.is_empty() {
            said.push("nothing changed".into());
        }
        Ok(Written::say(format!("{short}: {}", said.join("; "))).select(short))
    })
}

/// Syncs `short` with the site off the UI thread.
pub fn sync(short: String) -> Effects {
    let what = format!("syncing {short} with the Moodle site…");
    vec![Effect::Job(Job::with_ops(Target::Screen(ID), what, move |ops| {
        Synced(match crate::upstream::sync_service(ops, &short) {
            Ok(s) => Ok(format!(
                "{short}: {} ({}) as {}: {} functions",
                s.site_name,
                s.release,
                s.username,
                s.functions.len()
            )),
            Err(e) => Err(format!("{short}: {e}")),
        })
    }))]
}

/// The sync's answer, said; what it recorded (the sync, or the error) comes in through the
/// database feed, as every change does.
pub fn synced(answer: Synced) -> Effects {
    vec![match answer.0 {
        Ok(s) => Effect::Say(s),
        Err(e) => Effect::Fail(e),
    }]
}

/// The "Site" column (8 wide): whether the service is answered by the site, in a word.
pub fn column(u: Option<&Upstream>) -> String {
    match u.filter(|u| u.credential.is_some()) {
        None => "—".into(),
        Some(u) if u.last_error.is_some() => "error".into(),
        Some(u) => match &u.sync {
            Some(s) => format!("{} fn", s.functions.len()),
            None => "unsynced".into(),
        },
    }
}

/// The status line of a selected service linked to the site: what the link holds, in two
/// lines at 80 columns (the site's URL is on the form and the Overview).
pub fn status(u: &Upstream, site_url: &str) -> Option<String> {
    let set = u.credential.as_ref()?;
    let state = match (&u.last_error, &u.sync) {
        _ if site_url.is_empty() => "no site URL yet: m sets it".to_string(),
        (Some(e), _) => format!("last error {}: {}", format_time(e.at), e.message),
        (None, Some(s)) => format!(
            "{} ({}) as {}, {} functions; synced {}",
            s.site_name,
            s.release,
            s.username,
            s.functions.len(),
            format_time(s.at)
        ),
        (None, None) => "not synced yet: s syncs".into(),
    };
    Some(format!("Moodle site: {state}; token set {}", format_time(set.set_at)))
}
