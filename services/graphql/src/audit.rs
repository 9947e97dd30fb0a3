//! Auditors' and data protection's fields: chain verification, signed log
//! heads, the registry at a past position, erasure and subject access.

use std::sync::Arc;

use crate::errors::Result;
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::Role;
use event_store::chain::ChainReport;
use event_store::heads::SignedHead;
use uuid::Uuid;

use super::inputs::RegistrationFilter;
use super::types::RegistrationNode;
use super::{app, with_role};
use crate::errors;

/// The outcome of verifying the hash chain.
#[derive(SimpleObject, Debug, Clone)]
pub struct ChainVerification {
    /// True when every event in the range verified.
    pub verified: bool,
    /// First position checked.
    pub from: i64,
    /// Last position checked (when verified).
    pub to: i64,
    /// How many events verified.
    pub count: i64,
    /// Chain hash of the last event checked, hex (when verified).
    pub head_hash: Option<String>,
    /// The first position that fails, when one does.
    pub broken_at: Option<i64>,
    /// Why it fails.
    pub reason: Option<String>,
}

/// A log head signed by the service (Ed25519). Keep a copy: with the public
/// key from `/.well-known/registry-signing-key` it proves the log up to
/// `position` unchanged (`social-registry verify-chain --head FILE`).
#[derive(SimpleObject, Debug, Clone)]
pub struct SignedLogHead {
    /// The position signed.
    pub position: i64,
    /// The chain hash there, hex.
    pub hash: String,
    /// When it was signed.
    pub signed_at: DateTime<Utc>,
    /// Id of the signing key.
    pub key_id: String,
    /// The signing key's public half, base64.
    pub public_key: String,
    /// The signature, base64.
    pub signature: String,
    /// The whole head as JSON, the form `verify-chain --head` reads.
    pub document: Json<serde_json::Value>,
}

impl From<SignedHead> for SignedLogHead {
    fn from(h: SignedHead) -> Self {
        SignedLogHead {
            document: Json(serde_json::to_value(&h).unwrap_or_default()),
            position: h.position,
            hash: h.hash,
            signed_at: h.signed_at,
            key_id: h.key_id,
            public_key: h.public_key,
            signature: h.signature,
        }
    }
}

/// One field of one registration holding a person's data.
#[derive(SimpleObject, Debug, Clone)]
pub struct PersonalDataHolding {
    /// The registration.
    pub registration_id: Uuid,
    /// Its account key.
    pub account_key: String,
    /// Its status.
    pub status: String,
    /// The field, e.g. `form.details.officer.email`.
    pub field: String,
    /// The value held (null once erased).
    pub value: Option<String>,
}

/// What the registry holds about one person (a subject access request).
#[derive(SimpleObject, Debug, Clone)]
pub struct SubjectAccess {
    /// The person's id in the vault.
    pub person: Uuid,
    /// True when their data was erased.
    pub erased: bool,
    /// Every registration field holding their data.
    pub holdings: Vec<PersonalDataHolding>,
    /// How many events record them as the one who acted (their display
    /// name is held, sealed, with each).
    pub events_as_actor: i64,
    /// Their listing in the people directory (name, email, job title,
    /// unit; null values once erased), when a member of staff is listed.
    pub directory_listing: Option<crate::people::Person>,
}

/// What an erasure returns.
#[derive(SimpleObject, Debug, Clone)]
pub struct ErasurePayload {
    /// The person erased.
    pub person: Uuid,
    /// Log position of the erasure event.
    pub position: i64,
}

fn person_of(subject: &Option<String>, councillor: &Option<String>) -> Result<Uuid> {
    match (subject, councillor) {
        (Some(s), None) if !s.trim().is_empty() => Ok(domain::personal::staff_person(s.trim())),
        (None, Some(c)) if !c.trim().is_empty() => Ok(domain::personal::councillor_person(c)),
        _ => Err(errors::bad_input(
            "subject",
            "give either the staff id (subject) or the councillor's name",
        )),
    }
}

/// Auditors' reads.
#[derive(Default)]
pub struct AuditQuery;

