//! A realistic history for projection tests: registrations at every level
//! through every lifecycle, amendments, refused commands, withdrawals,
//! re-validations and erasures, interleaved as they would be in real use.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use domain::form::{BrandingAsset, Form, LevelDetails, PressMedia, StaffRef};
use domain::personal::{staff_person, Sealed};
use domain::platform::Platform;
use domain::privacy::PrivacyEvent;
use domain::reference::{ReferenceData, ReferenceEvent};
use domain::registration::{decide, Command, Context, Registration, Risk, RiskAssessmentInput};
use domain::{Actor, Role};
use event_store::{EventStore, ExpectedVersion, NewEvent};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// A tiny deterministic generator (xorshift), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A stand-in for vault ciphertext: opaque, and equal for equal input.
fn seal(person: Uuid, text: &str) -> Sealed {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    Sealed {
        person,
        sealed: format!("c2VhbGVk{hash:016x}"),
    }
}

fn staff(subject: &str) -> StaffRef<Sealed> {
    let p = staff_person(subject);
    StaffRef {
        subject: subject.into(),
        name: seal(p, &format!("Name {subject}")),
        email: Some(seal(p, "e")),
        phone: None,
    }
}

const SERVICES: [&str; 4] = ["libraries", "youth", "highways", "leisure"];

/// The policy version forms acknowledge until [`NEW_POLICY`] is published
/// halfway through a generated history (then forms are sent with it).
const FIRST_POLICY: &str = "2026.1";
const NEW_POLICY: &str = "2026.2";

fn policy_event(version: &str) -> ReferenceEvent {
    ReferenceEvent::PolicyVersionPublished {
        version: version.into(),
        published_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        summary: format!("Policy {version}"),
        url: "https://intranet.example/policy".into(),
    }
}

fn form(seed: u64, i: usize, level: u8, variant: u64) -> Form<Sealed> {
    let details = match level {
        1 => LevelDetails::Broadcast {
            information_types: vec![format!("News {variant}")],
            content_sources: vec![],
        },
        2 => LevelDetails::Consult {
            topic: format!("Consultation {i}.{variant}"),
            opens_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            closes_on: NaiveDate::from_ymd_opt(2026, 2, 1 + (variant % 20) as u32).unwrap(),
        },
        3 => LevelDetails::Participate {
            officer: staff(&format!("off-subj-{}", i % 400)),
            job_role: "youth-worker".into(),
            line_manager: staff(&format!("manager-{}", (i + variant as usize) % 50)),
        },
        _ => LevelDetails::Engage {
            topics: vec!["highways".into()],
            senior_officer: staff("senior-1"),
            councillor: variant
                .is_multiple_of(2)
                .then(|| seal(Uuid::from_u128(i as u128), "Cllr")),
            councillor_id: variant.is_multiple_of(2).then(|| "cllr-1".into()),
            no_councillor: !variant.is_multiple_of(2),
            press_media: PressMedia {
                invited: false,
                involved: false,
                arrangements: None,
            },
        },
    };
    let branding = if i.is_multiple_of(7) {
        vec![BrandingAsset {
            id: "logo".into(),
            description: format!("Logo v{variant}"),
            reference: "DOC-1".into(),
        }]
    } else {
        vec![]
    };
    Form {
        platform: Platform::X,
        account: format!("@a{seed}x{i}"),
        service_area: SERVICES[i % 4].into(),
        business_contact: staff(&format!("contact-{}", i % 300)),
        policy_version: FIRST_POLICY.into(),
        policy_acknowledged: true,
        corporate_identity_acknowledged: true,
        branding_assets: branding,
        details,
    }
}

