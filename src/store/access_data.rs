//! The access decision (`domain::access`) reads the store through the same queries as
//! everything else.

use super::StoreError;
use super::query::Queries;
use super::tables::View;
use crate::domain::access::AccessData;
use crate::domain::*;
use redb::ReadableTable;

/// The access decision reads the store through the same queries.
impl<V: View> AccessData for V {
    fn site_functions(&self, service: ServiceId) -> Result<Option<std::sync::Arc<[String]>>, StoreError> {
        if !Queries::settings(self)?.upstream.is_set() {
            return Ok(None);
        }
        Ok(Queries::upstream(self, service)?
            .filter(|u| u.credential.is_some())
            .map(|u| u.sync.map(|s| s.functions).unwrap_or_default().into()))
    }
    type Error = StoreError;
    fn settings(&self) -> Result<std::borrow::Cow<'_, Settings>, StoreError> {
        Queries::settings(self).map(std::borrow::Cow::Owned)
    }
    fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<Token>, StoreError> {
        Queries::token_by_hash(self, hash)
    }
    fn user(&self, id: UserId) -> Result<Option<std::sync::Arc<User>>, StoreError> {
        Ok(Queries::user(self, id)?.map(std::sync::Arc::new))
    }
    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        Queries::user_by_username(self, username)
    }
    fn has_capability(&self, user: UserId, capability: &str) -> Result<bool, StoreError> {
        self.user_has_capability(user, capability)
    }
    fn service(&self, id: ServiceId) -> Result<Option<std::sync::Arc<Service>>, StoreError> {
        Ok(Queries::service(self, id)?.map(std::sync::Arc::new))
    }
    fn service_by_shortname(&self, shortname: &str) -> Result<Option<Service>, StoreError> {
        Queries::service_by_shortname(self, shortname)
    }
    fn service_has_function(&self, service: ServiceId, function: &str) -> Result<bool, StoreError> {
        Ok(self.service_functions()?.get((service, function))?.is_some())
    }
    fn services_with_function(&self, function: &str) -> Result<Vec<Service>, StoreError> {
        let mut out = Vec::new();
        for s in self.all_services()? {
            if self.service_functions()?.get((s.id, function))?.is_some() {
                out.push(s);
            }
        }
        Ok(out)
    }
    fn authorised_user(&self, service: ServiceId, user: UserId) -> Result<Option<AuthorisedUser>, StoreError> {
        self.authorisation(service, user)
    }
}
