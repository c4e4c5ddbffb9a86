//! XML-RPC over real HTTP: the recorded Moodle answers, Python's standard `xmlrpc.client` as an
//! independent client, the protocol's switches and capability, and hostile documents.

mod common;

use common::*;
use std::process::Command;
use wsconsole::domain::Protocol;

fn post_xml(url: &str, body: &[u8]) -> Reply {
    post_body(url, "text/xml", body)
}

fn replay_xml(server: &Server, name: &str) -> (Fixture, Reply) {
    let f = fixture(name);
    let path = f.meta["path"].as_str().unwrap().to_string();
    let r = post_xml(&server.url(&path), f.meta["raw_body"].as_str().unwrap().as_bytes());
    (f, r)
}

/// The `<name>`s of a response, in order: the shape of the answer without its values.
fn member_names(xml: &str) -> Vec<String> {
    xml.split("<name>").skip(1).map(|s| s.split("</name>").next().unwrap().to_string()).collect()
}

#[test]
fn faults_are_moodles_byte_for_byte() {
    let server = Server::start(fixture_site);
    for name in ["xmlrpc_bad_token", "xmlrpc_function_not_in_service"] {
        let (f, r) = replay_xml(&server, name);
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.body, f.body, "{name}");
        assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
        assert_eq!(r.header("server"), Some("Moodle XML-RPC Server/1.0"));
    }
}

