//! The Moodle site behind the endpoint (DESIGN.md §8), seen from here: one HTTP client toward
//! it (connection reuse, rustls with the system's roots and `upstreamca`, HTTP/1.1 and
//! HTTP/2, time-outs, a bound on what it reads), and the sync that asks the site what a
//! service's credential may call.
//!
//! Calls carry the credential in a POST body, never in a URL, so that no error, log line or
//! proxy log can hold it.

mod sync;

pub use sync::{SyncError, sync_service};

use crate::domain::upstream::UpstreamSettings;
use crate::domain::{Protocol, routes};
use std::time::Duration;

/// The most a non-file answer from the site may hold.
pub const MAX_ANSWER_BYTES: usize = 16 << 20;
/// Time to open a connection to the site (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a call to the site gave nothing usable. Each says what the site did, never the
/// credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    #[error("no Moodle site is set: wsconsole settings set upstreamurl URL")]
    NoSite,
    #[error("the trusted CA file {path} cannot be used: {why}")]
    BadCa { path: String, why: String },
    #[error("the site could not be reached: {0}")]
    Unreachable(String),
    #[error("the site did not answer within {0} s")]
    TimedOut(u32),
    #[error("the site answered HTTP {0}")]
    Status(u16),
    #[error("the site's answer is larger than {} MiB", MAX_ANSWER_BYTES >> 20)]
    TooBig,
    #[error("the site's answer is not a Moodle answer: {0}")]
    NotMoodle(String),
    /// Moodle's own exception, as the site sent it.
    #[error("the site refused: {message} ({errorcode})")]
    Moodle { errorcode: String, message: String },
}

/// The format a REST call asks the site for (`moodlewsrestformat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestFormat {
    Json,
    Xml,
}

/// The site's answer to a forwarded call, as it sent it.
#[derive(Debug, Clone)]
pub struct SiteReply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// From sending the call to the answer's last byte.
    pub latency: Duration,
}

impl SiteReply {
    /// Whether the answer is a document of `format` (JSON that parses; XML that opens with
    /// its declaration), as a Moodle site's REST server sends.
    pub fn check(&self, format: RestFormat) -> Result<(), SiteError> {
        match format {
            RestFormat::Json => serde_json::from_slice::<serde::de::IgnoredAny>(&self.body)
                .map(|_| ())
                .map_err(|e| SiteError::NotMoodle(format!("not JSON ({e}): {}", preview(&self.body)))),
            RestFormat::Xml if self.body.trim_ascii_start().starts_with(b"<?xml") => Ok(()),
            RestFormat::Xml => Err(SiteError::NotMoodle(format!("not XML: {}", preview(&self.body)))),
        }
    }

    /// Moodle's error code when this REST answer is Moodle's exception: in JSON an object
    /// whose first key is `exception`, in XML an `EXCEPTION` root. An answer that merely holds
    /// a field called `errorcode` somewhere is an answer.
    pub fn exception_code(&self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.body[..self.body.len().min(4096)]);
        let text = text.trim_start();
        let between = |open: &str, close: &str| {
            let start = text.find(open)? + open.len();
            Some(text[start..].split(close).next()?.chars().take(64).collect())
        };
        if text.starts_with("{\"exception\":") {
            // Small: Moodle's exception, read as the forwarder reads it.
            let answer = serde_json::from_slice(&self.body).ok()?;
            return moodle_exception(&answer).map(|(_, code, _, _)| code.chars().take(64).collect());
        }
        let root = match text.strip_prefix("<?xml") {
            Some(rest) => rest.split_once("?>")?.1.trim_start(),
            None => text,
        };
        if root.starts_with("<EXCEPTION") {
            return between("<ERRORCODE>", "</ERRORCODE>");
        }
        None
    }

    /// The answer as JSON, or why it is not.
    pub fn json(&self) -> Result<serde_json::Value, SiteError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| SiteError::NotMoodle(format!("not JSON ({e}): {}", preview(&self.body))))
    }
}

/// A file a caller uploads, as its form part named it.
pub struct UploadFile {
    pub field: String,
    pub file_name: String,
    pub content_type: Option<String>,
    pub bytes: bytes::Bytes,
}

