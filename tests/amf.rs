//! AMF over real HTTP: py3amf (PyPI) as an independent Flash-remoting client, Moodle's errors
//! as onStatus faults, the protocol's switches and capability, and hostile packets.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use wsconsole::domain::Protocol;

/// The fixtures' site with AMF switched on and allowed to the wsclient role.
fn amf_site(ops: &wsconsole::ops::Ops) {
    fixture_site(ops);
    ops.set_protocol(Protocol::Amf, true).unwrap();
    ops.set_role_capabilities("wsclient", &["webservice/amf:use".into()], true).unwrap();
}

/// A python3 that imports `pyamf` (py3amf 0.9.1 from PyPI when the system's lacks it).
fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| python_with("pyamf", "py3amf==0.9.1")).clone()
}

/// Runs a script that prints JSON; `BASE` in it is the server's address.
fn py(server: &Server, script: &str) -> serde_json::Value {
    let prelude = format!(
        "import json, pyamf, urllib.request\nfrom pyamf import remoting\nfrom pyamf.remoting.client import RemotingService\nBASE = {:?}\nT = {T:?}\n",
        server.base
    );
    let out = Command::new(python()).arg("-c").arg(prelude + script).output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A helper for the scripts: a call's onStatus fault as py3amf reports it (an `ErrorFault`),
/// `[code, description, detail, keys]`, the last two from the status object as sent (py3amf
/// keeps only some of its keys).
const FAULT: &str = r#"
def fault(url, function, *args):
    svc = RemotingService(url)
    req = svc.getService(function, auto_execute=False)(*args)
    resp = svc.execute()[req.id]
    assert resp.status == remoting.STATUS_ERROR and type(resp.body).__name__ == "ErrorFault", resp
    plain, remoting.get_fault = remoting.get_fault, lambda data: data
    try:
        svc = RemotingService(url)
        req = svc.getService(function, auto_execute=False)(*args)
        raw = svc.execute()[req.id].body
    finally:
        remoting.get_fault = plain
    return [resp.body.code, resp.body.description, raw["detail"], sorted(raw.keys())]
"#;

#[test]
fn py3amf_calls_functions_over_amf0_and_amf3() {
    let server = Server::start(amf_site);
    let wsuser = user_id(&server.store, "wsuser");
    let out = py(
        &server,
        r#"
url = BASE + "/webservice/amf/server.php?wstoken=" + T
info = RemotingService(url).getService("core_webservice_get_site_info")()
users = RemotingService(url).getService("core_user_get_users_by_field")("username", ["admin"])
# AMF3 object encoding: values behind the 0x11 switch, "admin" sent again as a string reference.
amf3 = RemotingService(url, amf_version=pyamf.AMF3).getService("core_user_get_users_by_field")("username", ["admin", "wsuser", "admin"])
simple = BASE + "/webservice/amf/simpleserver.php?wsusername=wsonly&wspassword=Wsonly-1234!"
simple_users = RemotingService(simple).getService("core_user_get_users_by_field")("username", ["wsonly"])
print(json.dumps({"info": info, "users": users, "amf3": amf3, "simple": simple_users,
                  "types": [type(info["userid"]).__name__, type(users[0]["suspended"]).__name__]}))
"#,
    );
    assert_eq!(out["info"]["username"], "wsuser", "{out}");
    assert_eq!(out["info"]["sitename"], "Oracle Site");
    assert_eq!(out["info"]["userid"].as_f64(), Some(wsuser as f64));
    let functions: Vec<&str> =
        out["info"]["functions"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(functions.contains(&"core_user_get_users_by_field") && functions.len() >= 4, "{functions:?}");
    // AMF0 numbers are doubles, which py3amf turns back into ints when integral; booleans stay.
    assert_eq!(out["types"], serde_json::json!(["int", "bool"]));
    assert_eq!(out["users"].as_array().unwrap().len(), 1);
    assert_eq!(out["users"][0]["username"], "admin");
    assert_eq!(out["users"][0]["email"], "admin@example.com");
    let mut names: Vec<&str> =
        out["amf3"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names, ["admin", "wsuser"], "{out}");
    assert_eq!(out["simple"][0]["username"], "wsonly", "{out}");
}

#[test]
fn faults_carry_moodles_errorcode_and_message() {
    let server = Server::start(amf_site);
    let script = format!(
        r#"{FAULT}
url = BASE + "/webservice/amf/server.php?wstoken=" + T
try:
    RemotingService(BASE + "/webservice/amf/server.php?wstoken=nope").getService("core_webservice_get_site_info")()
    raised = None
except remoting.RemotingError as e:
    raised = [type(e).__name__, e.args[0]]
print(json.dumps({{
    "raised": raised,
    "bad_token": fault(BASE + "/webservice/amf/server.php?wstoken=0123456789abcdef0123456789abcdef", "core_webservice_get_site_info"),
    "no_token": fault(BASE + "/webservice/amf/server.php", "core_webservice_get_site_info"),
    "not_in_service": fault(url, "core_user_delete_users", [1]),
    "moodle_has_it": fault(url, "core_course_get_courses"),
    "unknown": fault(url, "no_such_function"),
    "invalid": fault(url, "core_user_get_users_by_field", "nosuchfield", ["x"]),
    "too_many_args": fault(url, "core_webservice_get_site_info", [], 1),
    "bad_password": fault(BASE + "/webservice/amf/simpleserver.php?wsusername=wsonly&wspassword=nope", "core_webservice_get_site_info"),
}}))
"#
    );
    let out = py(&server, &script);
    // py3amf raises a RemotingError with the description when a call gets a fault.
    assert_eq!(out["raised"], serde_json::json!(["RemotingError", "Invalid token - token not found"]), "{out}");
    assert_eq!(
        out["bad_token"],
        serde_json::json!([
            "invalidtoken",
            "Invalid token - token not found",
            "",
            ["code", "description", "detail", "level", "line"]
        ])
    );
    assert_eq!(out["no_token"][0], "invalidtoken");
    assert_eq!(out["not_in_service"].as_array().unwrap()[..3], ["accessexception", "Access control exception", ""]);
    // A function Moodle has and this endpoint does not implement: as outside the service.
    assert_eq!(out["moodle_has_it"].as_array().unwrap()[..3], ["accessexception", "Access control exception", ""]);
    assert_eq!(out["unknown"][0], "invalidrecord", "{out}");
    assert_eq!(out["invalid"].as_array().unwrap()[..3], ["invalidparameter", "Invalid parameter value detected", ""]);
    assert_eq!(out["too_many_args"][0], "invalidparameter");
    assert_eq!(out["bad_password"].as_array().unwrap()[..2], ["wrongusernamepassword", "Wrong username or password"]);

    // With debugging on, the detail carries Moodle's debuginfo.
    server.ops.set_setting("debug", "developer").unwrap();
    let script = format!(
        r#"{FAULT}
print(json.dumps(fault(BASE + "/webservice/amf/server.php?wstoken=" + T, "core_user_delete_users", [1])))
"#
    );
    let out = py(&server, &script);
    assert_eq!(out[0], "accessexception");
    assert!(out[2].as_str().unwrap().contains("core_user_delete_users"), "{out}");
}

#[test]
fn flex_remoting_messages_get_acknowledge_and_error_messages() {
    let server = Server::start(amf_site);
    let out = py(
        &server,
        r#"
from pyamf.flex import messaging
def send(url, message):
    env = remoting.Envelope(pyamf.AMF3)
    env["/1"] = remoting.Request("null", [message])
    data = remoting.encode(env).getvalue()
    http = urllib.request.Request(url, data, {"Content-Type": remoting.CONTENT_TYPE})
    resp = remoting.decode(urllib.request.urlopen(http).read())["/1"]
    body = resp.body
    return {"status": resp.status, "class": type(body).__name__, "correlationId": body.correlationId,
            "body": body.body, "faultCode": getattr(body, "faultCode", None),
            "faultString": getattr(body, "faultString", None)}
url = BASE + "/webservice/amf/server.php?wstoken=" + T
call = lambda op, *args: messaging.RemotingMessage(operation=op, body=list(args), destination="moodle", messageId="M-" + op)
print(json.dumps({
    "ping": send(url, messaging.CommandMessage(operation=5, messageId="P1")),
    "users": send(url, call("core_user_get_users_by_field", "username", ["admin"])),
    "bad_token": send(BASE + "/webservice/amf/server.php?wstoken=nope", call("core_webservice_get_site_info")),
}))
"#,
    );
    assert_eq!(out["ping"]["class"], "AcknowledgeMessage", "{out}");
    assert_eq!(out["ping"]["correlationId"], "P1");
    assert_eq!(out["users"]["status"], 0);
    assert_eq!(out["users"]["class"], "AcknowledgeMessage");
    assert_eq!(out["users"]["correlationId"], "M-core_user_get_users_by_field");
    assert_eq!(out["users"]["body"][0]["username"], "admin", "{out}");
    assert_eq!(out["bad_token"]["status"], 1);
    assert_eq!(out["bad_token"]["class"], "ErrorMessage");
    assert_eq!(out["bad_token"]["faultCode"], "invalidtoken");
    assert_eq!(out["bad_token"]["faultString"], "Invalid token - token not found");
}

/// Posts a packet; status 0 when the server closed the connection before answering.
fn post_amf(url: &str, body: &[u8]) -> (u16, Option<String>, Vec<u8>) {
    let Ok(mut r) = agent().post(url).content_type("application/x-amf").send(body) else {
        return (0, None, Vec::new());
    };
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).map(String::from);
    (r.status().as_u16(), ct, r.body_mut().read_to_vec().unwrap_or_default())
}

/// An AMF0 packet with one call and no arguments (the raw bytes an AMF client sends).
fn packet(function: &str, args: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 0, 0, 0, 0, 1];
    p.extend((function.len() as u16).to_be_bytes());
    p.extend(function.as_bytes());
    p.extend([0, 2, b'/', b'1', 0, 0, 0, 0]);
    p.extend(args);
    p
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

const NO_ARGS: &[u8] = &[0x0a, 0, 0, 0, 0];

#[test]
fn the_protocol_has_its_own_switch_and_capability() {
    let server = Server::start(amf_site);
    let url = server.url(&format!("/webservice/amf/server.php?wstoken={T}"));
    let call = packet("core_webservice_get_site_info", NO_ARGS);
    let (status, ct, body) = post_amf(&url, &call);
    assert_eq!((status, ct.as_deref()), (200, Some("application/x-amf")));
    assert!(body.starts_with(&[0, 0, 0, 0, 0, 1, 0, 11]) && contains(&body, b"/1/onResult"), "{body:?}");
    assert!(contains(&body, b"sitename") && contains(&body, b"Oracle Site"));
    // Without webservice/amf:use: Moodle's access exception, as an onStatus fault.
    server.ops.set_role_capabilities("wsclient", &["webservice/amf:use".into()], false).unwrap();
    let (status, _, body) = post_amf(&url, &call);
    assert_eq!(status, 200);
    assert!(contains(&body, b"/1/onStatus") && contains(&body, b"accessexception"), "{body:?}");
    // Switched off, or web services off: Moodle's server.php dies with an empty 200.
    server.ops.set_role_capabilities("wsclient", &["webservice/amf:use".into()], true).unwrap();
    server.ops.set_protocol(Protocol::Amf, false).unwrap();
    assert_eq!(post_amf(&url, &call), (200, Some("text/html; charset=utf-8".into()), Vec::new()));
    server.ops.set_protocol(Protocol::Amf, true).unwrap();
    assert!(contains(&post_amf(&url, &call).2, b"/1/onResult"));
    server.ops.set_web_services(false).unwrap();
    assert_eq!(post_amf(&url, &call).2, Vec::<u8>::new());
    // Other protocols' switches change nothing here.
    server.ops.set_web_services(true).unwrap();
    server.ops.set_protocol(Protocol::Xmlrpc, false).unwrap();
    assert!(contains(&post_amf(&url, &call).2, b"/1/onResult"));
}

#[test]
fn hostile_packets_get_a_400_and_the_server_keeps_serving() {
    let server = Server::start(amf_site);
    let url = server.url(&format!("/webservice/amf/server.php?wstoken={T}"));
    let f = "core_webservice_get_site_info";
    let deep = [[0x0a, 0, 0, 0, 1].repeat(1_000_000), vec![0x05]].concat();
    let mut bomb = vec![0x0a, 0, 0, 0, 41, 0x0a, 0, 0, 0, 1, 0x05];
    for i in 0..40u16 {
        bomb.extend(
            [vec![0x0a, 0, 0, 0, 2, 0x07], i.to_be_bytes().to_vec(), vec![0x07], i.to_be_bytes().to_vec()].concat(),
        );
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("garbage", b"wstoken=x&wsfunction=y".to_vec()),
        ("truncated", packet(f, NO_ARGS)[..12].to_vec()),
        ("4 GiB long string", packet(f, &[0x0a, 0, 0, 0, 1, 0x0c, 0xff, 0xff, 0xff, 0xff, b'x'])),
        ("2^32 arguments", packet(f, &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x05])),
        ("AMF3 vector of 2^28", packet(f, &[0x0a, 0, 0, 0, 1, 0x11, 0x0f, 0xff, 0xff, 0xff, 0xff, 0])),
        ("65535 messages", vec![0, 0, 0, 0, 0xff, 0xff]),
        ("nested a million deep", packet(f, &[vec![0x0a, 0, 0, 0, 1], deep].concat())),
        ("reference bomb", packet(f, &bomb)),
        ("circular reference", packet(f, &[0x0a, 0, 0, 0, 1, 0x0a, 0, 0, 0, 1, 0x07, 0, 0])),
        ("unknown marker", packet(f, &[0x0a, 0, 0, 0, 1, 0x42])),
    ];
    for (what, body) in cases {
        let started = std::time::Instant::now();
        let (status, _, answer) = post_amf(&url, &body);
        assert_eq!(status, 400, "{what}: {}", String::from_utf8_lossy(&answer));
        assert!(String::from_utf8_lossy(&answer).starts_with("Bad request: invalid AMF packet: "), "{what}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{what} took {:?}", started.elapsed());
    }
    assert!(contains(&post_amf(&url, &packet(f, NO_ARGS)).2, b"Oracle Site"), "still serving");
}
