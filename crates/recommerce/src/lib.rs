//! Everything the `recommerce` binary does, as a library so tests can reach the pure parts
//! (edge routing, the configuration check) without a process.

pub mod cli;
pub mod config_check;
pub mod dev;
pub mod edge;
pub mod load;
pub mod services;
