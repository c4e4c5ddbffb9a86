//! The console's shell: the screens, the stack of dialogs, the data feed and background jobs.
//! It dispatches each key through the one key table to the dialog on top or to the screen
//! shown, and carries out the effects they return: writes through `ops`, jobs, navigation.
//! After a write it rereads the database before the next key acts; keys typed meanwhile wait
//! in order, none is lost.

/// The context, built from the shell's fields one by one (a macro, not a method), so that the
/// borrow is of those fields only and a screen or a dialog can be borrowed mutably beside it.
macro_rules! ctx {
    ($shell:expr, $data:expr) => {
        Ctx {
            data: $data,
            theme: $shell.theme,
            read_only: $shell.read_only,
            size: $shell.size,
            service: $shell.service.as_deref(),
        }
    };
}

mod effects;
mod input;

use super::chrome;
use super::data::Data;
use super::effect::{Ctx, Effects, Reply, Target};
use super::feed::{Feed, News};
use super::jobs::Jobs;
use super::keys::{self, Action, Context};
use super::overlays::{Areas, Overlay};
use super::screens::{self, Meta, Screen, ScreenId};
use super::theme::Theme;
use crate::ops::Ops;
use crate::store::Store;
use crossterm::event::{Event, KeyCode, KeyEventKind};
use ratatui::Frame;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub struct Shell {
    ops: Ops,
    pub read_only: bool,
    pub theme: Theme,
    pub(super) screens: Vec<Box<dyn Screen>>,
    current: usize,
    overlays: Vec<(u64, Box<dyn Overlay>)>,
    next_overlay: u64,
    pub(super) data: Option<Box<Data>>,
    feed: Feed,
    jobs: Jobs,
    /// When the data on screen was last known to match the database.
    pub(super) confirmed: Instant,
    /// A change of ours is being reread: keys wait. Holds the row to select afterwards.
    rereading: Option<Option<(ScreenId, String)>>,
    queued: VecDeque<Event>,
    pub size: (u16, u16),
    /// A one-line result of the last action; `true` when it is an error.
    pub(super) message: Option<(String, bool)>,
    /// The service whose functions and authorised users are shown.
    service: Option<String>,
    /// How many times everything was read (the first read included): changes are otherwise
    /// applied in place.
    pub full_reads: u64,
    /// Text to copy, picked up by the terminal layer (OSC 52).
    pub clipboard: Option<String>,
    pub quit: bool,
}

impl Shell {
    pub fn new(store: Arc<Store>, read_only: bool, theme: Theme) -> Shell {
        Shell {
            ops: Ops::as_os_user(store.clone()),
            read_only,
            theme,
            screens: screens::all(),
            current: 0,
            overlays: Vec::new(),
            next_overlay: 0,
            data: None,
            feed: Feed::start(store.clone()),
            jobs: Jobs::new(store),
            confirmed: Instant::now(),
            rereading: None,
            queued: VecDeque::new(),
            size: (MIN_WIDTH, MIN_HEIGHT),
            message: None,
            service: None,
            clipboard: None,
            full_reads: 0,
            quit: false,
        }
    }

    /// What the screens show, once read.
    pub fn data(&self) -> Option<&Data> {
        self.data.as_deref()
    }

    /// How many dialogs are open.
    pub fn dialogs(&self) -> usize {
        self.overlays.len()
    }

    pub fn screen(&self) -> ScreenId {
        self.screens[self.current].id()
    }

    pub(super) fn current(&self) -> &dyn Screen {
        self.screens[self.current].as_ref()
    }

