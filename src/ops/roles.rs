//! Roles: capabilities from the catalogue, assigned to users in the system context.

use super::{OpError, OpResult, Ops, not_found};
use crate::domain::Role;
use crate::domain::capabilities;
use crate::domain::validate::{self, FieldError, ROLE_NAME_MAX};
use crate::store::{Queries, WriteTables};

fn role(t: &WriteTables<'_>, shortname: &str) -> OpResult<Role> {
    Queries::role_by_shortname(t, shortname)?.ok_or_else(|| not_found("role", shortname))
}

fn check_caps(caps: &[String]) -> OpResult<()> {
    for cap in caps {
        if capabilities::find(cap).is_none() {
            return Err(FieldError::new("capability", format!("unknown capability \"{cap}\"")).into());
        }
    }
    Ok(())
}

impl Ops {
    pub fn create_role(&self, shortname: &str, name: &str, caps: &[String]) -> OpResult<Role> {
        let shortname = validate::role_shortname(shortname)?;
        let name = validate::text("name", if name.trim().is_empty() { &shortname } else { name }, ROLE_NAME_MAX, true)?;
        check_caps(caps)?;
        self.apply("create role", |t, _| {
            if Queries::role_by_shortname(t, &shortname)?.is_some() {
                return Err(OpError::Conflict(format!("role \"{shortname}\" already exists")));
            }
            let r = Role {
                id: t.next_id("role")?,
                shortname: shortname.clone(),
                name,
                description: String::new(),
                implicit: false,
            };
            t.put_role(&r, None)?;
            for cap in caps {
                t.set_role_cap(r.id, cap, true)?;
            }
            Ok((r, shortname.clone(), caps.join(", ")))
        })
    }

    pub fn rename_role(&self, shortname: &str, name: &str, description: &str) -> OpResult<Role> {
        let name = validate::text("name", name, ROLE_NAME_MAX, true)?;
        let description = validate::text("description", description, 1000, false)?;
        self.apply("edit role", |t, _| {
            let old = role(t, shortname)?;
            let r = Role { name, description, ..old.clone() };
            t.put_role(&r, Some(&old))?;
            Ok((r, shortname.to_string(), String::new()))
        })
    }

    /// Allows (`allow = true`) or unsets capabilities on a role.
    pub fn set_role_capabilities(&self, shortname: &str, caps: &[String], allow: bool) -> OpResult<Vec<String>> {
        check_caps(caps)?;
        self.apply(if allow { "allow capabilities" } else { "unset capabilities" }, |t, _| {
            let r = role(t, shortname)?;
            for cap in caps {
                if allow {
                    t.set_role_cap(r.id, cap, true)?;
                } else {
                    t.set_role_cap(r.id, cap, false)?;
                }
            }
            Ok((t.role_capabilities(r.id)?, shortname.to_string(), caps.join(", ")))
        })
    }

    /// Allows `allow` and unsets `unset` on a role in one change with one audit entry
    /// ("+a, -b"). Nothing is written, and nothing audited, when both are empty.
    pub fn change_role_capabilities(
        &self,
        shortname: &str,
        allow: &[String],
        unset: &[String],
    ) -> OpResult<Vec<String>> {
        check_caps(allow)?;
        check_caps(unset)?;
        if allow.is_empty() && unset.is_empty() {
            let v = self.store.read()?;
            let r = Queries::role_by_shortname(&v, shortname)?.ok_or_else(|| not_found("role", shortname))?;
            return Ok(v.role_capabilities(r.id)?);
        }
        self.apply("change capabilities", |t, _| {
            let r = role(t, shortname)?;
            for cap in allow {
                t.set_role_cap(r.id, cap, true)?;
            }
            for cap in unset {
                t.set_role_cap(r.id, cap, false)?;
            }
            let summary: Vec<String> =
                allow.iter().map(|c| format!("+{c}")).chain(unset.iter().map(|c| format!("-{c}"))).collect();
            Ok((t.role_capabilities(r.id)?, shortname.to_string(), summary.join(", ")))
        })
    }

    /// Assigns `assign` and unassigns `unassign` (role short names) for one user, in one
    /// transaction with an audit entry per role. Nothing is written when both are empty.
    pub fn change_role_assignments(&self, username: &str, assign: &[String], unassign: &[String]) -> OpResult<()> {
        if assign.is_empty() && unassign.is_empty() {
            return Ok(());
        }
        self.apply_all(|t, _, audit| {
            for r in assign {
                assignment(t, r, username, true, true, audit)?;
            }
            for r in unassign {
                assignment(t, r, username, false, true, audit)?;
            }
            Ok(())
        })
    }

    pub fn delete_role(&self, shortname: &str) -> OpResult<()> {
        self.apply("delete role", |t, _| {
            let r = role(t, shortname)?;
            if r.implicit {
                return Err(OpError::Conflict(format!(
                    "role \"{shortname}\" is held by every user and cannot be deleted"
                )));
            }
            t.remove_role(&r)?;
            Ok(((), shortname.to_string(), String::new()))
        })
    }

    /// Assigns (`assign = true`) or unassigns a role to a user, in the system context.
    pub fn set_role_assignment(&self, shortname: &str, username: &str, assign: bool) -> OpResult<()> {
        self.apply_all(|t, _, audit| assignment(t, shortname, username, assign, false, audit))
    }

    /// Assigns or unassigns every (role, user) pair or none, in one transaction. Unassigning a
    /// role the user does not hold is not an error here, as in Moodle's web service.
    pub fn set_role_assignments(&self, pairs: &[(String, String)], assign: bool) -> OpResult<()> {
        self.apply_all(|t, _, audit| {
            for (role, user) in pairs {
                assignment(t, role, user, assign, true, audit)?;
            }
            Ok(())
        })
    }
}

fn assignment(
    t: &mut WriteTables<'_>,
    shortname: &str,
    username: &str,
    assign: bool,
    lenient: bool,
    audit: &mut Vec<super::Audit>,
) -> OpResult<()> {
    let r = role(t, shortname)?;
    if r.implicit {
        return Err(OpError::Conflict(format!("role \"{shortname}\" is held by every user: it is not assigned")));
    }
    let u = Queries::user_by_username(t, username)?.ok_or_else(|| not_found("user", username))?;
    if assign {
        t.set_role_assignment(u.id, r.id, true)?;
    } else if !t.set_role_assignment(u.id, r.id, false)? {
        if lenient {
            return Ok(());
        }
        return Err(OpError::NotFound(format!("user \"{username}\" does not have role \"{shortname}\"")));
    }
    audit.push((
        if assign { "assign role" } else { "unassign role" },
        format!("{shortname} → {username}"),
        String::new(),
    ));
    Ok(())
}
