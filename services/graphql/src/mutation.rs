//! Writes: one mutation per domain command. Each takes an optional
//! `expectedVersion` (refused with `CONFLICT` when the registration has moved
//! on) and an optional `idempotencyKey` (a retry with the same key returns
//! the first result and appends nothing), and returns the registration as
//! folded from its own stream right after the append, with the log position.

use std::sync::Arc;

use crate::errors::Result;
use async_graphql::{Context, Object};
use domain::reference::ReferenceEvent;
use domain::registration::Command;
use domain::DomainError;
use uuid::Uuid;

use super::app;
use super::inputs::{client_field, RegistrationFormInput, RiskAssessmentInput};
use super::types::{self, ReferencePayload, RegistrationNode, RegistrationPayload};
use crate::errors;
use app::commands::{HandleError, Handler, Request};

/// Changes. Every mutation needs a sign-in; the domain decides whether your
/// roles and your place on the form allow it.
#[derive(Default)]
pub struct RegistryMutation;

fn handler(ctx: &Context<'_>) -> Result<Handler> {
    let app = app(ctx)?;
    Ok(app.handler.clone())
}

async fn run(
    ctx: &Context<'_>,
    id: Uuid,
    request: Request,
    expected_version: Option<i64>,
    idempotency_key: Option<String>,
) -> Result<RegistrationPayload> {
    let meta = super::request_meta(ctx, expected_version, idempotency_key)?;
    let form = match &request {
        Request::Submit(f) | Request::Amend(f) | Request::ProposeChange { form: f, .. } => {
            Some(f.clone())
        }
        _ => None,
    };
    match handler(ctx)?.handle(id, request, &meta).await {
        Ok(outcome) => Ok(RegistrationPayload {
            registration: RegistrationNode(Arc::new(outcome.registration)),
            position: outcome.position,
            deduplicated: outcome.deduplicated,
        }),
        Err(HandleError::Domain(DomainError::Invalid { field, problem })) => {
            let field = match &form {
                Some(f) => client_field(&field, f),
                None => field,
            };
            Err(errors::bad_input(&field, problem))
        }
        Err(e) => Err(e.into()),
    }
}

async fn reference(
    ctx: &Context<'_>,
    change: ReferenceEvent,
    idempotency_key: Option<String>,
) -> Result<ReferencePayload> {
    let meta = super::request_meta(ctx, None, idempotency_key)?;
    let position = handler(ctx)?.reference(change, &meta).await?;
    Ok(ReferencePayload { position })
}

