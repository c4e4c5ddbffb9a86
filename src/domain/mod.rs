//! The domain: plain types, rules and decisions. No I/O: it knows neither redb, HTTP nor the
//! terminal (DESIGN.md §1).

pub mod access;
pub mod capabilities;
pub mod config;
pub mod denial;
pub mod exception;
pub mod file_access;
pub mod file_urls;
pub mod front_flow;
pub mod function_catalogue;
pub mod iprestriction;
pub mod login;
pub mod moodle_functions;
pub mod routes;
pub mod secret;
pub mod site_url;
pub mod time;
pub mod types;
pub mod upstream;
pub mod validate;
pub mod walkthrough;

#[cfg(test)]
mod access_tests;

pub use types::*;
