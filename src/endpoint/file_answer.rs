//! Telling a Moodle site's refusal of a file from the file. The site's file script refuses
//! (an invalid token, downloads off, …) with Moodle's AJAX error: HTTP 200 and a small JSON
//! object `{"error": …, "errorcode": …}`, not with a status. So the first bytes of a short
//! JSON or text answer are read before it is passed on: the call log then says what the site
//! said instead of "ok". The bytes go to the caller unchanged, as the site sent them; an answer
//! longer than [`PEEK`], or slower to come than a call may take, is a file, and flows on as it
//! comes.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::{Stream, StreamExt};
use std::time::Duration;

/// Moodle's AJAX errors are a few hundred bytes (a stack trace in developer mode, a few KiB).
pub const PEEK: usize = 16 << 10;

/// What the site answered: its error code when it was Moodle's AJAX error, and the body to
/// pass on (what was read, then the rest).
pub struct Peeked<S> {
    pub errorcode: Option<String>,
    /// Whether the whole answer was read.
    pub ended: bool,
    /// Bytes read ahead.
    pub read: u64,
    pub body: futures_util::stream::Chain<futures_util::stream::Iter<std::vec::IntoIter<reqwest::Result<Bytes>>>, S>,
}

impl<S: Stream<Item = reqwest::Result<Bytes>>> Peeked<S> {
    /// An answer not looked at.
    pub fn none(stream: S) -> Self {
        Peeked { errorcode: None, ended: false, read: 0, body: futures_util::stream::iter(Vec::new()).chain(stream) }
    }
}

/// Whether an answer may be Moodle's AJAX error: a 200 whose type is JSON or text (Moodle
/// sends text/plain to clients that do not take JSON), with no `Content-Disposition` (Moodle
/// names every file it sends, inline or attached) and not said to be longer than [`PEEK`].
pub fn may_be_refusal(status: StatusCode, headers: &HeaderMap) -> bool {
    let text_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/plain"));
    let long = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > PEEK);
    status == StatusCode::OK && text_type && !long && !headers.contains_key(header::CONTENT_DISPOSITION)
}

/// Reads `stream` until it ends, passes [`PEEK`] bytes (by at most one chunk) or `within`
/// has gone by; when the whole answer came, and is Moodle's AJAX error, its error code.
pub async fn peek<S>(mut stream: S, within: Duration) -> Peeked<S>
where
    S: Stream<Item = reqwest::Result<Bytes>> + Unpin,
{
    let mut read: Vec<reqwest::Result<Bytes>> = Vec::new();
    let mut seen = 0;
    let mut ended = false;
    let deadline = tokio::time::sleep(within);
    tokio::pin!(deadline);
    while seen <= PEEK {
        let next = tokio::select! {
            next = stream.next() => next,
            () = &mut deadline => break,
        };
        match next {
            Some(Ok(chunk)) => {
                seen += chunk.len();
                read.push(Ok(chunk));
            }
            Some(Err(e)) => {
                read.push(Err(e));
                break;
            }
            None => {
                ended = true;
                break;
            }
        }
    }
    let errorcode = if ended {
        let whole: Vec<u8> = read.iter().flat_map(|c| c.as_ref().map(|b| b.to_vec()).unwrap_or_default()).collect();
        ajax_errorcode(&whole)
    } else {
        None
    };
    Peeked { errorcode, ended, read: seen as u64, body: futures_util::stream::iter(read).chain(stream) }
}

/// What the call log says of a site's answer to a file script: its AJAX error's code, else
/// "ok" for a success and "sitestatus" for a failing status.
pub fn outcome(errorcode: Option<String>, status: StatusCode) -> std::borrow::Cow<'static, str> {
    match errorcode {
        Some(code) => code.into(),
        None if status.is_success() => "ok".into(),
        None => "sitestatus".into(),
    }
}