#[test]
fn answers_have_moodles_shape() {
    let server = Server::start(fixture_site);
    let (f, r) = replay_xml(&server, "xmlrpc_get_users_by_field");
    assert_eq!(member_names(&r.body), member_names(&f.body), "{}", r.body);
    assert!(r.body.contains("<member><name>username</name><value><string>admin</string></value></member>"));
    assert!(r.body.contains("<member><name>suspended</name><value><boolean>0</boolean></value></member>"));
    let (f, r) = replay_xml(&server, "xmlrpc_site_info");
    assert!(r.body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><methodResponse><params><param><value><struct><member><name>sitename</name><value><string>Oracle Site</string>"), "{}", r.body);
    // Top-level keys in order.
    let top = |body: &str, skip: &str| -> Vec<String> {
        member_names(body).into_iter().filter(|n| !["name", "value", "version", skip].contains(&n.as_str())).collect()
    };
    // Moodle 4.5 adds policyagreed at the end, which 4.3's recording lacks.
    let mut theirs = top(&f.body, "");
    theirs.push("policyagreed".into());
    assert_eq!(top(&r.body, ""), theirs);
}

fn python(script: &str) -> String {
    let out = Command::new("python3").arg("-c").arg(script).output().expect("python3 runs the XML-RPC client");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn pythons_xmlrpc_client_calls_and_gets_faults() {
    let server = Server::start(fixture_site);
    let script = format!(
        r#"
import json, xmlrpc.client
s = xmlrpc.client.ServerProxy("{base}/webservice/xmlrpc/server.php?wstoken={T}")
info = s.core_webservice_get_site_info()
users = s.core_user_get_users_by_field("username", ["admin", "wsuser"])
out = {{"info": info, "users": users}}
try:
    xmlrpc.client.ServerProxy("{base}/webservice/xmlrpc/server.php?wstoken=0123456789abcdef0123456789abcdef").core_webservice_get_site_info()
except xmlrpc.client.Fault as f:
    out["fault"] = [f.faultCode, f.faultString]
try:
    s.core_user_get_users_by_field("nosuchfield", ["x"])
except xmlrpc.client.Fault as f:
    out["invalid"] = [f.faultCode, f.faultString]
simple = xmlrpc.client.ServerProxy("{base}/webservice/xmlrpc/simpleserver.php?wsusername=wsonly&wspassword=Wsonly-pass-1")
try:
    out["simple"] = simple.core_user_get_users_by_field("username", ["wsonly"])
except xmlrpc.client.Fault as f:
    out["simple"] = [f.faultCode, f.faultString]
print(json.dumps(out))
"#,
        base = server.base,
        T = T
    );
    let out: serde_json::Value = serde_json::from_str(&python(&script)).unwrap();
    assert_eq!(out["info"]["username"], "wsuser", "{out}");
    assert!(out["info"]["userid"].as_i64().is_some(), "an int arrives as an int");
    assert!(out["info"]["functions"].as_array().unwrap().len() >= 2);
    let names: Vec<&str> = out["users"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "wsuser"]);
    assert_eq!(out["users"][0]["suspended"], false, "booleans arrive as booleans");
    assert_eq!(out["fault"][0], 89159464);
    assert_eq!(out["fault"][1], "Invalid token - token not found | ERRORCODE: invalidtoken");
    assert_eq!(out["invalid"][1], "Invalid parameter value detected | ERRORCODE: invalidparameter", "{out}");
    assert!(out["simple"].is_array(), "{out}");
}

#[test]
fn the_protocol_has_its_own_switch_and_capability() {
    let server = Server::start(fixture_site);
    let url = server.url(&format!("/webservice/xmlrpc/server.php?wstoken={T}"));
    let call = b"<?xml version=\"1.0\"?><methodCall><methodName>core_webservice_get_site_info</methodName><params/></methodCall>";
    assert!(post_xml(&url, call).body.contains("<name>sitename</name>"));
    // REST off changes nothing here.
    server.ops.set_protocol(Protocol::Rest, false).unwrap();
    assert!(post_xml(&url, call).body.contains("<name>sitename</name>"));
    // Without webservice/xmlrpc:use: Moodle's access exception.
    server.ops.set_role_capabilities("wsclient", &["webservice/xmlrpc:use".into()], false).unwrap();
    let r = post_xml(&url, call);
    assert!(r.body.contains("<int>23000021</int>") && r.body.contains("ERRORCODE: accessexception"), "{}", r.body);
    // Switched off: Moodle dies with an empty 200.
    server.ops.set_protocol(Protocol::Xmlrpc, false).unwrap();
    let r = post_xml(&url, call);
    assert_eq!((r.status, r.body.as_str()), (200, ""));
}

#[test]
fn hostile_documents_get_a_fault_or_a_4xx_and_the_server_keeps_serving() {
    let server = Server::start(fixture_site);
    let url = server.url(&format!("/webservice/xmlrpc/server.php?wstoken={T}"));
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><methodCall><methodName>core_webservice_get_site_info</methodName><params><param><value>&x;</value></param></params></methodCall>"#;
    let laughs = format!(
        r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol">{}]><methodCall><methodName>&j;</methodName></methodCall>"#,
        (b'b'..=b'j')
            .map(|c| format!(r#"<!ENTITY {} "{}">"#, c as char, format!("&{};", (c - 1) as char).repeat(10)))
            .collect::<String>()
    );
    let deep = format!(
        "<methodCall><methodName>core_webservice_get_site_info</methodName><params><param><value>{}x{}</value></param></params></methodCall>",
        "<array><data><value>".repeat(300),
        "</value></data></array>".repeat(300)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("XXE", xxe.as_bytes().to_vec()),
        ("billion laughs", laughs.into_bytes()),
        ("deep nesting", deep.into_bytes()),
        ("invalid UTF-8", b"<methodCall><methodName>\xff\xfe</methodName></methodCall>".to_vec()),
        ("not XML", b"wstoken=x&wsfunction=y".to_vec()),
        ("empty", Vec::new()),
        ("unclosed", b"<methodCall><methodName>x".to_vec()),
        ("undefined entity", b"<methodCall><methodName>&nope;</methodName></methodCall>".to_vec()),
        ("10 MiB", vec![b'a'; 10 * 1024 * 1024]),
        ("many elements", format!("<methodCall>{}</methodCall>", "<a/>".repeat(200_000)).into_bytes()),
    ];
    for (what, body) in cases {
        let r = post_xml(&url, &body);
        if what == "10 MiB" {
            assert!([0, 413].contains(&r.status), "{what}: {}", r.status);
            continue;
        }
        assert!((200..500).contains(&r.status), "{what}: {}", r.status);
        if r.status == 200 {
            assert!(r.body.contains("<fault>"), "{what}: {}", r.body);
            assert!(!r.body.contains("root:"), "{what}: a file leaked");
        }
    }
    let ok = post_xml(&url, b"<methodCall><methodName>core_webservice_get_site_info</methodName></methodCall>");
    assert!(ok.body.contains("<name>sitename</name>"), "still serving: {}", ok.body);
}
