//! Bulk generation of a large database, for the benchmarks and the volume tests (which include
//! this file). Writes rows through the store's public write tables in large transactions (no
//! argon2, no audit), so that a million rows take seconds.

use wsconsole::domain::secret::hash_token;
use wsconsole::domain::*;
use wsconsole::store::{Store, StoreError};

/// How much to generate.
#[derive(Debug, Clone, Copy)]
pub struct Volume {
    pub users: u64,
    pub services: u64,
    pub tokens: u64,
    pub calls: u64,
}

/// Rows per write transaction.
const BATCH: u64 = 20_000;

/// Calls `f(done, n)` for consecutive batches covering `total` rows.
fn in_batches(total: u64, mut f: impl FnMut(u64, u64) -> Result<(), StoreError>) -> Result<(), StoreError> {
    let mut done = 0;
    while done < total {
        let n = BATCH.min(total - done);
        f(done, n)?;
        done += n;
    }
    Ok(())
}

/// The token value of generated token number `i` (1-based): 32 hex characters.
pub fn token_value(i: u64) -> String {
    format!("{:016x}{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15), i)
}

pub fn username(i: u64) -> String {
    format!("user{i:06}")
}

/// Fills `store` with users `user000001…`, services `svc0001…` (enabled, open, with
/// `core_webservice_get_site_info`), tokens spread over both, and call-log rows.
pub fn fill(store: &Store, v: Volume, now: UnixTime) -> Result<(), StoreError> {
    // Ids come from the counters: remember where this fill's users start.
    let mut first_user = None;
    in_batches(v.users, |_, n| {
        store.write(|t| {
            t.changed_everything();
            let first = t.reserve_ids("user", n)?;
            first_user.get_or_insert(first);
            for id in first..first + n {
                let u = User {
                    id,
                    username: username(id),
                    auth: AuthMethod::Webservice,
                    password_hash: String::new(),
                    firstname: "Bulk".into(),
                    lastname: format!("User {id}"),
                    email: format!("{}@example.com", username(id)),
                    lang: "en".into(),
                    suspended: false,
                    confirmed: true,
                    deleted: false,
                    created: now,
                    modified: now,
                };
                t.put_user(&u, None)?;
            }
            Ok(())
        })
    })?;
    let first_service = store.write(|t| {
        t.changed_everything();
        let first = t.reserve_ids("service", v.services)?;
        for id in first..first + v.services {
            let s = Service {
                id,
                name: format!("Bulk service {id}"),
                shortname: format!("svc{id:04}"),
                enabled: true,
                restricted_users: false,
                required_capability: None,
                download_files: false,
                upload_files: false,
                builtin: false,
                created: now,
                modified: now,
            };
            t.put_service(&s, None)?;
            t.set_service_function(id, "core_webservice_get_site_info", true)?;
        }
        Ok::<_, StoreError>(first)
    })?;
    let first_user = first_user.unwrap_or(1);
    in_batches(v.tokens, |_, n| {
        store.write(|t| {
            t.changed_everything();
            let first = t.reserve_ids("token", n)?;
            for id in first..first + n {
                let token = Token {
                    id,
                    name: format!("Webservice-{id:05}"),
                    user: first_user + id % v.users.max(1),
                    service: first_service + id % v.services.max(1),
                    ip_restriction: String::new(),
                    valid_until: (id % 3 == 0)
                        .then_some(now + i64::try_from(id % 1000).unwrap_or(0) * 86_400 - 30 * 86_400),
                    created: now,
                    creator: "bulk".into(),
                    last_access: None,
                    origin: TokenOrigin::Admin,
                };
                t.put_token(&hash_token(&token_value(id)), &token)?;
            }
            Ok(())
        })
    })?;
    in_batches(v.calls, |done, n| {
        let calls: Vec<CallLog> = (done..done + n)
            .map(|i| CallLog {
                time: now - i64::try_from(v.calls - i).unwrap_or(0),
                token: Some(1 + i % v.tokens.max(1)),
                user: Some(first_user + i % v.users.max(1)),
                service: Some(first_service),
                function: "core_webservice_get_site_info".into(),
                protocol: "rest".into(),
                remote_ip: "127.0.0.1".into(),
                outcome: "ok".into(),
                duration_micros: 150,
                site: None,
            })
            .collect();
        store.write(|t| {
            t.changed_everything();
            t.append_calls(&calls)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsconsole::store::Queries;

    #[test]
    fn bulk_fill_refers_to_its_own_users_beside_existing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(&dir.path().join("b.redb")).unwrap());
        let ops = wsconsole::ops::Ops::new(store.clone(), "t");
        for name in ["early", "gone"] {
            ops.create_user(wsconsole::ops::NewUser::named(name, wsconsole::domain::AuthMethod::Webservice)).unwrap();
        }
        ops.delete_user("gone").unwrap();
        fill(&store, Volume { users: 50, services: 3, tokens: 200, calls: 10 }, wsconsole::store::now()).unwrap();
        let v = store.read().unwrap();
        for i in 1..=200 {
            let t = v.token_by_hash(&wsconsole::domain::secret::hash_token(&token_value(i))).unwrap().unwrap();
            let u = Queries::user(&v, t.user).unwrap().unwrap();
            assert!(u.username.starts_with("user"), "token {i} belongs to {}", u.username);
        }
    }
}
