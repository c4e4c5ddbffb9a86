//! Bad input never hurts: each hostile request gets a Moodle error or a 4xx — never a panic or
//! a 5xx — and the server keeps serving.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends raw bytes and returns the status code of the answer (0 if the server closed first).
fn raw(server: &Server, request: &[u8]) -> (u16, String) {
    let addr = server.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r =
        format!("{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

const REST: &str = "/webservice/rest/server.php";

/// What one hostile request must get: accepted statuses, and an errorcode the body must name.
struct Case {
    what: &'static str,
    request: Vec<u8>,
    statuses: &'static [u16],
    errorcode: Option<&'static str>,
}

fn case(what: &'static str, request: Vec<u8>, statuses: &'static [u16], errorcode: Option<&'static str>) -> Case {
    Case { what, request, statuses, errorcode }
}
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn still_serving(server: &Server) {
    assert_eq!(get(&server.url("/healthz")).body, "ok\n");
    let info =
        get(&server
            .url(&format!("{REST}?wstoken={T}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json")));
    assert_eq!(info.json()["username"], "wsuser");
}

#[test]
fn hostile_requests_get_a_moodle_error_or_a_4xx() {
    let server = Server::start(fixture_site);
    let many: String = (0..10_000).map(|i| format!("p{i}=1&")).collect();
    let deep = format!("wstoken={T}&wsfunction=core_webservice_get_site_info&a{}=1", "[x]".repeat(1000));
    let huge_token = format!("wstoken={}&wsfunction=core_webservice_get_site_info", "a".repeat(100_000));
    let big_body = vec![b'a'; 9 * 1024 * 1024];
    let cases = vec![
        case("unknown path", request("GET", "/admin/index.php", &[], b""), &[404], None),
        case("unknown method", request("BREW", REST, &[], b""), &[200, 400, 405], Some("invalidtoken")),
        case("oversized body", request("POST", REST, &[FORM], &big_body), &[413], None),
        case("10 000 parameters", request("POST", REST, &[FORM], many.as_bytes()), &[400], None),
        case("1 000-deep brackets", request("POST", REST, &[FORM], deep.as_bytes()), &[400], None),
        case(
            "invalid UTF-8",
            request("POST", REST, &[FORM], b"wstoken=\xff\xfe&wsfunction=\xc3\x28"),
            &[200],
            Some("invalidtoken"),
        ),
        case(
            "broken percent escapes",
            request("GET", &format!("{REST}?wstoken=%zz%&wsfunction=%"), &[], b""),
            &[200],
            Some("invalidtoken"),
        ),
        case("huge token", request("POST", REST, &[FORM], huge_token.as_bytes()), &[200], Some("invalidtoken")),
        case(
            "empty token",
            request("GET", &format!("{REST}?wstoken=&wsfunction=x"), &[], b""),
            &[200],
            Some("invalidtoken"),
        ),
        case(
            "JSON body",
            request("POST", REST, &[("Content-Type", "application/json")], br#"{"wstoken":"x"}"#),
            &[200],
            Some("invalidtoken"),
        ),
        case(
            "multipart body",
            request("POST", REST, &[("Content-Type", "multipart/form-data; boundary=z")], b"--z--"),
            &[200],
            Some("invalidtoken"),
        ),
        case("huge header", request("GET", REST, &[("X-Big", &"h".repeat(1_000_000))], b""), &[0, 400, 413, 431], None),
        case(
            "token.php garbage",
            request("POST", "/login/token.php", &[FORM], b"username[]=x&password[x]=y&service=\xff"),
            &[200],
            Some("invalidlogin"),
        ),
        case(
            "ajax garbage",
            request("POST", "/lib/ajax/service.php", &[("Content-Type", "application/json")], b"{not json"),
            &[200],
            Some("codingerror"),
        ),
        case(
            "ajax too deep",
            request("GET", &format!("/lib/ajax/service-nologin.php?args={}", "%5B".repeat(10_000)), &[], b""),
            &[200],
            Some("codingerror"),
        ),
        case(
            "ajax too many calls",
            request(
                "POST",
                "/lib/ajax/service-nologin.php",
                &[("Content-Type", "application/json")],
                format!(
                    "[{}]",
                    vec![r#"{"index":0,"methodname":"tool_mobile_get_public_config","args":{}}"#; 51].join(",")
                )
                .as_bytes(),
            ),
            &[200],
            Some("more than 50 calls in one request"),
        ),
        case(
            "ajax request too large to parse",
            request(
                "POST",
                "/lib/ajax/service.php",
                &[("Content-Type", "application/json")],
                format!("[{}]", vec!["[[[[1]]]]"; 20_000].join(",")).as_bytes(),
            ),
            &[413],
            Some("Request too large: at most 65536 bytes"),
        ),
        case("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(), &[0, 400], None),
    ];
    for Case { what, request, statuses, errorcode } in cases {
        let (status, text) = raw(&server, &request);
        assert!(statuses.contains(&status), "{what}: status {status}\n{}", &text[..text.len().min(300)]);
        if let Some(code) = errorcode {
            assert!(text.contains(code), "{what}: {}", &text[..text.len().min(300)]);
        }
        still_serving(&server);
    }
}

#[test]
fn a_slow_client_does_not_hold_up_others() {
    let server = Server::start(fixture_site);
    let addr = server.base.trim_start_matches("http://").to_string();
    // Slow clients: headers started, never finished.
    let slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"POST /webservice/rest/server.php HTTP/1.1\r\nHost: x\r\nContent-Le").unwrap();
            s
        })
        .collect();
    still_serving(&server);
    drop(slow);
    still_serving(&server);
}

#[test]
fn a_request_whose_body_never_arrives_gets_408() {
    let config = wsconsole::endpoint::Config { request_timeout: Duration::from_secs(1), ..Default::default() };
    let server = Server::start_with(config, fixture_site);
    let started = std::time::Instant::now();
    let mut partial = request("POST", REST, &[FORM], b"wstoken=");
    // Promise ten bytes more than are sent.
    let promised = partial.len() - b"wstoken=".len();
    let head =
        String::from_utf8(partial[..promised].to_vec()).unwrap().replace("Content-Length: 8", "Content-Length: 18");
    partial = [head.as_bytes(), b"wstoken="].concat();
    let (status, _) = raw(&server, &partial);
    assert_eq!(status, 408);
    assert!(started.elapsed() < Duration::from_secs(8), "answered after {:?}", started.elapsed());
    // Requests answered at once are not affected by the timer they never armed.
    still_serving(&server);
}

#[test]
fn failing_clients_are_throttled_others_are_not() {
    let server = Server::start(fixture_site);
    let wrong = |n: usize| -> Vec<u16> {
        (0..n)
            .map(|_| {
                post_form(&server.url("/login/token.php"), "username=wsuser&password=wrong&service=testsvc").status
            })
            .collect()
    };
    let statuses = wrong(25);
    assert!(statuses[..20].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    let refused = post_form(&server.url("/login/token.php"), "username=wsuser&password=Wsuser-1234!&service=testsvc");
    assert_eq!(refused.status, 429, "even a right password waits: the check is what costs");
    assert!(refused.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    // A valid token from the same address still works.
    still_serving(&server);
}