/// The error code of Moodle's AJAX error (`error` and `errorcode`, both strings).
pub fn ajax_errorcode(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("error")?.as_str()?;
    Some(v.get("errorcode")?.as_str()?.chars().take(64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(chunks: &[&[u8]]) -> impl Stream<Item = reqwest::Result<Bytes>> + Unpin {
        futures_util::stream::iter(chunks.iter().map(|c| Ok(Bytes::copy_from_slice(c))).collect::<Vec<_>>())
    }

    async fn collect<S: Stream<Item = reqwest::Result<Bytes>> + Unpin>(p: Peeked<S>) -> (Option<String>, Vec<u8>) {
        let body: Vec<u8> = p.body.map(|c| c.unwrap().to_vec()).concat().await;
        (p.errorcode, body)
    }

    #[tokio::test]
    async fn moodle_s_ajax_error_is_told_and_passed_on_unchanged() {
        let error: &[u8] = br#"{"error":"Invalid token - token not found","errorcode":"invalidtoken","stacktrace":null,"debuginfo":null,"reproductionlink":null}"#;
        let (code, body) = collect(peek(stream(&[&error[..20], &error[20..]]), Duration::from_secs(5)).await).await;
        assert_eq!(code.as_deref(), Some("invalidtoken"));
        assert_eq!(body, error);
    }

    #[tokio::test]
    async fn a_json_file_is_a_file() {
        for file in [
            &br#"{"errorcode":"x"}"#[..],
            br#"[{"error":"a","errorcode":"b"}]"#,
            br#"{"error":1,"errorcode":"b"}"#,
            b"not json",
        ] {
            let (code, body) = collect(peek(stream(&[file]), Duration::from_secs(5)).await).await;
            assert_eq!(code, None, "{}", String::from_utf8_lossy(file));
            assert_eq!(body, file);
        }
    }

    #[tokio::test]
    async fn a_long_answer_flows_on_whole_and_is_not_read_past_the_peek() {
        let chunk = vec![b' '; 4096];
        let chunks: Vec<&[u8]> = std::iter::repeat_n(&chunk[..], 100).collect();
        // Whitespace then an error object: JSON, but past the peek: not looked at.
        let mut tail = chunks.clone();
        tail.push(br#"{"error":"e","errorcode":"invalidtoken"}"#);
        let polled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = polled.clone();
        let counted = stream(&tail).inspect(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        let peeked = peek(counted, Duration::from_secs(5)).await;
        assert_eq!(peeked.errorcode, None);
        assert_eq!(polled.load(std::sync::atomic::Ordering::Relaxed), PEEK / 4096 + 1, "read just past the peek");
        let body: Vec<u8> = peeked.body.map(|c| c.unwrap().to_vec()).concat().await;
        assert_eq!(body.len(), 100 * 4096 + 40);
        assert_eq!(polled.load(std::sync::atomic::Ordering::Relaxed), 101);
    }

    /// A site that trickles its answer holds nothing past the time a call may take: what came
    /// is passed on, unclassified, and the rest follows as it comes.
    #[tokio::test]
    async fn a_trickling_answer_is_not_waited_for_past_the_time_limit() {
        let first = futures_util::stream::iter([Ok(Bytes::from_static(b"{\"error\":"))]);
        let never = futures_util::stream::pending::<reqwest::Result<Bytes>>();
        let started = std::time::Instant::now();
        let peeked = peek(first.chain(never), Duration::from_millis(100)).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!((peeked.errorcode, peeked.ended, peeked.read), (None, false, 9));
        let mut body = peeked.body;
        assert_eq!(body.next().await.unwrap().unwrap(), Bytes::from_static(b"{\"error\":"));
    }

    #[test]
    fn only_a_plain_200_of_json_or_text_is_looked_at() {
        let with = |pairs: &[(header::HeaderName, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(k.clone(), v.parse().unwrap());
            }
            h
        };
        let json = with(&[(header::CONTENT_TYPE, "application/json; charset=utf-8")]);
        assert!(may_be_refusal(StatusCode::OK, &json));
        assert!(may_be_refusal(StatusCode::OK, &with(&[(header::CONTENT_TYPE, "text/plain; charset=utf-8")])));
        assert!(!may_be_refusal(StatusCode::PARTIAL_CONTENT, &json));
        assert!(!may_be_refusal(StatusCode::NOT_FOUND, &json));
        assert!(!may_be_refusal(StatusCode::OK, &with(&[(header::CONTENT_TYPE, "image/png")])));
        let long = with(&[(header::CONTENT_TYPE, "application/json"), (header::CONTENT_LENGTH, "16385")]);
        assert!(!may_be_refusal(StatusCode::OK, &long), "longer than the peek: a file");
        let short = with(&[(header::CONTENT_TYPE, "application/json"), (header::CONTENT_LENGTH, "16384")]);
        assert!(may_be_refusal(StatusCode::OK, &short));
        let attachment = with(&[
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"data.json\""),
        ]);
        assert!(!may_be_refusal(StatusCode::OK, &attachment));
    }
}
