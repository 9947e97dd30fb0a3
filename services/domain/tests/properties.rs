//! Property: for random command sequences by random actors, nothing is ever
//! published without every sign-off its level requires, never by its own
//! applicant, and the state folded from the stored events always equals the
//! state the decisions were made on.

mod common;

use std::collections::BTreeMap;

use common::*;
use domain::form::{Form, LevelDetails};
use domain::personal::Sealed;
use domain::registration::{decide, fold, Command, Context, Registration, RegistrationEvent, Step};
use domain::{Actor, Level, Role};
use proptest::prelude::*;

fn actors() -> Vec<Actor> {
    vec![
        applicant(),
        comms(),
        Actor::new("u-comms-2", [Role::Communications]),
        line_manager(),
        senior(),
        consultation(),
        contact(),
        Actor::new(OFFICER, [Role::Staff]),
        Actor::new(
            "u-stranger",
            [Role::Staff, Role::LineManager, Role::SeniorOfficer],
        ),
        // The applicant holding every approving role: must still never approve their own.
        Actor::new(
            APPLICANT,
            [
                Role::Staff,
                Role::Communications,
                Role::LineManager,
                Role::SeniorOfficer,
                Role::Consultation,
            ],
        ),
        Actor::new("u-new-manager", [Role::LineManager]),
    ]
}

fn variant(level: u8, v: u8) -> Form<Sealed> {
    let mut f = form(level);
    match v {
        1 => f.business_contact = staff("u-contact-2", "Other Contact", true),
        2 => match &mut f.details {
            LevelDetails::Participate { line_manager, .. } => {
                *line_manager = staff("u-new-manager", "New Manager", false)
            }
            LevelDetails::Engage { topics, .. } => topics.push("parking".into()),
            LevelDetails::Consult { topic, .. } => *topic = "Mobile library routes".into(),
            LevelDetails::Broadcast {
                information_types, ..
            } => information_types.push("Closures".into()),
        },
        3 => f = with_branding(f),
        4 => {
            // The applicant names themselves where a sign-off is needed.
            match &mut f.details {
                LevelDetails::Participate { line_manager, .. } => {
                    *line_manager = staff(APPLICANT, "Self", false)
                }
                LevelDetails::Engage { senior_officer, .. } => {
                    *senior_officer = staff(APPLICANT, "Self", false)
                }
                _ => f.account = "@NorthOther".into(),
            }
        }
        _ => {}
    }
    f
}

fn command(level: u8, kind: u8, arg: u8) -> Command {
    match kind % 13 {
        0 => Command::Amend {
            form: variant(level, arg % 5),
        },
        1 => Command::RecordRiskAssessment(domain::registration::RiskAssessmentInput {
            assessor: seal("a", "Assessor"),
            assessor_subject: "u-assessor".into(),
            assessed_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            risks: vec![domain::registration::Risk {
                risk: "r".into(),
                mitigation: "m".into(),
            }],
            document_reference: format!("RA-{arg}"),
        }),
        2 | 3 => Command::SignRiskAssessment,
        4 => Command::SeniorOfficerSignOff,
        5 => Command::RecordConsultationListing {
            finder_reference: format!("CF-{arg}"),
        },
        6 => Command::ApproveBrandingAsset {
            asset_id: "youth-logo".into(),
        },
        7 | 8 => Command::Approve,
        9 => Command::RequestChanges {
            reason: "please fix".into(),
        },
        10 => {
            if arg == 0 {
                Command::Reject {
                    reason: "no".into(),
                }
            } else {
                Command::Publish
            }
        }
        11 => {
            if arg == 1 {
                Command::Withdraw {
                    reason: "done".into(),
                }
            } else {
                Command::Publish
            }
        }
        _ => Command::Revalidate,
    }
}

/// The actor a command is normally meant for.
fn intended(kind: u8, arg: u8) -> Actor {
    match kind % 13 {
        0 | 1 => applicant(),
        2 | 3 => line_manager(),
        4 => senior(),
        5 => consultation(),
        11 if arg == 1 => applicant(),
        12 => contact(),
        _ if arg.is_multiple_of(3) => Actor::new("u-comms-2", [Role::Communications]),
        _ => comms(),
    }
}

/// What the events say has been signed, tracked independently of `Registration`.
#[derive(Default)]
struct Shadow {
    applicant: String,
    signed: BTreeMap<Step, String>,
}