/// Reads for auditors and data protection.
#[Object]
impl AuditQuery {
    /// Verify the hash chain over `from..=to` (default: the whole log).
    async fn verify_chain(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "First position (default 1).")] from: Option<i64>,
        #[graphql(desc = "Last position (default: the head).")] to: Option<i64>,
    ) -> Result<ChainVerification> {
        let _turn = super::pool_turn(ctx).await;
        with_role(ctx, &[Role::Auditor])?;
        let report = app(ctx)?.store.verify_chain(from, to).await?;
        Ok(match report {
            ChainReport::Verified {
                from,
                to,
                count,
                head_hash,
            } => ChainVerification {
                verified: true,
                from,
                to,
                count: count as i64,
                head_hash: Some(head_hash),
                broken_at: None,
                reason: None,
            },
            ChainReport::Broken {
                position,
                reason,
                verified_before,
            } => ChainVerification {
                verified: false,
                from: from.unwrap_or(1),
                to: position - 1,
                count: verified_before as i64,
                head_hash: None,
                broken_at: Some(position),
                reason: Some(reason.to_string()),
            },
        })
    }

    /// Signed log heads, newest first (auditors).
    async fn signed_heads(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (1 to 100, default 20).")] first: Option<i32>,
    ) -> Result<Vec<SignedLogHead>> {
        let _turn = super::pool_turn(ctx).await;
        with_role(ctx, &[Role::Auditor])?;
        let n = super::query::page_size(first)? as i32;
        let heads = app(ctx)?.store.signed_heads(i64::from(n)).await?;
        Ok(heads.into_iter().map(SignedLogHead::from).collect())
    }

    /// The registry as it stood when the log was at `position` (or at time
    /// `at`), reconstructed from the log, not from today's read models; the
    /// same shape as `registrations` (auditors). Personal data erased since
    /// shows as erased.
    async fn registry_at(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The log position (default: the head).")] position: Option<i64>,
        #[graphql(desc = "Or a moment: the registry as of the last event recorded by then.")]
        at: Option<DateTime<Utc>>,
        #[graphql(desc = "Only registrations matching every given filter.")] filter: Option<
            RegistrationFilter,
        >,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, RegistrationNode>> {
        let _turn = super::pool_turn(ctx).await;
        with_role(ctx, &[Role::Auditor])?;
        let app = app(ctx)?;
        let position = match app::audit::resolve_position(&app.store, position, at).await? {
            Ok(p) => p,
            Err((field, problem)) => return Err(errors::bad_input(field, problem)),
        };
        let n = super::query::page_size(first)? as i32;
        let skip: usize = match after {
            None => 0,
            Some(c) => c
                .parse()
                .map_err(|_| errors::bad_input("after", "is not a cursor this API returned"))?,
        };
        let all = app::audit::registry_at(&app.store, position).await?;
        let filter = domain::registration::Filter::from(filter.unwrap_or_default());
        let names = projections::public::service_names(&app.pool).await?;
        let matching: Vec<_> = all
            .into_iter()
            .filter(|r| filter.matches(r, |code| names.get(code).cloned()))
            .collect();
        let n = n as usize;
        let mut connection = Connection::new(skip > 0, matching.len() > skip + n);
        for (i, r) in matching.into_iter().enumerate().skip(skip).take(n) {
            connection.edges.push(Edge::new(
                (i + 1).to_string(),
                RegistrationNode(Arc::new(r)),
            ));
        }
        Ok(connection)
    }

    /// Everything the registry holds about one person: a subject access
    /// request (data protection).
    async fn personal_data_held_for(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member of staff's id.")] subject: Option<String>,
        #[graphql(secret, desc = "Or a councillor's name, as on level-4 forms.")]
        councillor_name: Option<String>,
    ) -> Result<SubjectAccess> {
        let _turn = super::pool_turn(ctx).await;
        with_role(ctx, &[Role::DataProtection])?;
        let person = person_of(&subject, &councillor_name)?;
        let app = app(ctx)?;
        let handler = app.handler.clone();
        let (holdings, acted) = app::privacy::held_for(
            &app.pool,
            &handler,
            &app.vault,
            person,
            subject.as_deref().map(str::trim),
        )
        .await?;
        let erased = app.vault.was_erased(person).await?;
        let directory_listing = match subject.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => crate::people::listed(ctx, s).await?,
            _ => None,
        };
        Ok(SubjectAccess {
            directory_listing,
            person,
            erased,
            holdings: holdings
                .into_iter()
                .map(|h| PersonalDataHolding {
                    registration_id: h.registration_id,
                    account_key: h.account_key,
                    status: h.status,
                    field: h.field,
                    value: h.value,
                })
                .collect(),
            events_as_actor: acted,
        })
    }
}

/// Auditors' and data protection's changes.
#[derive(Default)]
pub struct AuditMutation;

/// Changes by auditors (signing a head changes nothing in the registry) and
/// data protection.
#[Object]
impl AuditMutation {
    /// Sign the current log head now and store it (auditors).
    async fn sign_log_head(&self, ctx: &Context<'_>) -> Result<SignedLogHead> {
        with_role(ctx, &[Role::Auditor])?;
        let app = app(ctx)?;
        let head = app.store.sign_head(&app.signer).await?;
        Ok(head.into())
    }

    /// Erase a person's personal data (data protection): their vault key is
    /// deleted and an erasure event records who, when and why, without the
    /// data. Every read model and query then shows it as erased; history,
    /// exports and chain verification still work. Safe to repeat.
    async fn erase_personal_data(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member of staff's id.")] subject: Option<String>,
        #[graphql(secret, desc = "Or a councillor's name, as on level-4 forms.")]
        councillor_name: Option<String>,
        #[graphql(desc = "Why (recorded; say which request or rule).")] reason: String,
    ) -> Result<ErasurePayload> {
        with_role(ctx, &[Role::DataProtection])?;
        let person = person_of(&subject, &councillor_name)?;
        let app = app(ctx)?;
        let meta = super::request_meta(ctx, None, None)?;
        let handler = app.handler.clone();
        let position = handler.erase_person(person, &reason, &meta).await?;
        Ok(ErasurePayload { person, position })
    }
}