/// Changes. Every mutation needs a sign-in; the domain decides whether your
/// roles and your place on the form allow it, and says which rule refused.
#[Object]
impl RegistryMutation {
    /// Submit the "Social Media Business Usage" form (staff). Give `id`
    /// (a UUID you generate) to make retries safe even without an
    /// idempotency key.
    async fn submit_registration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The completed form.")] form: RegistrationFormInput,
        #[graphql(desc = "The new registration's id (default: a new UUID).")] id: Option<Uuid>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let id = id.unwrap_or_else(Uuid::new_v4);
        run(ctx, id, Request::Submit(form.into()), None, idempotency_key).await
    }

    /// Replace the form (the applicant, before publication). A change to
    /// what a sign-off covered voids that sign-off.
    async fn amend_registration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The completed form.")] form: RegistrationFormInput,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        run(
            ctx,
            id,
            Request::Amend(form.into()),
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Propose a change to a published registration (its applicant, its
    /// business contact or communications): the complete form as it
    /// should be. It stays published under its current details while the
    /// change goes through exactly the sign-offs it touches (see
    /// `pendingChange.requiredSteps`), by the same mutations as a new
    /// registration's; `publishRegistration` then publishes the change. A
    /// second proposal replaces a pending one (its proposer or
    /// communications only).
    async fn propose_change(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The complete form as it should be.")] form: RegistrationFormInput,
        #[graphql(desc = "Why, e.g. `The officer left; Sam Patel takes over`.")] reason: String,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::ProposeChange {
            form: form.into(),
            reason,
        };
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Record that you (communications) checked the published level-3
    /// account's profile links to the officer's page on the council's site:
    /// the profile address you checked. The officer page then says so, and
    /// when. A change of officer or account needs a new check.
    async fn record_officer_link_back(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The profile address you checked, e.g. `https://x.com/NorthYouthSam`.")]
        profile_url: String,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::Other(Command::RecordOfficerLinkBack { profile_url });
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Import the accounts the council already runs (communications): a CSV
    /// file, one row per account (the columns are in the README, "Importing
    /// existing accounts"). Each row becomes a published, grandfathered
    /// registration, due for its full review within
    /// `REGISTRY_IMPORT_REVIEW_DAYS`; all rows in one transaction, or none
    /// when any is refused. Accounts already registered are skipped, so a
    /// file imported twice changes nothing. A malformed file is refused
    /// with BAD_USER_INPUT on `csv`, naming its line and column.
    async fn import_registrations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file's contents (CSV, UTF-8, first line the column names).")]
        csv: String,
        #[graphql(desc = "The file's name, recorded with each row.")] file_name: String,
        #[graphql(desc = "Report every row; import nothing (default false).")] dry_run: Option<
            bool,
        >,
    ) -> Result<types::ImportReportNode> {
        let meta = super::request_meta(ctx, None, None)?;
        let options = app::commands::ImportOptions {
            file_name,
            dry_run: dry_run.unwrap_or(false),
            review_days: super::settings(ctx).import_review_days,
        };
        let report = match handler(ctx)?.import(csv.as_bytes(), &options, &meta).await {
            Ok(report) => report,
            Err(HandleError::Domain(DomainError::Invalid { field, problem }))
                if field == "file" =>
            {
                return Err(errors::bad_input("csv", problem))
            }
            Err(e) => return Err(e.into()),
        };
        let (imported, already, refused) = report.counts();
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(types::ImportReportNode {
            file_sha256: report.file_sha256,
            dry_run: report.dry_run,
            committed: report.committed,
            imported: count(imported),
            already_registered: count(already),
            refused: count(refused),
            position: report.position,
            rows: report
                .rows
                .into_iter()
                .map(|r| {
                    let (outcome, registration_id, field, problem) = match r.outcome {
                        app::commands::RowOutcome::WouldImport => (
                            types::ImportOutcome::WouldImport,
                            r.registration_id,
                            None,
                            None,
                        ),
                        app::commands::RowOutcome::Imported => (
                            types::ImportOutcome::Imported,
                            r.registration_id,
                            None,
                            None,
                        ),
                        app::commands::RowOutcome::AlreadyRegistered { registration } => (
                            types::ImportOutcome::AlreadyRegistered,
                            Some(registration),
                            None,
                            None,
                        ),
                        app::commands::RowOutcome::Refused { field, problem } => (
                            types::ImportOutcome::Refused,
                            None,
                            Some(field),
                            Some(problem),
                        ),
                    };
                    types::ImportRowReport {
                        line: i64::try_from(r.line).unwrap_or(i64::MAX),
                        account: r.account,
                        account_key: r.account_key,
                        outcome,
                        registration_id,
                        field,
                        problem,
                    }
                })
                .collect(),
        })
    }

    /// Record the platform's permanent id of the account (communications,
    /// at any time before withdrawal): X, Instagram or Facebook numeric id,
    /// YouTube channel id `UC…`, Bluesky DID, or Mastodon account URI.
    /// Verification then matches it as well as the handle, and answers
    /// NOT_THE_COUNCILS for the handle held by another id. Refused with
    /// CONFLICT when another registration holds the id.
    async fn record_permanent_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The permanent id, as the platform shows it.")] permanent_id: String,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::Other(Command::RecordPermanentId { permanent_id });
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Withdraw the pending change of a published registration (its
    /// proposer or communications). The registration stays as published.
    async fn withdraw_change(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "Why.")] reason: String,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::Other(Command::WithdrawChange { reason });
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Record the risk assessment of a level-3 registration (the applicant,
    /// the officer or the named line manager).
    async fn record_risk_assessment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The assessment.")] assessment: RiskAssessmentInput,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::RecordRiskAssessment(assessment.into());
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Sign the risk assessment (level 3): only the line manager named on
    /// the form, never the applicant.
    async fn sign_risk_assessment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::Other(Command::SignRiskAssessment);
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Sign off a level-4 registration: only the senior officer named on the
    /// form, holding speaking authority for every topic.
    async fn sign_off_as_senior_officer(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::Other(Command::SeniorOfficerSignOff);
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Record the Consultation Finder listing of a level-2 registration
    /// (consultation team).
    async fn record_consultation_listing(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The Consultation Finder reference.")] finder_reference: String,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::Other(Command::RecordConsultationListing { finder_reference });
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Approve one additional branding asset (communications).
    async fn approve_branding_asset(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The asset's id on the form.")] asset_id: String,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::Other(Command::ApproveBrandingAsset { asset_id });
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Approve the registration (communications), once every step of its
    /// level is done.
    async fn approve_registration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        run(
            ctx,
            id,
            Request::Other(Command::Approve),
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Send it back to the applicant with what to change (any approver of it).
    async fn request_changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "What to change.")] reason: String,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::Other(Command::RequestChanges { reason });
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Reject it (any approver of it); this is final.
    async fn reject_registration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "Why.")] reason: String,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::Other(Command::Reject { reason });
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Publish it (communications; only when approved). Publishing a level-3
    /// registration publishes the officer's verification page.
    async fn publish_registration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        run(
            ctx,
            id,
            Request::Other(Command::Publish),
            expected_version,
            idempotency_key,
        )
        .await
    }

    /// Withdraw it (the applicant or communications). It stays in history,
    /// and verification answers "withdrawn" for it.
    async fn withdraw_registration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "Why.")] reason: String,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::Other(Command::Withdraw { reason });
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Confirm a published account is still in use (its business contact or
    /// communications); restarts the review period.
    async fn revalidate_registration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::Other(Command::Revalidate);
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Add a job role to the list accepted for level 3 (admin).
    async fn accept_job_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Code, e.g. `youth-worker`.")] code: String,
        #[graphql(desc = "Title, e.g. `Youth Worker`.")] title: String,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<ReferencePayload> {
        reference(
            ctx,
            ReferenceEvent::JobRoleAccepted { code, title },
            idempotency_key,
        )
        .await
    }

    /// Take a job role off the accepted list (admin).
    async fn withdraw_job_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job role's code.")] code: String,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<ReferencePayload> {
        reference(
            ctx,
            ReferenceEvent::JobRoleWithdrawn { code },
            idempotency_key,
        )
        .await
    }

    /// Record that an officer or a councillor may speak for the council on
    /// a topic (admin).
    async fn grant_speaking_authority(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The officer's staff id, or the councillor's member id.")] subject: String,
        #[graphql(desc = "The topic's code from `topics`, e.g. `highways`.")] topic: String,
        #[graphql(desc = "True for a councillor (a member of the council).", default)]
        councillor: bool,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<ReferencePayload> {
        let change = ReferenceEvent::SpeakingAuthorityGranted {
            subject,
            topic,
            councillor,
        };
        reference(ctx, change, idempotency_key).await
    }

    /// Add (or rename) a topic that level-4 forms and the speaking-authority
    /// register choose from (admin).
    async fn add_topic(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Code, e.g. `highways`.")] code: String,
        #[graphql(desc = "Name, e.g. `Highways and road safety`.")] name: String,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<ReferencePayload> {
        reference(
            ctx,
            ReferenceEvent::TopicAdded { code, name },
            idempotency_key,
        )
        .await
    }

    /// Retire a topic: no new form or grant may name it (admin).
    async fn retire_topic(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Its code.")] code: String,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<ReferencePayload> {
        reference(ctx, ReferenceEvent::TopicRetired { code }, idempotency_key).await
    }

    /// Revoke a speaking authority (admin).
    async fn revoke_speaking_authority(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Their staff id.")] subject: String,
        #[graphql(desc = "The subject matter.")] topic: String,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<ReferencePayload> {
        let change = ReferenceEvent::SpeakingAuthorityRevoked { subject, topic };
        reference(ctx, change, idempotency_key).await
    }

    /// Add (or rename) an organisational unit (admin).
    async fn add_organisational_unit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Code, e.g. `libraries`.")] code: String,
        #[graphql(desc = "Name, e.g. `Libraries and Archives`.")] name: String,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<ReferencePayload> {
        let change = ReferenceEvent::OrganisationalUnitAdded { code, name };
        reference(ctx, change, idempotency_key).await
    }

    /// Retire an organisational unit: no new registrations name it (admin).
    async fn retire_organisational_unit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The unit's code.")] code: String,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<ReferencePayload> {
        let change = ReferenceEvent::OrganisationalUnitRetired { code };
        reference(ctx, change, idempotency_key).await
    }

    /// Publish a version of the social media policy (admin). From now on
    /// forms must acknowledge it, and every published account's business
    /// contact acknowledges it (`acknowledgePolicy`) within
    /// `REGISTRY_POLICY_ACKNOWLEDGEMENT_DAYS`.
    async fn publish_policy_version(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The version, e.g. `2026.2`.")] version: String,
        #[graphql(desc = "The date on the policy.")] published_on: chrono::NaiveDate,
        #[graphql(desc = "What changed, in a sentence or two.")] summary: String,
        #[graphql(desc = "Where staff read it (https://…).")] url: String,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<ReferencePayload> {
        let change = ReferenceEvent::PolicyVersionPublished {
            version,
            published_on,
            summary,
            url,
        };
        reference(ctx, change, idempotency_key).await
    }

    /// Acknowledge the current social media policy for a published
    /// registration (its business contact).
    async fn acknowledge_policy(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "The version you acknowledge: the current one.")] version: String,
        #[graphql(desc = "The version you last read; refused with CONFLICT if it moved on.")]
        expected_version: Option<i64>,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<RegistrationPayload> {
        let request = Request::Other(Command::AcknowledgePolicy { version });
        run(ctx, id, request, expected_version, idempotency_key).await
    }

    /// Close a platform to new registrations (admin or communications).
    async fn disable_platform(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The platform.")] platform: types::Platform,
        #[graphql(desc = "Why.")] reason: String,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<ReferencePayload> {
        let change = ReferenceEvent::PlatformDisabled {
            platform: platform.into(),
            reason,
        };
        reference(ctx, change, idempotency_key).await
    }

    /// Open a platform again (admin or communications).
    async fn enable_platform(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The platform.")] platform: types::Platform,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<ReferencePayload> {
        let change = ReferenceEvent::PlatformEnabled {
            platform: platform.into(),
        };
        reference(ctx, change, idempotency_key).await
    }
}
