//! A Moodle exception as every protocol reports it: the class, the error code, the message and
//! the debug information Moodle shows when debugging is on. The access decision's denials,
//! the functions' own errors and a fronted site's errors all end as one.

use std::borrow::Cow;

/// A Moodle exception as the wire protocols report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoodleException {
    /// `get_class()` in Moodle 4.5. Ours are constants; a Moodle site's (forwarded) are its own.
    pub exception: Cow<'static, str>,
    pub errorcode: Cow<'static, str>,
    pub message: String,
    /// Shown only when the debug setting is on.
    pub debuginfo: Option<String>,
}

pub const MOODLE_EXCEPTION: &str = "core\\exception\\moodle_exception";
pub const INVALID_PARAMETER_EXCEPTION: &str = "core\\exception\\invalid_parameter_exception";
pub const WEBSERVICE_ACCESS_EXCEPTION: &str = "webservice_access_exception";
pub const DML_MISSING_RECORD_EXCEPTION: &str = "dml_missing_record_exception";

impl MoodleException {
    pub fn new(exception: &'static str, errorcode: &'static str, message: impl Into<String>) -> Self {
        MoodleException {
            exception: exception.into(),
            errorcode: errorcode.into(),
            message: message.into(),
            debuginfo: None,
        }
    }

    pub fn with_debuginfo(mut self, debuginfo: impl Into<String>) -> Self {
        self.debuginfo = Some(debuginfo.into());
        self
    }

    /// `webservice_access_exception`: the message is fixed, the reason goes to debuginfo.
    pub fn access(debuginfo: impl Into<String>) -> Self {
        MoodleException::new(WEBSERVICE_ACCESS_EXCEPTION, "accessexception", "Access control exception")
            .with_debuginfo(debuginfo)
    }
}