fn reference_events() -> Vec<ReferenceEvent> {
    let mut v: Vec<ReferenceEvent> = SERVICES
        .iter()
        .map(|s| ReferenceEvent::OrganisationalUnitAdded {
            code: (*s).into(),
            name: format!("Service {s}"),
        })
        .collect();
    v.push(ReferenceEvent::JobRoleAccepted {
        code: "youth-worker".into(),
        title: "Youth Worker".into(),
    });
    v.push(ReferenceEvent::TopicAdded {
        code: "highways".into(),
        name: "Highways".into(),
    });
    v.push(ReferenceEvent::SpeakingAuthorityGranted {
        subject: "senior-1".into(),
        topic: "highways".into(),
        councillor: false,
    });
    v.push(ReferenceEvent::SpeakingAuthorityGranted {
        subject: "cllr-1".into(),
        topic: "highways".into(),
        councillor: true,
    });
    v.push(policy_event(FIRST_POLICY));
    v
}

/// The commands one registration goes through, with who issues each.
fn script(seed: u64, i: usize, level: u8, rng: &mut Rng) -> Vec<(Actor, Command)> {
    let applicant = Actor::new(format!("applicant-{}", i % 200), [Role::Staff]);
    let comms = Actor::new("comms-1", [Role::Communications]);
    let mut s = Vec::new();
    let id = Uuid::from_u128((u128::from(seed) << 64) + i as u128);
    s.push((
        applicant.clone(),
        Command::Submit {
            id,
            form: form(seed, i, level, 0),
        },
    ));
    if rng.chance(30) {
        s.push((
            comms.clone(),
            Command::RecordPermanentId {
                permanent_id: format!("{}{i}", 7 + seed % 3),
            },
        ));
    }
    // A refused command now and then (it appends nothing).
    if rng.chance(20) {
        s.push((applicant.clone(), Command::Approve));
    }
    let level_steps = |s: &mut Vec<(Actor, Command)>| match level {
        2 => s.push((
            Actor::new("consult-1", [Role::Consultation]),
            Command::RecordConsultationListing {
                finder_reference: format!("CF-{i}"),
            },
        )),
        3 => {
            s.push((
                applicant.clone(),
                Command::RecordRiskAssessment(RiskAssessmentInput {
                    assessor: seal(staff_person("assessor"), "Assessor"),
                    assessor_subject: "assessor".into(),
                    assessed_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                    risks: vec![Risk {
                        risk: "r".into(),
                        mitigation: "m".into(),
                    }],
                    document_reference: format!("RA-{i}"),
                }),
            ));
            let lm = format!("manager-{}", i % 50);
            s.push((
                Actor::new(lm, [Role::LineManager]),
                Command::SignRiskAssessment,
            ));
        }
        4 => s.push((
            Actor::new("senior-1", [Role::SeniorOfficer]),
            Command::SeniorOfficerSignOff,
        )),
        _ => {}
    };
    if i % 11 == 5 {
        s.clear();
        // An account the council already ran, imported: published at once,
        // then (now and then) through its full review as a change.
        let mut imported = form(seed, i, level, 0);
        imported.policy_acknowledged = false;
        imported.corporate_identity_acknowledged = false;
        imported.policy_version = String::new();
        imported.branding_assets.clear();
        s.push((
            comms.clone(),
            Command::Import {
                id,
                form: Box::new(imported),
                permanent_id: None,
                source: domain::registration::ImportSource {
                    file_name: "existing.csv".into(),
                    file_sha256: format!("{seed:064x}"),
                    line: i as u64 + 2,
                },
                review_by: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
            },
        ));
        if rng.chance(50) {
            s.push((
                Actor::new(format!("contact-{}", i % 300), [Role::Staff]),
                Command::ProposeChange {
                    form: form(seed, i, level, 0),
                    reason: "Full review of an imported account".into(),
                },
            ));
            level_steps(&mut s);
            s.push((comms.clone(), Command::Approve));
            s.push((comms.clone(), Command::Publish));
        }
        return s;
    }
    level_steps(&mut s);
    if rng.chance(25) {
        s.push((
            comms.clone(),
            Command::RequestChanges {
                reason: "Please revise".into(),
            },
        ));
        s.push((
            applicant.clone(),
            Command::Amend {
                form: form(seed, i, level, 1 + rng.below(3)),
            },
        ));
        level_steps(&mut s);
    }
    if rng.chance(8) {
        s.push((
            comms.clone(),
            Command::Reject {
                reason: "Duplicate".into(),
            },
        ));
        return s;
    }
    if i.is_multiple_of(7) {
        s.push((
            comms.clone(),
            Command::ApproveBrandingAsset {
                asset_id: "logo".into(),
            },
        ));
    }
    s.push((comms.clone(), Command::Approve));
    if rng.chance(10) {
        s.push((
            applicant.clone(),
            Command::Withdraw {
                reason: "Not needed".into(),
            },
        ));
        return s;
    }
    if rng.chance(85) {
        s.push((comms.clone(), Command::Publish));
        if rng.chance(30) {
            s.push((
                Actor::new(format!("contact-{}", i % 300), [Role::Staff]),
                Command::Revalidate,
            ));
        }
        if rng.chance(40) {
            // Refused until the new policy is out; then acknowledged once.
            s.push((
                Actor::new(format!("contact-{}", i % 300), [Role::Staff]),
                Command::AcknowledgePolicy {
                    version: NEW_POLICY.into(),
                },
            ));
        }
        if level == 3 && rng.chance(60) {
            s.push((
                comms.clone(),
                Command::RecordOfficerLinkBack {
                    profile_url: format!("https://x.com/a{seed}x{i}"),
                },
            ));
        }
        if rng.chance(25) {
            // A change after publication: now and then a rename, else new
            // details; its level steps (some refused: the new form may name
            // another line manager), then published, refused or withdrawn.
            let mut changed = form(seed, i, level, 1 + rng.below(3));
            if rng.chance(50) {
                changed.account = format!("@a{seed}x{i}r");
            }
            s.push((
                applicant.clone(),
                Command::ProposeChange {
                    form: changed,
                    reason: "Keeping the record current".into(),
                },
            ));
            level_steps(&mut s);
            if i.is_multiple_of(7) {
                s.push((
                    comms.clone(),
                    Command::ApproveBrandingAsset {
                        asset_id: "logo".into(),
                    },
                ));
            }
            match rng.below(10) {
                0 => s.push((
                    comms.clone(),
                    Command::Reject {
                        reason: "Not this handle".into(),
                    },
                )),
                1 => s.push((
                    applicant.clone(),
                    Command::WithdrawChange {
                        reason: "Not needed after all".into(),
                    },
                )),
                _ => {
                    s.push((comms.clone(), Command::Approve));
                    s.push((comms.clone(), Command::Publish));
                }
            }
        }
        if rng.chance(15) {
            s.push((
                comms.clone(),
                Command::Withdraw {
                    reason: "Account closed".into(),
                },
            ));
        }
    }
    s
}

