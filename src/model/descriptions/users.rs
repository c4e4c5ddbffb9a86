//! `core_user_*`'s parameters and answers, as Moodle describes them.

use crate::model::schema::{ParamType as P, Schema, multiple, single, value};
use crate::model::value::Value;

pub const BY_FIELD: &str = "core_user_get_users_by_field";
pub const GET: &str = "core_user_get_users";
pub const CREATE: &str = "core_user_create_users";
pub const UPDATE: &str = "core_user_update_users";
pub const DELETE: &str = "core_user_delete_users";

/// Moodle's `user_description`, every key in Moodle's order (XML lists them all).
fn user_description() -> Schema {
    let opt = |ty, desc| value(ty, desc).optional();
    single(
        "",
        vec![
            ("id", value(P::Int, "ID of the user")),
            ("username", opt(P::Raw, "The username")),
            ("firstname", opt(P::Notags, "The first name(s) of the user")),
            ("lastname", opt(P::Notags, "The family name of the user")),
            ("fullname", value(P::Notags, "The fullname of the user")),
            ("email", opt(P::Text, "An email address - allow email as root@localhost")),
            ("address", opt(P::Text, "Postal address")),
            ("phone1", opt(P::Notags, "Phone 1")),
            ("phone2", opt(P::Notags, "Phone 2")),
            ("department", opt(P::Text, "department")),
            ("institution", opt(P::Text, "institution")),
            ("idnumber", opt(P::Raw, "An arbitrary ID code number perhaps from the institution")),
            ("interests", opt(P::Text, "user interests (separated by commas)")),
            ("firstaccess", opt(P::Int, "first access to the site (0 if never)")),
            ("lastaccess", opt(P::Int, "last access to the site (0 if never)")),
            ("auth", opt(P::Plugin, "Auth plugins include manual, ldap, etc")),
            (
                "suspended",
                opt(P::Bool, "Suspend user account, either false to enable user login or true to disable it"),
            ),
            ("confirmed", opt(P::Bool, "Active user: 1 if confirmed, 0 otherwise")),
            ("lang", opt(P::Lang, "Language code such as \"en\", must exist on server")),
            ("calendartype", opt(P::Plugin, "Calendar type such as \"gregorian\", must exist on server")),
            ("theme", opt(P::Plugin, "Theme name such as \"standard\", must exist on server")),
            ("timezone", opt(P::Timezone, "Timezone code such as Australia/Perth, or 99 for default")),
            ("mailformat", opt(P::Int, "Mail format code is 0 for plain text, 1 for HTML etc")),
            ("description", opt(P::Raw, "User profile description")),
            ("descriptionformat", opt(P::Int, "description format")),
            ("city", opt(P::Notags, "Home city of the user")),
            ("country", opt(P::Alphanum, "Home country code of the user, such as AU or CZ")),
            ("profileimageurlsmall", value(P::Url, "User image profile URL - small version")),
            ("profileimageurl", value(P::Url, "User image profile URL - big version")),
            (
                "customfields",
                multiple(
                    single(
                        "",
                        vec![
                            ("type", value(P::Alphanumext, "The type of the custom field")),
                            ("value", value(P::Raw, "The value of the custom field")),
                            ("displayvalue", opt(P::Raw, "The displayed value of the custom field")),
                            ("name", value(P::Raw, "The name of the custom field")),
                            ("shortname", value(P::Raw, "The shortname of the custom field")),
                        ],
                    ),
                    "User custom fields (also known as user profile fields)",
                )
                .optional(),
            ),
            (
                "preferences",
                multiple(
                    single(
                        "",
                        vec![
                            ("name", value(P::Raw, "The name of the preferences")),
                            ("value", value(P::Raw, "The value of the preference")),
                        ],
                    ),
                    "Users preferences",
                )
                .optional(),
            ),
        ],
    )
}

pub fn by_field_params() -> Schema {
    single(
        "",
        vec![
            ("field", value(P::Alphanumext, "the search field can be 'id' or 'idnumber' or 'username' or 'email'")),
            ("values", multiple(value(P::Raw, "the value to match"), "")),
        ],
    )
}

pub fn by_field_returns() -> Schema {
    multiple(user_description(), "")
}

fn warnings() -> Schema {
    multiple(
        single(
            "warning",
            vec![
                ("item", value(P::Text, "item").optional()),
                ("itemid", value(P::Int, "item id").optional()),
                (
                    "warningcode",
                    value(
                        P::Alphanum,
                        "the warning code can be used by the client app to implement specific behaviour",
                    ),
                ),
                ("message", value(P::Raw, "untranslated english message to explain the warning")),
            ],
        ),
        "list of warnings",
    )
    .optional()
}

pub fn get_params() -> Schema {
    single(
        "",
        vec![(
            "criteria",
            multiple(
                single(
                    "",
                    vec![
                        (
                            "key",
                            value(
                                P::Alphanumext,
                                "the user column to search, expected keys (value format) are: id, lastname, firstname, idnumber, username, email, auth",
                            ),
                        ),
                        ("value", value(P::Raw, "the value to search")),
                    ],
                ),
                "the key/value pairs to be considered in user search. Values can not be empty.",
            ),
        )],
    )
}

