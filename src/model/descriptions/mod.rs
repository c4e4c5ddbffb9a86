//! Each implemented function's parameters and answer, as Moodle describes them.

pub mod roles;
pub mod site_info;
pub mod users;