impl Shadow {
    fn observe(&mut self, e: &RegistrationEvent, before: Option<&Registration>) {
        match e {
            RegistrationEvent::RegistrationSubmitted { applicant, .. } => {
                self.applicant = applicant.clone();
                self.signed.clear();
            }
            RegistrationEvent::RegistrationAmended { voided, .. }
            | RegistrationEvent::RiskAssessmentRecorded { voided, .. } => {
                for v in voided {
                    self.signed.remove(v);
                }
                if let RegistrationEvent::RiskAssessmentRecorded { assessment, .. } = e {
                    self.signed
                        .insert(Step::RiskAssessment, assessment.recorded_by.clone());
                }
            }
            RegistrationEvent::RiskAssessmentSigned(so) => {
                self.signed
                    .insert(Step::RiskAssessmentSignature, so.by.clone());
            }
            RegistrationEvent::SeniorOfficerSignedOff(so) => {
                self.signed
                    .insert(Step::SeniorOfficerSignOff, so.by.clone());
            }
            RegistrationEvent::ConsultationListed { sign_off, .. } => {
                self.signed
                    .insert(Step::ConsultationListing, sign_off.by.clone());
            }
            RegistrationEvent::BrandingAssetApproved { asset_id, sign_off } => {
                self.signed.insert(
                    Step::BrandingApproval(asset_id.clone()),
                    sign_off.by.clone(),
                );
            }
            RegistrationEvent::RegistrationApproved(so) => {
                self.signed
                    .insert(Step::CommunicationsApproval, so.by.clone());
            }
            RegistrationEvent::RegistrationPublished { sign_off, .. } => {
                let state = before.expect("published registrations exist");
                assert_ne!(
                    sign_off.by, self.applicant,
                    "published by its own applicant"
                );
                let mut required = match state.level() {
                    Level::Broadcast => vec![],
                    Level::Consult => vec![Step::ConsultationListing],
                    Level::Participate => vec![Step::RiskAssessment, Step::RiskAssessmentSignature],
                    Level::Engage => vec![Step::SeniorOfficerSignOff],
                };
                required.extend(
                    state
                        .form
                        .branding_assets
                        .iter()
                        .map(|a| Step::BrandingApproval(a.id.clone())),
                );
                required.push(Step::CommunicationsApproval);
                for step in required {
                    let by = self
                        .signed
                        .get(&step)
                        .unwrap_or_else(|| panic!("published without {step:?}"));
                    if step != Step::RiskAssessment {
                        assert_ne!(by, &self.applicant, "{step:?} signed by the applicant");
                    }
                }
                // The signatures are by the people named on the form as it is now.
                if let Some(lm) = state.line_manager() {
                    assert_eq!(self.signed[&Step::RiskAssessmentSignature], lm);
                }
                if let Some(so) = state.senior_officer() {
                    assert_eq!(self.signed[&Step::SeniorOfficerSignOff], so);
                    if let LevelDetails::Engage { topics, .. } = &state.form.details {
                        assert!(topics.iter().all(|t| reference().may_speak_on(so, t)));
                    }
                }
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn no_registration_is_ever_published_without_its_sign_offs_or_by_its_applicant(
        level in 1u8..=4,
        start in 0u8..5,
        steps in proptest::collection::vec((0usize..11, 0u8..13, 0u8..20, 0u8..10), 1..60),
    ) {
        let actors = actors();
        let reference = reference();
        let mut now = t0();
        let id = uuid::Uuid::new_v4();
        let mut state: Option<Registration> = None;
        let mut history: Vec<RegistrationEvent> = Vec::new();
        let mut shadow = Shadow::default();
        let submit = Command::Submit { id, form: variant(level, start) };
        let mut commands = vec![(applicant(), submit)];
        commands.extend(steps.into_iter().map(|(a, k, arg, aim)| {
            // Mostly the person the command is meant for, sometimes anyone.
            let actor = if aim < 7 { intended(k, arg) } else { actors[a].clone() };
            (actor, command(level, k, arg))
        }));
        let mut published = 0;
        for (actor, cmd) in commands {
            let ctx = Context { actor: &actor, now, reference: &reference };
            if let Ok(events) = decide(state.as_ref(), &cmd, &ctx) {
                for e in &events {
                    shadow.observe(e, state.as_ref());
                    if matches!(e, RegistrationEvent::RegistrationPublished { .. }) {
                        published += 1;
                    }
                    state = Registration::apply(state, e);
                    // As stored and read back.
                    let (t, p) = domain::codec::encode(e);
                    history.push(domain::codec::decode(&t, 1, &p, 1).unwrap());
                }
                prop_assert_eq!(&fold(&history), &state, "folded history equals the decided state");
            }
            now += chrono::Duration::hours(1);
        }
        prop_assert!(published <= 1);
    }
}
