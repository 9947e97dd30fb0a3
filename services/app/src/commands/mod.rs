//! Command handling, one pipeline for every aggregate: load its stream,
//! seal the personal values (in memory), decide with the domain, append the
//! events and any new vault keys in one transaction with the expected
//! version. Events only ever hold ciphertext.

mod claims;
mod directory;
mod error;
mod import;
mod load;
mod reference;
mod webhooks;
pub use directory::{PeopleImport, PeopleImportError};
pub use webhooks::{new_secret, WebhookOutcome, WebhookRequest};
pub mod seal;

use chrono::Utc;
use domain::form::Form;
use domain::personal::{PersonalKind, PersonalValue};
use domain::privacy::Erasure;
use domain::reference::{ReferenceCommand, ReferenceData};
use domain::registration::{
    self, Command, Context, Registration, RegistrationEvent, RiskAssessmentInput,
};
use domain::report::{Report, ReportCommand, ReportEvent};
use domain::{Actor, Aggregate};
use event_store::vault::{Sealer, Vault, VaultChange};
use event_store::{EventStore, ExpectedVersion, NewEvent, StreamAppend};
use serde_json::{json, Value};
use uuid::Uuid;

pub use error::HandleError;
pub use import::{ImportOptions, ImportReport, RowOutcome, RowReport};
pub use load::{
    apply_event, fold, fold_registration as fold_events, load, load_registration, Loaded,
};

/// How many times a command without an expected version is re-decided
/// when another writer got there first.
const RETRIES: usize = 3;

/// A command as the API receives it: personal values in plain text.
#[derive(Debug, Clone)]
pub enum Request {
    /// Submit a new registration.
    Submit(Form<String>),
    /// Replace the form.
    Amend(Form<String>),
    /// Record the risk assessment (level 3).
    RecordRiskAssessment(RiskAssessmentInput<String>),
    /// Propose a change to a published registration.
    ProposeChange {
        /// The form as it should be.
        form: Form<String>,
        /// Why.
        reason: String,
    },
    /// Any command without personal data.
    Other(Command),
}

/// Who asked, and how to trace it.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// The signed-in person.
    pub actor: Actor,
    /// Their display name, sealed into the event metadata when given.
    pub display_name: Option<String>,
    /// The request's correlation id.
    pub correlation_id: String,
    /// The client's retry key.
    pub idempotency_key: Option<String>,
    /// The version the client last saw, for optimistic concurrency.
    pub expected_version: Option<i64>,
    /// The request's trace id (W3C, hex), when it has one.
    pub trace_id: Option<String>,
}

impl RequestMeta {
    /// The idempotency key as stored: scoped to the caller, so one caller's
    /// key can never replay another's outcome (SHA-256 of the subject and
    /// the client's key, hex).
    pub fn scoped_idempotency_key(&self) -> Option<String> {
        use sha2::{Digest, Sha256};
        self.idempotency_key.as_ref().map(|key| {
            let mut h = Sha256::new();
            h.update(b"social-registry/idempotency/v1\n");
            h.update(self.actor.subject.as_bytes());
            h.update(b"\n");
            h.update(key.as_bytes());
            hex::encode(h.finalize())
        })
    }
}

/// What a command produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The registration folded from its own stream after the append.
    pub registration: Registration,
    /// The log position of the last event appended (for read-your-writes).
    pub position: i64,
    /// True when this was a retry with a known idempotency key.
    pub deduplicated: bool,
}

/// Handles commands against the event store. Clones share the reference
/// data they keep.
#[derive(Debug, Clone)]
pub struct Handler {
    store: EventStore,
    vault: Vault,
    reference: reference::ReferenceCache,
}

impl Handler {
    /// A handler over the store and vault.
    pub fn new(store: EventStore, vault: Vault) -> Self {
        Handler {
            store,
            vault,
            reference: reference::ReferenceCache::default(),
        }
    }

    /// The reference data as the log holds it now.
    pub async fn reference_data(&self) -> Result<std::sync::Arc<ReferenceData>, HandleError> {
        self.reference.get(&self.store).await
    }

