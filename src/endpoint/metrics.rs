//! The endpoint's figures for monitoring, in Prometheus' text format (OpenMetrics, through
//! `prometheus-client`), served at `/metrics` only on the address `serve --metrics-listen`
//! names, apart from the web services.
//!
//! No label carries a token, username, password or client address: calls are counted by
//! protocol, function and outcome. Labels that come from a request are bounded: a function
//! is named only when it is catalogued here or the caller was let through to it (so it is in a
//! service the administrator set up), and a family takes at most [`MAX_LABEL_SETS`] label
//! sets, the rest counted as `other`.

use super::throttle::Throttle;
use crate::domain::CallLog;
use crate::domain::upstream::SiteCall;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Label sets a family keeps at most; beyond, new ones are counted under `other`.
pub const MAX_LABEL_SETS: usize = 2000;
/// Characters of an outcome kept in its label (Moodle's error codes are far shorter).
const MAX_OUTCOME: usize = 64;

/// Seconds, from 100 µs to 10 s: a local call takes tens of microseconds, a site's answer
/// tens of milliseconds, a time-out seconds.
const SECONDS: [f64; 16] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

type Text = Cow<'static, str>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    protocol: &'static str,
    function: Text,
    outcome: Text,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtocolLabels {
    protocol: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: Text,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

/// Everything counted; cloned handles are shared with the activity writer and the connection
/// loop.
pub struct Metrics {
    registry: Registry,
    calls: Bounded<CallLabels>,
    call_seconds: Family<ProtocolLabels, Histogram>,
    refusals: Bounded<ReasonLabels>,
    logins: Bounded<ReasonLabels>,
    site_requests: Family<StatusLabels, Counter>,
    site_seconds: Histogram,
    site_bytes: Counter,
    /// Events waiting for the activity writer.
    pub activity_queue: Gauge,
    /// How long each of the writer's cycles took to store what it took from the queue.
    pub activity_flush_seconds: Histogram,
    /// Events dropped because the queue was full.
    pub activity_dropped: Counter,
    /// Connections open to the web services.
    pub open_connections: Gauge,
}

impl Metrics {
    /// `throttle` and `refreshes` are read when scraped.
    pub fn new(throttle: Arc<Throttle>, refreshes: Arc<AtomicU64>) -> Metrics {
        let histogram = || Histogram::new(SECONDS);
        let mut r = Registry::with_prefix("wsconsole");
        let calls = Bounded::new(
            &mut r,
            "calls",
            "Requests logged, by protocol, function and outcome (ok or the Moodle error code)",
        );
        let call_seconds = Family::<ProtocolLabels, Histogram>::new_with_constructor(histogram);
        r.register("call_seconds", "Time from a request's arrival to its answer, by protocol", call_seconds.clone());
        let refusals = Bounded::new(&mut r, "refusals", "Requests refused before any function ran, by reason");
        let logins = Bounded::new(&mut r, "logins", "login/token.php attempts, by outcome");
        let m = Metrics {
            calls,
            call_seconds,
            refusals,
            logins,
            site_requests: Family::default(),
            site_seconds: histogram(),
            site_bytes: Counter::default(),
            activity_queue: Gauge::default(),
            activity_flush_seconds: histogram(),
            activity_dropped: Counter::default(),
            open_connections: Gauge::default(),
            registry: Registry::default(),
        };
        r.register(
            "site_requests",
            "Requests sent to the Moodle site behind, by its status class (none: no answer)",
            m.site_requests.clone(),
        );
        r.register("site_seconds", "Time the Moodle site behind took to answer", m.site_seconds.clone());
        r.register("site_bytes", "Bytes of the Moodle site's answers", m.site_bytes.clone());
        r.register(
            "activity_queue",
            "Call-log rows and last-access updates waiting to be written",
            m.activity_queue.clone(),
        );
        r.register(
            "activity_flush_seconds",
            "Time each write of the activity log took",
            m.activity_flush_seconds.clone(),
        );
        r.register(
            "activity_dropped",
            "Call-log rows and last-access updates dropped on a full queue",
            m.activity_dropped.clone(),
        );
        r.register("open_connections", "Connections open to the web services", m.open_connections.clone());
        r.register_collector(Box::new(Live { throttle, refreshes }));
        Metrics { registry: r, ..m }
    }

    /// A logged request, counted by the activity writer as it takes the call-log row from its
    /// queue: one thread counts, so the requests' threads share no counter (counting on them
    /// cost the endpoint benchmark 5 % in throughput). The function is named in a label only
    /// when it is catalogued, the caller was let through to it (the row has its service), or
    /// it is the endpoint's own path (logins, files).
    pub fn count_call(&self, call: &CallLog) {
        let protocol = protocol_label(&call.protocol);
        // Logins and files log the endpoint's own paths as their function.
        let named = call.service.is_some()
            || matches!(protocol, "login" | "file")
            || crate::domain::function_catalogue::find(&call.function).is_some();
        let function = if named { call.function.clone() } else { Text::Borrowed("other") };
        // A forwarded call's outcome is the site's error code: cut to a label's length.
        let outcome: Text = match call.outcome.char_indices().nth(MAX_OUTCOME) {
            Some((end, _)) => call.outcome[..end].to_string().into(),
            None => call.outcome.clone(),
        };
        let labels = CallLabels { protocol, function, outcome: outcome.clone() };
        self.calls.count(labels, |l| CallLabels { function: "other".into(), outcome: "other".into(), ..l });
        let took = Duration::from_micros(call.duration_micros);
        self.call_seconds.get_or_create(&ProtocolLabels { protocol }).observe(took.as_secs_f64());
        if protocol == "login" {
            let labels = ReasonLabels { reason: outcome };
            self.logins.count(labels, |_| ReasonLabels { reason: "other".into() });
        }
        if let Some(site) = &call.site {
            self.count_site(site);
        }
    }

    /// A request stopped before any function ran (by the access decision, the throttle, a
    /// protocol switched off…).
    pub fn count_refusal(&self, reason: Text) {
        self.refusals.count(ReasonLabels { reason }, |_| ReasonLabels { reason: "other".into() });
    }

    /// What the Moodle site did for a forwarded call or file.
    fn count_site(&self, site: &SiteCall) {
        let status = match site.status {
            0 => "none",
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.site_requests.get_or_create(&StatusLabels { status }).inc();
        self.site_seconds.observe(site.latency_micros as f64 / 1e6);
        self.site_bytes.inc_by(site.bytes);
    }

    /// The text a scrape gets.
    fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String does not fail");
        out
    }
}

/// The call log's protocol as a label: one of the endpoint's own names.
fn protocol_label(logged: &str) -> &'static str {
    ["rest", "soap", "xmlrpc", "amf", "login", "file"].into_iter().find(|p| *p == logged).unwrap_or("other")
}

