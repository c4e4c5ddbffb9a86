//! `core_webservice_get_site_info`'s parameters and answer.

use crate::model::schema::{ParamType as P, Schema, multiple, single, value};
use crate::model::value::Value;

pub const NAME: &str = "core_webservice_get_site_info";

pub fn params() -> Schema {
    single(
        "",
        vec![(
            "serviceshortnames",
            multiple(
                value(P::Alphanumext, "service shortname"),
                "DEPRECATED PARAMETER - it was a design error in the original implementation. It is ignored now.",
            )
            .default(Value::List(vec![])),
        )],
    )
}

pub fn returns() -> Schema {
    let opt = |ty, desc| value(ty, desc).optional();
    single(
        "",
        vec![
            ("sitename", value(P::Raw, "site name")),
            ("username", value(P::Raw, "username")),
            ("firstname", value(P::Text, "first name")),
            ("lastname", value(P::Text, "last name")),
            ("fullname", value(P::Text, "user full name")),
            ("lang", value(P::Lang, "Current language.")),
            ("userid", value(P::Int, "user id")),
            ("siteurl", value(P::Raw, "site url")),
            ("userpictureurl", value(P::Url, "the user profile picture.")),
            (
                "functions",
                multiple(
                    single(
                        "functions that are available",
                        vec![
                            ("name", value(P::Raw, "function name")),
                            (
                                "version",
                                value(P::Text, "The version number of the component to which the function belongs"),
                            ),
                        ],
                    ),
                    "",
                ),
            ),
            ("downloadfiles", opt(P::Int, "1 if users are allowed to download files, 0 if not")),
            ("uploadfiles", opt(P::Int, "1 if users are allowed to upload files, 0 if not")),
            ("release", opt(P::Text, "Moodle release number")),
            ("version", opt(P::Text, "Moodle version number")),
            ("mobilecssurl", opt(P::Url, "Mobile custom CSS theme")),
            (
                "advancedfeatures",
                multiple(
                    single(
                        "Advanced features availability",
                        vec![
                            ("name", value(P::Alphanumext, "feature name")),
                            ("value", value(P::Int, "feature value. Usually 1 means enabled.")),
                        ],
                    ),
                    "Advanced features availability",
                )
                .optional(),
            ),
            ("usercanmanageownfiles", opt(P::Bool, "true if the user can manage his own files")),
            (
                "userquota",
                opt(
                    P::Int,
                    "user quota (bytes for the total size of user private files). 0 means user can ignore the quota",
                ),
            ),
            (
                "usermaxuploadfilesize",
                opt(P::Int, "user max upload file size (bytes). -1 means the user can ignore the upload file size"),
            ),
            ("userhomepage", opt(P::Int, "the default home page for the user: 0 for the site home, 1 for dashboard")),
            ("userprivateaccesskey", opt(P::Alphanum, "Private user access key for fetching files.")),
            ("siteid", opt(P::Int, "Site course ID")),
            ("sitecalendartype", opt(P::Plugin, "Calendar type set in the site.")),
            ("usercalendartype", opt(P::Plugin, "Calendar type set in the user profile.")),
            ("userissiteadmin", opt(P::Bool, "Whether the user is a site admin or not.")),
            ("theme", opt(P::Theme, "Current theme for the user.")),
            ("limitconcurrentlogins", opt(P::Int, "Number of concurrent sessions allowed")),
            (
                "usersessionscount",
                opt(
                    P::Int,
                    "Number of active sessions for current user. Only returned when limitconcurrentlogins is used.",
                ),
            ),
            ("policyagreed", opt(P::Int, "Whether user accepted all the policies.")),
        ],
    )
}
