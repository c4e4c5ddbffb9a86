//! Files through the front door (issue 17, item 4): the site's file URLs in answers point at
//! wsconsole, which checks the caller (token or private access key, "can download files") and
//! streams the site's file through; it fetches nothing but the site's own file script.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use wsconsole::store::Queries;

/// The site account's token (the service's credential) and private access key.
const CREDENTIAL: &str = "0123456789abcdef0123456789abcdef";
const SITE_KEY: &str = "sitesecretkey0123456789";
const SMALL: &[u8] = b"PNG: not really a picture";
const BIG: u64 = 100 << 20;
const REFUSED: &str = r#"{"error":"Invalid token - token not found","errorcode":"invalidtoken","stacktrace":null,"debuginfo":null,"reproductionlink":null}"#;

/// What the scripted site was asked: method, path, the token it was given, the range asked.
type Asked = Arc<Mutex<Vec<(String, String, String, String)>>>;

/// A Moodle site, scripted: site info and one function over REST, and its file script serving
/// a small picture, a 100 MB file and "not found". Its answers name it by `wwwroot` (its base
/// URL when `None`). Its base URL, and what it was asked.
fn file_site(wwwroot: Option<&str>) -> (String, Asked) {
    use axum::extract::{Form, Path as UrlPath, State};
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;
    use std::collections::HashMap;
    let (listener, base) = common::site_listener();
    let asked: Asked = Arc::default();
    let state = (wwwroot.map_or(base.clone(), str::to_string), asked.clone());
    type S = (String, Asked);
    async fn rest(State((base, asked)): State<S>, Form(form): Form<HashMap<String, String>>) -> impl IntoResponse {
        let token = form.get("wstoken").cloned().unwrap_or_default();
        asked.lock().unwrap().push(("POST".into(), "rest".into(), token.clone(), String::new()));
        if token != CREDENTIAL {
            return r#"{"exception":"moodle_exception","errorcode":"invalidtoken","message":"Invalid token - token not found"}"#.to_string();
        }
        let esc = base.replace('/', "\\/");
        match form.get("wsfunction").map(String::as_str) {
            Some("core_webservice_get_site_info") => format!(
                r#"{{"sitename":"File Site","username":"frontdoor","siteurl":"{esc}","userprivateaccesskey":"{SITE_KEY}","release":"4.3","functions":[{{"name":"core_webservice_get_site_info","version":"1"}},{{"name":"core_course_get_contents","version":"1"}},{{"name":"tool_mobile_call_external_functions","version":"1"}}]}}"#
            ),
            _ => format!(
                r#"[{{"id":1,"name":"Week 1","summary":"<img src=\"{esc}\/tokenpluginfile.php\/{SITE_KEY}\/5\/course\/summary\/pic.png\">","modules":[{{"contents":[{{"fileurl":"{esc}\/webservice\/pluginfile.php\/5\/user\/icon\/pic.png?forcedownload=1"}}],"url":"{esc}\/mod\/page\/view.php?id=3"}}]}}]"#
            ),
        }
    }
    async fn file(
        State((_, asked)): State<S>,
        UrlPath(path): UrlPath<String>,
        headers: HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> axum::response::Response {
        let token = form.get("token").cloned().unwrap_or_default();
        let range = headers.get(header::RANGE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        asked.lock().unwrap().push(("POST".into(), format!("/{path}"), token.clone(), range.clone()));
        if token != CREDENTIAL {
            // Moodle's AJAX error, as its file script sends it: HTTP 200 and JSON.
            return ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], REFUSED).into_response();
        }
        match path.as_str() {
            "5/user/icon/pic.png" if range == "bytes=0-3" => {
                (StatusCode::PARTIAL_CONTENT, [(header::CONTENT_RANGE, "bytes 0-3/25")], &SMALL[..4]).into_response()
            }
            "5/user/icon/pic.png" | "5/course/summary/pic.png" => {
                ([(header::CONTENT_TYPE, "image/png"), (header::ETAG, "\"pic1\"")], SMALL).into_response()
            }
            "5/big/film.bin" => {
                let chunk = axum::body::Bytes::from(vec![b'x'; 64 << 10]);
                let chunks = (0..BIG / (64 << 10)).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
                let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
                ([(header::CONTENT_LENGTH, BIG.to_string())], body).into_response()
            }
            _ => (StatusCode::NOT_FOUND, "Sorry, the requested file could not be found").into_response(),
        }
    }
    /// Moodle's upload script: the files into the account's draft area, their records back.
    async fn upload(
        State((_, asked)): State<S>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::response::Response {
        let (mut token, mut seen, mut records) = (String::new(), Vec::new(), Vec::new());
        for part in common::form_parts(&headers, body).await {
            let name = part.name;
            match part.file_name {
                Some(file) => {
                    let kind = part.content_type.unwrap_or_default();
                    seen.push(format!("{name}:{file}:{kind}:{}", sha256_hex(&part.bytes)));
                    records.push(format!(
                        r#"{{"component":"user","contextid":5,"userid":"2","filearea":"draft","filename":"{file}","filepath":"/","itemid":336521937,"license":"unknown","author":"Front Door","source":""}}"#
                    ));
                }
                None => {
                    let value = String::from_utf8(part.bytes).unwrap();
                    match name.as_str() {
                        "token" => token = value,
                        _ => seen.push(format!("{name}={value}")),
                    }
                }
            }
        }
        asked.lock().unwrap().push(("POST".into(), "upload".into(), token.clone(), seen.join(" ")));
        let json = if token == CREDENTIAL { format!("[{}]", records.join(",")) } else { REFUSED.to_string() };
        ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], json).into_response()
    }
    async fn other(State((_, asked)): State<S>, uri: axum::http::Uri) -> StatusCode {
        asked.lock().unwrap().push(("ANY".into(), uri.path().to_string(), String::new(), String::new()));
        StatusCode::IM_A_TEAPOT
    }
    let app = axum::Router::new()
        .route("/webservice/rest/server.php", axum::routing::post(rest))
        .route("/webservice/pluginfile.php/{*path}", axum::routing::post(file))
        .route("/webservice/upload.php", axum::routing::post(upload))
        .fallback(other)
        .with_state(state);
    common::serve_site(listener, app);
    (base, asked)
}

