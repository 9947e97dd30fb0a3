//! How each read model applies events, in memory: a run of events is
//! applied one event at a time to the rows it touches (loaded first, in the
//! live projector), and the changed rows are written at the end. The live
//! projector and the rebuild run this same code, so a rebuild equals
//! incremental projection by construction, whatever the batch boundaries.

mod consultations;
mod directory;
mod queues;
mod reference;
mod registrations;
mod revalidation;
mod verification;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::decode::Decoded;
use crate::models::ReadModel;
use crate::tables::{Mode, Part};

/// One event of a run, as a model sees it.
#[derive(Clone, Copy)]
pub(crate) struct Item<'a> {
    pub position: i64,
    pub at: DateTime<Utc>,
    pub decoded: &'a Decoded,
}

/// One read model's rows during a run of events.
pub(crate) enum ModelRun {
    Registrations(registrations::Registrations),
    Directory(directory::Directory),
    Verification(verification::Verification),
    Consultations(consultations::Consultations),
    ApprovalQueues(queues::Queues),
    RevalidationDue(revalidation::Revalidation),
    Reference(reference::Reference),
}

impl ModelRun {
    /// A run of `model` that starts after the erasures in `erased`, to be
    /// written in `mode`.
    pub(crate) fn new(model: ReadModel, erased: &BTreeSet<Uuid>, mode: Mode) -> Self {
        let erased = Arc::new(erased.clone());
        match model {
            ReadModel::Registrations => {
                ModelRun::Registrations(registrations::Registrations::new(mode))
            }
            ReadModel::Directory => ModelRun::Directory(directory::Directory::new(mode)),
            ReadModel::Verification => {
                ModelRun::Verification(verification::Verification::new(erased, mode))
            }
            ReadModel::Consultations => {
                ModelRun::Consultations(consultations::Consultations::new(mode))
            }
            ReadModel::ApprovalQueues => ModelRun::ApprovalQueues(queues::Queues::new(mode)),
            ReadModel::RevalidationDue => {
                ModelRun::RevalidationDue(revalidation::Revalidation::new(mode))
            }
            ReadModel::Reference => ModelRun::Reference(reference::Reference::new(mode)),
        }
    }

    /// Read the rows that applying `items` needs to know beforehand.
    pub(crate) async fn load(
        &mut self,
        conn: &mut PgConnection,
        schema: &str,
        items: &[Item<'_>],
    ) -> Result<(), sqlx::Error> {
        match self {
            ModelRun::Verification(m) => m.load(conn, schema, items).await,
            ModelRun::ApprovalQueues(m) => m.load(conn, schema, items).await,
            ModelRun::Reference(m) => m.load(conn, schema, items).await,
            ModelRun::Registrations(_)
            | ModelRun::Directory(_)
            | ModelRun::Consultations(_)
            | ModelRun::RevalidationDue(_) => Ok(()),
        }
    }

    /// Apply one event.
    pub(crate) fn apply(&mut self, item: &Item<'_>) {
        match self {
            ModelRun::Registrations(m) => m.apply(item),
            ModelRun::Directory(m) => m.apply(item),
            ModelRun::Verification(m) => m.apply(item),
            ModelRun::Consultations(m) => m.apply(item),
            ModelRun::ApprovalQueues(m) => m.apply(item),
            ModelRun::RevalidationDue(m) => m.apply(item),
            ModelRun::Reference(m) => m.apply(item),
        }
    }

    /// Write the rows the run changed.
    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        schema: &str,
        mode: Mode,
        review_period_days: i64,
    ) -> Result<(), sqlx::Error> {
        self.write_part(conn, schema, mode, review_period_days, Part::WHOLE)
            .await
    }

    /// Write one part of the rows (only `registrations` is large enough to
    /// write in parts; every other model writes all its rows in part 0).
    pub(crate) async fn write_part(
        &self,
        conn: &mut PgConnection,
        schema: &str,
        mode: Mode,
        review_period_days: i64,
        part: Part,
    ) -> Result<(), sqlx::Error> {
        if part.index > 0 && !matches!(self, ModelRun::Registrations(_)) {
            return Ok(());
        }
        match self {
            ModelRun::Registrations(m) => m.write(conn, schema, mode, part).await,
            ModelRun::Directory(m) => m.write(conn, schema, mode).await,
            ModelRun::Verification(m) => m.write(conn, schema, mode).await,
            ModelRun::Consultations(m) => m.write(conn, schema, mode).await,
            ModelRun::ApprovalQueues(m) => m.write(conn, schema, mode).await,
            ModelRun::RevalidationDue(m) => m.write(conn, schema, mode, review_period_days).await,
            ModelRun::Reference(m) => m.write(conn, schema, mode).await,
        }
    }
}

/// The people whose erasure is among `items`.
fn erasures(items: &[Item<'_>]) -> Vec<Uuid> {
    items
        .iter()
        .filter_map(|i| match i.decoded {
            Decoded::Erasure(p) => Some(*p),
            _ => None,
        })
        .collect()
}

/// `erased` with `person` added.
fn with_erased(erased: &Arc<BTreeSet<Uuid>>, person: Uuid) -> Arc<BTreeSet<Uuid>> {
    if erased.contains(&person) {
        return erased.clone();
    }
    let mut set = (**erased).clone();
    set.insert(person);
    Arc::new(set)
}

/// The public page slug of a level-3 registration's officer.
fn officer_slug_of(s: &domain::registration::Registration) -> Option<String> {
    match &s.form.details {
        domain::form::LevelDetails::Participate { officer, .. } => {
            Some(crate::officer_slug(officer.name.person))
        }
        _ => None,
    }
}
