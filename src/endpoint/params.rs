//! Request parameters from an HTTP request: the query merged with a form body, urlencoded or
//! `multipart/form-data`, as PHP builds `$_GET`/`$_POST` (the bracket syntax is
//! `crate::wire::params`').

use super::incoming::Incoming;
use crate::model::value::{Text, Value};
use crate::upstream::UploadFile;
use crate::wire::params::{MAX_PARAMS, ParamError, from_pairs, merge, parse};
use axum::body::Bytes;
use axum::http::header;

/// A `multipart/form-data` body as PHP splits it: its text fields in order (`$_POST`), and
/// each file (`$_FILES`) handed to `file`, which may refuse it. At most `MAX_PARAMS` parts.
async fn read_multipart(
    body: Bytes,
    boundary: String,
    mut file: impl FnMut(UploadFile) -> Result<(), ParamError>,
) -> Result<Vec<(String, String)>, ParamError> {
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let malformed = |e: multer::Error| ParamError::Malformed(e.to_string());
    let (mut pairs, mut parts) = (Vec::new(), 0);
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        parts += 1;
        if parts > MAX_PARAMS {
            return Err(ParamError::TooMany);
        }
        let name = field.name().unwrap_or_default().to_string();
        match field.file_name().map(str::to_string) {
            Some(file_name) => {
                let content_type = field.content_type().map(|m| m.to_string());
                let bytes = field.bytes().await.map_err(malformed)?;
                file(UploadFile { field: name, file_name, content_type, bytes })?;
            }
            None => pairs.push((name, field.text().await.map_err(malformed)?)),
        }
    }
    Ok(pairs)
}

/// At most this many files in one upload, as PHP's `max_file_uploads` (20 by default).
pub const MAX_UPLOAD_FILES: usize = 20;

/// An upload's text fields (query, then the body's: of two of a name the last wins, as
/// `optional_param` reads PHP's `$_GET` and `$_POST`) and its files, from a
/// `multipart/form-data` body (or a urlencoded one, fields only). A name or file name with a
/// quote, a backslash or a control character is refused: it could not be passed on as it came.
pub async fn upload_parts(incoming: &Incoming) -> Result<(Vec<(String, String)>, Vec<UploadFile>), ParamError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let set = |fields: &mut Vec<(String, String)>, name: String, value: String| {
        fields.retain(|(n, _)| *n != name);
        fields.push((name, value));
    };
    for (name, value) in form_urlencoded::parse(incoming.uri.query().unwrap_or("").as_bytes()).into_owned() {
        set(&mut fields, name, value);
    }
    let mut files = Vec::new();
    let raw = incoming.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let body = match multer::parse_boundary(raw) {
        Ok(boundary) => {
            read_multipart(incoming.body.clone(), boundary, |file| {
                if files.len() >= MAX_UPLOAD_FILES {
                    return Err(ParamError::TooMany);
                }
                files.push(file);
                Ok(())
            })
            .await?
        }
        Err(_) if raw.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") => {
            form_urlencoded::parse(&incoming.body).into_owned().collect()
        }
        Err(_) => Vec::new(),
    };
    for (name, value) in body {
        set(&mut fields, name, value);
    }
    check_names(&fields, &files)?;
    Ok((fields, files))
}

fn check_names(fields: &[(String, String)], files: &[UploadFile]) -> Result<(), ParamError> {
    let names = fields.iter().map(|(n, _)| n).chain(files.iter().flat_map(|f| [&f.field, &f.file_name]));
    for name in names {
        if name.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
            return Err(ParamError::Malformed(format!(
                "the name {name:?} holds a quote, a backslash or a control character"
            )));
        }
    }
    Ok(())
}

/// Query parameters merged with a form body (urlencoded or multipart), PHP's way: the body
/// wins. Other bodies (JSON, …) are ignored, as PHP does.
pub async fn request_params(incoming: &Incoming) -> Result<Vec<(Text, Value)>, ParamError> {
    let (uri, headers, body) = (&incoming.uri, &incoming.headers, &incoming.body);
    let query = parse(uri.query().unwrap_or("").as_bytes())?;
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|ct| ct.trim().to_ascii_lowercase());
    let form = match content_type.as_deref() {
        _ if body.is_empty() => Vec::new(),
        None => parse(body)?,
        Some(ct) if ct.starts_with("application/x-www-form-urlencoded") => parse(body)?,
        Some(ct) if ct.starts_with("multipart/form-data") => {
            let raw = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let boundary = multer::parse_boundary(raw).map_err(|e| ParamError::Malformed(e.to_string()))?;
            // No function here reads files: they are read past.
            from_pairs(read_multipart(body.clone(), boundary, |_| Ok(())).await?)?
        }
        Some(_) => Vec::new(),
    };
    Ok(merge(query, form))
}