    pub(super) fn metas(&self) -> Vec<&'static Meta> {
        self.screens.iter().map(|s| s.meta()).collect()
    }

    pub(super) fn overlays(&self) -> impl Iterator<Item = &dyn Overlay> {
        self.overlays.iter().map(|(_, o)| o.as_ref())
    }

    /// What has the keyboard.
    pub fn context(&self) -> Context {
        match self.overlays.last() {
            Some((_, o)) => Context::Overlay(o.kind()),
            None => Context::Screen(self.screen()),
        }
    }

    pub fn too_small(&self) -> bool {
        self.size.0 < MIN_WIDTH || self.size.1 < MIN_HEIGHT
    }

    /// Whether the shell waits for the feed or a job (the loop then polls sooner).
    pub fn busy(&self) -> bool {
        self.jobs.busy() || self.feed.in_flight() || !self.queued.is_empty()
    }

    /// What is running in the background, if anything, for the status line.
    pub(super) fn working(&self) -> Option<String> {
        if self.rereading.is_some() {
            return Some("working… reading the change back".into());
        }
        self.jobs.working().map(|w| format!("working… {w}"))
    }

    pub(super) fn cx(&self) -> Option<Ctx<'_>> {
        Some(ctx!(self, self.data.as_deref()?))
    }

    /// Handles one terminal event. Returns whether the screen needs drawing.
    pub fn handle(&mut self, event: &Event) -> bool {
        match event {
            Event::Key(key) if key.kind == KeyEventKind::Release => false,
            Event::Resize(w, h) => {
                self.size = (*w, *h);
                true
            }
            Event::Key(_) | Event::Paste(_) => {
                if self.data.is_none() || self.rereading.is_some() || self.jobs.holding() || !self.queued.is_empty() {
                    if let Event::Key(key) = event
                        && self.overlays.is_empty()
                        && keys::lookup(Context::Screen(self.screen()), key, self.read_only) == Some(Action::Quit)
                        && key.code != KeyCode::Char('q')
                    {
                        // Ctrl-C never waits.
                        self.quit = true;
                    }
                    self.queued.push_back(event.clone());
                } else {
                    self.event(event);
                }
                true
            }
            _ => false,
        }
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::Key(key) => self.key(key),
            Event::Paste(text) => self.paste(text),
            _ => {}
        }
    }

    /// Picks up the feed's news and the jobs' answers, then runs keys that waited for them.
    /// Returns whether anything on screen may have changed.
    pub fn tick(&mut self) -> bool {
        let mut changed = false;
        for news in self.feed.poll() {
            self.news(news);
            changed = true;
        }
        for reply in self.jobs.poll() {
            self.reply(reply);
            changed = true;
        }
        changed | self.run_queued()
    }

    /// Waits until the feed, the jobs and the waiting keys are all done (tests, benchmark).
    /// Waiting keys run as soon as they may, as in the terminal's loop.
    pub fn settle(&mut self) {
        loop {
            let ran = self.run_queued();
            if self.feed.in_flight() {
                match self.feed.wait() {
                    Some(news) => self.news(news),
                    None => return,
                }
            } else if self.jobs.busy() {
                if let Some(reply) = self.jobs.wait() {
                    self.reply(reply);
                }
            } else if !ran || self.queued.is_empty() {
                return;
            }
        }
    }

    fn run_queued(&mut self) -> bool {
        let mut ran = false;
        while self.data.is_some() && self.rereading.is_none() && !self.jobs.holding() && !self.quit {
            let Some(event) = self.queued.pop_front() else { break };
            self.event(&event);
            ran = true;
        }
        ran
    }

    fn news(&mut self, news: News) {
        match news {
            News::Loaded { data: Ok(data), behind, .. } => {
                self.data = Some(data);
                self.full_reads += 1;
                if behind {
                    let why = "read everything again: the console had fallen behind the database's change feed";
                    self.message = Some((why.into(), false));
                }
                self.refreshed();
            }
            News::Changed { delta, .. } => {
                if let Some(d) = self.data.as_mut() {
                    d.apply(*delta);
                }
                self.refreshed();
            }
            News::Loaded { data: Err(e), .. } => {
                self.rereading = None;
                self.message = Some((format!("cannot read the database: {e}"), true));
            }
            News::Unchanged { .. } => {
                self.confirmed = Instant::now();
                self.reread_done();
            }
        }
    }

    /// The data moved: every screen brings itself up to date, the one shown reads what it
    /// shows, and a row created by a change of ours is selected.
    fn refreshed(&mut self) {
        self.confirmed = Instant::now();
        let mut effects = Vec::new();
        for i in 0..self.screens.len() {
            effects.extend(self.on_screen(i, |s, cx| s.refreshed(cx)));
        }
        effects.extend(self.on_screen(self.current, |s, cx| s.shown(cx)));
        self.apply(effects);
        self.reread_done();
    }

    /// A change of ours has been read back: its new row is selected and keys may run.
    fn reread_done(&mut self) {
        if !self.feed.in_flight()
            && let Some(select) = self.rereading.take()
            && let Some((id, key)) = select
            && let Some(i) = self.index(id)
        {
            let effects = self.on_screen(i, |s, cx| s.select(&key, cx));
            self.apply(effects);
        }
    }

    fn reply(&mut self, reply: Reply) {
        let effects = match reply.to {
            Target::Screen(id) => match self.index(id) {
                Some(i) => self.on_screen(i, |s, cx| s.reply(reply.answer, cx)),
                None => Vec::new(),
            },
            Target::Overlay(n) => {
                if let Some((_, o)) = self.overlays.iter_mut().find(|(m, _)| *m == n) {
                    o.reply(reply.answer);
                }
                Vec::new()
            }
        };
        self.apply(effects);
    }

    pub(super) fn index(&self, id: ScreenId) -> Option<usize> {
        self.screens.iter().position(|s| s.id() == id)
    }

    /// Runs `f` on screen `i` with the context, if the data is in.
    pub(super) fn on_screen(&mut self, i: usize, f: impl FnOnce(&mut dyn Screen, &Ctx) -> Effects) -> Effects {
        let Some(data) = self.data.as_deref() else { return Vec::new() };
        let cx = ctx!(self, data);
        f(self.screens[i].as_mut(), &cx)
    }

    /// Draws a frame from `&self`: nothing changes while drawing.
    pub fn draw(&self, f: &mut Frame) {
        let area = f.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            chrome::too_small(f, area);
            return;
        }
        let layout = chrome::layout(self, area);
        chrome::header(f, self, layout.header);
        match self.cx() {
            None => chrome::reading(f, self, layout.body),
            Some(cx) => {
                self.current().draw(f, layout.body, &cx);
                chrome::status(f, self, &cx, layout.status);
                chrome::footer(f, self, &cx, layout.footer);
                let areas = Areas { body: layout.body, status: layout.status };
                for o in self.overlays() {
                    o.draw(f, areas, &cx);
                }
            }
        }
    }
}
