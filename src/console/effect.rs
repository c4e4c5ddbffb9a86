//! What screens and dialogs see (a read-only [`Ctx`]) and what they ask the shell to do
//! ([`Effect`]s). A screen never writes, reads the store, or touches another screen itself:
//! it returns effects, which the shell carries out (CONSOLE.md: gitui's shape).

use super::data::Data;
use super::form::Form;
use super::overlays::Overlay;
use super::screens::ScreenId;
use super::theme::Theme;
use crate::ops::{OpError, Ops};
use crate::store::Store;
use std::any::Any;

/// What every screen and dialog may read while it acts or draws.
pub struct Ctx<'a> {
    pub data: &'a Data,
    pub theme: Theme,
    pub read_only: bool,
    /// The terminal's size (columns, rows).
    pub size: (u16, u16),
    /// The service whose functions and authorised users are shown.
    pub service: Option<&'a str>,
}

impl Ctx<'_> {
    /// Rows a list shows in one page at the current size.
    pub fn page(&self) -> usize {
        usize::from(self.size.1.saturating_sub(8)).max(1)
    }
}

pub type Effects = Vec<Effect>;

pub enum Effect {
    Go(ScreenId),
    /// Go to a screen, then act there (the palette's `:new token`).
    GoAndAct(ScreenId, super::keys::Action),
    /// Show the service's functions or authorised users.
    FocusService(String),
    Open(Box<dyn Overlay>),
    /// Close the dialog now on top (the form under a "Discard?" that was answered yes).
    CloseDialog,
    /// A form's input, for the screen that opened it.
    Submitted(ScreenId, Box<Form>),
    Write(Write),
    /// A read or a network call, off the UI thread.
    Job(Job),
    Say(String),
    Fail(String),
    Copy(String),
    /// The current screen's filter changed.
    Filter(String),
    Refresh,
    Quit,
}

/// A change through `ops`, run by the shell, which then rereads the database before the next
/// key acts (so a key always acts on what the change left).
/// The change itself.
pub type Change = Box<dyn FnOnce(&Ops) -> Result<Written, OpError>>;

pub struct Write {
    pub run: Change,
    /// The form the change came from, and the screen it belongs to: on a refusal it comes
    /// back with the error beside its field.
    pub form: Option<(Box<Form>, ScreenId)>,
}

impl Write {
    pub fn new(run: impl FnOnce(&Ops) -> Result<Written, OpError> + 'static) -> Write {
        Write { run: Box::new(run), form: None }
    }

    pub fn from_form(
        form: Box<Form>,
        owner: ScreenId,
        run: impl FnOnce(&Ops) -> Result<Written, OpError> + 'static,
    ) -> Write {
        Write { run: Box::new(run), form: Some((form, owner)) }
    }
}

/// What a change did: a message, the row to select once the data is reread, what to open next.
#[derive(Default)]
pub struct Written {
    pub message: String,
    pub select: Option<String>,
    pub next: Option<Box<dyn Overlay>>,
}

impl Written {
    pub fn say(message: impl Into<String>) -> Written {
        Written { message: message.into(), ..Written::default() }
    }

    pub fn select(mut self, key: impl Into<String>) -> Written {
        self.select = Some(key.into());
        self
    }

    pub fn then(mut self, next: Box<dyn Overlay>) -> Written {
        self.next = Some(next);
        self
    }
}

/// Who gets a job's answer: a screen, or the dialog that asked (by its number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Screen(ScreenId),
    Overlay(u64),
}

pub type Answer = Box<dyn Any + Send>;

/// A job's work, on its own thread with the store.
pub type JobRun = Box<dyn FnOnce(&std::sync::Arc<Store>) -> Answer + Send>;

/// Work for a background thread: a store read or an HTTP call. Its answer comes back to its
/// target as [`Reply`]; `what` is shown while it runs ("working…").
pub struct Job {
    pub to: Target,
    pub what: String,
    pub run: JobRun,
    /// Keys wait for it: what they act on (a page of users, a verdict) is being read. A read
    /// takes milliseconds; the keys typed meanwhile run, in order, once it is in.
    pub holds_keys: bool,
}

impl Job {
    /// A read that the next keys act on: they wait for it.
    pub fn new<T: Send + 'static>(
        to: Target,
        what: impl Into<String>,
        run: impl FnOnce(&Store) -> T + Send + 'static,
    ) -> Job {
        let run = move |s: &std::sync::Arc<Store>| Box::new(run(s)) as Answer;
        Job { to, what: what.into(), run: Box::new(run), holds_keys: true }
    }

    /// Work that keys do not wait for: the network, or hints shown as they come.
    pub fn background<T: Send + 'static>(
        to: Target,
        what: impl Into<String>,
        run: impl FnOnce(&Store) -> T + Send + 'static,
    ) -> Job {
        Job { holds_keys: false, ..Job::new(to, what, run) }
    }

    /// Work through `ops` that keys do not wait for (a sync with the Moodle site: the
    /// network), as the console's user.
    pub fn with_ops<T: Send + 'static>(
        to: Target,
        what: impl Into<String>,
        run: impl FnOnce(&Ops) -> T + Send + 'static,
    ) -> Job {
        let run = move |s: &std::sync::Arc<Store>| Box::new(run(&Ops::as_os_user(s.clone()))) as Answer;
        Job { to, what: what.into(), run: Box::new(run), holds_keys: false }
    }
}

pub struct Reply {
    pub to: Target,
    pub answer: Answer,
}
