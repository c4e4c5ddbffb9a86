//! The Debian package (`packaging/build-deb`, with cargo-deb), built from the binary the tests
//! use and inspected: files and modes, the maintainer scripts, the systemd unit's options; then
//! the unit's own command line, run from the unpacked package, serves. `.ci/run` installs
//! cargo-deb.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Builds the package from the dev profile's binary (already built for the tests); its path.
fn build() -> PathBuf {
    let has_cargo_deb = Command::new("cargo").args(["deb", "--version"]).output().is_ok_and(|o| o.status.success());
    assert!(has_cargo_deb, "cargo-deb is needed: cargo install cargo-deb --locked (.ci/run does)");
    run(Command::new(root().join("packaging/build-deb"))
        .arg("dev")
        .env("WSCONSOLE_NO_BUILD", "1")
        .env("WSCONSOLE_BIN", env!("CARGO_BIN_EXE_wsconsole")));
    let debs: Vec<PathBuf> = std::fs::read_dir(root().join("target/debian"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    debs[0].clone()
}

fn unit_from(deb: &Path) -> String {
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(deb));
    let unit = listing
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .find(|p| p.ends_with("systemd/system/wsconsole.service"))
        .unwrap_or_else(|| panic!("no unit in the package:\n{listing}"))
        .to_string();
    let tar = Command::new("dpkg-deb").arg("--fsys-tarfile").arg(deb).output().unwrap().stdout;
    let mut child = Command::new("tar")
        .args(["-xO", &unit])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &tar).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

#[test]
fn the_debian_package_holds_the_binary_unit_pages_and_completions() {
    let deb = build();
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let entry = |path: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"))
            .to_string()
    };
    assert!(entry("./usr/bin/wsconsole").starts_with("-rwxr-xr-x 0/0"));
    for path in [
        "/man/man1/wsconsole.1.gz",
        "/man/man1/wsconsole-serve.1.gz",
        "/man/man1/wsconsole-service-upstream.1.gz",
        "/bash-completion/completions/wsconsole",
        "/zsh/vendor-completions/_wsconsole",
        "/fish/vendor_completions.d/wsconsole.fish",
        "/doc/wsconsole/README.md",
    ] {
        assert!(entry(path).starts_with("-rw-r--r-- 0/0"), "{path}");
    }

    // Control: the system user and the state directory, the unit enabled, the database kept.
    let info = run(Command::new("dpkg-deb").arg("-I").arg(&deb));
    assert!(info.contains("Package: wsconsole") && info.contains("Depends:") && info.contains("passwd"), "{info}");
    let control = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(control.path()));
    let postinst = std::fs::read_to_string(control.path().join("postinst")).unwrap();
    assert!(
        postinst.contains("useradd --system") && postinst.contains("install -d -m 0700 -o wsconsole"),
        "{postinst}"
    );
    assert!(postinst.contains("deb-systemd-helper") && postinst.contains("wsconsole.service"), "{postinst}");
    let postrm = std::fs::read_to_string(control.path().join("postrm")).unwrap();
    assert!(!postrm.contains("rm -rf /var/lib/wsconsole"), "removing keeps the database:\n{postrm}");

    // The unit: its user, limits and hardening.
    let unit = unit_from(&deb);
    for option in [
        "User=wsconsole",
        "StateDirectory=wsconsole",
        "StateDirectoryMode=0700",
        "LimitNOFILE=65536",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/wsconsole",
        "UMask=0077",
        "ExecStart=/usr/bin/wsconsole serve --listen 127.0.0.1:8080 --db /var/lib/wsconsole/wsconsole.redb",
    ] {
        assert!(unit.lines().any(|l| l == option), "the unit lacks {option}:\n{unit}");
    }

    // The unit's command line, run from the unpacked package (its paths under a temporary
    // root, an ephemeral port): it serves, and makes the database 0600.
    let unpacked = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(unpacked.path()));
    let state = unpacked.path().join("var/lib/wsconsole");
    std::fs::create_dir_all(&state).unwrap();
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    let mut args: Vec<String> = exec.split_whitespace().map(String::from).collect();
    let bin = unpacked.path().join(args.remove(0).trim_start_matches('/'));
    let db = unpacked.path().join(args.last().unwrap().trim_start_matches('/'));
    let mut child = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let base = loop {
        let line = lines.next().expect("the endpoint says where it listens").unwrap();
        if let Some(rest) = line.split("address=").nth(1) {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
    };
    assert_eq!(common::get(&format!("{base}/healthz")).body, "ok\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
    common::unsafe_kill_term(child.id());
    let _ = child.wait();
}
