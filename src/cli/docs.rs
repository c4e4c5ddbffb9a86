//! `wsconsole completions SHELL` and `wsconsole man`: generated from the CLI's own definition
//! (clap_complete, clap_mangen), so they never drift from `--help`.

use super::*;
use clap::CommandFactory;

/// Completions for `shell` on `out`.
pub(super) fn completions(shell: clap_complete::Shell, out: Out<'_>) -> Result<(), CliError> {
    // Made in memory first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "wsconsole", &mut script);
    out.write_all(&script)?;
    Ok(())
}

/// The man page of `wsconsole` on `out`; with `dir`, one page per command and subcommand
/// there instead (`wsconsole.1`, `wsconsole-service.1`, `wsconsole-service-upstream.1`, …),
/// as `git` ships its pages.
pub(super) fn man(dir: Option<&std::path::Path>, out: Out<'_>) -> Result<(), CliError> {
    let failed = |e: std::io::Error| CliError(format!("cannot write the man page: {e}"));
    let cli = Cli::command();
    let Some(dir) = dir else {
        return clap_mangen::Man::new(cli).render(out).map_err(failed);
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let mut written = Vec::new();
    write_pages(cli, "wsconsole", dir, &mut written).map_err(failed)?;
    writeln!(out, "{} man pages in {}", written.len(), dir.display())?;
    Ok(())
}

/// `cmd`'s page as `name`.1 in `dir`, then its subcommands' pages, depth first.
fn write_pages(
    cmd: clap::Command,
    name: &str,
    dir: &std::path::Path,
    written: &mut Vec<String>,
) -> std::io::Result<()> {
    let cmd = cmd.name(name.to_string()).bin_name(name.replace('-', " "));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    std::fs::write(dir.join(format!("{name}.1")), page)?;
    written.push(name.to_string());
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub.clone(), &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
