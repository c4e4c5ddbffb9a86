//! SOAP over real HTTP: the recorded Moodle answers (WSDL, faults, calls), PHP's SoapClient
//! and Python's suds as independent clients, the protocol's switches and capability, and
//! hostile envelopes.

mod common;

use common::*;
use std::process::Command;
use wsconsole::domain::Protocol;

/// The site address of the recording, so that WSDL namespaces compare byte for byte.
const RECORDED_SITE: &str = "http://127.0.0.1:8081";

fn recorded_site(ops: &wsconsole::ops::Ops) {
    fixture_site(ops);
    ops.set_setting("siteurl", RECORDED_SITE).unwrap();
}

fn post_xml(url: &str, body: &[u8]) -> Reply {
    post_body(url, "text/xml; charset=utf-8", body)
}

/// Sends a recorded request as recorded.
fn replay(server: &Server, name: &str) -> (Fixture, Reply) {
    let f = fixture(name);
    let mut path = f.meta["path"].as_str().unwrap().to_string();
    if let Some(q) = f.meta["query"].as_object() {
        let pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap())).collect();
        path = format!("{path}?{}", pairs.join("&"));
    }
    let r = match f.meta["raw_body"].as_str() {
        Some(body) => post_xml(&server.url(&path), body.as_bytes()),
        None => get(&server.url(&path)),
    };
    (f, r)
}

fn recorded_header<'a>(f: &'a Fixture, name: &str) -> Option<&'a str> {
    f.meta["headers"].as_array().unwrap().iter().find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))?[1]
        .as_str()
}

/// The recorded headers Moodle itself sets (not nginx's) are ours too.
fn assert_moodle_headers(f: &Fixture, r: &Reply) {
    assert_eq!(r.status, f.meta["status"].as_u64().unwrap() as u16);
    for name in ["content-type", "cache-control", "expires", "pragma", "accept-ranges", "content-disposition"] {
        assert_eq!(r.header(name), recorded_header(f, name), "{name} of {}", f.meta["name"]);
    }
}

#[test]
fn the_wsdl_is_moodles_byte_for_byte() {
    let server = Server::start(recorded_site);
    let (f, r) = replay(&server, "soap_wsdl");
    assert_moodle_headers(&f, &r);
    // Moodle 4.5's site info has fields 4.3's lacks; the rest of the document is the same.
    let ours = r.body.replace("<xsd:element name=\"policyagreed\" type=\"xsd:int\" nillable=\"true\"/>", "");
    assert_eq!(ours, f.body);
}

#[test]
fn refusals_are_moodles_byte_for_byte() {
    let server = Server::start(recorded_site);
    for name in ["soap_bad_token", "soap_wsdl_bad_token"] {
        let (f, r) = replay(&server, name);
        assert_moodle_headers(&f, &r);
        assert_eq!(r.body, f.body, "{name}");
    }
    // A function outside the service: core_course_get_courses, which Moodle has and this
    // endpoint does not implement, as recorded; then a catalogued one.
    let f = fixture("soap_function_not_in_service");
    let (_, r) = replay(&server, "soap_function_not_in_service");
    assert_eq!(r.status, 500);
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    assert_eq!(r.body, f.body);
    let body = f.meta["raw_body"].as_str().unwrap().replace("core_course_get_courses", "core_user_delete_users");
    let r = post_xml(&server.url(f.meta["path"].as_str().unwrap()), body.as_bytes());
    assert_eq!(r.body, f.body.replace("core_course_get_courses", "core_user_delete_users"));
    // Web services off: Moodle's script dies with an empty page.
    server.ops.set_web_services(false).unwrap();
    let (f, r) = replay(&server, "soap_webservices_disabled");
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(r.header("content-type"), recorded_header(&f, "content-type"));
}

/// The document's markup with the text between tags removed: its shape without its values.
fn markup(xml: &str) -> Vec<String> {
    xml.split('<').skip(1).map(|s| format!("<{}", s.split('>').next().unwrap())).collect()
}

