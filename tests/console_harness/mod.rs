//! The console in process, as the tests drive it: scripted key events against a real
//! database, `TestBackend` renders at a chosen size, and the "external system" flow by keys.
#![allow(dead_code)]

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use std::sync::Arc;
use wsconsole::console::screens::features;
use wsconsole::console::shell::Shell;
use wsconsole::console::theme::Theme;
use wsconsole::domain::Protocol;
use wsconsole::store::{Queries, Store};

pub struct Console {
    pub app: Shell,
    pub store: Arc<Store>,
    _dir: tempfile::TempDir,
}

impl Console {
    pub fn new(read_only: bool, mono: bool) -> Console {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("c.redb")).unwrap());
        let mut app = Shell::new(store.clone(), read_only, Theme { mono });
        app.settle();
        Console { app, store, _dir: dir }
    }

    pub fn key(&mut self, code: KeyCode) -> &mut Self {
        self.app.handle(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        self.app.settle();
        self
    }

    pub fn ctrl(&mut self, c: char) -> &mut Self {
        self.app.handle(&Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)));
        self.app.settle();
        self
    }

    /// Each character as a key press (no Enter).
    pub fn keys(&mut self, text: &str) -> &mut Self {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
        self
    }

    pub fn enter(&mut self) -> &mut Self {
        self.key(KeyCode::Enter)
    }

    pub fn tab(&mut self, n: usize) -> &mut Self {
        for _ in 0..n {
            self.key(KeyCode::Tab);
        }
        self
    }

    /// The frame at `w`×`h` (the console is told the terminal has that size).
    pub fn screen(&mut self, w: u16, h: u16) -> String {
        self.app.handle(&Event::Resize(w, h));
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| self.app.draw(f)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..h {
            for x in 0..w {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    pub fn colours(&mut self, w: u16, h: u16) -> Vec<Color> {
        self.app.handle(&Event::Resize(w, h));
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| self.app.draw(f)).unwrap();
        t.backend().buffer().content.iter().flat_map(|c| [c.fg, c.bg]).collect()
    }

    pub fn settings(&self) -> wsconsole::domain::Settings {
        Queries::settings(&self.store.read().unwrap()).unwrap()
    }
}

/// From an empty database to a working token with keys alone, as the flow.
pub fn token_flow(c: &mut Console) -> String {
    // Overview → step 1 → Advanced features, Space.
    c.enter();
    assert_eq!(c.app.screen(), features::ID);
    c.key(KeyCode::Char(' '));
    assert!(c.settings().enable_web_services);
    // Protocols: REST.
    c.keys("3 ");
    assert!(c.settings().protocols.contains(&Protocol::Rest));
    // A web-services user.
    c.keys("5n").keys("client1").tab(2).keys("Secret-pass-1").enter();
    let v = c.store.read().unwrap();
    assert!(v.user_by_username("client1").unwrap().is_some(), "{}", c.screen(80, 24));
    drop(v);
    // A role with webservice/rest:use, assigned to the user.
    c.keys(":roles").enter().keys("n").keys("wsrole").enter().keys("rest:use").key(KeyCode::Char(' ')).enter();
    let v = c.store.read().unwrap();
    let role = v.role_by_shortname("wsrole").unwrap().expect("role created");
    assert_eq!(v.role_capabilities(role.id).unwrap(), vec!["webservice/rest:use".to_string()]);
    drop(v);
    c.keys("5r").keys("wsrole").key(KeyCode::Char(' ')).enter();
    let v = c.store.read().unwrap();
    let user = v.user_by_username("client1").unwrap().unwrap();
    assert!(v.user_has_capability(user.id, "webservice/rest:use").unwrap());
    drop(v);
    // A custom service with the function, and the user authorised.
    c.keys("6n").keys("External system").tab(1).ctrl('u').keys("ext_system").enter();
    c.keys("Gf").keys("site_info").key(KeyCode::Char(' ')).enter();
    c.keys("6Ga").keys("n").keys("client1").enter();
    let v = c.store.read().unwrap();
    let s = v.service_by_shortname("ext_system").unwrap().expect("service created");
    assert!(s.restricted_users && s.enabled);
    assert_eq!(v.service_function_names(s.id).unwrap(), vec!["core_webservice_get_site_info".to_string()]);
    assert!(v.authorisation(s.id, user.id).unwrap().is_some());
    drop(v);
    // The token: shown once.
    c.keys("7n").keys("client1").enter();
    let shown = c.screen(80, 24);
    assert!(shown.contains("will not be shown again"), "{shown}");
    let token = shown
        .split(|ch: char| !ch.is_ascii_hexdigit())
        .find(|w| w.len() == 32)
        .expect("the token is on screen")
        .to_string();
    c.key(KeyCode::Char('y'));
    assert_eq!(c.app.clipboard.as_deref(), Some(token.as_str()), "y copies it");
    c.enter();
    assert!(!c.screen(80, 24).contains(&token), "never shown again");
    token
}

impl Console {
    /// Starts the endpoint on `listener` over this console's database and stops it once its
    /// start is recorded; returns the warning it gave.
    pub fn start_endpoint_once(&mut self, listener: std::net::TcpListener) -> Option<String> {
        listener.set_nonblocking(true).unwrap();
        let store = self.store.clone();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            // The server stops at once: its start has been checked and recorded by then.
            wsconsole::endpoint::serve(store, listener, Default::default(), async {}).await.unwrap();
        });
        self.store.read().unwrap().endpoint_start().unwrap().and_then(|e| e.warning)
    }
}

