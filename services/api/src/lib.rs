//! The social media registry service: configuration, telemetry, the GraphQL
//! schema and the HTTP router. `main.rs` wires them into the
//! `social-registry` binary's subcommands.

pub mod audit;
pub mod auth;
pub mod commands;
pub mod config;
pub mod demo;
pub mod errors;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod listen;
pub mod privacy;
pub mod prom;
pub mod public;
pub mod state;
pub mod telemetry;
pub mod web;
pub mod ws;
