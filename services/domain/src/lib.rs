//! The social media business usage framework as a pure domain model.
//!
//! This crate holds no I/O: commands are decided against folded state and
//! produce events; the event store and the API wire it to PostgreSQL.
//! The registration aggregate arrives with the domain issue; until then the
//! crate only fixes the workspace's dependency direction (api → domain).
