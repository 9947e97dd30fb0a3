//! The subcommands of `social-registry`, a file per group.

pub(crate) mod audit;
pub(crate) mod database;
pub(crate) mod dev;
pub(crate) mod import;
pub(crate) mod privacy;
pub(crate) mod serve;
