//! `core_webservice_get_site_info` (moodle-ws-reference.md §10).

use super::{CallContext, MOODLE_RELEASE, MOODLE_VERSION};
use crate::domain::ServiceId;
use crate::domain::access::MoodleException;
use crate::model::value::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

/// A service's function names as the record cache hands them out.
type Names = Arc<[Cow<'static, str>]>;

/// Per service, the `functions` list last answered and the names it was made from. The record
/// cache hands out one `Arc` of names until the service's functions change, so while it is the
/// same `Arc` the list is the same; holding it keeps its address from being reused.
static FUNCTION_LISTS: LazyLock<RwLock<HashMap<ServiceId, (Names, Value)>>> = LazyLock::new(Default::default);

/// The answer's `functions`: shared between the calls of a service while its functions stay.
fn function_list(service: ServiceId, names: Names) -> Value {
    if let Some((made_from, list)) = FUNCTION_LISTS.read().unwrap_or_else(|e| e.into_inner()).get(&service)
        && Arc::ptr_eq(made_from, &names)
    {
        return list.clone();
    }
    let items = names
        .iter()
        .map(|name| Value::map([("name", Value::str(name.clone())), ("version", Value::str(MOODLE_VERSION))]));
    let list = Value::shared(Value::List(items.collect()));
    FUNCTION_LISTS.write().unwrap_or_else(|e| e.into_inner()).insert(service, (names, list.clone()));
    list
}

/// `advancedfeatures`: the same for every call (wsconsole has none of these features).
static ADVANCED_FEATURES: LazyLock<Value> = LazyLock::new(|| {
    let features = [
        "usecomments",
        "usetags",
        "enablenotes",
        "messaging",
        "enableblogs",
        "enablecompletion",
        "enablebadges",
        "messagingallusers",
        "enablecustomreports",
        "enableglobalsearch",
        "mnet_dispatcher_mode",
        "enablecompetencies",
    ];
    Value::shared(Value::List(
        features.iter().map(|f| Value::map([("name", Value::str(*f)), ("value", Value::Int(0))])).collect(),
    ))
});

pub fn run(ctx: &CallContext<'_>, _params: &Value) -> Result<Value, MoodleException> {
    let u = ctx.user;
    // Moodle's `get_user_key('core_files', userid)`: clients read it without a default.
    let private_key = ctx.store.site_key().map_err(super::internal)?.user_private_access_key(u.id);
    let site_url = ctx.settings.site_url.clone();
    let picture = format!("{site_url}/theme/image.php/boost/core/1/u/f1");
    // Every field of the answer, allocated once.
    let mut out = Vec::with_capacity(32);
    out.extend([
        ("sitename", Value::str(ctx.settings.site_name.to_owned())),
        ("username", Value::str(u.username.to_owned())),
        ("firstname", Value::str(u.firstname.to_owned())),
        ("lastname", Value::str(u.lastname.to_owned())),
        ("fullname", Value::str(u.fullname())),
        ("lang", Value::str(u.lang.to_owned())),
        ("userid", Value::Int(i64::try_from(u.id).unwrap_or(i64::MAX))),
        ("siteurl", Value::str(site_url)),
        ("userpictureurl", Value::str(picture)),
    ]);
    // With a token: the token's service; with username/password: none (as Moodle).
    if let (Some(service), Some(_)) = (ctx.service, ctx.token) {
        out.push(("functions", function_list(service.id, ctx.service_function_names(service.id)?)));
        out.push(("downloadfiles", Value::Int(i64::from(service.download_files))));
        out.push(("uploadfiles", Value::Int(i64::from(service.upload_files))));
        out.push(("release", Value::str(MOODLE_RELEASE)));
        out.push(("version", Value::str(MOODLE_VERSION)));
    } else {
        out.push(("functions", Value::List(Vec::new())));
    }
    // In the description's order, so that cleaning the answer finds nothing to change.
    out.push(("mobilecssurl", Value::str("")));
    out.push(("advancedfeatures", ADVANCED_FEATURES.clone()));
    out.extend([
        ("usercanmanageownfiles", Value::Bool(false)),
        ("userquota", Value::Int(0)),
        ("usermaxuploadfilesize", Value::Int(0)),
        ("userhomepage", Value::Int(0)),
        ("userprivateaccesskey", Value::str(private_key)),
        ("siteid", Value::Int(1)),
        ("sitecalendartype", Value::str("gregorian")),
        ("usercalendartype", Value::str("gregorian")),
        ("userissiteadmin", Value::Bool(false)),
        ("theme", Value::str("boost")),
        ("limitconcurrentlogins", Value::Int(0)),
        ("policyagreed", Value::Int(1)),
    ]);
    Ok(Value::map(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuthMethod, MOBILE_SERVICE, Settings};
    use crate::ops::{NewToken, NewUser, Ops};
    use crate::store::{Queries, Store};
    use std::sync::Arc;

    /// The answer is built in the description's order and types, so cleaning it keeps it as
    /// it is instead of rebuilding it (the endpoint's most frequent call).
    #[test]
    fn the_answer_is_already_clean() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("s.redb")).unwrap());
        let ops = Ops::new(store.clone(), "t");
        ops.create_user(NewUser::named("ann", AuthMethod::Webservice)).unwrap();
        let issued = ops
            .create_token(NewToken { username: "ann".into(), service: MOBILE_SERVICE.into(), ..NewToken::default() })
            .unwrap();
        let view = store.read().unwrap();
        let user = view.user(issued.token.user).unwrap().unwrap();
        let service = view.service(issued.token.service).unwrap().unwrap();
        let settings = Settings::default();
        let at = crate::store::feed::seq(&view).unwrap();
        let cache = crate::store::RecordCache::new(at, 1 << 20);
        let returns = crate::model::description(super::super::SITE_INFO).unwrap().returns.as_ref().unwrap();
        for (with_token, records) in [(true, None), (true, Some((&cache, at))), (false, Some((&cache, at)))] {
            let ctx = CallContext {
                store: &store,
                view: &view,
                user: &user,
                service: with_token.then_some(&service),
                token: with_token.then_some(&issued.token),
                settings: &settings,
                now: 1_800_000_000,
                records,
            };
            let answer = run(&ctx, &Value::Null).unwrap();
            assert!(crate::model::schema::is_clean(returns, &answer), "with a token: {with_token}");
            let functions = answer.get("functions").unwrap().items().len();
            assert_eq!(functions > 0, with_token);
        }
    }
}