pub fn get_returns() -> Schema {
    single("", vec![("users", multiple(user_description(), "")), ("warnings", warnings())])
}

pub fn create_params() -> Schema {
    let opt = |ty, desc| value(ty, desc).optional();
    single(
        "",
        vec![(
            "users",
            multiple(
                single(
                    "",
                    vec![
                        ("createpassword", opt(P::Bool, "True if password should be created and mailed to user.")),
                        ("username", value(P::Username, "Username policy is defined in Moodle security config.")),
                        (
                            "auth",
                            value(P::Plugin, "Auth plugins include manual, ldap, etc").default(Value::str("manual")),
                        ),
                        ("password", opt(P::Raw, "Plain text password consisting of any characters")),
                        ("firstname", value(P::Notags, "The first name(s) of the user")),
                        ("lastname", value(P::Notags, "The family name of the user")),
                        ("email", value(P::Raw, "A valid and unique email address")),
                        ("maildisplay", opt(P::Int, "Email visibility")),
                        ("city", opt(P::Notags, "Home city of the user")),
                        ("country", opt(P::Alphanum, "Home country code of the user, such as AU or CZ")),
                        ("timezone", opt(P::Timezone, "Timezone code such as Australia/Perth, or 99 for default")),
                        ("description", opt(P::Raw, "User profile description, no HTML")),
                        ("firstnamephonetic", opt(P::Notags, "The first name(s) phonetically of the user")),
                        ("lastnamephonetic", opt(P::Notags, "The family name phonetically of the user")),
                        ("middlename", opt(P::Notags, "The middle name of the user")),
                        ("alternatename", opt(P::Notags, "The alternate name of the user")),
                        ("interests", opt(P::Text, "User interests (separated by commas)")),
                        (
                            "idnumber",
                            value(P::Raw, "An arbitrary ID code number perhaps from the institution")
                                .default(Value::str("")),
                        ),
                        ("institution", opt(P::Text, "institution")),
                        ("department", opt(P::Text, "department")),
                        ("phone1", opt(P::Notags, "Phone 1")),
                        ("phone2", opt(P::Notags, "Phone 2")),
                        ("address", opt(P::Text, "Postal address")),
                        (
                            "lang",
                            value(P::Lang, "Language code such as \"en\", must exist on server")
                                .default(Value::str("en")),
                        ),
                        (
                            "calendartype",
                            value(P::Plugin, "Calendar type such as \"gregorian\", must exist on server")
                                .default(Value::str("gregorian")),
                        ),
                        ("theme", opt(P::Plugin, "Theme name such as \"standard\", must exist on server")),
                        ("mailformat", opt(P::Int, "Mail format code is 0 for plain text, 1 for HTML etc")),
                        (
                            "customfields",
                            multiple(
                                single(
                                    "",
                                    vec![
                                        ("type", value(P::Alphanumext, "The name of the custom field")),
                                        ("value", value(P::Raw, "The value of the custom field")),
                                    ],
                                ),
                                "User custom fields (also known as user profil fields)",
                            )
                            .optional(),
                        ),
                        (
                            "preferences",
                            multiple(
                                single(
                                    "",
                                    vec![
                                        ("type", value(P::Raw, "The name of the preference")),
                                        ("value", value(P::Raw, "The value of the preference")),
                                    ],
                                ),
                                "User preferences",
                            )
                            .optional(),
                        ),
                    ],
                ),
                "",
            ),
        )],
    )
}

pub fn create_returns() -> Schema {
    multiple(single("", vec![("id", value(P::Int, "user id")), ("username", value(P::Raw, "user name"))]), "")
}

pub fn update_params() -> Schema {
    let opt = |ty, desc| value(ty, desc).optional();
    single(
        "",
        vec![(
            "users",
            multiple(
                single(
                    "",
                    vec![
                        ("id", value(P::Int, "ID of the user")),
                        ("username", opt(P::Username, "Username policy is defined in Moodle security config.")),
                        ("auth", opt(P::Plugin, "Auth plugins include manual, ldap, etc")),
                        (
                            "suspended",
                            opt(
                                P::Bool,
                                "Suspend user account, either false to enable user login or true to disable it",
                            ),
                        ),
                        ("password", opt(P::Raw, "Plain text password consisting of any characters")),
                        ("firstname", opt(P::Notags, "The first name(s) of the user")),
                        ("lastname", opt(P::Notags, "The family name of the user")),
                        ("email", opt(P::Raw, "A valid and unique email address")),
                    ],
                ),
                "",
            ),
        )],
    )
}

pub fn update_returns() -> Schema {
    single("", vec![("warnings", warnings())])
}

pub fn delete_params() -> Schema {
    single("", vec![("userids", multiple(value(P::Int, "user ID"), ""))])
}