/// Append with retries through lost connections; the idempotency key makes
/// a retry of an append that did commit return its outcome instead.
async fn append(
    store: &EventStore,
    stream: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
    key: String,
) {
    let meta =
        json!({"actor": {"subject": "generator", "roles": []}, "correlationId": "generated"});
    for _ in 0..100 {
        match store
            .append(stream, expected, events, &meta, Some(&key))
            .await
        {
            Ok(_) => return,
            Err(e) if e.is_transient() => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(e) => panic!("append to {stream}: {e}"),
        }
    }
    panic!("append to {stream} kept failing");
}

/// A registration being written: its id, the commands left, its state.
type InFlight = (
    Uuid,
    std::vec::IntoIter<(Actor, Command)>,
    Option<Registration>,
);

/// What was written.
#[derive(Debug, Default)]
pub struct History {
    pub registrations: usize,
    pub events: usize,
    pub refused: usize,
    pub erasures: usize,
    pub statuses: BTreeMap<String, usize>,
    /// How many events of each type were written.
    pub event_types: BTreeMap<String, usize>,
}

/// Write a history of `registrations` registrations to the log.
pub async fn generate(store: &EventStore, registrations: usize, seed: u64) -> History {
    generate_batched(store, registrations, seed, 1).await
}

/// Appends, grouping up to `per_append` streams into one transaction (for
/// benchmarks that need a large log quickly).
struct Writer<'a> {
    store: &'a EventStore,
    per_append: usize,
    buffer: Vec<(String, ExpectedVersion, Vec<NewEvent>, String)>,
}