impl Console {
    /// Keys typed faster than anything is read: the console is not waited for between them.
    pub fn burst(&mut self, text: &str) -> &mut Self {
        for c in text.chars() {
            self.app.handle(&Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
        }
        self.app.settle();
        self
    }

    /// Pasted text, as a terminal with bracketed paste sends it.
    pub fn paste(&mut self, text: &str) -> &mut Self {
        self.app.handle(&Event::Paste(text.to_string()));
        self.app.settle();
        self
    }

    /// Where the terminal's cursor is put by a frame at `w`×`h` (a new terminal's cursor
    /// stays at 0,0 when the frame puts it nowhere).
    pub fn cursor(&mut self, w: u16, h: u16) -> (u16, u16) {
        self.app.handle(&Event::Resize(w, h));
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| self.app.draw(f)).unwrap();
        let p = t.get_cursor_position().unwrap();
        (p.x, p.y)
    }

    /// Ticks the console until `done` holds for its 80×24 frame, or panics after 10 s.
    pub fn until(&mut self, what: &str, done: impl Fn(&str) -> bool) -> String {
        self.until_at((80, 24), what, done)
    }

    /// [`Console::until`] for the frame at `size` (columns, rows).
    pub fn until_at(&mut self, (w, h): (u16, u16), what: &str, done: impl Fn(&str) -> bool) -> String {
        let start = std::time::Instant::now();
        loop {
            self.app.tick();
            self.app.settle();
            let s = self.screen(w, h);
            if done(&s) {
                return s;
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(10), "never saw {what}:\n{s}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// The endpoint in this process, on the console's database, at an ephemeral port that the
/// site URL is set to (where the test client sends its calls).
pub struct LiveEndpoint {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LiveEndpoint {
    pub fn start(c: &mut Console) -> LiveEndpoint {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let store = c.store.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let shutdown = async {
                    let _ = stopped.await;
                };
                wsconsole::endpoint::serve(store, listener, wsconsole::endpoint::Config::default(), shutdown)
                    .await
                    .unwrap();
            });
        });
        wsconsole::ops::Ops::new(c.store.clone(), "test").set_setting("siteurl", &base).unwrap();
        c.ctrl('r');
        LiveEndpoint { base, stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for LiveEndpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