#[test]
fn answers_are_typed_and_ordered_as_phps() {
    let server = Server::start(recorded_site);
    let (f, r) = replay(&server, "soap_get_users_by_field");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    // The envelope, namespaces in PHP's order, and every element and type.
    assert_eq!(markup(&r.body), markup(&f.body), "{}", r.body);
    assert!(
        r.body.contains("<key xsi:type=\"xsd:string\">suspended</key><value xsi:type=\"xsd:boolean\">false</value>")
    );

    let (f, r) = replay(&server, "soap_site_info");
    assert_eq!(r.status, 200);
    let head = |b: &str| b[..b.find("<SOAP-ENV:Body>").unwrap()].to_string();
    assert_eq!(head(&r.body), head(&f.body));
    assert!(r.body.contains("<return xsi:type=\"ns1:webservices_struct_class_000001\"><sitename xsi:type=\"xsd:string\">Oracle Site</sitename><username xsi:type=\"xsd:string\">wsuser</username>"), "{}", r.body);
    assert!(r.body.contains("<functions SOAP-ENC:arrayType=\"ns2:Map[4]\" xsi:type=\"SOAP-ENC:Array\"><item xsi:type=\"ns2:Map\"><item><key xsi:type=\"xsd:string\">name</key>"));
    assert!(r.body.contains("<item><key xsi:type=\"xsd:string\">name</key><value xsi:type=\"xsd:string\">core_webservice_get_site_info</value></item><item><key xsi:type=\"xsd:string\">version</key><value xsi:type=\"xsd:string\">"));
    // An optional field left out is nil, as PHP writes an unset property of the struct class.
    assert!(r.body.contains("<usersessionscount xsi:nil=\"true\"/>"));
    assert!(
        r.body.ends_with("</return></ns1:core_webservice_get_site_infoResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>\n")
    );

    // Deliberate difference: a part left out is not sent (PHP's SoapServer refuses the call).
    let (_, r) = replay(&server, "soap_site_info_missing_param");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<username xsi:type=\"xsd:string\">wsuser</username>"));
}

fn call(server: &Server, token: &str, operation: &str, parts: &str) -> Reply {
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="urn:x" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/"><SOAP-ENV:Body><ns1:{operation}>{parts}</ns1:{operation}></SOAP-ENV:Body></SOAP-ENV:Envelope>"#
    );
    post_xml(&server.url(&format!("/webservice/soap/server.php?wstoken={token}")), body.as_bytes())
}

#[test]
fn errors_while_running_are_receiver_faults() {
    let server = Server::start(fixture_site);
    // A required part missing: the function's own validation refuses it.
    let r = call(&server, T, "core_user_get_users_by_field", "<field xsi:type=\"xsd:string\">username</field>");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>Receiver</faultcode><faultstring>Unknown error | ERRORCODE: invalidparameter</faultstring><faultactor>invalidparameter</faultactor></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n"
    );
    // With debugging, the message and the debuginfo.
    server.ops.set_setting("debug", "developer").unwrap();
    let r = call(&server, T, "core_user_get_users_by_field", "<field xsi:type=\"xsd:string\">username</field>");
    assert!(r.body.contains("<faultstring>Invalid parameter value detected | ERRORCODE: invalidparameter</faultstring><faultactor>invalidparameter</faultactor><detail xsi:type=\"xsd:string\">"), "{}", r.body);
    // Refusals of the caller say more with debugging too, in Moodle's envelope.
    let r = call(&server, "0123456789abcdef0123456789abcdef", "core_webservice_get_site_info", "");
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains("<faultcode>MOODLE:error</faultcode><faultstring>Invalid token - token not found</faultstring>")
    );
}

#[test]
fn the_protocol_switch_and_capability_hold() {
    let server = Server::start(fixture_site);
    let r = call(&server, T, "core_webservice_get_site_info", "");
    assert_eq!(r.status, 200, "{}", r.body);
    server.ops.set_protocol(Protocol::Soap, false).unwrap();
    let r = call(&server, T, "core_webservice_get_site_info", "");
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    let r = get(&server.url(&format!("/webservice/soap/server.php?wstoken={T}&wsdl=1")));
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    server.ops.set_protocol(Protocol::Soap, true).unwrap();
    server.ops.set_role_capabilities("wsclient", &["webservice/soap:use".to_string()], false).unwrap();
    let r = call(&server, T, "core_webservice_get_site_info", "");
    assert!(
        r.body.contains("<faultcode>MOODLE:error</faultcode><faultstring>Access control exception</faultstring>"),
        "{}",
        r.body
    );
    let r = get(&server.url(&format!("/webservice/soap/server.php?wstoken={T}&wsdl=1")));
    assert!(r.body.contains("MOODLE:error"), "{}", r.body);
}