impl Writer<'_> {
    async fn push(
        &mut self,
        stream: String,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: String,
    ) {
        if self.buffer.iter().any(|(s, ..)| *s == stream) {
            self.flush().await;
        }
        self.buffer.push((stream, expected, events, key));
        if self.buffer.len() >= self.per_append {
            self.flush().await;
        }
    }

    async fn flush(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let meta =
            json!({"actor": {"subject": "generator", "roles": []}, "correlationId": "generated"});
        let batches: Vec<event_store::StreamAppend<'_>> = self
            .buffer
            .iter()
            .map(|(s, e, ev, _)| event_store::StreamAppend {
                stream_id: s,
                expected: *e,
                events: ev,
            })
            .collect();
        let key = self.buffer[0].3.clone();
        for attempt in 0..100 {
            match self.store.append_multi(&batches, &meta, Some(&key)).await {
                Ok(_) => break,
                Err(e) if e.is_transient() && attempt < 99 => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await
                }
                Err(e) => panic!("append: {e}"),
            }
        }
        drop(batches);
        self.buffer.clear();
    }
}

/// [`generate`], appending up to `per_append` registrations' commands per transaction.
pub async fn generate_batched(
    store: &EventStore,
    registrations: usize,
    seed: u64,
    per_append: usize,
) -> History {
    let mut writer = Writer {
        store,
        per_append,
        buffer: Vec::new(),
    };
    let mut rng = Rng::new(seed);
    let mut history = History::default();
    let mut reference = ReferenceData::default();
    for e in reference_events() {
        reference.apply(&e);
        let (t, p) = domain::codec::encode(&e);
        append(
            store,
            e.stream(),
            ExpectedVersion::Any,
            &[NewEvent::new(t, 1, p)],
            format!("gen-{seed}-ref-{}", history.events),
        )
        .await;
        history.events += 1;
    }
    let mut now: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let mut pending: Vec<InFlight> = Vec::new();
    let mut next = 0;
    let mut erased: BTreeSet<Uuid> = BTreeSet::new();
    while next < registrations || !pending.is_empty() {
        if next == registrations / 2
            && reference
                .current_policy()
                .is_some_and(|p| p.version == FIRST_POLICY)
        {
            // A new policy version halfway: later forms acknowledge it, and
            // published accounts re-acknowledge it.
            let e = policy_event(NEW_POLICY);
            reference.apply(&e);
            let (t, p) = domain::codec::encode(&e);
            writer.flush().await;
            append(
                store,
                e.stream(),
                ExpectedVersion::Any,
                &[NewEvent::new(t, 1, p)],
                format!("gen-{seed}-policy-{NEW_POLICY}"),
            )
            .await;
            history.events += 1;
        }
        if next < registrations && (pending.len() < 40 || rng.chance(30)) {
            let level = 1 + (next % 4) as u8;
            let commands = script(seed, next, level, &mut rng);
            let id = match &commands[0].1 {
                Command::Submit { id, .. } | Command::Import { id, .. } => *id,
                _ => unreachable!(),
            };
            pending.push((id, commands.into_iter(), None));
            next += 1;
            history.registrations += 1;
        }
        let pick = rng.below(pending.len() as u64) as usize;
        let (id, commands, state) = &mut pending[pick];
        let Some((actor, command)) = commands.next() else {
            let finished = pending.swap_remove(pick);
            if let Some(s) = finished.2 {
                *history
                    .statuses
                    .entry(format!("{:?}", s.status))
                    .or_default() += 1;
                // Erase some level-3 officers after the fact.
                if let (Some(officer), true) = (s.officer(), rng.chance(10)) {
                    let person = staff_person(officer);
                    if erased.insert(person) {
                        let e = PrivacyEvent::PersonalDataErased {
                            person,
                            reason: "Subject request".into(),
                            by: "dpo".into(),
                        };
                        let (t, p) = domain::codec::encode(&e);
                        writer.flush().await;
                        append(
                            store,
                            &domain::privacy::stream_id(person),
                            ExpectedVersion::Any,
                            &[NewEvent::new(t, 1, p)],
                            format!("gen-{seed}-erase-{person}"),
                        )
                        .await;
                        history.events += 1;
                        history.erasures += 1;
                    }
                }
            }
            continue;
        };
        now += Duration::minutes(1 + rng.below(90) as i64);
        // A form written before the new policy acknowledges the current one
        // by the time it is sent, as a person filling it in would.
        let mut command = command;
        if let Command::Submit { form, .. }
        | Command::Amend { form }
        | Command::ProposeChange { form, .. } = &mut command
        {
            if let Some(current) = reference.current_policy() {
                form.policy_version = current.version.clone();
            }
        }
        let ctx = Context {
            actor: &actor,
            now,
            reference: &reference,
        };
        match decide(state.as_ref(), &command, &ctx) {
            Ok(events) => {
                let new: Vec<NewEvent> = events
                    .iter()
                    .map(|e| {
                        let (t, p) = domain::codec::encode(e);
                        NewEvent::new(t, 1, p)
                    })
                    .collect();
                let stream = domain::registration::stream_id(*id);
                let expected = ExpectedVersion::Exactly(state.as_ref().map_or(0, |s| s.version));
                let key = format!(
                    "gen-{seed}-{stream}-{}",
                    state.as_ref().map_or(0, |s| s.version)
                );
                history.events += new.len();
                for e in &new {
                    *history.event_types.entry(e.event_type.clone()).or_default() += 1;
                }
                writer.push(stream, expected, new, key).await;
                for e in &events {
                    *state = Registration::apply(state.take(), e);
                }
            }
            Err(_) => history.refused += 1,
        }
    }
    writer.flush().await;
    history
}

