//! External services: create, edit, delete; their functions and authorised users.

use super::{OpError, OpResult, Ops, not_found};
use crate::domain::iprestriction;
use crate::domain::validate::{self, FieldError};
use crate::domain::{AuthorisedUser, Service, UnixTime, capabilities, function_catalogue};
use crate::store::{Queries, WriteTables};

/// The "Add service" form (moodle-ws-reference.md §9.3).
#[derive(Debug, Clone, Default)]
pub struct NewService {
    pub name: String,
    pub shortname: String,
    pub enabled: bool,
    pub restricted_users: bool,
    pub required_capability: Option<String>,
    pub download_files: bool,
    pub upload_files: bool,
}

/// An edit; `None` leaves a field as it is. The short name is frozen after creation.
#[derive(Debug, Clone, Default)]
pub struct ServiceEdit {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub restricted_users: Option<bool>,
    /// `Some(None)` sets "No required capability".
    pub required_capability: Option<Option<String>>,
    pub download_files: Option<bool>,
    pub upload_files: Option<bool>,
}

fn service(t: &WriteTables<'_>, shortname: &str) -> OpResult<Service> {
    Queries::service_by_shortname(t, shortname)?.ok_or_else(|| not_found("service", shortname))
}

fn required_capability(cap: Option<String>) -> OpResult<Option<String>> {
    match cap.filter(|c| !c.trim().is_empty()) {
        None => Ok(None),
        Some(c) if capabilities::find(c.trim()).is_some() => Ok(Some(c.trim().to_string())),
        Some(c) => Err(FieldError::new("requiredcapability", format!("unknown capability \"{c}\"")).into()),
    }
}

fn name_free(t: &WriteTables<'_>, name: &str, except: Option<u64>) -> OpResult<()> {
    let taken = t.all_services()?.into_iter().any(|s| s.name == name && Some(s.id) != except);
    if taken {
        return Err(FieldError::new("name", "This name is already in use by another service").into());
    }
    Ok(())
}

/// Why a function cannot be added.
fn unknown_function(f: &str, connected: bool) -> String {
    let exists = crate::domain::moodle_functions::exists(f);
    match (connected, exists) {
        (true, _) => format!(
            "the Moodle site does not offer {f} to this service's account (wsconsole service sync lists what it offers)"
        ),
        (false, true) => {
            format!(
                "{f} is a Moodle function this endpoint does not implement (wsconsole catalogue lists those it does)"
            )
        }
        (false, false) => format!("unknown function \"{f}\": no Moodle 4.5 function has that name"),
    }
}

fn custom(s: &Service, what: &str) -> OpResult<()> {
    if s.builtin {
        return Err(OpError::Conflict(format!(
            "\"{}\" is a built-in service: {what} cannot change (only enabled, download and upload can)",
            s.shortname
        )));
    }
    Ok(())
}

impl Ops {
    pub fn create_service(&self, new: NewService) -> OpResult<Service> {
        let name = validate::service_name(&new.name)?;
        let shortname = validate::service_shortname(&new.shortname)?;
        let required_capability = required_capability(new.required_capability)?;
        self.apply("create service", |t, now| {
            name_free(t, &name, None)?;
            if Queries::service_by_shortname(t, &shortname)?.is_some() {
                return Err(FieldError::new(
                    "shortname",
                    format!("Short name is already used for another service ({shortname})"),
                )
                .into());
            }
            let s = Service {
                id: t.next_id("service")?,
                name,
                shortname: shortname.clone(),
                enabled: new.enabled,
                restricted_users: new.restricted_users,
                required_capability,
                download_files: new.download_files,
                upload_files: new.upload_files,
                builtin: false,
                created: now,
                modified: now,
            };
            t.put_service(&s, None)?;
            let summary = format!("enabled {}, authorised users only {}", s.enabled, s.restricted_users);
            Ok((s, shortname.clone(), summary))
        })
    }

    pub fn edit_service(&self, shortname: &str, edit: ServiceEdit) -> OpResult<Service> {
        let name = edit.name.map(|n| validate::service_name(&n)).transpose()?;
        let required = edit.required_capability.map(required_capability).transpose()?;
        self.apply("edit service", |t, now| {
            let old = service(t, shortname)?;
            let mut s = old.clone();
            if let Some(name) = name.filter(|n| *n != old.name) {
                custom(&old, "its name")?;
                name_free(t, &name, Some(old.id))?;
                s.name = name;
            }
            if let Some(r) = edit.restricted_users.filter(|r| *r != old.restricted_users) {
                custom(&old, "\"authorised users only\"")?;
                s.restricted_users = r;
            }
            if let Some(req) = required.filter(|r| *r != old.required_capability) {
                custom(&old, "its required capability")?;
                s.required_capability = req;
            }
            s.enabled = edit.enabled.unwrap_or(s.enabled);
            s.download_files = edit.download_files.unwrap_or(s.download_files);
            s.upload_files = edit.upload_files.unwrap_or(s.upload_files);
            s.modified = now;
            t.put_service(&s, Some(&old))?;
            let summary = format!(
                "enabled {}, authorised users only {}, download {}, upload {}",
                s.enabled, s.restricted_users, s.download_files, s.upload_files
            );
            Ok((s, shortname.to_string(), summary))
        })
    }

