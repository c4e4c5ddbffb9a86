//! The XML reader both XML protocols (XML-RPC and SOAP) share, with their safety rules in one
//! place: no DTD at all (a `<!DOCTYPE` is refused, so no external or expanding entity can
//! exist), only the five predefined entities and character references, and bounded nesting
//! depth and element count. The body size is bounded by the router.

use super::MAX_DEPTH;
use quick_xml::events::{BytesStart, Event};

/// Elements a request may hold: far more than any real call, far fewer than 8 MiB of `<a/>`.
pub const MAX_ELEMENTS: usize = 100_000;
/// Attributes one element may carry. quick-xml checks each new attribute against the earlier
/// ones, so without a bound one element of 8 MiB of attributes would take minutes.
pub const MAX_ATTRIBUTES: usize = 32;

/// A parsed element: its local name (prefix dropped), attributes by local name, text and
/// child elements.
#[derive(Debug, Default)]
pub struct Node {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// An attribute's value by local name (`xsi:type` is `type`).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The part of a qualified name after its prefix: `xsd:int` → `int`.
pub fn local(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

fn local_name(raw: &[u8]) -> String {
    let local = raw.rsplit(|b| *b == b':').next().unwrap_or(raw);
    String::from_utf8_lossy(local).into_owned()
}

fn start_node(e: &BytesStart<'_>) -> Result<Node, String> {
    let mut attributes = Vec::new();
    for (i, a) in e.attributes().enumerate() {
        if i == MAX_ATTRIBUTES {
            return Err(format!("more than {MAX_ATTRIBUTES} attributes on one element"));
        }
        let a = a.map_err(|e| format!("malformed attribute ({e})"))?;
        let key = a.key.as_ref();
        // Namespace declarations carry no data we read.
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            continue;
        }
        let value = a.unescape_value().map_err(|e| format!("bad attribute value ({e})"))?;
        attributes.push((local_name(key), value.into_owned()));
    }
    Ok(Node { name: local_name(e.name().as_ref()), attributes, ..Node::default() })
}

/// The document's root element, with the limits above.
pub fn parse_document(body: &[u8]) -> Result<Node, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8 ({e})"))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack = vec![Node::default()];
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| format!("malformed XML ({e})"))?;
        match event {
            Event::Start(e) | Event::Empty(e) if stack.len() > MAX_DEPTH => {
                return Err(format!("elements nested deeper than {MAX_DEPTH} ({})", local_name(e.name().as_ref())));
            }
            Event::Start(e) => {
                elements += 1;
                stack.push(start_node(&e)?);
            }
            Event::Empty(e) => {
                elements += 1;
                let node = start_node(&e)?;
                stack.last_mut().ok_or("unbalanced elements")?.children.push(node);
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced elements")?;
                stack.last_mut().ok_or("unbalanced elements")?.children.push(node);
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| format!("bad text ({e})"))?;
                stack.last_mut().ok_or("text outside the document")?.text.push_str(&s);
            }
            Event::CData(c) => {
                let s = c.decode().map_err(|e| format!("bad CDATA ({e})"))?;
                stack.last_mut().ok_or("text outside the document")?.text.push_str(&s);
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref().map_err(|e| format!("bad character reference ({e})"))?
                } else {
                    match r.decode().map_err(|e| format!("bad reference ({e})"))?.as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        other => return Err(format!("undefined entity &{other}; (entities are not accepted)")),
                    }
                };
                let c = c.ok_or("bad character reference")?;
                stack.last_mut().ok_or("text outside the document")?.text.push(c);
            }
            Event::DocType(_) => return Err("a DOCTYPE is not accepted".into()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
        if elements > MAX_ELEMENTS {
            return Err(format!("more than {MAX_ELEMENTS} elements"));
        }
    }
    let mut root = stack.pop().ok_or("no document")?;
    if !stack.is_empty() {
        return Err("unclosed elements".into());
    }
    if root.children.len() != 1 {
        return Err("expected one root element".into());
    }
    Ok(root.children.remove(0))
}

/// Escapes text content as libxml2 and PHP's xmlrpc do: `&`, `<` and `>`.
pub fn escape_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// Escapes an attribute value (double-quoted).
pub fn escape_attribute(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_documents_are_refused() {
        let xxe = br#"<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><m>&x;</m>"#;
        assert!(parse_document(xxe).unwrap_err().contains("DOCTYPE"));
        assert!(parse_document(b"<m>&lol9;</m>").unwrap_err().contains("entit"));
        assert!(parse_document(br#"<m a="&lol9;"/>"#).unwrap_err().contains("attribute"));
        let deep = format!("<m>{}{}</m>", "<a>".repeat(100), "</a>".repeat(100));
        assert!(parse_document(deep.as_bytes()).unwrap_err().contains("deeper"));
        let many = format!("<m>{}</m>", "<a/>".repeat(MAX_ELEMENTS + 5));
        assert!(parse_document(many.as_bytes()).unwrap_err().contains("elements"));
        assert!(parse_document(b"\xff\xfe<m/>").unwrap_err().contains("UTF-8"));
        let crowded =
            format!("<m {}/>", (0..MAX_ATTRIBUTES + 1).map(|i| format!("a{i}=\"x\"")).collect::<Vec<_>>().join(" "));
        assert!(parse_document(crowded.as_bytes()).unwrap_err().contains("attributes"));
        assert!(parse_document(b"<m><n>x</m>").is_err());
        assert!(parse_document(b"<a/><b/>").is_err());
        assert!(parse_document(b"").is_err());
    }

    #[test]
    fn names_attributes_and_text_are_read() {
        let doc = br#"<?xml version="1.0"?><e:Envelope xmlns:e="urn:x" e:style="a&amp;b"><v t="x">1 &lt; 2&#233;<![CDATA[<]]></v></e:Envelope>"#;
        let root = parse_document(doc).unwrap();
        assert_eq!(root.name, "Envelope");
        assert_eq!(root.attributes, vec![("style".to_string(), "a&b".to_string())]);
        let v = root.child("v").unwrap();
        assert_eq!(v.attribute("t"), Some("x"));
        assert_eq!(v.text, "1 < 2é<");
        assert_eq!(local("xsd:int"), "int");
        assert_eq!(local("int"), "int");
    }
}