/// Moodle's exception in a JSON answer: (exception, errorcode, message, debuginfo).
pub fn moodle_exception(answer: &serde_json::Value) -> Option<(String, String, String, Option<String>)> {
    let text = |key: &str| answer.get(key).and_then(|v| v.as_str()).map(str::to_string);
    answer.get("exception")?;
    Some((
        text("exception").unwrap_or_default(),
        text("errorcode")?,
        text("message").unwrap_or_default(),
        text("debuginfo"),
    ))
}

/// The site, as the settings describe it.
#[derive(Clone)]
pub struct Site {
    client: reqwest::Client,
    /// For files: no bound on the whole transfer (a large file takes its time), but on each
    /// read, and on the wait for the answer's head.
    files: reqwest::Client,
    base: String,
    timeout_secs: u32,
}

impl Site {
    pub fn new(settings: &UpstreamSettings) -> Result<Site, SiteError> {
        if !settings.is_set() {
            return Err(SiteError::NoSite);
        }
        let mut certificates = Vec::new();
        if !settings.ca_file.is_empty() {
            let bad = |why: String| SiteError::BadCa { path: settings.ca_file.clone(), why };
            let pem = std::fs::read(&settings.ca_file).map_err(|e| bad(e.to_string()))?;
            certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
            if certificates.is_empty() {
                return Err(bad("it holds no PEM certificate".into()));
            }
        }
        let timeout = Duration::from_secs(settings.timeout_secs.into());
        let build = |limit: fn(reqwest::ClientBuilder, Duration) -> reqwest::ClientBuilder| {
            let mut builder = reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("wsconsole/", env!("CARGO_PKG_VERSION")));
            for c in &certificates {
                builder = builder.add_root_certificate(c.clone());
            }
            limit(builder, timeout).build().map_err(|e| SiteError::Unreachable(e.to_string()))
        };
        Ok(Site {
            client: build(reqwest::ClientBuilder::timeout)?,
            // HTTP/1.1 for files: over HTTP/2 every file would share one connection's flow
            // window, and a caller that reads slowly would stall the others.
            files: build(|b, t| b.read_timeout(t).http1_only())?,
            base: settings.url.clone(),
            timeout_secs: settings.timeout_secs,
        })
    }

    /// How long a whole call to the site may take (`upstreamtimeout`).
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.into())
    }

    /// The site's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Calls `function` over the site's REST protocol with `credential`, JSON answer: Moodle's
    /// exception as [`SiteError::Moodle`].
    pub async fn call_json(
        &self,
        credential: &str,
        function: &str,
        params: &[(&str, &str)],
    ) -> Result<serde_json::Value, SiteError> {
        let mut form = vec![("wstoken", credential), ("wsfunction", function), ("moodlewsrestformat", "json")];
        form.extend_from_slice(params);
        let url = format!("{}{}", self.base, routes::server(Protocol::Rest, routes::Auth::Token));
        let response = self.client.post(url).form(&form).send().await.map_err(|e| self.failure(e))?;
        let status = response.status();
        let body = self.read_bounded(response).await?;
        if !status.is_success() {
            return Err(SiteError::Status(status.as_u16()));
        }
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| SiteError::NotMoodle(format!("not JSON ({e}): {}", preview(&body))))?;
        if let Some((_, errorcode, message, _)) = moodle_exception(&value) {
            return Err(SiteError::Moodle { errorcode, message });
        }
        Ok(value)
    }

    /// Sends a caller's call to the site's REST server as it is (`params` in PHP's form syntax),
    /// with `credential` in place of the caller's, and hands back the site's answer untouched:
    /// a Moodle exception is an answer like any other here.
    pub async fn forward(
        &self,
        credential: &str,
        function: &str,
        params: &[(String, String)],
        format: RestFormat,
    ) -> Result<SiteReply, SiteError> {
        let format = match format {
            RestFormat::Json => "json",
            RestFormat::Xml => "xml",
        };
        let mut form: Vec<(&str, &str)> = Vec::with_capacity(params.len() + 3);
        form.extend([("wstoken", credential), ("wsfunction", function), ("moodlewsrestformat", format)]);
        form.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let url = format!("{}{}", self.base, routes::server(Protocol::Rest, routes::Auth::Token));
        self.reply(self.client.post(url).form(&form)).await
    }

    /// Sends a caller's upload to the site's `webservice/upload.php`, `credential` as its
    /// token, the caller's other fields and files as they came, and hands back the site's
    /// answer untouched (Moodle's AJAX error is an answer like any other here).
    pub async fn upload(
        &self,
        credential: &str,
        fields: &[(String, String)],
        files: Vec<UploadFile>,
    ) -> Result<SiteReply, SiteError> {
        // Names as they came (the caller's were checked to hold no quote, backslash or
        // control character): PHP does not read the `name*=` spelling reqwest would use for
        // a name with a space or a non-ASCII letter, and drops the rest of the body.
        let mut form = reqwest::multipart::Form::new().percent_encode_noop();
        for (name, value) in fields {
            form = form.text(name.clone(), value.clone());
        }
        // Last of the text fields: in PHP the last field of a name wins.
        form = form.text("token", credential.to_string());
        for file in files {
            let length = file.bytes.len() as u64;
            let mut part = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(file.bytes), length)
                .file_name(file.file_name);
            if let Some(content_type) = file.content_type {
                part = part.mime_str(&content_type).map_err(|e| SiteError::NotMoodle(format!("a file's type: {e}")))?;
            }
            form = form.part(file.field, part);
        }
        let url = format!("{}{}", self.base, routes::UPLOAD);
        self.reply(self.client.post(url).multipart(form)).await
    }

    /// Sends `request` and reads the site's whole answer (bounded), as the site sent it; a
    /// 5xx is the site's failure.
    async fn reply(&self, request: reqwest::RequestBuilder) -> Result<SiteReply, SiteError> {
        let started = std::time::Instant::now();
        let response = request.send().await.map_err(|e| self.failure(e))?;
        let status = response.status().as_u16();
        let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let content_type = content_type.map(str::to_string);
        let body = self.read_bounded(response).await?;
        if status >= 500 {
            return Err(SiteError::Status(status));
        }
        Ok(SiteReply { status, content_type, body, latency: started.elapsed() })
    }

    /// Asks the site for the file at `url` ([`file_url`]: the front fetches nothing but the
    /// site's files), with `credential` in the POST body and the caller's download options and
    /// conditional or range headers. The answer's head, its body still to read.
    pub async fn fetch_file(
        &self,
        url: reqwest::Url,
        credential: &str,
        options: &[(String, String)],
        headers: reqwest::header::HeaderMap,
    ) -> Result<reqwest::Response, SiteError> {
        let mut form: Vec<(&str, &str)> = vec![("token", credential)];
        form.extend(options.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let send = self.files.post(url).headers(headers).form(&form).send();
        let timeout = Duration::from_secs(self.timeout_secs.into());
        let response = tokio::time::timeout(timeout, send)
            .await
            .map_err(|_| SiteError::TimedOut(self.timeout_secs))?
            .map_err(|e| self.failure(e))?;
        if response.status().is_server_error() {
            return Err(SiteError::Status(response.status().as_u16()));
        }
        Ok(response)
    }

    /// The body, up to [`MAX_ANSWER_BYTES`].
    async fn read_bounded(&self, mut response: reqwest::Response) -> Result<Vec<u8>, SiteError> {
        if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
            return Err(SiteError::TooBig);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.failure(e))? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(SiteError::TooBig);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn failure(&self, e: reqwest::Error) -> SiteError {
        if e.is_timeout() {
            return SiteError::TimedOut(self.timeout_secs);
        }
        // What failed and its innermost cause (refused, reset, unknown certificate…); the URL
        // is the site's, known already.
        let cause = deepest_cause(&e);
        let e = e.without_url();
        SiteError::Unreachable(match cause {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        })
    }
}