fn cli(db: &Path, args: &[&str], stdin: &str) -> String {
    let out = common::cli(db, args, stdin);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A raw request, so that the path goes out as written (`..` included); the whole answer.
fn raw_get(base: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

/// A front on a new database: a web-service user `caller` with REST, the service `front`
/// linked to `site` (synced, with two of its functions, downloads allowed) and a token of
/// `caller` on it, and a local service `local` with another token. Served, logging every
/// crate's trace (the credential must not be in it), its site URL its own address.
struct Front {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    token: String,
    local: String,
    endpoint: common::Endpoint,
}

fn front_of(site: &str) -> Front {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("front.redb");
    cli(&db, &["settings", "set", "enablewebservices", "1"], "");
    cli(&db, &["settings", "set", "webserviceprotocols", "rest"], "");
    cli(&db, &["user", "add", "caller", "--auth", "webservice"], "Caller-pass-1\n");
    cli(&db, &["role", "add", "client", "--name", "Client", "--cap", "webservice/rest:use"], "");
    cli(&db, &["role", "assign", "client", "caller"], "");
    cli(&db, &["service", "add", "front", "--name", "Front", "--enabled", "--download-files"], "");
    cli(&db, &["settings", "set", "upstreamurl", site], "");
    cli(&db, &["service", "upstream", "front"], &format!("{CREDENTIAL}\n"));
    // The sync leaves out what the front never forwards, though the site offers it.
    let synced = cli(&db, &["service", "sync", "front", "--json"], "");
    assert!(synced.contains("core_course_get_contents") && !synced.contains("tool_mobile_call_external_functions"));
    cli(&db, &["service", "add-function", "front", "core_webservice_get_site_info", "core_course_get_contents"], "");
    // A function that runs others inside one call would pass around the service's list.
    let nested = common::cli(&db, &["service", "add-function", "front", "tool_mobile_call_external_functions"], "");
    assert!(String::from_utf8_lossy(&nested.stderr).contains("runs other functions inside one call"));
    let token = cli(&db, &["token", "create", "--user", "caller", "--service", "front"], "").trim().to_string();
    cli(&db, &["service", "add", "local", "--name", "Local", "--enabled", "--download-files"], "");
    let local = cli(&db, &["token", "create", "--user", "caller", "--service", "local"], "").trim().to_string();
    let endpoint = common::Endpoint::spawn_logging(&db, &[], "trace");
    cli(&db, &["settings", "set", "siteurl", &endpoint.base], "");
    Front { _dir: dir, db, token, local, endpoint }
}

/// A site whose answers name it by its public address (its wwwroot) while wsconsole reaches
/// it by another: the sync learns the address, and its file URLs are rewritten all the same.
#[test]
fn file_urls_are_found_under_the_site_s_own_address() {
    let (site, _) = file_site(Some("https://moodle.example.com"));
    let Front { token, endpoint, .. } = front_of(&site);
    let contents = common::get(&format!(
        "{}/webservice/rest/server.php?wstoken={token}&wsfunction=core_course_get_contents&moodlewsrestformat=json&courseid=2",
        endpoint.base
    ));
    let json = contents.json();
    let file_url = json[0]["modules"][0]["contents"][0]["fileurl"].as_str().unwrap();
    assert_eq!(file_url, format!("{}/webservice/pluginfile.php/5/user/icon/pic.png?forcedownload=1", endpoint.base));
    assert!(!contents.body.contains(SITE_KEY), "{}", contents.body);
    let pic = common::get(&format!("{file_url}&token={token}"));
    assert_eq!((pic.status, pic.body.as_bytes()), (200, SMALL));
}

#[test]
fn files_are_checked_here_and_streamed_from_the_site() {
    let (site, asked) = file_site(None);
    let Front { db, token, local, endpoint, _dir } = front_of(&site);
    let front = endpoint.base.clone();

    // The answer's file URLs point here; the token URL carries the caller's own key.
    let contents = common::get(&format!(
        "{front}/webservice/rest/server.php?wstoken={token}&wsfunction=core_course_get_contents&moodlewsrestformat=json&courseid=2"
    ));
    let info = endpoint.site_info(&token);
    assert_eq!(info["siteurl"], front.as_str(), "clients are sent here, not to the site");
    let caller_key = info["userprivateaccesskey"].as_str().unwrap().to_string();
    assert_ne!(caller_key, SITE_KEY);
    let json = contents.json();
    let file_url = json[0]["modules"][0]["contents"][0]["fileurl"].as_str().unwrap().to_string();
    assert_eq!(file_url, format!("{front}/webservice/pluginfile.php/5/user/icon/pic.png?forcedownload=1"));
    let summary = json[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("{front}/tokenpluginfile.php/{caller_key}/5/course/summary/pic.png")),
        "{summary}"
    );
    assert!(!contents.body.contains(SITE_KEY), "the site account's key never reaches the caller");
    assert_eq!(json[0]["modules"][0]["url"], format!("{site}/mod/page/view.php?id=3"), "other URLs are the site's");
    asked.lock().unwrap().clear();

    // The file, by token: the site asked with the credential, the caller's options passed on.
    let pic = common::get(&format!("{file_url}&token={token}"));
    assert_eq!((pic.status, pic.body.as_bytes()), (200, SMALL));
    assert_eq!((pic.header("content-type"), pic.header("etag")), (Some("image/png"), Some("\"pic1\"")));
    let range = common::agent().get(format!("{file_url}&token={token}")).header("Range", "bytes=0-3").call().unwrap();
    assert_eq!((range.status().as_u16(), range.headers()["content-range"].to_str().unwrap()), (206, "bytes 0-3/25"));
    // By private access key, as the Moodle app builds its URLs.
    let by_key = common::get(&format!("{front}/tokenpluginfile.php/{caller_key}/5/course/summary/pic.png"));
    assert_eq!((by_key.status, by_key.body.as_bytes()), (200, SMALL));
    // Without slash arguments: the path in `file`.
    let by_param = common::get(&format!("{front}/webservice/pluginfile.php?file=/5/user/icon/pic.png&token={token}"));
    assert_eq!((by_param.status, by_param.body.as_bytes()), (200, SMALL));
    // The site's "not found" as it sent it.
    let missing = common::get(&format!("{front}/webservice/pluginfile.php/5/nothing.txt?token={token}"));
    assert_eq!(missing.status, 404);
    let seen = std::mem::take(&mut *asked.lock().unwrap());
    let paths: Vec<_> = seen.iter().map(|(_, p, t, r)| (p.as_str(), t.as_str(), r.as_str())).collect();
    assert_eq!(
        paths,
        [
            ("/5/user/icon/pic.png", CREDENTIAL, ""),
            ("/5/user/icon/pic.png", CREDENTIAL, "bytes=0-3"),
            ("/5/course/summary/pic.png", CREDENTIAL, ""),
            ("/5/user/icon/pic.png", CREDENTIAL, ""),
            ("/5/nothing.txt", CREDENTIAL, ""),
        ]
    );

    // Refused here, and the site hears nothing: a wrong token, a wrong key, a path that would
    // leave the file script, a service with downloads off, a revoked token.
    let refused = |url: &str, code: &str| {
        let r = common::get(url);
        assert_eq!((r.status, r.json()["errorcode"].as_str()), (200, Some(code)), "{url}: {}", r.body);
        r
    };
    refused(&format!("{front}/webservice/pluginfile.php/5/user/icon/pic.png?token=nope"), "invalidtoken");
    refused(&format!("{front}/webservice/pluginfile.php/5/user/icon/pic.png"), "missingparam");
    refused(&format!("{front}/tokenpluginfile.php/{SITE_KEY}/5/user/icon/pic.png"), "invalidkey");
    for path in
        ["/5/../../rest/server.php", "/5/..%2F..%2Frest%2Fserver.php", "/%2e%2e/x", "/5/a%5Cb", "/.%09./upload.php"]
    {
        let answer = raw_get(&front, &format!("/webservice/pluginfile.php{path}?token={token}"));
        assert!(answer.contains("upstreamerror") && answer.contains("not a file path"), "{path}: {answer}");
    }
    let store = std::sync::Arc::new(wsconsole::store::Store::open(&db).unwrap());
    let ops = wsconsole::ops::Ops::new(store.clone(), "test");
    let edit = wsconsole::ops::ServiceEdit { download_files: Some(false), ..Default::default() };
    ops.edit_service("front", edit).unwrap();
    let off = refused(&format!("{file_url}&token={token}"), "accessexception");
    assert_eq!(off.json()["error"], "Access control exception");
    refused(&format!("{front}/tokenpluginfile.php/{caller_key}/5/course/summary/pic.png"), "accessexception");
    let edit = wsconsole::ops::ServiceEdit { download_files: Some(true), ..Default::default() };
    ops.edit_service("front", edit).unwrap();
    // A service answered here has no files.
    let none = common::get(&format!("{front}/webservice/pluginfile.php/5/user/icon/pic.png?token={local}"));
    assert_eq!(none.status, 404);
    assert!(asked.lock().unwrap().is_empty(), "the site was asked: {:?}", asked.lock().unwrap());

    // 100 MB through the front, read to the end: streamed, never held whole.
    let started = std::time::Instant::now();
    let mut big =
        common::agent().get(format!("{front}/webservice/pluginfile.php/5/big/film.bin?token={token}")).call().unwrap();
    let read = std::io::copy(&mut big.body_mut().with_config().limit(u64::MAX).reader(), &mut std::io::sink()).unwrap();
    assert_eq!(read, BIG);
    let peak = peak_rss_mib(endpoint.child.id());
    eprintln!("100 MB file through the front in {:?}; the front's peak RSS {peak:.1} MiB", started.elapsed());
    assert!(peak < 60.0, "the front held the file: peak RSS {peak:.1} MiB");

    // One file at a time (upstreamconcurrency 1): a caller that does not read its file holds
    // its place, the next file is refused at once, calls still go through.
    cli(&db, &["settings", "set", "upstreamconcurrency", "1"], "");
    let held =
        common::agent().get(format!("{front}/webservice/pluginfile.php/5/big/film.bin?token={token}")).call().unwrap();
    let busy = common::get(&format!("{file_url}&token={token}"));
    assert_eq!(busy.json()["errorcode"], "upstreambusy", "{}", busy.body);
    assert_eq!(busy.header("retry-after"), Some("1"));
    let call = common::get(&format!(
        "{front}/webservice/rest/server.php?wstoken={token}&wsfunction=core_course_get_contents&moodlewsrestformat=json&courseid=2"
    ));
    assert!(call.body.contains("Week 1"), "calls are not held up by files: {}", call.body);
    drop(held);
    let start = std::time::Instant::now();
    while common::get(&format!("{file_url}&token={token}")).status != 200 {
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "the place is given back when the caller goes");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // The site refuses the front's own token (replaced on the site, say): Moodle's file
    // script says so with a 200 and its AJAX error, which the caller gets as the site sent
    // it, and the call log records as the site's refusal, not as a file sent.
    // The call log is written in batches every 250 ms: a count is taken once it has settled,
    // and the request's own row is looked for among the rows written after it.
    let logged = || store.read().unwrap().call_entries(usize::MAX).unwrap();
    let settled = || {
        let mut count = logged().len();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(400));
            let now = logged().len();
            if now == count {
                return count;
            }
            count = now;
        }
    };
    let row_after = |before: usize, outcome: &str| {
        let start = std::time::Instant::now();
        loop {
            let calls = logged();
            if let Some(row) = calls[..calls.len() - before].iter().find(|c| c.outcome == outcome) {
                return row.clone();
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(5), "no {outcome} row: {:?}", &calls[0]);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let before = settled();
    assert_eq!(common::get(&format!("{file_url}&token={token}")).status, 200);
    assert_eq!(row_after(before, "ok").site.map(|s| s.status), Some(200));
    cli(&db, &["service", "upstream", "front"], "fedcba9876543210fedcba9876543210\n");
    let before = settled();
    let site_refused = common::get(&format!("{file_url}&token={token}"));
    assert_eq!((site_refused.status, site_refused.body.as_str()), (200, REFUSED));
    assert_eq!(site_refused.header("content-type"), Some("application/json; charset=utf-8"));
    let site_call = row_after(before, "invalidtoken").site.expect("the site was asked");
    assert_eq!((site_call.status, site_call.bytes), (200, REFUSED.len() as u64));
    cli(&db, &["service", "upstream", "front"], &format!("{CREDENTIAL}\n"));

    // A revoked token: refused on the next request, the site not asked.
    asked.lock().unwrap().clear();
    cli(&db, &["token", "revoke", "--user", "caller"], "");
    refused(&format!("{file_url}&token={token}"), "invalidtoken");
    refused(&format!("{front}/tokenpluginfile.php/{caller_key}/5/course/summary/pic.png"), "invalidtoken");
    assert!(asked.lock().unwrap().is_empty());

    // Nothing the front logged holds the site's token or the site account's key.
    let log = endpoint.log.lock().unwrap().clone();
    assert!(log.contains("TRACE hyper_util::client") && log.contains("DEBUG reqwest::connect"), "the trace was on");
    for secret in [CREDENTIAL, SITE_KEY, &token] {
        assert!(!log.contains(secret), "a secret in the front's log");
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A `multipart/form-data` body as a browser or the Moodle app sends it.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &str, &[u8])]) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "----wsconsole-test-7d41";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    for (name, file, kind, bytes) in files {
        body.extend(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: {kind}\r\n\r\n")
                .bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// Uploads: decided here ("can upload files" on the token's service), then the fields and
/// files go to the site's upload script with the service's token, and its answer comes back.
#[test]
fn uploads_are_checked_here_and_sent_to_the_site_with_its_token() {
    let (site, asked) = file_site(None);
    let Front { db, token, local, endpoint, _dir } = front_of(&site);
    asked.lock().unwrap().clear(); // the sync
    let upload_url = format!("{}/webservice/upload.php", endpoint.base);
    let photo: Vec<u8> = (0..1_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let files: [(&str, &str, &str, &[u8]); 2] = [
        ("file_1", "photo.jpg", "image/jpeg", &photo),
        ("file_2", "notes.txt", "text/plain", b"hello\r\n--not a boundary"),
    ];
    let (kind, body) = multipart(&[("token", &token), ("filearea", "draft"), ("itemid", "0")], &files);

    // The front's service does not allow uploads yet: refused here, the site not asked.
    let off = common::post_body(&upload_url, &kind, &body);
    assert_eq!((off.status, off.json()["errorcode"].as_str()), (200, Some("accessexception")), "{}", off.body);
    assert_eq!(off.json()["error"], "Access control exception");
    let (_, no_token) = multipart(&[("filearea", "draft")], &files);
    assert_eq!(common::post_body(&upload_url, &kind, &no_token).json()["errorcode"], "missingparam");
    let (_, wrong) = multipart(&[("token", "nope")], &files);
    assert_eq!(common::post_body(&upload_url, &kind, &wrong).json()["errorcode"], "invalidtoken");
    assert!(asked.lock().unwrap().is_empty(), "the site was asked: {:?}", asked.lock().unwrap());

    let store = std::sync::Arc::new(wsconsole::store::Store::open(&db).unwrap());
    let ops = wsconsole::ops::Ops::new(store, "test");
    for service in ["front", "local"] {
        let edit = wsconsole::ops::ServiceEdit { upload_files: Some(true), ..Default::default() };
        ops.edit_service(service, edit).unwrap();
    }
    let sent = common::post_body(&upload_url, &kind, &body);
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.header("content-type"), Some("application/json; charset=utf-8"));
    let records = sent.json();
    assert_eq!(
        (records[0]["filename"].as_str(), records[1]["filename"].as_str()),
        (Some("photo.jpg"), Some("notes.txt"))
    );
    assert_eq!(records[0]["itemid"], 336521937);
    // Names PHP would also file as `token` are not passed on.
    let (_, smuggling) = multipart(&[("token", &token), (" token", "smuggled"), ("token[]", "x")], &files[1..]);
    assert_eq!(common::post_body(&upload_url, &kind, &smuggling).status, 200);
    let last = asked.lock().unwrap().pop().unwrap();
    assert_eq!((last.2.as_str(), last.3.contains("token")), (CREDENTIAL, false), "{last:?}");
    // Of two tokens in the query PHP reads the last, and so does the front.
    let (_, fields_only) = multipart(&[("itemid", "1")], &files[1..]);
    let twice = |first: &str, last: &str| {
        common::post_body(&format!("{upload_url}?token={first}&token={last}"), &kind, &fields_only)
    };
    let before = asked.lock().unwrap().len();
    assert_eq!(twice(&token, "nope").json()["errorcode"], "invalidtoken");
    assert_eq!(asked.lock().unwrap().len(), before, "the site was asked for a token the front refused");
    assert_eq!(twice("nope", &token).status, 200);
    assert_eq!(asked.lock().unwrap().pop().unwrap().2, CREDENTIAL);
    // A name with a space goes as it came (PHP does not read reqwest's `name*=` spelling); one
    // with a quote could not, and is refused. Only the draft area is written.
    let (_, spaced) = multipart(&[("token", &token), ("my field", "v")], &files[1..]);
    assert_eq!(common::post_body(&upload_url, &kind, &spaced).status, 200);
    assert!(asked.lock().unwrap().pop().unwrap().3.starts_with("my field=v "));
    let (_, quoted) = multipart(&[("token", &token), ("a\\\"b", "v")], &files[1..]);
    assert_eq!(common::post_body(&upload_url, &kind, &quoted).status, 400);
    for name in ["filearea", " filearea", "filearea[]"] {
        let (_, private) = multipart(&[("token", &token), (name, "private")], &files[1..]);
        let answer = common::post_body(&upload_url, &kind, &private);
        assert_eq!(answer.json()["errorcode"], "upstreamfilearea", "{name:?}: {}", answer.body);
    }
    assert_eq!(asked.lock().unwrap().len(), before);
    // The token in the query (`optional_param` reads both), the fields in the body.
    let (_, body_only) = multipart(&[("filearea", "draft"), ("itemid", "336521937")], &files[1..]);
    let by_query = common::post_body(&format!("{upload_url}?token={token}"), &kind, &body_only);
    assert_eq!(by_query.json()[0]["filename"], "notes.txt", "{}", by_query.body);
    let seen = std::mem::take(&mut *asked.lock().unwrap());
    let what = |(m, p, t, s): &(String, String, String, String)| (m.clone(), p.clone(), t.clone(), s.clone());
    assert_eq!(
        seen.iter().map(what).collect::<Vec<_>>(),
        [
            (
                "POST".to_string(),
                "upload".to_string(),
                CREDENTIAL.to_string(),
                format!(
                    "filearea=draft itemid=0 file_1:photo.jpg:image/jpeg:{} file_2:notes.txt:text/plain:{}",
                    sha256_hex(&photo),
                    sha256_hex(files[1].3)
                )
            ),
            (
                "POST".to_string(),
                "upload".to_string(),
                CREDENTIAL.to_string(),
                format!("filearea=draft itemid=336521937 file_2:notes.txt:text/plain:{}", sha256_hex(files[1].3))
            ),
        ],
        "the site got the service's token, never the caller's, and every byte"
    );

    // A service answered here keeps no files.
    let (_, local_body) = multipart(&[("token", &local)], &files[1..]);
    let here = common::post_body(&upload_url, &kind, &local_body);
    assert_eq!(here.json()["errorcode"], "upstreamnofiles", "{}", here.body);
    // Past PHP's max_file_uploads: refused before the site is asked.
    let many: Vec<(&str, &str, &str, &[u8])> = (0..21).map(|_| ("f", "a.txt", "text/plain", &b"a"[..])).collect();
    let (_, too_many) = multipart(&[("token", &token)], &many);
    assert_eq!(common::post_body(&upload_url, &kind, &too_many).status, 400);
    // Past the endpoint's largest body (8 MiB): 413, the site not asked.
    let big = vec![b'x'; 9 << 20];
    let (_, too_big) = multipart(&[("token", &token)], &[("f", "big.bin", "application/octet-stream", &big)]);
    // (The endpoint answers 413 as soon as the declared length is too large; a client still
    // sending may see the connection closed first.)
    let refused = common::post_body(&upload_url, &kind, &too_big).status;
    assert!(refused == 413 || refused == 0, "{refused}");
    assert!(asked.lock().unwrap().is_empty());
}

/// Peak resident memory of a process, in MiB (`VmHWM`).
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 =
        status.lines().find(|l| l.starts_with("VmHWM:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024.0
}