/// A counter family that takes at most [`MAX_LABEL_SETS`] label sets: once full, a new set
/// is counted as `fallback(labels)`, so what a request names cannot grow it without end.
struct Bounded<L> {
    family: Family<L, Counter>,
    /// Label sets created (a race may count one twice: the bound only gets stricter).
    sets: AtomicUsize,
}

impl<L: Clone + std::hash::Hash + Eq + std::fmt::Debug + EncodeLabelSet + Send + Sync + 'static> Bounded<L> {
    fn new(registry: &mut Registry, name: &str, help: &str) -> Bounded<L> {
        let family = Family::default();
        registry.register(name, help, family.clone());
        Bounded { family, sets: AtomicUsize::new(0) }
    }

    fn count(&self, labels: L, fallback: impl FnOnce(L) -> L) {
        if let Some(counter) = self.family.get(&labels) {
            counter.inc();
            return;
        }
        let labels = if self.sets.fetch_add(1, Ordering::Relaxed) >= MAX_LABEL_SETS {
            self.sets.fetch_sub(1, Ordering::Relaxed);
            fallback(labels)
        } else {
            labels
        };
        self.family.get_or_create(&labels).inc();
    }
}

/// Figures read when scraped.
struct Live {
    throttle: Arc<Throttle>,
    refreshes: Arc<AtomicU64>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Live")
    }
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let throttled = ConstGauge::new(i64::try_from(self.throttle.refusing()).unwrap_or(i64::MAX));
        throttled.encode(encoder.encode_descriptor(
            "throttled_addresses",
            "Client addresses refused for now after too many failed authentications.",
            None,
            throttled.metric_type(),
        )?)?;
        let refreshes = ConstCounter::new(self.refreshes.load(Ordering::Relaxed));
        refreshes.encode(encoder.encode_descriptor(
            "snapshot_refreshes",
            "Read snapshots taken because the database changed (any write, the activity log's included).",
            None,
            refreshes.metric_type(),
        )?)?;
        Ok(())
    }
}

/// The OpenMetrics text format, which Prometheus reads.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `/metrics` and nothing else, for the address `--metrics-listen` names.
pub(super) fn router(metrics: Arc<Metrics>) -> axum::Router {
    use axum::http::{StatusCode, header};
    axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render()) }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not found: the metrics are at /metrics\n") })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A site's made-up error code is cut to a label's length; the function of a refused,
    /// unknown call is not named.
    #[test]
    fn labels_from_a_request_or_a_site_are_bounded() {
        let metrics = Metrics::new(Arc::new(Throttle::new(0)), Arc::default());
        let call = |function: &str, outcome: String, service| CallLog {
            time: 0,
            token: None,
            user: None,
            service,
            function: function.to_string().into(),
            protocol: "rest".into(),
            remote_ip: "192.0.2.1".into(),
            outcome: outcome.into(),
            duration_micros: 10,
            site: None,
        };
        metrics.count_call(&call("local_sitefunction", "x".repeat(500), Some(1)));
        metrics.count_call(&call("made_up", "invalidrecord".into(), None));
        let text = metrics.render();
        let cut =
            format!(r#"{{protocol="rest",function="local_sitefunction",outcome="{}"}} 1"#, "x".repeat(MAX_OUTCOME));
        assert!(text.contains(&cut), "{text}");
        assert!(text.contains(r#"{protocol="rest",function="other",outcome="invalidrecord"} 1"#), "{text}");
        assert!(!text.contains("made_up") && !text.contains("192.0.2.1"), "{text}");
        // Beyond the bound, new label sets are counted as other.
        for i in 0..MAX_LABEL_SETS + 10 {
            metrics.count_call(&call("local_f", format!("code{i}"), Some(1)));
        }
        let text = metrics.render();
        assert!(text.lines().filter(|l| l.starts_with("wsconsole_calls_total")).count() <= MAX_LABEL_SETS + 1);
        assert!(text.contains(r#"function="other",outcome="other"} "#), "{text}");
    }
}
