//! `wsconsole audit` and `wsconsole catalogue`: the admin audit log, and what can be granted and called.

use super::*;

pub(super) fn audit(store: &Store, filter: &str, limit: usize, json: bool, out: Out<'_>) -> Result<(), CliError> {
    let entries = store.read()?.audit_entries(filter, limit)?;
    if json {
        let rows = entries
            .iter()
            .map(|e| json!({"time": e.time, "actor": e.actor, "operation": e.operation, "target": e.target, "summary": e.summary}))
            .collect();
        return print_json(out, &Value::Array(rows));
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| vec![format_time(e.time), e.actor.clone(), e.operation.clone(), e.target.clone(), e.summary.clone()])
        .collect();
    print_table(out, &["TIME", "ACTOR", "OPERATION", "TARGET", "SUMMARY"], &rows)
}

pub(super) fn catalogue(json: bool, out: Out<'_>) -> Result<(), CliError> {
    if json {
        let caps: Vec<Value> =
            capabilities::CATALOGUE.iter().map(|c| json!({"name": c.name, "description": c.description})).collect();
        let functions: Vec<Value> = function_catalogue::FUNCTIONS
            .iter()
            .map(|f| json!({"name": f.name, "description": f.description, "type": f.kind.name(), "capabilities": f.capabilities}))
            .collect();
        return print_json(out, &json!({"capabilities": caps, "functions": functions}));
    }
    writeln!(out, "Capabilities:")?;
    for c in capabilities::CATALOGUE {
        writeln!(out, "  {:<38} {}", c.name, c.description)?;
    }
    writeln!(out, "\nFunctions:")?;
    for f in function_catalogue::FUNCTIONS {
        writeln!(out, "  {:<32} {:<5} {}", f.name, f.kind.name(), f.description)?;
        if !f.capabilities.is_empty() {
            writeln!(out, "  {:<32}       requires {}", "", f.capabilities.join(", "))?;
        }
    }
    Ok(())
}
