//! wsconsole: a terminal console and a Moodle-compatible web-service endpoint that share one
//! redb database. Layers, bottom up (DESIGN.md §1): `domain` → `store` → `ops` → `functions`, `wire`
//! → front ends (`console`, `endpoint`, `cli`).

pub mod allocator;
pub mod cli;
pub mod console;
pub mod domain;
pub mod endpoint;
pub mod functions;
pub mod model;
pub mod ops;
pub mod serve;
pub mod store;
pub mod upstream;
pub mod wire;
