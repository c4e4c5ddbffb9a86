//! The WSDL, as Moodle's `webservice_soap\wsdl` writes it.

use super::types::{Signature, Types, sorted};
use super::{CLASS, NS_ENC, NS_WSDL, NS_WSDL_SOAP, NS_XSD, SOAP_HTTP};
use crate::model::Description;
use crate::model::schema::Schema;
use crate::wire::xml::{escape_attribute, escape_text};

/// `webservice_soap\wsdl::to_xml()`, as SimpleXML writes it.
pub fn wsdl_document(url: &str, defs: &[&Description]) -> String {
    let mut types = Types { structs: Vec::new() };
    let functions: Vec<Signature> = sorted(defs).into_iter().map(|d| types.walk_function(d)).collect();
    let mut u = String::new();
    escape_attribute(&mut u, url);
    let u = u.as_str();

    let mut out = format!(
        "<?xml version=\"1.0\"?>\n<definitions xmlns=\"{NS_WSDL}\" xmlns:tns=\"{u}\" xmlns:soap=\"{NS_WSDL_SOAP}\" xmlns:xsd=\"{NS_XSD}\" xmlns:soap-enc=\"{NS_ENC}\" xmlns:wsdl=\"{NS_WSDL}\" name=\"{CLASS}\" targetNamespace=\"{u}\"><types>"
    );
    if types.structs.is_empty() {
        out.push_str(&format!("<xsd:schema targetNamespace=\"{u}\"/>"));
    } else {
        out.push_str(&format!("<xsd:schema targetNamespace=\"{u}\">"));
        for (schema, class) in &types.structs {
            let Schema::Single { keys, .. } = schema else { continue };
            out.push_str(&format!("<xsd:complexType name=\"{class}\">"));
            if keys.is_empty() {
                out.push_str("<xsd:all/>");
            } else {
                out.push_str("<xsd:all>");
                for (name, field) in keys {
                    // Moodle marks every field nillable (`empty($fieldsdesc->allownull)`).
                    out.push_str(&format!(
                        "<xsd:element name=\"{name}\" type=\"{}\" nillable=\"true\"/>",
                        types.field(field).wsdl()
                    ));
                }
                out.push_str("</xsd:all>");
            }
            out.push_str("</xsd:complexType>");
        }
        out.push_str("</xsd:schema>");
    }
    out.push_str("</types>");

    let empty = functions.is_empty();
    out.push_str(&format!("<portType name=\"{CLASS}Port\"{}", if empty { "/>" } else { ">" }));
    for Signature { def, params, returns } in &functions {
        let name = def.info.name;
        out.push_str(&format!("<operation name=\"{name}\">"));
        if def.info.description.is_empty() {
            out.push_str("<documentation/>");
        } else {
            out.push_str("<documentation>");
            escape_text(&mut out, def.info.description);
            out.push_str("</documentation>");
        }
        if !params.is_empty() {
            out.push_str(&format!("<input message=\"tns:{name}In\"/>"));
        }
        if returns.is_some() {
            out.push_str(&format!("<output message=\"tns:{name}Out\"/>"));
        }
        out.push_str("</operation>");
    }
    if !empty {
        out.push_str("</portType>");
    }

    out.push_str(&format!(
        "<binding name=\"{CLASS}Binding\" type=\"tns:{CLASS}Port\"><soap:binding style=\"rpc\" transport=\"{SOAP_HTTP}\"/>"
    ));
    let body = format!("<soap:body use=\"encoded\" encodingStyle=\"{NS_ENC}\" namespace=\"{u}\"/>");
    for Signature { def, params, returns } in &functions {
        let name = def.info.name;
        out.push_str(&format!("<operation name=\"{name}\"><soap:operation soapAction=\"{u}#{name}\"/>"));
        if !params.is_empty() {
            out.push_str(&format!("<input>{body}</input>"));
        }
        if returns.is_some() {
            out.push_str(&format!("<output>{body}</output>"));
        }
        out.push_str("</operation>");
    }
    out.push_str("</binding>");

    out.push_str(&format!(
        "<service name=\"{CLASS}Service\"><port name=\"{CLASS}Port\" binding=\"tns:{CLASS}Binding\"><soap:address location=\"{u}\"/></port></service>"
    ));
    for Signature { def, params, returns } in &functions {
        let name = def.info.name;
        if !params.is_empty() {
            out.push_str(&format!("<message name=\"{name}In\">"));
            for (part, doc) in params {
                out.push_str(&format!("<part name=\"{part}\" type=\"{}\"/>", doc.wsdl()));
            }
            out.push_str("</message>");
        }
        if let Some(doc) = returns {
            out.push_str(&format!(
                "<message name=\"{name}Out\"><part name=\"return\" type=\"{}\"/></message>",
                doc.wsdl()
            ));
        }
    }
    out.push_str("</definitions>\n");
    out
}