    /// The event store.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// The vault.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Handle one registration command.
    #[tracing::instrument(name = "command", skip_all, fields(registration.id = %id, command = request_name(&request)))]
    pub async fn handle(
        &self,
        id: Uuid,
        request: Request,
        meta: &RequestMeta,
    ) -> Result<Outcome, HandleError> {
        let stream = registration::stream_id(id);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // A submission's first attempt assumes what is nearly always
            // true: its registration and its account's claim stream do not
            // exist yet. Nothing is read; the append expects both streams
            // new, so if either exists it conflicts, writes nothing, and the
            // next attempt reads them and decides for real.
            let assume_new = attempt == 1
                && matches!(request, Request::Submit(_))
                && meta.expected_version.is_none();
            match self
                .try_handle(id, &stream, &request, meta, assume_new)
                .await
            {
                Err(e) if attempt < RETRIES && retry(&e, meta) => continue,
                other => return other,
            }
        }
    }

    /// The pipeline every registration command runs through: load → decide
    /// → check the personal values as typed → append the events with the
    /// keys their sealing made, in one transaction.
    async fn try_handle(
        &self,
        id: Uuid,
        stream: &str,
        request: &Request,
        meta: &RequestMeta,
        assume_new: bool,
    ) -> Result<Outcome, HandleError> {
        if let Some(key) = meta.scoped_idempotency_key() {
            if let Some(outcome) = self.replay(stream, &key).await? {
                // A replay shows the registration: only to whom may read it.
                if !domain::access::may_read(&meta.actor, &outcome.registration) {
                    return Err(domain::DomainError::RegistrationNotFound(id).into());
                }
                return Ok(outcome);
            }
        }
        let reference = self.reference_data().await?;
        let Loaded { state, version, .. } = if assume_new {
            Loaded::default()
        } else {
            load::<Registration>(&self.store, stream).await?
        };
        if let Some(expected) = meta.expected_version {
            if expected != version {
                return Err(HandleError::Conflict { actual: version });
            }
        }
        let ctx = Context {
            actor: &meta.actor,
            now: Utc::now(),
            reference: &reference,
        };
        // Sealing is in memory: keys for people new to the vault are only
        // stored by the append below, so a refused command changes nothing.
        let mut sealer = self.vault.sealer();
        if meta.display_name.is_some() {
            // Read the actor's key (for the metadata) with the form's.
            sealer.also_load(domain::personal::staff_person(&meta.actor.subject));
        }
        let command = seal_request(&mut sealer, id, request, state.as_ref()).await?;
        let events = Registration::decide(state.as_ref(), &command, &ctx).map_err(|e| match e {
            domain::DomainError::RegistrationNotFound(_) => {
                domain::DomainError::RegistrationNotFound(id)
            }
            other => other,
        })?;
        check_typed(request)?;
        let claims = self.claims(id, state.as_ref(), &events, assume_new).await?;
        let new_events = encode::<Registration>(&events);
        let claim_events: Vec<[NewEvent; 1]> = claims.iter().map(|c| [c.event.clone()]).collect();
        let mut batches = vec![StreamAppend {
            stream_id: stream,
            expected: expected_at(version),
            events: &new_events,
        }];
        for (claim, events) in claims.iter().zip(&claim_events) {
            batches.push(StreamAppend {
                stream_id: &claim.stream_id,
                expected: claim.expected,
                events,
            });
        }
        let metadata = metadata(&mut sealer, meta, request_name(request)).await?;
        let appended = self.commit(&batches, &metadata, meta, sealer).await?;
        let folded = events
            .iter()
            .fold(state, Registration::apply)
            .expect("a decided command leaves a registration");
        Ok(Outcome {
            registration: folded,
            position: appended.last_position,
            deduplicated: appended.deduplicated,
        })
    }

    /// A command seen before: the registration as that command left it.
    async fn replay(&self, stream: &str, key: &str) -> Result<Option<Outcome>, HandleError> {
        let Some(earlier) = self.store.idempotent_outcome(key, stream).await? else {
            return Ok(None);
        };
        let (position, version) = (earlier.last_position, earlier.stream_version);
        let events = self.store.read_stream(stream, Some(version)).await?;
        let state =
            load::fold_registration(&events)?.expect("an idempotency key follows an append");
        Ok(Some(Outcome {
            registration: state,
            position,
            deduplicated: true,
        }))
    }

    async fn claims(
        &self,
        id: Uuid,
        before: Option<&Registration>,
        events: &[RegistrationEvent],
        assume_new: bool,
    ) -> Result<Vec<claims::Claim>, HandleError> {
        let mut out = Vec::new();
        for e in events {
            let key = match e {
                RegistrationEvent::RegistrationSubmitted { account_key, .. } => account_key,
                RegistrationEvent::RegistrationAmended { account_key, .. }
                    if before.is_some_and(|b| &b.account_key != account_key) =>
                {
                    account_key
                }
                // A permanent id is held like an account: by one registration.
                RegistrationEvent::PermanentIdRecorded { permanent_id, .. } => permanent_id,
                // A change to another account claims it while pending (the
                // published account stays claimed too).
                RegistrationEvent::ChangeProposed { account_key, .. }
                    if before.is_some_and(|b| {
                        &b.account_key != account_key
                            && b.change
                                .as_ref()
                                .is_none_or(|c| &c.candidate.account_key != account_key)
                    }) =>
                {
                    account_key
                }
                _ => continue,
            };
            out.push(if assume_new {
                claims::prepare_new(key, id)?
            } else {
                claims::prepare(&self.store, key, id).await?
            });
        }
        Ok(out)
    }

    /// Append the batches and the vault's changes in one transaction,
    /// counting the events and timing the append.
    async fn commit(
        &self,
        batches: &[StreamAppend<'_>],
        metadata: &Value,
        meta: &RequestMeta,
        sealer: Sealer<'_>,
    ) -> Result<event_store::AppendOutcome, HandleError> {
        let (changes, sealed) = sealer.finish();
        let started = std::time::Instant::now();
        let key = meta.scoped_idempotency_key();
        let outcome = self
            .store
            .append_sealed(batches, metadata, key.as_deref(), &changes)
            .await?;
        if !outcome.deduplicated {
            for e in batches.iter().flat_map(|b| b.events.iter()) {
                metrics::counter!("events_appended_total", "type" => e.event_type.clone())
                    .increment(1);
            }
            metrics::histogram!("event_append_duration_seconds").record(started.elapsed());
            metrics::counter!("vault_operations_total", "operation" => "seal").increment(sealed);
            for change in &changes {
                if let VaultChange::Erase(_) = change {
                    metrics::counter!("vault_operations_total", "operation" => "erase")
                        .increment(1);
                }
            }
        }
        Ok(outcome)
    }

    /// Erase a person: delete their vault key and record the erasure, in
    /// one transaction, so every read model shows their data as erased.
    /// Safe to retry: a second erasure of the same person records nothing
    /// new.
    pub async fn erase_person(
        &self,
        person: Uuid,
        reason: &str,
        meta: &RequestMeta,
    ) -> Result<i64, HandleError> {
        let stream = domain::privacy::stream_id(person);
        let command = domain::privacy::Erase {
            person,
            reason: reason.to_owned(),
        };
        let reference = ReferenceData::default();
        let ctx = Context {
            actor: &meta.actor,
            now: Utc::now(),
            reference: &reference,
        };
        // Who may erase, and why, first: refused callers learn nothing of
        // whom the vault holds.
        Erasure::decide(None, &command, &ctx)?;
        // An erasure is permanent: refuse one for someone the vault never
        // held anything for (repeating a real erasure stays safe).
        let held = self.vault.data_keys(&[person]).await?;
        if matches!(
            held.get(&person),
            None | Some(event_store::vault::KeyState::Missing)
        ) {
            return Err(HandleError::UnknownPerson);
        }
        let loaded = load::<Erasure>(&self.store, &stream).await?;
        let events = Erasure::decide(loaded.state.as_ref(), &command, &ctx)?;
        if events.is_empty() {
            return Ok(loaded.last_position);
        }
        // No display name: it would be sealed under a key we may be erasing.
        let metadata = json!({
            "actor": { "subject": meta.actor.subject, "roles": meta.actor.roles.iter().map(|r| r.code()).collect::<Vec<_>>() },
            "correlationId": meta.correlation_id,
            "command": "ErasePerson",
        });
        let events = encode::<Erasure>(&events);
        let batch = StreamAppend {
            stream_id: &stream,
            expected: expected_at(loaded.version),
            events: &events,
        };
        let mut sealer = self.vault.sealer();
        sealer.erase(person);
        let outcome = self.commit(&[batch], &metadata, meta, sealer).await?;
        Ok(outcome.last_position)
    }

    /// File a report of a suspected fake account from the public: its id,
    /// reference and log position.
    pub async fn report_fake_account(
        &self,
        account: &str,
        details: &str,
        correlation_id: &str,
    ) -> Result<(Uuid, String, i64), HandleError> {
        let id = Uuid::new_v4();
        let command = ReportCommand::File {
            id,
            account: account.to_owned(),
            account_keys: domain::platform::candidates(account)
                .iter()
                .map(ToString::to_string)
                .collect(),
            details: details.to_owned(),
        };
        let public = domain::Actor {
            subject: "public".into(),
            roles: Default::default(),
        };
        let reference = ReferenceData::default();
        let ctx = Context {
            actor: &public,
            now: Utc::now(),
            reference: &reference,
        };
        let mut events = Report::decide(None, &command, &ctx)?;
        // The reporter's free text goes into the vault under the report's
        // own key, never into the log in plain text.
        let mut sealer = self.vault.sealer();
        for event in &mut events {
            if let ReportEvent::FakeAccountReported {
                details,
                sealed_details,
                ..
            } = event
            {
                let text = std::mem::take(details);
                if !text.is_empty() {
                    *sealed_details = Some(seal::one(&mut sealer, id, &text).await?);
                }
            }
        }
        let metadata = json!({
            "actor": { "subject": "public", "roles": [] },
            "correlationId": correlation_id,
            "command": "ReportFakeAccount",
        });
        let stream = domain::report::stream_id(id);
        let events = encode::<Report>(&events);
        let batch = StreamAppend {
            stream_id: &stream,
            expected: ExpectedVersion::NoStream,
            events: &events,
        };
        let anonymous = RequestMeta {
            actor: public.clone(),
            display_name: None,
            correlation_id: correlation_id.to_owned(),
            idempotency_key: None,
            expected_version: None,
            trace_id: None,
        };
        let outcome = self.commit(&[batch], &metadata, &anonymous, sealer).await?;
        Ok((id, domain::report::reference(id), outcome.last_position))
    }

    /// Close a fake-account report (communications).
    pub async fn close_fake_account_report(
        &self,
        id: Uuid,
        outcome: &str,
        meta: &RequestMeta,
    ) -> Result<i64, HandleError> {
        let stream = domain::report::stream_id(id);
        let loaded = load::<Report>(&self.store, &stream).await?;
        let reference = ReferenceData::default();
        let ctx = Context {
            actor: &meta.actor,
            now: Utc::now(),
            reference: &reference,
        };
        let command = ReportCommand::Close {
            outcome: outcome.to_owned(),
        };
        let events = Report::decide(loaded.state.as_ref(), &command, &ctx).map_err(|e| {
            match (&loaded.state, e) {
                (None, domain::DomainError::ReferenceData(_)) => {
                    domain::DomainError::ReferenceData(format!("no report {id}"))
                }
                (_, e) => e,
            }
        })?;
        let mut sealer = self.vault.sealer();
        let metadata = metadata(&mut sealer, meta, "CloseFakeAccountReport").await?;
        let events = encode::<Report>(&events);
        let batch = StreamAppend {
            stream_id: &stream,
            expected: expected_at(loaded.version),
            events: &events,
        };
        let appended = self.commit(&[batch], &metadata, meta, sealer).await?;
        Ok(appended.last_position)
    }

    /// Handle a change to reference data.
    pub async fn reference(
        &self,
        command: ReferenceCommand,
        meta: &RequestMeta,
    ) -> Result<i64, HandleError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_reference(&command, meta).await {
                Err(e) if attempt < RETRIES && retry(&e, meta) => continue,
                other => return other,
            }
        }
    }

    async fn try_reference(
        &self,
        command: &ReferenceCommand,
        meta: &RequestMeta,
    ) -> Result<i64, HandleError> {
        let reference = self.reference_data().await?;
        let ctx = Context {
            actor: &meta.actor,
            now: Utc::now(),
            reference: &reference,
        };
        let events = <ReferenceData as Aggregate>::decide(Some(&reference), command, &ctx)?;
        let stream = command.stream();
        let version = self.store.stream_version(stream).await?;
        let mut sealer = self.vault.sealer();
        let metadata = metadata(&mut sealer, meta, "ChangeReferenceData").await?;
        let events = encode::<ReferenceData>(&events);
        let batch = StreamAppend {
            stream_id: stream,
            expected: ExpectedVersion::Exactly(version),
            events: &events,
        };
        let outcome = self.commit(&[batch], &metadata, meta, sealer).await?;
        Ok(outcome.last_position)
    }
}

