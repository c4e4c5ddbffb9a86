//! The Overview's third flow, optional: "Front a Moodle site" (DESIGN.md §8). Each step's
//! status comes from the facts the store gathers, as Moodle's two flows' do.

use super::access::Place;
use super::time::format_time;
use super::types::UnixTime;
use super::upstream::Upstream;
use super::walkthrough::{Facts, Flow, Status, Step};

/// One service's link to the site, as the flow counts it.
#[derive(Debug, Clone, Default)]
pub struct SiteLink {
    pub service: String,
    pub link: Upstream,
    /// Functions the service lists that the site offers it.
    pub site_functions: u64,
}

/// The flow's "Test a call" status: the last call the site answered.
pub fn test_call(last_forwarded: Option<UnixTime>) -> (Status, String) {
    match last_forwarded {
        Some(t) => (Status::Done, format!("last call through {}", format_time(t))),
        None => (Status::Info, "No call through yet".into()),
    }
}

/// The flow; every step is "Info" until the site's URL is set, since the flow is optional.
pub fn front_flow(f: &Facts) -> Flow {
    let url = &f.settings.upstream.url;
    let started = !url.is_empty();
    let todo = |detail: String| (if started { Status::Todo } else { Status::Info }, detail);
    let linked: Vec<&SiteLink> = f.site_links.iter().filter(|l| l.link.credential.is_some()).collect();
    let site_url = if started { (Status::Done, url.clone()) } else { (Status::Info, "Not set (optional)".into()) };
    let token = match linked.len() {
        0 => todo("No service has a site token".into()),
        1 => (Status::Done, format!("service {}", linked[0].service)),
        n => (Status::Done, format!("{n} services")),
    };
    let failing: Vec<&&SiteLink> = linked.iter().filter(|l| l.link.last_error.is_some()).collect();
    let synced: Vec<&&SiteLink> = linked.iter().filter(|l| l.link.sync.is_some()).collect();
    let sync = match (failing.first(), synced.first()) {
        (Some(l), _) => {
            (Status::Todo, format!("{}: {}", l.service, l.link.last_error.as_ref().map_or("", |e| e.message.as_str())))
        }
        (None, Some(l)) if synced.len() == linked.len() => {
            let s = l.link.sync.as_ref().expect("synced");
            (
                Status::Done,
                format!("{} ({}) as {}, {} functions", s.site_name, s.release, s.username, s.functions.len()),
            )
        }
        _ if linked.is_empty() => todo("Nothing to sync yet".into()),
        _ => todo(format!("{} of {} services never synced", linked.len() - synced.len(), linked.len())),
    };
    let functions = match linked.iter().map(|l| l.site_functions).sum::<u64>() {
        0 => todo("No function of the site in a service".into()),
        n => (Status::Done, format!("{n} of the site's functions listed")),
    };
    let test = if started { test_call(f.last_forwarded_call) } else { (Status::Info, "No site".into()) };
    let step = Step::new;
    Flow {
        title: "Front a Moodle site (optional)",
        intro: "wsconsole as the guarded front door of a real Moodle site: every call is decided here, then answered by the site with a token of a Moodle account.",
        steps: vec![
            step(
                1,
                "Set the Moodle site's URL",
                site_url,
                "The site's wwwroot (upstreamurl), https:// or http://, the same for every service: on External services, m on a service.",
                Place::ExternalServices,
            ),
            step(
                2,
                "Give a service a site token",
                token,
                "On the Moodle site: an account, a service holding the functions wanted, and a token for the account on it. Here: External services, m on the service, the token in the masked field. It is stored sealed and never shown again.",
                Place::ExternalServices,
            ),
            step(
                3,
                "Sync with the site",
                sync,
                "External services, s on the service: the site says its name, release and the functions the token may call.",
                Place::ExternalServices,
            ),
            step(
                4,
                "Add the site's functions",
                functions,
                "External services, f on the service, then n: the site's functions are marked \"the site's\".",
                Place::ServiceFunctions,
            ),
            step(
                5,
                "Test a call through the site",
                test,
                "Check access with a token of the service and send the call: it is decided here, then answered by the site.",
                Place::TestClient,
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::upstream::{SealedCredential, SiteSync, UpstreamError};

    fn details(f: &Facts) -> Vec<(Status, String)> {
        front_flow(f).steps.into_iter().map(|s| (s.status, s.detail)).collect()
    }

    #[test]
    fn each_step_follows_the_site_link() {
        let mut f = Facts::default();
        assert!(details(&f).iter().all(|(s, _)| *s == Status::Info), "optional until the URL is set");
        f.settings.upstream.url = "https://moodle.example.com".into();
        let d = details(&f);
        assert_eq!(d[0], (Status::Done, "https://moodle.example.com".into()));
        assert_eq!(d[1], (Status::Todo, "No service has a site token".into()));

        let mut link = SiteLink { service: "front".into(), ..SiteLink::default() };
        link.link.credential = Some(SealedCredential { sealed: vec![1], set_at: 0 });
        f.site_links.push(link);
        let d = details(&f);
        assert_eq!(d[1], (Status::Done, "service front".into()));
        assert_eq!(d[2], (Status::Todo, "1 of 1 services never synced".into()));

        f.site_links[0].link.last_error =
            Some(UpstreamError { at: 0, message: "the site could not be reached".into() });
        assert_eq!(details(&f)[2], (Status::Todo, "front: the site could not be reached".into()));
        f.site_links[0].link.last_error = None;
        f.site_links[0].link.sync = Some(SiteSync {
            at: 0,
            site_name: "School".into(),
            release: "4.3".into(),
            username: "frontdoor".into(),
            functions: vec!["core_course_get_contents".into()],
        });
        f.site_links[0].site_functions = 1;
        f.last_forwarded_call = Some(1_798_675_200);
        let d = details(&f);
        assert_eq!(d[2], (Status::Done, "School (4.3) as frontdoor, 1 functions".into()));
        assert_eq!(d[3], (Status::Done, "1 of the site's functions listed".into()));
        assert_eq!(d[4], (Status::Done, "last call through 2026-12-31 00:00 UTC".into()));
    }
}
