//! The console: a keyboard-driven ratatui application over the same database as the CLI and
//! the endpoint (CONSOLE.md). The [`shell::Shell`] holds the screens (`screens/`, one file
//! each) and the dialogs (`overlays/`); this module owns the terminal: raw mode, the alternate
//! screen, a buffered writer, synchronized updates, and restoring the terminal on every way
//! out (quit, error, panic, SIGTERM, SIGHUP).

mod chrome;
pub mod data;
pub mod effect;
pub mod feed;
pub mod form;
mod jobs;
pub mod keys;
pub mod overlays;
pub mod screens;
pub mod shell;
pub mod test_client;
pub mod text_field;
pub mod theme;
pub mod token_index;
pub mod widgets;

use crate::store::Store;
use crossterm::event::{self, DisableBracketedPaste, EnableBracketedPaste};
use crossterm::terminal::{
    self, BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute, queue};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use shell::Shell;
use std::io::{BufWriter, Stdout, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

type Backend = CrosstermBackend<BufWriter<Stdout>>;

/// The console's redb page cache: it scans tables into its own index, so pages are rarely
/// read twice (measured: 16 MiB would add ~12 MiB of RSS on a 200 000-token database).
pub const CACHE_BYTES: usize = 4 << 20;

/// How long the loop waits for input before it looks for news from the feed and the jobs: a
/// change is on screen within this and the feed's own look ([`feed::POLL`]).
const IDLE_WAIT: Duration = Duration::from_millis(40);
/// The same while a job or a reread is running, so its answer shows at once.
const BUSY_WAIT: Duration = Duration::from_millis(20);

/// Runs the console until the administrator quits (or a signal says to).
pub fn run(db: &Path, policy: crate::store::file_check::FilePolicy, read_only: bool) -> Result<(), String> {
    let store = Arc::new(Store::open_with(db, CACHE_BYTES, policy).map_err(|e| e.to_string())?);
    let theme = theme::Theme::from_env();
    // NO_COLOR is honoured by the theme; crossterm's own handling would reset attributes.
    crossterm::style::force_color_output(true);

    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(stop.clone())?;
    let mut terminal = enter().map_err(|e| format!("cannot set up the terminal: {e}"))?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        leave_raw();
        previous(info);
    }));

    let mut shell = Shell::new(store, read_only, theme);
    if let Ok(size) = terminal.size() {
        shell.size = (size.width, size.height);
    }
    let result = event_loop(&mut terminal, &mut shell, &stop);
    leave(&mut terminal);
    let _ = std::panic::take_hook();
    result.map_err(|e| format!("terminal error: {e}"))
}

/// SIGTERM and SIGHUP end the console with the terminal restored. The loop notices the flag
/// within its idle wait; but when the terminal itself has gone (a dropped SSH connection),
/// crossterm keeps reading end-of-file inside its poll and never returns, so a watcher thread
/// restores what can be restored and exits if the loop has not finished shortly after.
fn watch_signals(stop: Arc<AtomicBool>) -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGTERM};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGHUP]).map_err(|e| format!("cannot watch signals: {e}"))?;
    std::thread::Builder::new()
        .name("console-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                stop.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(600));
                leave_raw();
                std::process::exit(128 + signal);
            }
        })
        .map_err(|e| format!("cannot watch signals: {e}"))?;
    Ok(())
}

fn enter() -> std::io::Result<Terminal<Backend>> {
    terminal::enable_raw_mode()?;
    let mut out = BufWriter::with_capacity(64 * 1024, std::io::stdout());
    // No mouse capture, no terminal queries (CONSOLE.md): over SSH an unanswered query stalls.
    execute!(out, EnterAlternateScreen, EnableBracketedPaste, cursor::Hide)?;
    Terminal::new(CrosstermBackend::new(out))
}

fn leave(terminal: &mut Terminal<Backend>) {
    let _ = execute!(terminal.backend_mut(), DisableBracketedPaste, LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
}

/// The panic path: no terminal handle at hand, so straight to stdout.
fn leave_raw() {
    let mut out = std::io::stdout();
    let _ = execute!(out, DisableBracketedPaste, LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
}

fn event_loop(terminal: &mut Terminal<Backend>, shell: &mut Shell, stop: &AtomicBool) -> std::io::Result<()> {
    let mut dirty = true;
    while !shell.quit && !stop.load(Ordering::Relaxed) {
        if dirty {
            draw(terminal, shell)?;
            dirty = false;
        }
        if event::poll(if shell.busy() { BUSY_WAIT } else { IDLE_WAIT })? {
            // Drain everything queued before drawing again (held-down keys, pastes).
            loop {
                dirty |= shell.handle(&event::read()?);
                if shell.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        dirty |= shell.tick();
        if let Some(text) = shell.clipboard.take() {
            copy_osc52(terminal.backend_mut(), &text)?;
        }
    }
    Ok(())
}

/// One frame, wrapped in a synchronized update so slow links never show half a frame.
pub fn draw(terminal: &mut Terminal<Backend>, shell: &Shell) -> std::io::Result<()> {
    queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.draw(|f| shell.draw(f))?;
    queue!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    terminal.backend_mut().flush()
}

/// OSC 52: the terminal (local, over SSH, through tmux with `set-clipboard on`) puts the text
/// on the clipboard.
fn copy_osc52(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    write!(out, "\x1b]52;c;{encoded}\x07")?;
    out.flush()
}