/// Whether a failed attempt is run again: always after a key race; after a
/// version conflict only when the client did not name the version it saw.
fn retry(e: &HandleError, meta: &RequestMeta) -> bool {
    e.is_key_race()
        || (matches!(e, HandleError::Conflict { .. }) && meta.expected_version.is_none())
}

fn expected_at(version: i64) -> ExpectedVersion {
    if version == 0 {
        ExpectedVersion::NoStream
    } else {
        ExpectedVersion::Exactly(version)
    }
}

/// Events of aggregate `A` as the store takes them.
fn encode<A: Aggregate>(events: &[A::Event]) -> Vec<NewEvent> {
    events
        .iter()
        .map(|e| {
            let (event_type, payload) = domain::codec::encode(e);
            NewEvent::new(event_type, A::SCHEMA_VERSION, payload)
        })
        .collect()
}

/// The request with its personal values sealed (in memory).
async fn seal_request(
    sealer: &mut Sealer<'_>,
    id: Uuid,
    request: &Request,
    state: Option<&Registration>,
) -> Result<Command, HandleError> {
    Ok(match request {
        Request::Submit(form) => Command::Submit {
            id,
            form: seal::form(sealer, form, None).await?,
        },
        Request::Amend(form) => Command::Amend {
            form: seal::form(sealer, form, state.map(|s| &*s.form)).await?,
        },
        Request::RecordRiskAssessment(input) => {
            let person = domain::personal::staff_person(&input.assessor_subject);
            let assessor = seal::one(sealer, person, &input.assessor).await?;
            Command::RecordRiskAssessment(RiskAssessmentInput {
                assessor,
                assessor_subject: input.assessor_subject.clone(),
                assessed_on: input.assessed_on,
                risks: input.risks.clone(),
                document_reference: input.document_reference.clone(),
            })
        }
        Request::ProposeChange { form, reason } => Command::ProposeChange {
            // Values unchanged from the published form keep its ciphertext,
            // so the domain sees exactly which fields the change touches.
            form: seal::form(sealer, form, state.map(|s| &*s.form)).await?,
            reason: reason.clone(),
        },
        Request::Other(command) => command.clone(),
    })
}