/// Every row of every read model in `schema`, as text, in a stable order.
pub async fn snapshot(pool: &PgPool, schema: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for table in projections::models::all_tables() {
        let sql = if table == "checkpoints" {
            format!("select (to_jsonb(t) - 'updated_at')::text from {schema}.{table} t order by 1")
        } else {
            format!("select to_jsonb(t)::text from {schema}.{table} t order by 1")
        };
        let rows: Vec<String> = sqlx::query_scalar(&sql).fetch_all(pool).await.unwrap();
        out.insert(table.to_owned(), rows);
    }
    out
}

/// Wait until every projection in the live schema reached the log head.
pub async fn caught_up(pool: &PgPool) {
    let bound = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let status = projections::projection_status(pool).await.unwrap();
        if !status.is_empty() && status.iter().all(|s| s.lag == 0) {
            return;
        }
        assert!(
            std::time::Instant::now() < bound,
            "projections did not catch up: {status:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Assert two snapshots are equal, table by table, naming the first difference.
pub fn assert_same(live: &BTreeMap<String, Vec<String>>, rebuilt: &BTreeMap<String, Vec<String>>) {
    for (table, rows) in live {
        let other = &rebuilt[table];
        assert_eq!(rows.len(), other.len(), "{table}: row counts differ");
        for (a, b) in rows.iter().zip(other) {
            assert_eq!(a, b, "{table}: rows differ");
        }
    }
}
