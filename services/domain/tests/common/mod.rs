//! Fixtures for the domain's given/when/then tests.
#![allow(dead_code)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use domain::form::{BrandingAsset, Form, LevelDetails, PressMedia, StaffRef};
use domain::personal::{staff_person, Sealed};
use domain::platform::Platform;
use domain::reference::{ReferenceData, ReferenceEvent};
use domain::registration::{decide, fold, Command, Context, Registration, RegistrationEvent};
use domain::{Actor, DomainError, Role};
use uuid::Uuid;

pub const APPLICANT: &str = "u-applicant";
pub const OFFICER: &str = "u-officer";
pub const LINE_MANAGER: &str = "u-line-manager";
pub const SENIOR: &str = "u-senior";
pub const COMMS: &str = "u-comms";
pub const CONSULT: &str = "u-consult";
pub const CONTACT: &str = "u-contact";
pub const COUNCILLOR: &str = "cllr-chris-jones";

pub fn applicant() -> Actor {
    Actor::new(APPLICANT, [Role::Staff])
}
pub fn comms() -> Actor {
    Actor::new(COMMS, [Role::Staff, Role::Communications])
}
pub fn line_manager() -> Actor {
    Actor::new(LINE_MANAGER, [Role::Staff, Role::LineManager])
}
pub fn senior() -> Actor {
    Actor::new(SENIOR, [Role::Staff, Role::SeniorOfficer])
}
pub fn consultation() -> Actor {
    Actor::new(CONSULT, [Role::Staff, Role::Consultation])
}
pub fn contact() -> Actor {
    Actor::new(CONTACT, [Role::Staff])
}

/// A stand-in for the vault: deterministic, so equal plaintext seals equal.
pub fn seal(subject_or_name: &str, text: &str) -> Sealed {
    Sealed {
        person: staff_person(subject_or_name),
        sealed: format!("enc:{text}"),
    }
}

pub fn staff(subject: &str, name: &str, email: bool) -> StaffRef<Sealed> {
    StaffRef {
        subject: subject.into(),
        name: seal(subject, name),
        email: email.then(|| seal(subject, &format!("{subject}@north.gov.uk"))),
        phone: None,
    }
}

pub fn reference() -> ReferenceData {
    let mut r = ReferenceData::default();
    for e in [
        ReferenceEvent::OrganisationalUnitAdded {
            code: "libraries".into(),
            name: "Libraries".into(),
        },
        ReferenceEvent::OrganisationalUnitAdded {
            code: "youth".into(),
            name: "Youth Services".into(),
        },
        ReferenceEvent::JobRoleAccepted {
            code: "youth-worker".into(),
            title: "Youth Worker".into(),
        },
        ReferenceEvent::TopicAdded {
            code: "highways".into(),
            name: "Highways".into(),
        },
        ReferenceEvent::TopicAdded {
            code: "road-safety".into(),
            name: "Road safety".into(),
        },
        ReferenceEvent::TopicAdded {
            code: "parking".into(),
            name: "Parking".into(),
        },
        ReferenceEvent::SpeakingAuthorityGranted {
            subject: SENIOR.into(),
            topic: "highways".into(),
            councillor: false,
        },
        ReferenceEvent::SpeakingAuthorityGranted {
            subject: SENIOR.into(),
            topic: "road-safety".into(),
            councillor: false,
        },
        ReferenceEvent::SpeakingAuthorityGranted {
            subject: COUNCILLOR.into(),
            topic: "highways".into(),
            councillor: true,
        },
        ReferenceEvent::SpeakingAuthorityGranted {
            subject: COUNCILLOR.into(),
            topic: "road-safety".into(),
            councillor: true,
        },
        ReferenceEvent::SpeakingAuthorityGranted {
            subject: COUNCILLOR.into(),
            topic: "parking".into(),
            councillor: true,
        },
    ] {
        r.apply(&e);
    }
    r
}

pub fn details(level: u8) -> LevelDetails<Sealed> {
    match level {
        1 => LevelDetails::Broadcast {
            information_types: vec!["Library events".into()],
            content_sources: vec!["https://www.north.gov.uk/libraries/events.rss".into()],
        },
        2 => LevelDetails::Consult {
            topic: "Library opening hours".into(),
            opens_on: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            closes_on: NaiveDate::from_ymd_opt(2026, 2, 5).unwrap(),
        },
        3 => LevelDetails::Participate {
            officer: staff(OFFICER, "Olly Officer", true),
            job_role: "youth-worker".into(),
            line_manager: staff(LINE_MANAGER, "Lee Manager", false),
        },
        _ => LevelDetails::Engage {
            topics: vec!["highways".into(), "road-safety".into()],
            senior_officer: staff(SENIOR, "Sam Senior", false),
            councillor: Some(seal("cllr", "Cllr Chris Jones")),
            councillor_id: Some(COUNCILLOR.into()),
            no_councillor: false,
            press_media: PressMedia {
                invited: true,
                involved: false,
                arrangements: Some("Press office briefs local media".into()),
            },
        },
    }
}

pub fn form(level: u8) -> Form<Sealed> {
    Form {
        platform: Platform::X,
        account: format!("https://twitter.com/NorthLevel{level}"),
        service_area: if level == 3 {
            "youth".into()
        } else {
            "libraries".into()
        },
        business_contact: staff(CONTACT, "Casey Contact", true),
        policy_version: "2026.1".into(),
        policy_acknowledged: true,
        corporate_identity_acknowledged: true,
        branding_assets: vec![],
        details: details(level),
    }
}

pub fn with_branding(mut f: Form<Sealed>) -> Form<Sealed> {
    f.branding_assets.push(BrandingAsset {
        id: "youth-logo".into(),
        description: "Youth service logo on the profile banner".into(),
        reference: "DOC-2026-0042".into(),
    });
    f
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// A registration's history, and the time, as a test moves it along.
pub struct Scenario {
    pub id: Uuid,
    pub events: Vec<RegistrationEvent>,
    pub reference: ReferenceData,
    pub now: DateTime<Utc>,
}

impl Scenario {
    pub fn new() -> Self {
        Scenario {
            id: Uuid::new_v4(),
            events: vec![],
            reference: reference(),
            now: t0(),
        }
    }

    pub fn state(&self) -> Option<Registration> {
        fold(&self.events)
    }

    /// Decide without recording: the events or the refusal.
    pub fn try_(
        &self,
        actor: &Actor,
        command: Command,
    ) -> Result<Vec<RegistrationEvent>, DomainError> {
        let ctx = Context {
            actor,
            now: self.now,
            reference: &self.reference,
        };
        decide(self.state().as_ref(), &command, &ctx)
    }

    /// Decide and record; panics on refusal.
    pub fn ok(&mut self, actor: &Actor, command: Command) -> Vec<RegistrationEvent> {
        let what = format!("{command:?}");
        let events = self
            .try_(actor, command)
            .unwrap_or_else(|e| panic!("{what} refused: {e}"));
        self.events.extend(events.clone());
        self.now += Duration::minutes(5);
        events
    }

    /// Decide; must be refused, and nothing is recorded.
    pub fn refused(&self, actor: &Actor, command: Command) -> DomainError {
        match self.try_(actor, command) {
            Ok(events) => panic!("expected a refusal, got {events:?}"),
            Err(e) => e,
        }
    }

    pub fn submit(&mut self, f: Form<Sealed>) {
        let id = self.id;
        self.ok(&applicant(), Command::Submit { id, form: f });
    }
}
