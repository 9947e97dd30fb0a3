//! The social media registry service: configuration, telemetry, the GraphQL
//! schema and the HTTP router. `main.rs` wires them into the
//! `social-registry` binary's subcommands.

pub use app::{audit, commands, demo, jobs, privacy, state};

pub mod auth;
pub mod config;
pub mod errors;
pub mod graphql;
pub mod http;
pub mod listen;
pub mod prom;
pub mod public;
pub mod telemetry;
pub mod web;
pub mod ws;
