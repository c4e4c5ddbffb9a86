//! `file_access::decide_file`: Moodle's order for the file scripts (reference §2.9), over the
//! in-memory site of the access tests (wsuser's token on the restricted "Service 2").

use super::*;
use crate::domain::access_tests::{Memory, NOW, TOKEN, site};
use crate::domain::secret::hash_token;

fn here() -> ClientAddr {
    ClientAddr::parse("127.0.0.1").unwrap()
}

/// The access tests' site with downloads allowed on the token's service.
fn downloads() -> Memory {
    let mut m = site();
    m.services.get_mut(&2).unwrap().download_files = true;
    m
}

fn decide(m: &Memory) -> Result<FileGrant, FileDenial> {
    let Ok(d) = decide_file(m, Some(&hash_token(TOKEN)), here(), NOW, FileUse::Download);
    d
}

fn refused(m: &Memory) -> (FileDenial, String, String) {
    let d = decide(m).expect_err("refused");
    let e = d.moodle_exception(here());
    (d, e.errorcode.to_string(), e.debuginfo.unwrap_or(e.message))
}

#[test]
fn a_token_on_a_service_that_allows_downloads_may_download() {
    let g = decide(&downloads()).unwrap();
    assert_eq!((g.user.username.as_str(), g.service.id, g.token.id), ("wsuser", 2, 7));
}

#[test]
fn each_refusal_in_the_file_scripts_order() {
    // Downloads off is the last check.
    let (d, code, why) = refused(&site());
    assert!(matches!(d, FileDenial::DownloadsDisabled { .. }));
    assert_eq!(code, "accessexception");
    assert_eq!(why, "Web service file downloading must be enabled in external service settings");

    // The account's state comes after the service: a suspended user of a disabled service
    // hears about the service.
    let mut m = downloads();
    m.users.get_mut(&3).unwrap().suspended = true;
    assert_eq!(refused(&m).1, "wsaccessusersuspended");
    assert_eq!(refused(&m).2, "error/wsaccessusersuspended");
    m.services.get_mut(&2).unwrap().enabled = false;
    assert_eq!(refused(&m).2, "Web service is not available (it doesn't exist or might be disabled)");

    // The required capability before the authorised users.
    let mut m = downloads();
    m.services.get_mut(&2).unwrap().required_capability = Some("moodle/site:files".into());
    m.authorised.clear();
    assert_eq!(refused(&m).2, "The capability moodle/site:files is required.");
    m.services.get_mut(&2).unwrap().required_capability = None;
    assert!(refused(&m).2.starts_with("The user is not allowed for this service."));

    // An authorisation restricted to another address.
    let mut m = downloads();
    m.authorised.get_mut(&(2, 3)).unwrap().ip_restriction = "10.0.0.0/8".into();
    assert_eq!(refused(&m).2, "Invalid service - IP:127.0.0.1 is not supported - check this allowed user");

    // The token's own checks come first, before the account exists or not.
    let mut m = downloads();
    m.users.clear();
    assert_eq!(refused(&m).1, "invalidrecord");
    m.tokens.values_mut().for_each(|t| t.valid_until = Some(NOW - 1));
    assert_eq!(refused(&m).2, "Invalid token - token expired - check validuntil time for the token");
    m.tokens.values_mut().for_each(|t| (t.valid_until, t.ip_restriction) = (None, "10.1.1.1".into()));
    assert_eq!(refused(&m).2, "Invalid token - IP:127.0.0.1 is not supported");

    // A deleted account is a missing one here.
    let mut m = downloads();
    m.users.get_mut(&3).unwrap().deleted = true;
    assert_eq!(refused(&m).1, "invalidrecord");

    // An unknown token, and web services off before everything.
    let Ok(unknown) = decide_file(&downloads(), Some(&hash_token("nope")), here(), NOW, FileUse::Download);
    assert!(unknown.unwrap_err().is_invalid_token());
    let mut m = downloads();
    m.settings.enable_web_services = false;
    assert_eq!(refused(&m).2, "Web services are not enabled in Advanced features.");
}

#[test]
fn every_refusal_explains_itself() {
    let (d, _, _) = refused(&site());
    assert_eq!(d.explain(), "Service \"Service 2\" does not allow file downloads (\"Can download files\" is off).");
}

#[test]
fn uploads_ask_can_upload_files_not_can_download() {
    let upload = |m: &Memory| {
        let Ok(d) = decide_file(m, Some(&hash_token(TOKEN)), here(), NOW, FileUse::Upload);
        d
    };
    // Downloads on, uploads off: an upload is refused with Moodle's sentence for it.
    let d = upload(&downloads()).expect_err("uploads are off");
    assert!(matches!(d, FileDenial::UploadsDisabled { .. }), "{d:?}");
    let e = d.moodle_exception(here());
    assert_eq!(e.errorcode, "accessexception");
    assert_eq!(e.debuginfo.as_deref(), Some("Web service file upload must be enabled in external service settings"));
    // Uploads on, downloads off: the upload may proceed, a download may not.
    let mut m = site();
    m.services.get_mut(&2).unwrap().upload_files = true;
    assert_eq!(upload(&m).unwrap().token.id, 7);
    assert!(matches!(decide(&m), Err(FileDenial::DownloadsDisabled { .. })));
    // The checks before are the same: a suspended user is refused whatever the use.
    m.users.get_mut(&3).unwrap().suspended = true;
    assert!(matches!(upload(&m), Err(FileDenial::Caller(Denial::UserSuspended { .. }))));
}
