//! The server: everything about serving the registry that is not the
//! registry itself. Configuration, telemetry, metrics, authentication, the
//! HTTP router and WebSocket limits; `main.rs` and `cli/` build the
//! `social-registry` binary's subcommands on them.

pub mod auth;
pub mod config;
pub mod http;
pub mod listen;
pub mod prom;
pub mod telemetry;
pub mod ws;