/// `<base>/webservice/pluginfile.php/<path>`, each segment (decoded) percent-encoded; a
/// segment that is empty, `.` or `..`, or holds a slash, backslash or NUL is refused, so the
/// URL stays under the script.
pub fn file_url(base: &str, path: &[String]) -> Result<reqwest::Url, SiteError> {
    let bad = |why: &str| SiteError::NotMoodle(format!("not a file path: {why}"));
    if path.is_empty() {
        return Err(bad("it is empty"));
    }
    // Control characters too: the URL parser drops tabs and line breaks, which would turn
    // `.\t.` into `..` after this check.
    let unsafe_segment = |s: &String| {
        s.is_empty() || s == "." || s == ".." || s.contains(['/', '\\']) || s.chars().any(char::is_control)
    };
    if path.iter().any(unsafe_segment) {
        return Err(bad("a segment is empty, `.` or `..`, or holds a slash, a backslash or a control character"));
    }
    let mut url = reqwest::Url::parse(base).map_err(|e| SiteError::NotMoodle(format!("the site URL: {e}")))?;
    let script = {
        let mut segments = url.path_segments_mut().map_err(|_| bad("the site URL cannot have a path"))?;
        segments.pop_if_empty().extend(["webservice", "pluginfile.php"]);
        drop(segments);
        format!("{}/", url.path())
    };
    url.path_segments_mut().map_err(|_| bad("the site URL cannot have a path"))?.extend(path);
    url.set_query(None);
    // Whatever the parser made of the segments, the URL must still lie under the script.
    if !url.path().starts_with(&script) || url.path().split('/').any(|s| s == "." || s == "..") {
        return Err(bad("it leaves the site's file script"));
    }
    Ok(url)
}

