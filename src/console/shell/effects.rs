//! Effects: what screens and dialogs ask for, carried out. A write runs through `ops`, then
//! the database is read back before the next key acts; a refused write brings its form back
//! with the error beside the field.

use super::Shell;
use crate::console::effect::{Effect, Effects, Target, Write};
use crate::console::overlays::Step;
use crate::console::overlays::form::FormDialog;
use crate::console::screens::ScreenId;
use crate::ops::OpError;

impl Shell {
    pub(super) fn step(&mut self, step: Step) {
        let effects = match step {
            Step::Stay(effects) => effects,
            Step::Close(effects) => {
                self.overlays.pop();
                effects
            }
        };
        self.apply(effects);
    }

    pub(super) fn go(&mut self, id: ScreenId) {
        if let Some(i) = self.index(id) {
            self.current = i;
            let effects = self.on_screen(i, |s, cx| s.shown(cx));
            self.apply(effects);
        }
    }

    pub fn apply(&mut self, effects: Effects) {
        for effect in effects {
            match effect {
                Effect::Go(id) => self.go(id),
                Effect::GoAndAct(id, action) => {
                    self.go(id);
                    if let Some(i) = self.index(id) {
                        let more = self.on_screen(i, |s, cx| s.act(action, cx));
                        self.apply(more);
                    }
                }
                Effect::FocusService(name) => self.service = Some(name),
                Effect::Open(o) => {
                    self.next_overlay += 1;
                    self.overlays.push((self.next_overlay, o));
                }
                Effect::CloseDialog => {
                    self.overlays.pop();
                }
                Effect::Submitted(owner, form) => {
                    if let Some(i) = self.index(owner) {
                        let more = self.on_screen(i, |s, cx| s.submit(form, cx));
                        self.apply(more);
                    }
                }
                Effect::Write(w) => self.write(w),
                Effect::Job(mut job) => {
                    // Keys wait only for what the screen shown (or a dialog) reads.
                    job.holds_keys &= match job.to {
                        Target::Screen(id) => id == self.screen(),
                        Target::Overlay(_) => true,
                    };
                    self.jobs.start(job)
                }
                Effect::Say(m) => self.message = Some((m, false)),
                Effect::Fail(m) => self.message = Some((m, true)),
                Effect::Copy(text) => self.clipboard = Some(text),
                Effect::Filter(text) => {
                    let i = self.current;
                    let more = self.on_screen(i, |s, cx| s.set_filter(&text, cx));
                    self.apply(more);
                }
                Effect::Refresh => {
                    self.feed.reload();
                    self.message = Some(("reloading…".into(), false));
                }
                Effect::Quit => self.quit = true,
            }
        }
    }

    /// Runs a change, then rereads before the next key acts.
    pub(super) fn write(&mut self, w: Write) {
        if self.read_only {
            self.message = Some(("read-only: nothing is changed".into(), true));
            return;
        }
        match (w.run)(&self.ops) {
            Ok(done) => {
                self.message = Some((done.message, false));
                self.rereading = Some(done.select.map(|key| (self.screen(), key)));
                self.feed.catch_up();
                if let Some(next) = done.next {
                    self.apply(vec![Effect::Open(next)]);
                }
            }
            Err(e) => match w.form {
                Some((mut form, owner)) => {
                    match e {
                        OpError::Invalid(fe) => form.set_errors(vec![fe]),
                        OpError::NotFound(m) if m.starts_with("user") && form.field("username").is_some() => {
                            form.set_errors(vec![crate::domain::validate::FieldError::new("username", m)]);
                        }
                        other => form.set_error("", other.to_string()),
                    }
                    self.apply(vec![Effect::Open(Box::new(FormDialog::again(form, owner)))]);
                }
                None => self.message = Some((e.to_string(), true)),
            },
        }
    }
}
