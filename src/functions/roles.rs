//! `core_role_assign_roles` and `core_role_unassign_roles`, in the system context.

use super::{CallContext, internal, invalid_parameter, op_error};
use crate::domain::access::MoodleException;
use crate::domain::capabilities as cap;
use crate::model::value::Value;
use crate::store::Queries;

/// The system context's id, as Moodle numbers it.
const SYSTEM_CONTEXT_ID: i64 = 1;

/// Resolves one assignment to (role shortname, username); only the system context exists.
fn resolve(ctx: &CallContext<'_>, a: &Value) -> Result<(String, String), MoodleException> {
    let context_ok = match (a.get("contextid").and_then(Value::as_int), a.get("contextlevel").and_then(Value::as_str)) {
        (Some(id), _) => id == SYSTEM_CONTEXT_ID,
        (None, Some(level)) => level == "system",
        (None, None) => false,
    };
    if !context_ok {
        return Err(invalid_parameter("Only the system context (contextid 1 or contextlevel system) is supported"));
    }
    let id = |k| a.get(k).and_then(Value::as_int).and_then(|i| u64::try_from(i).ok()).unwrap_or(0);
    let cannot =
        || invalid_parameter(format!("Can not assign roleid={} in contextid={SYSTEM_CONTEXT_ID}", id("roleid")));
    let role = Queries::role(ctx.view, id("roleid")).map_err(internal)?.filter(|r| !r.implicit).ok_or_else(cannot)?;
    // Only roles whose capabilities the caller holds itself may be handed out or taken back.
    let caps = ctx.view.role_capabilities(role.id).map_err(internal)?.into_iter().collect();
    if !ctx.covers(&caps)? {
        return Err(cannot());
    }
    let user = Queries::user(ctx.view, id("userid"))
        .map_err(internal)?
        .filter(|u| !u.deleted)
        .ok_or_else(|| MoodleException::new("dml_missing_record_exception", "invaliduser", "Invalid user"))?;
    Ok((role.shortname, user.username))
}

fn change(ctx: &CallContext<'_>, p: &Value, list: &str, assign: bool) -> Result<Value, MoodleException> {
    ctx.require_capability(cap::ROLE_ASSIGN)?;
    let pairs = p
        .get(list)
        .map(Value::items)
        .unwrap_or_default()
        .into_iter()
        .map(|a| resolve(ctx, a))
        .collect::<Result<Vec<_>, _>>()?;
    ctx.ops().set_role_assignments(&pairs, assign).map_err(op_error)?;
    Ok(Value::Null)
}

pub fn assign_roles(ctx: &CallContext<'_>, p: &Value) -> Result<Value, MoodleException> {
    change(ctx, p, "assignments", true)
}

pub fn unassign_roles(ctx: &CallContext<'_>, p: &Value) -> Result<Value, MoodleException> {
    change(ctx, p, "unassignments", false)
}
