//! The black-box tests: the built `social-registry` binary against a real
//! PostgreSQL, over real HTTP and WebSocket connections. One test binary
//! (linking one instead of fourteen saves CI minutes); one module per area.

mod audit;
mod authorization;
mod binary;
mod browser;
mod changes;
mod crash;
mod demo;
mod errors;
mod hardening;
mod import;
mod lifecycle;
mod live;
mod notifications;
mod operations;
mod people;
mod privacy;
mod public_pages;
mod staff_app;
mod staff_browser;
mod staff_work;
mod subscriptions;
mod telemetry;
mod tokens;
mod webhooks;