/// The personal values as typed (the domain decided on their ciphertext,
/// which only says whether each is there).
fn check_typed(request: &Request) -> Result<(), domain::DomainError> {
    match request {
        Request::Submit(form) | Request::Amend(form) | Request::ProposeChange { form, .. } => {
            form.check_personal()
        }
        Request::RecordRiskAssessment(input) => {
            input.assessor.check(PersonalKind::Name).map_err(|problem| {
                domain::DomainError::Invalid {
                    field: "assessor".into(),
                    problem,
                }
            })
        }
        Request::Other(_) => Ok(()),
    }
}

/// Who did it, for the event's metadata (their display name sealed).
async fn metadata(
    sealer: &mut Sealer<'_>,
    meta: &RequestMeta,
    command: &str,
) -> Result<Value, HandleError> {
    let display_name = match &meta.display_name {
        Some(name) if !name.trim().is_empty() => {
            let person = domain::personal::staff_person(&meta.actor.subject);
            Some(seal::one(sealer, person, name).await?)
        }
        _ => None,
    };
    Ok(json!({
        "actor": {
            "subject": meta.actor.subject,
            "roles": meta.actor.roles.iter().map(|r| r.code()).collect::<Vec<_>>(),
            "displayName": display_name,
        },
        "correlationId": meta.correlation_id,
        "traceId": meta.trace_id,
        "command": command,
    }))
}

