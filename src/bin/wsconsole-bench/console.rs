//! `console`: the console's frames and keystrokes at volume, and how it follows another process's writes.

use super::common::*;
use super::fill;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wsconsole::store::Store;

/// The console on an empty and on a full database, each measured in a fresh process of its own
/// (so that its peak RSS is the console's alone, not the fill's).
pub fn console_bench(args: &[String]) {
    let v = volume(args, 100);
    let (dir, empty, full) = databases(args, "console");
    drop(Store::open(&empty).expect("empty database"));
    let store = Store::open(&full).expect("full database");
    let t = Instant::now();
    fill::fill(&store, v, wsconsole::store::now()).expect("fill");
    drop(store);
    // Who the other process creates tokens for while the console is measured.
    for db in [&empty, &full] {
        let ops = wsconsole::ops::Ops::new(std::sync::Arc::new(Store::open(db).expect("open")), "bench");
        ops.create_user(wsconsole::ops::NewUser::named("writer", wsconsole::domain::AuthMethod::Webservice))
            .expect("writer");
        ops.create_service(wsconsole::ops::NewService {
            name: "Writes".into(),
            shortname: "writes".into(),
            enabled: true,
            restricted_users: false,
            required_capability: None,
            download_files: false,
            upload_files: false,
        })
        .expect("service");
    }
    println!("wsconsole console benchmark (in process, 160x48 TestBackend frames; each database in a fresh process)");
    println!(
        "volume: {} users, {} services, {} tokens, {} call-log rows (fill {:.1} s)",
        v.users,
        v.services,
        v.tokens,
        v.calls,
        t.elapsed().as_secs_f64()
    );
    let measure = |db: &Path| -> Vec<f64> {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("console-measure")
            .arg(db)
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run the measuring process");
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace().map(|x| x.parse().expect("a figure")).collect()
    };
    let e = measure(&empty);
    let f = measure(&full);
    let names = [
        "first frame (start to frame)",
        "data on screen (start to loaded frame)",
        "filter keystroke to frame, median",
        "filter keystroke to frame, worst",
        "scroll (PgDn/Down) to frame, median",
        "scroll (PgDn/Down) to frame, worst",
    ];
    println!("{:<42} {:>10} {:>10} {:>7}", "", "empty", "full", "ratio");
    for (i, name) in names.iter().enumerate() {
        println!("{name:<42} {:>7.2} ms {:>7.2} ms {:>7.2}", e[i], f[i], f[i] / e[i].max(1e-6));
    }
    println!(
        "another process creates a token twice a second for {FOLLOW_SECONDS} s (wsconsole token create), the console open on Tokens:"
    );
    println!("{:<42} {:>7.2} ms {:>7.2} ms", "  change to data on screen, median", e[7], f[7]);
    println!("{:<42} {:>7.2} ms {:>7.2} ms", "  change to data on screen, worst", e[8], f[8]);
    println!("{:<42} {:>8.1} % {:>8.1} %", "  console CPU (of one core)", e[9], f[9]);
    println!("{:<42} {:>10} {:>10}", "  full reads after the first", e[10], f[10]);
    println!("peak RSS: empty {:.1} MiB, full {:.1} MiB  [target < 64 MiB]", e[6] / 1024.0, f[6] / 1024.0);
    println!(
        "[targets: first frame < 100 ms and <= 1.5x empty; keystroke to frame < 16 ms; change on screen < 100 ms; CPU < 5 %]"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// One console on `db`: prints start→first frame, start→loaded frame, keystroke and scroll
/// frame times (ms) and peak RSS (KiB), space-separated.
pub fn console_measure(args: &[String]) {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    use ratatui::{Terminal, backend::TestBackend};
    use std::sync::Arc;
    use wsconsole::console::{shell::Shell, theme::Theme};
    let db = PathBuf::from(&args[0]);
    let start = Instant::now();
    let store = Arc::new(Store::open_with_cache(&db, wsconsole::console::CACHE_BYTES).expect("open"));
    let mut app = Shell::new(store, false, Theme { mono: false });
    app.handle(&Event::Resize(160, 48));
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    term.draw(|f| app.draw(f)).unwrap();
    let first = start.elapsed();
    app.settle();
    term.draw(|f| app.draw(f)).unwrap();
    let loaded = start.elapsed();
    let mut frame = |app: &mut Shell, code: KeyCode| {
        let t = Instant::now();
        app.handle(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        term.draw(|f| app.draw(f)).unwrap();
        t.elapsed()
    };
    frame(&mut app, KeyCode::Char('7'));
    frame(&mut app, KeyCode::Char('/'));
    let mut typing = Vec::new();
    for c in "user0421".chars() {
        typing.push(frame(&mut app, KeyCode::Char(c)));
    }
    for _ in 0..8 {
        typing.push(frame(&mut app, KeyCode::Backspace));
    }
    frame(&mut app, KeyCode::Enter);
    let mut scrolling = Vec::new();
    for i in 0..60 {
        scrolling.push(frame(&mut app, if i % 2 == 0 { KeyCode::PageDown } else { KeyCode::Down }));
    }
    let worst = |v: &[Duration]| v.iter().max().copied().unwrap_or_default();
    let f = |d: Duration| d.as_secs_f64() * 1e3;
    let (follow, cpu, reads) = follow_writes(&mut app, &mut term, &db);
    println!(
        "{} {} {} {} {} {} {} {} {} {} {}",
        f(first),
        f(loaded),
        f(median(typing.clone())),
        f(worst(&typing)),
        f(median(scrolling.clone())),
        f(worst(&scrolling)),
        peak_rss_kib(),
        f(median(follow.clone())),
        f(worst(&follow)),
        cpu,
        reads,
    );
}

const FOLLOW_SECONDS: u64 = 10;

/// CPU time of this process (every thread), from getrusage.
fn cpu_time() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid rusage to fill in.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut usage) };
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(usage.ru_utime) + t(usage.ru_stime)
}

