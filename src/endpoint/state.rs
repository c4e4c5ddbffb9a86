//! The app every handler shares: the store, snapshots, activity log, throttle, password gate
//! and limits.

use super::{activity, body_budget, forward, fresh, metrics, password_gate, throttle};
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

pub struct App {
    pub store: Arc<Store>,
    pub(super) fresh: fresh::Fresh,
    pub(super) activity: activity::Activity,
    pub(super) throttle: Arc<throttle::Throttle>,
    /// Bounds concurrent argon2 verifications, so a login flood cannot take every core, and
    /// serves waiting ones in turn by address.
    pub(super) passwords: password_gate::PasswordGate,
    pub(super) request_timeout: Duration,
    pub(super) body_budget: Arc<body_budget::BodyBudget>,
    /// The Moodle site behind connected services.
    pub(super) front: forward::Front,
    /// What `/metrics` shows, counted whether or not it is served.
    pub(super) metrics: Arc<metrics::Metrics>,
}

pub type AppState = Arc<App>;