fn request_name(request: &Request) -> &'static str {
    match request {
        Request::Submit(_) => "Submit",
        Request::Amend(_) => "Amend",
        Request::RecordRiskAssessment(_) => "RecordRiskAssessment",
        Request::ProposeChange { .. } => "ProposeChange",
        Request::Other(c) => match c {
            Command::Submit { .. } => "Submit",
            Command::Import { .. } => "Import",
            Command::Amend { .. } => "Amend",
            Command::RecordRiskAssessment(_) => "RecordRiskAssessment",
            Command::SignRiskAssessment => "SignRiskAssessment",
            Command::SeniorOfficerSignOff => "SeniorOfficerSignOff",
            Command::RecordConsultationListing { .. } => "RecordConsultationListing",
            Command::ApproveBrandingAsset { .. } => "ApproveBrandingAsset",
            Command::Approve => "Approve",
            Command::RequestChanges { .. } => "RequestChanges",
            Command::Reject { .. } => "Reject",
            Command::Publish => "Publish",
            Command::Withdraw { .. } => "Withdraw",
            Command::Revalidate => "Revalidate",
            Command::ProposeChange { .. } => "ProposeChange",
            Command::WithdrawChange { .. } => "WithdrawChange",
            Command::RecordOfficerLinkBack { .. } => "RecordOfficerLinkBack",
            Command::AcknowledgePolicy { .. } => "AcknowledgePolicy",
            Command::RecordPermanentId { .. } => "RecordPermanentId",
        },
    }
}
