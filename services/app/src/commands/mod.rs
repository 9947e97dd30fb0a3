//! Command handling: load a stream, decide with the domain, append with the
//! expected version. Personal data is sealed through the vault before the
//! domain sees it, so events only ever hold ciphertext.

mod claims;
mod error;
mod load;
pub mod seal;

use chrono::Utc;
use domain::form::Form;
use domain::personal::{PersonalKind, PersonalValue};
use domain::reference::{ReferenceCommand, ReferenceData, ReferenceEvent};
use domain::registration::{
    self, decide, Command, Context, Registration, RegistrationEvent, RiskAssessmentInput,
};
use domain::Actor;
use event_store::vault::Vault;
use event_store::{EventStore, ExpectedVersion, NewEvent, StreamAppend};
use serde_json::{json, Value};
use uuid::Uuid;

pub use error::HandleError;
pub use load::{apply_event, fold_registration as fold_events, load_reference, load_registration};

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

/// Handles commands against the event store.
#[derive(Debug, Clone)]
pub struct Handler {
    store: EventStore,
    vault: Vault,
}

impl Handler {
    /// A handler over the store and vault.
    pub fn new(store: EventStore, vault: Vault) -> Self {
        Handler { store, vault }
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
            match self.try_handle(id, &stream, &request, meta).await {
                Err(HandleError::Conflict { .. })
                    if meta.expected_version.is_none() && attempt < RETRIES =>
                {
                    continue
                }
                other => return other,
            }
        }
    }

    async fn try_handle(
        &self,
        id: Uuid,
        stream: &str,
        request: &Request,
        meta: &RequestMeta,
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
        let reference = load_reference(&self.store).await?;
        let (state, version) = load_registration(&self.store, id).await?;
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
        // Refuse what the actor may not do before anything is sealed: sealing
        // makes a vault key for a new person, and a refused command must
        // change nothing.
        if let Some(dry) = placeholder_command(id, request) {
            if let Err(e) = decide(state.as_ref(), &dry, &ctx) {
                let early = matches!(
                    e.kind(),
                    domain::ErrorKind::Forbidden | domain::ErrorKind::NotFound
                ) || matches!(e, domain::DomainError::NotAllowedInStatus { .. });
                if early {
                    return Err(match e {
                        domain::DomainError::RegistrationNotFound(_) => {
                            domain::DomainError::RegistrationNotFound(id)
                        }
                        other => other,
                    }
                    .into());
                }
            }
        }
        let command = self
            .seal_request(id, request, state.as_ref(), &reference)
            .await?;
        let events = decide(state.as_ref(), &command, &ctx).map_err(|e| match e {
            domain::DomainError::RegistrationNotFound(_) => {
                domain::DomainError::RegistrationNotFound(id)
            }
            other => other,
        })?;
        let claims = self.claims(id, state.as_ref(), &events).await?;
        let expected = if version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exactly(version)
        };
        let new_events: Vec<NewEvent> = events
            .iter()
            .map(|e| {
                let (event_type, payload) = domain::codec::encode(e);
                NewEvent::new(event_type, registration::EVENT_SCHEMA_VERSION, payload)
            })
            .collect();
        let metadata = self.metadata(meta, request_name(request)).await?;
        let claim_events: Vec<[NewEvent; 1]> = claims.iter().map(|c| [c.event.clone()]).collect();
        let mut batches = vec![StreamAppend {
            stream_id: stream,
            expected,
            events: &new_events,
        }];
        for (claim, events) in claims.iter().zip(&claim_events) {
            batches.push(StreamAppend {
                stream_id: &claim.stream_id,
                expected: claim.expected,
                events,
            });
        }
        let started = std::time::Instant::now();
        let appended = self
            .store
            .append_multi(
                &batches,
                &metadata,
                meta.scoped_idempotency_key().as_deref(),
            )
            .await
            .map_err(HandleError::from_store)?;
        if !appended.deduplicated {
            let all: Vec<&NewEvent> = batches.iter().flat_map(|b| b.events.iter()).collect();
            appended_metrics(&all, started.elapsed());
        }
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

    async fn seal_request(
        &self,
        id: Uuid,
        request: &Request,
        state: Option<&Registration>,
        reference: &ReferenceData,
    ) -> Result<Command, HandleError> {
        Ok(match request {
            Request::Submit(form) => {
                domain::form::validate(form, reference)?;
                Command::Submit {
                    id,
                    form: seal::form(&self.vault, form, None).await?,
                }
            }
            Request::Amend(form) => {
                domain::form::validate(form, reference)?;
                Command::Amend {
                    form: seal::form(&self.vault, form, state.map(|s| &s.form)).await?,
                }
            }
            Request::RecordRiskAssessment(input) => {
                input.assessor.check(PersonalKind::Name).map_err(|p| {
                    domain::DomainError::Invalid {
                        field: "assessor".into(),
                        problem: p,
                    }
                })?;
                let person = domain::personal::staff_person(&input.assessor_subject);
                let assessor = seal::one(&self.vault, person, &input.assessor).await?;
                Command::RecordRiskAssessment(RiskAssessmentInput {
                    assessor,
                    assessor_subject: input.assessor_subject.clone(),
                    assessed_on: input.assessed_on,
                    risks: input.risks.clone(),
                    document_reference: input.document_reference.clone(),
                })
            }
            Request::Other(command) => command.clone(),
        })
    }

    async fn claims(
        &self,
        id: Uuid,
        before: Option<&Registration>,
        events: &[RegistrationEvent],
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
                _ => continue,
            };
            out.push(claims::prepare(&self.store, key, id).await?);
        }
        Ok(out)
    }

    async fn metadata(&self, meta: &RequestMeta, command: &str) -> Result<Value, HandleError> {
        let display_name = match &meta.display_name {
            Some(name) if !name.trim().is_empty() => {
                let person = domain::personal::staff_person(&meta.actor.subject);
                Some(seal::one(&self.vault, person, name).await?)
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

    /// Erase a person: delete their vault key, then record the erasure so
    /// every read model shows their data as erased. Safe to retry: a second
    /// erasure of the same person finds no key and records nothing new.
    pub async fn erase_person(
        &self,
        person: Uuid,
        reason: &str,
        meta: &RequestMeta,
    ) -> Result<i64, HandleError> {
        let event = domain::privacy::decide_erasure(&meta.actor, person, reason)?;
        let stream = domain::privacy::stream_id(person);
        // An erasure is permanent: refuse one for someone the vault never
        // held anything for (repeating a real erasure stays safe).
        let held = self.vault.data_keys(&[person]).await?;
        if matches!(
            held.get(&person),
            None | Some(event_store::vault::KeyState::Missing)
        ) {
            return Err(HandleError::UnknownPerson);
        }
        self.vault.erase(person).await?;
        metrics::counter!("vault_operations_total", "operation" => "erase").increment(1);
        if let Some(last) = self.store.read_stream(&stream, None).await?.last() {
            if last.event_type == domain::privacy::ERASED_EVENT_TYPE {
                return Ok(last.position);
            }
        }
        let (event_type, payload) = domain::codec::encode(&event);
        // No display name: it would be sealed under a key we may be erasing.
        let metadata = json!({
            "actor": { "subject": meta.actor.subject, "roles": meta.actor.roles.iter().map(|r| r.code()).collect::<Vec<_>>() },
            "correlationId": meta.correlation_id,
            "command": "ErasePerson",
        });
        let events = [NewEvent::new(event_type, 1, payload)];
        let outcome = self
            .append_one(
                &stream,
                ExpectedVersion::Any,
                &events,
                &metadata,
                meta.scoped_idempotency_key().as_deref(),
            )
            .await?;
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
        let keys: Vec<String> = domain::platform::candidates(account)
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut event = domain::report::decide_report(id, account, keys, details, Utc::now())?;
        // The reporter's free text goes into the vault under the report's
        // own key, never into the log in plain text.
        if let domain::report::ReportEvent::FakeAccountReported {
            details,
            sealed_details,
            ..
        } = &mut event
        {
            let text = std::mem::take(details);
            if !text.is_empty() {
                *sealed_details = Some(seal::one(&self.vault, id, &text).await?);
            }
        }
        let reference = domain::report::reference(id);
        let (event_type, payload) = domain::codec::encode(&event);
        let metadata = json!({
            "actor": { "subject": "public", "roles": [] },
            "correlationId": correlation_id,
            "command": "ReportFakeAccount",
        });
        let events = [NewEvent::new(event_type, 1, payload)];
        let outcome = self
            .append_one(
                &domain::report::stream_id(id),
                ExpectedVersion::NoStream,
                &events,
                &metadata,
                None,
            )
            .await?;
        Ok((id, reference, outcome.last_position))
    }

    /// Close a fake-account report (communications).
    pub async fn close_fake_account_report(
        &self,
        id: Uuid,
        outcome: &str,
        meta: &RequestMeta,
    ) -> Result<i64, HandleError> {
        let stream = domain::report::stream_id(id);
        let events = self.store.read_stream(&stream, None).await?;
        if events.is_empty() {
            return Err(domain::DomainError::ReferenceData(format!("no report {id}")).into());
        }
        let closed = events
            .iter()
            .any(|e| e.event_type == "FakeAccountReportClosed");
        let event = domain::report::decide_close(&meta.actor, closed, outcome, Utc::now())?;
        let (event_type, payload) = domain::codec::encode(&event);
        let metadata = self.metadata(meta, "CloseFakeAccountReport").await?;
        let new = [NewEvent::new(event_type, 1, payload)];
        let appended = self
            .append_one(
                &stream,
                ExpectedVersion::Exactly(events.len() as i64),
                &new,
                &metadata,
                meta.scoped_idempotency_key().as_deref(),
            )
            .await?;
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
            let reference = load_reference(&self.store).await?;
            let event: ReferenceEvent = reference.decide(&meta.actor, &command)?;
            let stream = event.stream();
            let version = self.store.stream_version(stream).await?;
            let (event_type, payload) = domain::codec::encode(&event);
            let metadata = self.metadata(meta, "ChangeReferenceData").await?;
            let events = [NewEvent::new(event_type, 1, payload)];
            let result = self
                .append_one(
                    stream,
                    ExpectedVersion::Exactly(version),
                    &events,
                    &metadata,
                    meta.scoped_idempotency_key().as_deref(),
                )
                .await;
            match result {
                Ok(outcome) => return Ok(outcome.last_position),
                Err(HandleError::Conflict { .. }) if attempt < RETRIES => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Handler {
    /// Append to one stream, counting the events and timing the append.
    async fn append_one(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
        metadata: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<event_store::AppendOutcome, HandleError> {
        let started = std::time::Instant::now();
        let outcome = self
            .store
            .append(stream, expected, events, metadata, idempotency_key)
            .await
            .map_err(HandleError::from_store)?;
        if !outcome.deduplicated {
            let all: Vec<&NewEvent> = events.iter().collect();
            appended_metrics(&all, started.elapsed());
        }
        Ok(outcome)
    }
}

fn appended_metrics(events: &[&NewEvent], took: std::time::Duration) {
    for e in events {
        metrics::counter!("events_appended_total", "type" => e.event_type.clone()).increment(1);
    }
    metrics::histogram!("event_append_duration_seconds").record(took);
}

/// The command with every personal value replaced by a placeholder, to ask
/// the domain whether the actor may do it at all (None when the request has
/// no personal data: it is decided once, for real).
fn placeholder_command(id: Uuid, request: &Request) -> Option<Command> {
    let placeholder = |person: Uuid, _: String| domain::personal::Sealed {
        person,
        sealed: "placeholder".into(),
    };
    match request {
        Request::Submit(form) => Some(Command::Submit {
            id,
            form: form.clone().map_personal(&mut { placeholder }),
        }),
        Request::Amend(form) => Some(Command::Amend {
            form: form.clone().map_personal(&mut { placeholder }),
        }),
        Request::RecordRiskAssessment(input) => {
            Some(Command::RecordRiskAssessment(RiskAssessmentInput {
                assessor: placeholder(Uuid::nil(), String::new()),
                assessor_subject: input.assessor_subject.clone(),
                assessed_on: input.assessed_on,
                risks: input.risks.clone(),
                document_reference: input.document_reference.clone(),
            }))
        }
        Request::Other(_) => None,
    }
}

fn request_name(request: &Request) -> &'static str {
    match request {
        Request::Submit(_) => "Submit",
        Request::Amend(_) => "Amend",
        Request::RecordRiskAssessment(_) => "RecordRiskAssessment",
        Request::Other(c) => match c {
            Command::Submit { .. } => "Submit",
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
        },
    }
}
