//! The social media registry service: configuration, telemetry, the GraphQL
//! schema and the HTTP router. `main.rs` wires them into the
//! `social-registry` binary's subcommands.

/// The GraphQL schema (the `graphql` crate).
pub use ::graphql;
pub use ::web;
pub use app::{audit, commands, demo, jobs, privacy, state};
pub use graphql::errors;
pub use projections::public;

pub mod auth;
pub mod config;
pub mod http;
pub mod listen;
pub mod prom;
pub mod telemetry;
pub mod ws;