#[test]
fn simple_authentication_works_in_the_query_and_in_the_path() {
    let server = Server::start(recorded_site);
    // The WSDL of a username/password caller gives the path form as its address.
    let r = get(&server.url("/webservice/soap/simpleserver.php?wsusername=wsonly&wspassword=Wsonly-1234!&wsdl=1"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(&format!(
        "<soap:address location=\"{RECORDED_SITE}/webservice/soap/simpleserver.php/wsonly/Wsonly%2D1234%21\"/>"
    )));
    let body = br#"<Envelope><Body><core_webservice_get_site_info/></Body></Envelope>"#;
    let r = post_xml(&server.url("/webservice/soap/simpleserver.php/wsonly/Wsonly%2D1234%21"), body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<username xsi:type=\"xsd:string\">wsonly</username>"));
    let r = post_xml(&server.url("/webservice/soap/simpleserver.php/wsonly/wrong"), body);
    assert!(r.body.contains("<faultstring>Wrong username or password</faultstring>"), "{}", r.body);
}

#[test]
fn hostile_envelopes_get_faults_and_the_server_keeps_serving() {
    let server = Server::start(fixture_site);
    let url = server.url(&format!("/webservice/soap/server.php?wstoken={T}"));
    let deep = format!(
        "<Envelope><Body><core_user_get_users_by_field><values>{}{}</values></core_user_get_users_by_field></Body></Envelope>",
        "<a>".repeat(200),
        "</a>".repeat(200)
    );
    let many = format!("<Envelope><Body>{}</Body></Envelope>", "<a/>".repeat(200_000));
    // References copy what they point at: 90 000 of them to 6 MB of text, and a chain of
    // 12 levels of 8 references each (8^12 values from 1 KB), must stay within the budget.
    let copies = format!(
        "<Envelope><Body><core_user_get_users_by_field><values>{}</values></core_user_get_users_by_field><t id=\"t\">{}</t></Body></Envelope>",
        "<a href=\"#t\"/>".repeat(90_000),
        "x".repeat(6_000_000)
    );
    let chain = format!(
        "<Envelope><Body><core_user_get_users_by_field><values href=\"#r0\"/></core_user_get_users_by_field>{}<x id=\"r12\">leaf</x></Body></Envelope>",
        (0..12)
            .map(|i| format!("<x id=\"r{i}\">{}</x>", format!("<a href=\"#r{}\"/>", i + 1).repeat(8)))
            .collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("xxe", br#"<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><Envelope><Body><core_webservice_get_site_info>&x;</core_webservice_get_site_info></Body></Envelope>"#.to_vec()),
        ("billion laughs", br#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><Envelope><Body><x>&b;</x></Body></Envelope>"#.to_vec()),
        ("undefined entity", b"<Envelope><Body><x>&a;</x></Body></Envelope>".to_vec()),
        ("deep", deep.into_bytes()),
        ("many elements", many.into_bytes()),
        ("references to a large text", copies.into_bytes()),
        ("a chain of references", chain.into_bytes()),
        ("not UTF-8", b"<Envelope><Body><x>\xff\xfe</x></Body></Envelope>".to_vec()),
        ("not XML", b"hello".to_vec()),
        ("empty", Vec::new()),
        ("no body", b"<Envelope/>".to_vec()),
        ("unclosed", b"<Envelope><Body><core_webservice_get_site_info>".to_vec()),
        ("self reference", br##"<Envelope><Body><core_user_get_users_by_field><values href="#a"/></core_user_get_users_by_field><r id="a" href="#a"/></Body></Envelope>"##.to_vec()),
        ("bad int", br#"<Envelope><Body><core_user_get_users><criteria xsi:type="xsd:int">x</criteria></core_user_get_users></Body></Envelope>"#.to_vec()),
    ];
    for (name, body) in cases {
        let r = post_xml(&url, &body);
        assert!(r.status == 500 || r.status == 200, "{name}: {}", r.status);
        assert!(r.body.contains("<SOAP-ENV:Fault><faultcode>"), "{name}: {}", r.body);
        assert!(!r.body.contains("root:"), "{name} read a file");
    }
    // An oversized body is refused before it is read.
    let r = post_xml(&url, &vec![b' '; 9 * 1024 * 1024]);
    assert!(r.status == 413 || r.status == 0, "{}", r.status);
    let r = call(&server, T, "core_webservice_get_site_info", "");
    assert_eq!(r.status, 200, "{}", r.body);
}

fn php_available() -> bool {
    Command::new("php").args(["-r", "exit(class_exists('SoapClient') ? 0 : 1);"]).status().is_ok_and(|s| s.success())
}

#[test]
fn phps_soap_client_reads_the_wsdl_and_calls() {
    assert!(
        php_available(),
        "PHP's SoapClient is the independent client of this test: apt-get install php-cli php-soap (.ci/run does)"
    );
    let server = Server::start(fixture_site);
    server.ops.set_setting("siteurl", &server.base).unwrap();
    let script = format!(
        r#"
$c = new SoapClient("{base}/webservice/soap/server.php?wstoken={T}&wsdl=1", ['cache_wsdl' => WSDL_CACHE_NONE, 'exceptions' => true]);
$info = $c->core_webservice_get_site_info([]);
$users = $c->core_user_get_users_by_field('username', ['admin', 'wsuser']);
$found = $c->core_user_get_users([['key' => 'email', 'value' => 'admin@example.com']]);
try {{ $c->core_user_get_users_by_field('username'); $fault = 'none'; }}
catch (SoapFault $f) {{ $fault = $f->faultcode . '|' . $f->faultstring . '|' . $f->faultactor; }}
$bad = new SoapClient(null, ['location' => "{base}/webservice/soap/server.php?wstoken=0123456789abcdef0123456789abcdef", 'uri' => 'urn:x']);
try {{ $bad->core_webservice_get_site_info(); $refused = 'none'; }}
catch (SoapFault $f) {{ $refused = $f->faultcode . '|' . $f->faultstring; }}
echo json_encode([
  'functions' => $c->__getFunctions(),
  'username' => $info->username,
  'userid' => $info->userid,
  'nfunctions' => count($info->functions),
  'first_function' => $info->functions[0]['name'],
  'users' => array_map(fn($u) => $u['username'], $users),
  'found' => array_map(fn($u) => $u['username'], $found->users),
  'fault' => $fault,
  'refused' => $refused,
]);
"#,
        base = server.base
    );
    let out = Command::new("php").arg("-r").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "php failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let functions: Vec<&str> = v["functions"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(
        functions.contains(&"webservices_struct_class_000001 core_webservice_get_site_info(Array $serviceshortnames)"),
        "{functions:?}"
    );
    assert!(functions.contains(&"Array core_user_get_users_by_field(string $field, Array $values)"), "{functions:?}");
    assert_eq!(v["username"], "wsuser");
    assert_eq!(v["userid"], user_id(&server.store, "wsuser"));
    assert_eq!(v["nfunctions"], 4);
    assert!(v["first_function"].as_str().unwrap().starts_with("core_"));
    assert_eq!(v["users"], serde_json::json!(["admin", "wsuser"]));
    assert_eq!(v["found"], serde_json::json!(["admin"]));
    assert_eq!(v["fault"], "Receiver|Unknown error | ERRORCODE: invalidparameter|invalidparameter");
    assert_eq!(v["refused"], "MOODLE:error|Invalid token - token not found");
}

#[test]
fn pythons_suds_reads_the_wsdl_and_calls() {
    let python = python_with("suds", "suds-community==1.2.0");
    let server = Server::start(fixture_site);
    server.ops.set_setting("siteurl", &server.base).unwrap();
    let script = format!(
        r#"
import json
from suds.client import Client
from suds.xsd.doctor import Import, ImportDoctor
# Moodle's WSDL uses soap-enc:Array without importing its schema: suds users add the import
# (suds carries that schema in its own store), and build arrays from it.
enc = "http://schemas.xmlsoap.org/soap/encoding/"
c = Client("{base}/webservice/soap/server.php?wstoken={T}&wsdl=1", cache=None, doctor=ImportDoctor(Import(enc)))
info = c.service.core_webservice_get_site_info([])
names = c.factory.create("{{%s}}Array" % enc)
names.item = ["admin"]
users = c.service.core_user_get_users_by_field("username", names)
one = lambda x: x[0] if isinstance(x, list) else x
def first(m, k):
    return [one(i.value) for i in m.item if one(i.key) == k][0]
print(json.dumps({{
  "username": info.username,
  "userid": int(info.userid),
  "functions": len(info.functions),
  "user": first(users[0], "username"),
}}))
"#,
        base = server.base
    );
    let out = Command::new(&python).arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "suds failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["username"], "wsuser");
    assert_eq!(v["userid"], user_id(&server.store, "wsuser"));
    assert_eq!(v["functions"], 4);
    assert_eq!(v["user"], "admin");
}
