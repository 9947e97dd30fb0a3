//! Read models (projections) built from the event log.
//!
//! The projector and its read models arrive with the projections issue; the
//! crate exists now so the workspace keeps the dependency direction of
//! DESIGN.md: api → projections → event-store, projections → domain.