    pub fn set_service_enabled(&self, shortname: &str, enabled: bool) -> OpResult<Service> {
        self.edit_service(shortname, ServiceEdit { enabled: Some(enabled), ..ServiceEdit::default() })
    }

    /// Deletes a custom service with its functions, authorised users and tokens; returns how
    /// many tokens were deleted.
    pub fn delete_service(&self, shortname: &str) -> OpResult<usize> {
        self.apply("delete service", |t, _| {
            let s = service(t, shortname)?;
            custom(&s, "it")?;
            let revoked = t.remove_service(&s)?;
            Ok((revoked, shortname.to_string(), format!("{revoked} tokens deleted")))
        })
    }

    /// Adds (`add = true`) functions of the catalogue, or for a service connected to the Moodle
    /// site only those the site offers it (its last sync); or removes listed ones.
    pub fn set_service_functions(&self, shortname: &str, functions: &[String], add: bool) -> OpResult<Vec<String>> {
        self.apply(if add { "add functions" } else { "remove functions" }, |t, _| {
            let s = service(t, shortname)?;
            custom(&s, "its functions")?;
            if add {
                let site = crate::domain::access::AccessData::site_functions(t, s.id)?;
                // A connected service's calls all go to the site: it may list only what the
                // site offers it; a service answered here, only what the catalogue implements.
                for f in functions {
                    if let Some(why) = site.as_ref().and(crate::domain::upstream::not_forwarded(f)) {
                        return Err(FieldError::new("function", why).into());
                    }
                    let offered = match &site {
                        Some(offered) => offered.contains(f),
                        None => function_catalogue::find(f).is_some(),
                    };
                    if !offered {
                        return Err(FieldError::new("function", unknown_function(f, site.is_some())).into());
                    }
                }
            }
            for f in functions {
                if add {
                    t.set_service_function(s.id, f, true)?;
                } else if !t.set_service_function(s.id, f, false)? {
                    return Err(OpError::NotFound(format!("service \"{shortname}\" does not contain {f}")));
                }
            }
            Ok((t.service_function_names(s.id)?, shortname.to_string(), functions.join(", ")))
        })
    }

    /// Authorises a user on an "authorised users only" service, or updates the authorisation's
    /// IP restriction and "valid until".
    pub fn authorise_user(
        &self,
        shortname: &str,
        username: &str,
        ip_restriction: &str,
        valid_until: Option<UnixTime>,
    ) -> OpResult<AuthorisedUser> {
        let ip_restriction =
            iprestriction::normalise(ip_restriction).map_err(|e| FieldError::new("iprestriction", e.to_string()))?;
        self.apply("authorise user", |t, now| {
            let s = service(t, shortname)?;
            if !s.restricted_users {
                return Err(OpError::Conflict(format!(
                    "service \"{shortname}\" is open to all users: tick \"authorised users only\" to authorise users"
                )));
            }
            let u = Queries::user_by_username(t, username)?.ok_or_else(|| not_found("user", username))?;
            let created = t.authorisation(s.id, u.id)?.map(|a| a.created).unwrap_or(now);
            let a = AuthorisedUser {
                service: s.id,
                user: u.id,
                ip_restriction,
                valid_until: valid_until.filter(|v| *v > 0),
                created,
            };
            t.put_authorised(&a)?;
            let ip =
                if a.ip_restriction.is_empty() { "any IP".to_string() } else { format!("IP {}", a.ip_restriction) };
            let until = a.valid_until.map_or_else(|| "no expiry".to_string(), crate::domain::time::format_time);
            let summary = format!("{ip}, valid until {until}");
            Ok((a, format!("{username} on {shortname}"), summary))
        })
    }

    pub fn unauthorise_user(&self, shortname: &str, username: &str) -> OpResult<()> {
        self.apply("unauthorise user", |t, _| {
            let s = service(t, shortname)?;
            let u = Queries::user_by_username(t, username)?.ok_or_else(|| not_found("user", username))?;
            if !t.remove_authorised(s.id, u.id)? {
                return Err(OpError::NotFound(format!("user \"{username}\" is not authorised on \"{shortname}\"")));
            }
            Ok(((), format!("{username} on {shortname}"), String::new()))
        })
    }
}
