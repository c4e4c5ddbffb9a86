//! `wsconsole status`: the setup walkthrough, each step with its status.

use super::*;

pub(super) fn status(store: &Store, json: bool, out: Out<'_>) -> Result<(), CliError> {
    let facts = store.read()?.walkthrough_facts(store::now())?;
    let flows = walkthrough::steps(&facts);
    if json {
        return print_json(out, &serde_json::to_value(&flows)?);
    }
    for flow in &flows {
        writeln!(out, "{}", flow.title)?;
        for s in &flow.steps {
            let mark = match s.status {
                Status::Done => "done",
                Status::Todo => "todo",
                Status::Info => "    ",
            };
            writeln!(out, "  {:>2}. [{mark}] {:<32} {}   ({})", s.number, s.title, s.detail, s.place.title())?;
        }
        writeln!(out)?;
    }
    Ok(())
}