/// The console as its terminal loop runs it (news every 40 ms, a frame when something
/// changed) while another process creates a token twice a second: how long each change takes
/// to be on screen, the console's CPU share, and how many full reads it made.
fn follow_writes(
    app: &mut wsconsole::console::shell::Shell,
    term: &mut ratatui::Terminal<ratatui::backend::TestBackend>,
    db: &Path,
) -> (Vec<Duration>, f64, u64) {
    let exe = std::env::current_exe().unwrap().parent().unwrap().join("wsconsole");
    let (done, written) = std::sync::mpsc::channel::<Instant>();
    let db_arg = db.to_path_buf();
    let writer = std::thread::spawn(move || {
        for _ in 0..FOLLOW_SECONDS * 2 {
            let start = Instant::now();
            let status = std::process::Command::new(&exe)
                .arg("--db")
                .arg(&db_arg)
                .args(["token", "create", "--user", "writer", "--service", "writes"])
                .stdout(std::process::Stdio::null())
                .status()
                .expect("target/release/wsconsole: build it first (cargo build --release)");
            assert!(status.success(), "token create failed");
            let _ = done.send(Instant::now());
            std::thread::sleep(Duration::from_millis(500).saturating_sub(start.elapsed()));
        }
    });
    let reads_before = app.full_reads;
    let held = |app: &wsconsole::console::shell::Shell| app.data().map_or(0, |d| d.tokens.total());
    let mut shown = held(app);
    let mut pending: std::collections::VecDeque<Instant> = std::collections::VecDeque::new();
    let mut latencies = Vec::new();
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    while !writer.is_finished() || !pending.is_empty() && wall0.elapsed() < Duration::from_secs(FOLLOW_SECONDS + 5) {
        pending.extend(written.try_iter());
        if app.tick() {
            term.draw(|f| app.draw(f)).unwrap();
            let now_held = held(app);
            for _ in shown..now_held {
                if let Some(at) = pending.pop_front() {
                    latencies.push(at.elapsed());
                }
            }
            shown = now_held;
        }
        std::thread::sleep(Duration::from_millis(40));
    }
    let cpu = (cpu_time() - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64() * 100.0;
    writer.join().unwrap();
    (latencies, cpu, app.full_reads - reads_before)
}