/// The innermost cause of an HTTP failure (refused, reset, certificate unknown…).
fn deepest_cause(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = e.source()?;
    while let Some(next) = cause.source() {
        cause = next;
    }
    Some(cause.to_string())
}

/// The start of an answer that is not what was expected, printable.
fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(120)]);
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_moodle_s_exception_is_read_as_one() {
        let reply = |body: &str| SiteReply {
            status: 200,
            content_type: None,
            body: body.as_bytes().to_vec(),
            latency: Duration::ZERO,
        };
        // As a Moodle 4.3 recorded them (debug_rest_bad_token_json, debug_rest_token_expired_first_xml).
        let json = r#"{"exception":"moodle_exception","errorcode":"invalidtoken","message":"Invalid token - token not found"}"#;
        assert_eq!(reply(json).exception_code().as_deref(), Some("invalidtoken"));
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<EXCEPTION class=\"webservice_access_exception\">\n<ERRORCODE>accessexception</ERRORCODE>\n<MESSAGE>Access control exception</MESSAGE>\n<DEBUGINFO>Invalid token - token expired - check validuntil time for the token</DEBUGINFO>\n</EXCEPTION>\n";
        assert_eq!(reply(xml).exception_code().as_deref(), Some("accessexception"));
        for answer in [
            r#"[{"id":1,"errorcode":"not an exception"}]"#,
            r#"{"warnings":[{"item":"x","errorcode":"nope","message":"m"}],"exception":null}"#,
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<RESPONSE><SINGLE><KEY name=\"errorcode\"><VALUE>x</VALUE></KEY><KEY name=\"x\"><VALUE><ERRORCODE>y</ERRORCODE></VALUE></KEY></SINGLE></RESPONSE>",
            "null",
        ] {
            assert_eq!(reply(answer).exception_code(), None, "{answer}");
        }
    }

    #[test]
    fn a_file_url_stays_under_the_site_s_file_script() {
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let url = file_url("https://m.example.com/moodle/", &path(&["5", "user", "a b?.png"])).unwrap();
        assert_eq!(url.as_str(), "https://m.example.com/moodle/webservice/pluginfile.php/5/user/a%20b%3F.png");
        for bad in
            [&[][..], &["5", ".."], &["."], &["5", ""], &["../x"], &["a\\b"], &["a\0"], &[".\t."], &[".\n.", "x"]]
        {
            assert!(file_url("https://m.example.com", &path(bad)).is_err(), "{bad:?}");
        }
    }
}
