//! Given/when/then tests of every registration command at every level.

mod common;

use chrono::{Duration, NaiveDate};
use common::*;
use domain::form::LevelDetails;
use domain::registration::{Command, RegistrationEvent, Risk, RiskAssessmentInput, Status, Step};
use domain::{Actor, DomainError, ErrorKind, Role};

fn risk_assessment(by: &str) -> Command {
    Command::RecordRiskAssessment(RiskAssessmentInput {
        assessor: seal(by, "Assessor Name"),
        assessor_subject: by.into(),
        assessed_on: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        risks: vec![Risk {
            risk: "Direct messages from young people out of hours".into(),
            mitigation: "Auto-reply with opening hours and safeguarding contacts".into(),
        }],
        document_reference: "RA-2026-17".into(),
    })
}

fn withdraw(reason: &str) -> Command {
    Command::Withdraw {
        reason: reason.into(),
    }
}

/// A scenario of the given level taken as far as approval.
fn approved(level: u8) -> Scenario {
    let mut s = Scenario::new();
    s.submit(form(level));
    match level {
        2 => {
            s.ok(
                &consultation(),
                Command::RecordConsultationListing {
                    finder_reference: "CF-1234".into(),
                },
            );
        }
        3 => {
            s.ok(&applicant(), risk_assessment(APPLICANT));
            s.ok(&line_manager(), Command::SignRiskAssessment);
        }
        4 => {
            s.ok(&senior(), Command::SeniorOfficerSignOff);
        }
        _ => {}
    }
    s.ok(&comms(), Command::Approve);
    s
}

fn published(level: u8) -> Scenario {
    let mut s = approved(level);
    s.ok(&comms(), Command::Publish);
    s
}

// --- Happy paths -----------------------------------------------------------

#[test]
fn level_1_broadcast_is_published_after_communications_approval() {
    let s = published(1);
    let state = s.state().unwrap();
    assert_eq!(state.status, Status::Published);
    assert_eq!(state.account_key.to_string(), "x:northlevel1");
    assert!(state.outstanding().is_empty());
}

#[test]
fn level_2_consult_is_published_after_the_finder_listing_and_approval() {
    let s = published(2);
    let state = s.state().unwrap();
    assert_eq!(state.status, Status::Published);
    assert_eq!(state.consultation_listing.as_ref().unwrap().0, "CF-1234");
}

#[test]
fn level_3_participate_is_published_after_a_signed_risk_assessment_and_publishes_the_officer() {
    let mut s = approved(3);
    let events = s.ok(&comms(), Command::Publish);
    assert!(
        matches!(&events[0], RegistrationEvent::RegistrationPublished { officer_subject: Some(o), .. } if o == OFFICER)
    );
    let state = s.state().unwrap();
    assert_eq!(state.risk_signature.as_ref().unwrap().by, LINE_MANAGER);
}

#[test]
fn level_4_engage_is_published_after_the_senior_officer_with_authority_signs_off() {
    let s = published(4);
    let state = s.state().unwrap();
    assert_eq!(state.status, Status::Published);
    assert_eq!(state.senior_sign_off.as_ref().unwrap().by, SENIOR);
}

#[test]
fn each_additional_branding_asset_needs_its_own_approval_before_publication() {
    let mut s = Scenario::new();
    s.submit(with_branding(form(1)));
    s.ok(&comms(), Command::Approve);
    assert_eq!(
        s.refused(&comms(), Command::Publish),
        DomainError::BrandingNotApproved(vec!["youth-logo".into()])
    );
    assert_eq!(
        s.refused(
            &comms(),
            Command::ApproveBrandingAsset {
                asset_id: "other".into()
            }
        ),
        DomainError::UnknownBrandingAsset("other".into())
    );
    s.ok(
        &comms(),
        Command::ApproveBrandingAsset {
            asset_id: "youth-logo".into(),
        },
    );
    assert_eq!(
        s.refused(
            &comms(),
            Command::ApproveBrandingAsset {
                asset_id: "youth-logo".into()
            }
        ),
        DomainError::AlreadyDone(Step::BrandingApproval("youth-logo".into()))
    );
    s.ok(&comms(), Command::Publish);
    assert_eq!(s.state().unwrap().status, Status::Published);
}

// --- Submission ------------------------------------------------------------

#[test]
fn only_staff_may_submit() {
    let s = Scenario::new();
    let outsider = Actor::new("u-x", [Role::Auditor]);
    assert_eq!(
        s.refused(
            &outsider,
            Command::Submit {
                id: s.id,
                form: form(1)
            }
        ),
        DomainError::MissingRole { role: Role::Staff }
    );
}

#[test]
fn a_registration_id_cannot_be_submitted_twice() {
    let mut s = Scenario::new();
    s.submit(form(1));
    assert_eq!(
        s.refused(
            &applicant(),
            Command::Submit {
                id: s.id,
                form: form(1)
            }
        ),
        DomainError::RegistrationExists(s.id)
    );
}

fn invalid_field(err: DomainError) -> String {
    match err {
        DomainError::Invalid { field, problem } => {
            assert!(!problem.is_empty());
            field
        }
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn a_missing_or_malformed_field_is_refused_with_the_field_named() {
    let s = Scenario::new();
    let submit = |f| Command::Submit { id: s.id, form: f };
    let mut cases: Vec<(domain::form::Form<domain::personal::Sealed>, &str)> = Vec::new();

    let mut f = form(1);
    f.account = "https://facebook.com/NorthCouncil".into();
    cases.push((f, "form.account"));
    let mut f = form(1);
    f.service_area = "parks".into();
    cases.push((f, "form.serviceArea"));
    let mut f = form(1);
    f.business_contact.email = None;
    cases.push((f, "form.businessContact.email"));
    let mut f = form(1);
    f.business_contact.subject = "has space".into();
    cases.push((f, "form.businessContact.subject"));
    let mut f = form(1);
    f.policy_version = " ".into();
    cases.push((f, "form.policyVersion"));
    let mut f = form(1);
    f.policy_acknowledged = false;
    cases.push((f, "form.policyAcknowledged"));
    let mut f = form(1);
    f.corporate_identity_acknowledged = false;
    cases.push((f, "form.corporateIdentityAcknowledged"));
    let mut f = form(1);
    f.details = LevelDetails::Broadcast {
        information_types: vec![],
        content_sources: vec![],
    };
    cases.push((f, "form.details.informationTypes"));
    let mut f = form(1);
    f.details = LevelDetails::Broadcast {
        information_types: vec!["News".into()],
        content_sources: vec!["not a feed".into()],
    };
    cases.push((f, "form.details.contentSources[0]"));
    let mut f = form(2);
    if let LevelDetails::Consult { closes_on, .. } = &mut f.details {
        *closes_on = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
    }
    cases.push((f, "form.details.closesOn"));
    let mut f = form(2);
    if let LevelDetails::Consult { topic, .. } = &mut f.details {
        topic.clear();
    }
    cases.push((f, "form.details.topic"));
    let mut f = form(3);
    if let LevelDetails::Participate { line_manager, .. } = &mut f.details {
        line_manager.subject = OFFICER.into();
    }
    cases.push((f, "form.details.lineManager.subject"));
    let mut f = form(3);
    if let LevelDetails::Participate { officer, .. } = &mut f.details {
        officer.name.sealed.clear();
    }
    cases.push((f, "form.details.officer.name"));
    let mut f = form(4);
    if let LevelDetails::Engage { press_media, .. } = &mut f.details {
        press_media.arrangements = None;
    }
    cases.push((f, "form.details.pressMedia.arrangements"));
    let mut f = form(4);
    if let LevelDetails::Engage { topics, .. } = &mut f.details {
        topics.clear();
    }
    cases.push((f, "form.details.topics"));
    let mut f = with_branding(with_branding(form(1)));
    f.branding_assets[1].description = "another".into();
    cases.push((f, "form.brandingAssets[1].id"));

    for (f, field) in cases {
        let err = s.refused(&applicant(), submit(f));
        assert_eq!(err.kind(), ErrorKind::BadInput);
        assert_eq!(invalid_field(err), field);
    }
}

#[test]
fn a_level_3_job_role_must_be_on_the_accepted_list() {
    let s = Scenario::new();
    let mut f = form(3);
    if let LevelDetails::Participate { job_role, .. } = &mut f.details {
        *job_role = "press-officer".into();
    }
    assert_eq!(
        s.refused(&applicant(), Command::Submit { id: s.id, form: f }),
        DomainError::JobRoleNotAccepted {
            job_role: "press-officer".into()
        }
    );
}

#[test]
fn a_disabled_platform_takes_no_new_registrations() {
    let mut s = Scenario::new();
    s.reference
        .apply(&domain::reference::ReferenceEvent::PlatformDisabled {
            platform: domain::platform::Platform::X,
            reason: "Under review".into(),
        });
    let err = s.refused(
        &applicant(),
        Command::Submit {
            id: s.id,
            form: form(1),
        },
    );
    assert_eq!(invalid_field(err), "form.platform");
}

// --- Level 3: risk assessment and the line manager ------------------------

#[test]
fn only_the_named_line_manager_may_sign_the_risk_assessment() {
    let mut s = Scenario::new();
    s.submit(form(3));
    s.ok(&applicant(), risk_assessment(APPLICANT));
    let other_manager = Actor::new("u-other-manager", [Role::LineManager]);
    assert_eq!(
        s.refused(&other_manager, Command::SignRiskAssessment),
        DomainError::NotTheNamedLineManager
    );
    let named_without_role = Actor::new(LINE_MANAGER, [Role::Staff]);
    assert_eq!(
        s.refused(&named_without_role, Command::SignRiskAssessment),
        DomainError::MissingRole {
            role: Role::LineManager
        }
    );
    s.ok(&line_manager(), Command::SignRiskAssessment);
    assert_eq!(
        s.refused(&line_manager(), Command::SignRiskAssessment),
        DomainError::AlreadyDone(Step::RiskAssessmentSignature)
    );
}

#[test]
fn the_line_manager_cannot_sign_before_the_risk_assessment_is_recorded() {
    let mut s = Scenario::new();
    s.submit(form(3));
    assert_eq!(
        s.refused(&line_manager(), Command::SignRiskAssessment),
        DomainError::RiskAssessmentMissing
    );
}

#[test]
fn an_applicant_named_as_line_manager_cannot_sign_their_own_submission() {
    let mut s = Scenario::new();
    let mut f = form(3);
    if let LevelDetails::Participate { line_manager, .. } = &mut f.details {
        *line_manager = staff(APPLICANT, "Applicant Self", false);
    }
    s.submit(f);
    s.ok(&applicant(), risk_assessment(APPLICANT));
    let applicant_as_manager = Actor::new(APPLICANT, [Role::Staff, Role::LineManager]);
    assert_eq!(
        s.refused(&applicant_as_manager, Command::SignRiskAssessment),
        DomainError::SelfApprovalForbidden
    );
}

#[test]
fn communications_cannot_approve_a_level_3_registration_until_the_risk_assessment_is_signed() {
    let mut s = Scenario::new();
    s.submit(form(3));
    assert_eq!(
        s.refused(&comms(), Command::Approve),
        DomainError::StepsOutstanding(vec![Step::RiskAssessment, Step::RiskAssessmentSignature])
    );
    s.ok(&applicant(), risk_assessment(APPLICANT));
    assert_eq!(
        s.refused(&comms(), Command::Approve),
        DomainError::StepsOutstanding(vec![Step::RiskAssessmentSignature])
    );
}

#[test]
fn only_the_applicant_officer_or_line_manager_may_record_the_risk_assessment_and_it_must_be_complete(
) {
    let mut s = Scenario::new();
    s.submit(form(3));
    let stranger = Actor::new("u-stranger", [Role::Staff]);
    assert_eq!(
        s.refused(&stranger, risk_assessment("u-stranger")),
        DomainError::NotAllowedToRecordRiskAssessment
    );
    let mut empty = risk_assessment(OFFICER);
    if let Command::RecordRiskAssessment(input) = &mut empty {
        input.risks.clear();
    }
    assert_eq!(
        invalid_field(s.refused(&Actor::new(OFFICER, [Role::Staff]), empty)),
        "risks"
    );
    let mut future = risk_assessment(OFFICER);
    if let Command::RecordRiskAssessment(input) = &mut future {
        input.assessed_on = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    }
    assert_eq!(
        invalid_field(s.refused(&Actor::new(OFFICER, [Role::Staff]), future)),
        "assessedOn"
    );
    s.ok(
        &Actor::new(OFFICER, [Role::Staff]),
        risk_assessment(OFFICER),
    );
    let not_level_3 = {
        let mut s1 = Scenario::new();
        s1.submit(form(1));
        s1.refused(&applicant(), risk_assessment(APPLICANT))
    };
    assert!(matches!(
        not_level_3,
        DomainError::WrongLevel { expected: 3, .. }
    ));
}

// --- Level 4: senior officer and speaking authority -----------------------

#[test]
fn only_the_named_senior_officer_may_sign_off_and_only_with_speaking_authority_for_every_topic() {
    let mut s = Scenario::new();
    s.submit(form(4));
    let other = Actor::new("u-other-senior", [Role::SeniorOfficer]);
    assert_eq!(
        s.refused(&other, Command::SeniorOfficerSignOff),
        DomainError::NotTheNamedSeniorOfficer
    );
    s.reference.apply(
        &domain::reference::ReferenceEvent::SpeakingAuthorityRevoked {
            subject: SENIOR.into(),
            topic: "road-safety".into(),
        },
    );
    assert_eq!(
        s.refused(&senior(), Command::SeniorOfficerSignOff),
        DomainError::NoSpeakingAuthority {
            topic: "road-safety".into()
        }
    );
    s.reference = reference();
    assert_eq!(
        s.refused(&comms(), Command::Approve),
        DomainError::StepsOutstanding(vec![Step::SeniorOfficerSignOff])
    );
    s.ok(&senior(), Command::SeniorOfficerSignOff);
    s.ok(&comms(), Command::Approve);
}

// --- Level 2: Consultation Finder -----------------------------------------

#[test]
fn only_the_consultation_team_records_the_finder_listing_and_approval_waits_for_it() {
    let mut s = Scenario::new();
    s.submit(form(2));
    assert_eq!(
        s.refused(&comms(), Command::Approve),
        DomainError::StepsOutstanding(vec![Step::ConsultationListing])
    );
    assert_eq!(
        s.refused(
            &applicant(),
            Command::RecordConsultationListing {
                finder_reference: "CF-1".into()
            }
        ),
        DomainError::MissingRole {
            role: Role::Consultation
        }
    );
    assert_eq!(
        invalid_field(s.refused(
            &consultation(),
            Command::RecordConsultationListing {
                finder_reference: " ".into()
            }
        )),
        "finderReference"
    );
    s.ok(
        &consultation(),
        Command::RecordConsultationListing {
            finder_reference: "CF-1".into(),
        },
    );
    s.ok(&comms(), Command::Approve);
}

// --- Segregation of duties ------------------------------------------------

#[test]
fn nobody_approves_or_publishes_their_own_submission() {
    let mut s = Scenario::new();
    let comms_applicant = Actor::new(COMMS, [Role::Staff, Role::Communications]);
    s.ok(
        &comms_applicant,
        Command::Submit {
            id: s.id,
            form: with_branding(form(1)),
        },
    );
    assert_eq!(
        s.refused(&comms_applicant, Command::Approve),
        DomainError::SelfApprovalForbidden
    );
    assert_eq!(
        s.refused(
            &comms_applicant,
            Command::ApproveBrandingAsset {
                asset_id: "youth-logo".into()
            }
        ),
        DomainError::SelfApprovalForbidden
    );
    let colleague = Actor::new("u-comms-2", [Role::Communications]);
    s.ok(
        &colleague,
        Command::ApproveBrandingAsset {
            asset_id: "youth-logo".into(),
        },
    );
    s.ok(&colleague, Command::Approve);
    assert_eq!(
        s.refused(&comms_applicant, Command::Publish),
        DomainError::SelfApprovalForbidden
    );
    s.ok(&colleague, Command::Publish);
}

#[test]
fn only_communications_approves_and_publishes() {
    let mut s = approved(1);
    assert_eq!(
        s.refused(&line_manager(), Command::Publish),
        DomainError::MissingRole {
            role: Role::Communications
        }
    );
    s.ok(&comms(), Command::Publish);
    let mut s = Scenario::new();
    s.submit(form(1));
    assert_eq!(
        s.refused(&senior(), Command::Approve),
        DomainError::MissingRole {
            role: Role::Communications
        }
    );
}

#[test]
fn publication_needs_approval_first() {
    let mut s = Scenario::new();
    s.submit(form(1));
    assert!(matches!(
        s.refused(&comms(), Command::Publish),
        DomainError::NotAllowedInStatus {
            status: Status::Submitted,
            ..
        }
    ));
    s.ok(&comms(), Command::Approve);
    assert_eq!(
        s.refused(&comms(), Command::Approve),
        DomainError::AlreadyDone(Step::CommunicationsApproval)
    );
}

// --- Request changes and rejection ----------------------------------------

#[test]
fn an_approver_may_send_a_registration_back_and_the_applicants_amendment_resubmits_it() {
    let mut s = Scenario::new();
    s.submit(form(3));
    s.ok(&applicant(), risk_assessment(APPLICANT));
    let events = s.ok(
        &line_manager(),
        Command::RequestChanges {
            reason: "Add the out-of-hours mitigation".into(),
        },
    );
    assert!(matches!(
        &events[0],
        RegistrationEvent::ChangesRequested {
            role: Role::LineManager,
            ..
        }
    ));
    assert_eq!(s.state().unwrap().status, Status::ChangesRequested);
    assert!(matches!(
        s.refused(&line_manager(), Command::SignRiskAssessment),
        DomainError::NotAllowedInStatus { .. }
    ));
    let mut f = form(3);
    f.business_contact.phone = Some(seal(CONTACT, "01234 567890"));
    s.ok(&applicant(), Command::Amend { form: f });
    assert_eq!(s.state().unwrap().status, Status::Submitted);
    s.ok(&line_manager(), Command::SignRiskAssessment);
}

#[test]
fn only_approvers_of_the_registration_may_request_changes_or_reject_and_a_reason_is_required() {
    let mut s = Scenario::new();
    s.submit(form(1));
    let stranger = Actor::new("u-stranger", [Role::Staff, Role::LineManager]);
    assert_eq!(
        s.refused(
            &stranger,
            Command::Reject {
                reason: "no".into()
            }
        ),
        DomainError::NotAnApprover
    );
    assert_eq!(
        s.refused(&applicant(), Command::RequestChanges { reason: "x".into() }),
        DomainError::NotAnApprover
    );
    assert_eq!(
        invalid_field(s.refused(&comms(), Command::Reject { reason: "".into() })),
        "reason"
    );
    s.ok(
        &comms(),
        Command::Reject {
            reason: "Duplicates the main council account".into(),
        },
    );
    let state = s.state().unwrap();
    assert_eq!(state.status, Status::Rejected);
    assert!(state.status.is_terminal());
    assert!(matches!(
        s.refused(&comms(), Command::Approve),
        DomainError::NotAllowedInStatus {
            status: Status::Rejected,
            ..
        }
    ));
    assert!(matches!(
        s.refused(&applicant(), withdraw("late")),
        DomainError::NotAllowedInStatus {
            status: Status::Rejected,
            ..
        }
    ));
}

// --- Amendment voids what it touches --------------------------------------

fn voided(events: &[RegistrationEvent]) -> Vec<Step> {
    match &events[0] {
        RegistrationEvent::RegistrationAmended { voided, .. } => voided.clone(),
        other => panic!("expected an amendment, got {other:?}"),
    }
}

#[test]
fn changing_the_line_manager_voids_the_signature_and_approval_but_not_the_assessment() {
    let mut s = approved(3);
    let mut f = form(3);
    if let LevelDetails::Participate { line_manager, .. } = &mut f.details {
        *line_manager = staff("u-new-manager", "New Manager", false);
    }
    let events = s.ok(&applicant(), Command::Amend { form: f });
    assert_eq!(
        voided(&events),
        vec![Step::RiskAssessmentSignature, Step::CommunicationsApproval]
    );
    let state = s.state().unwrap();
    assert_eq!(state.status, Status::Submitted);
    assert!(
        state.risk_assessment.is_some()
            && state.risk_signature.is_none()
            && state.approval.is_none()
    );
    assert_eq!(
        s.refused(&line_manager(), Command::SignRiskAssessment),
        DomainError::NotTheNamedLineManager
    );
}

#[test]
fn changing_the_officer_voids_the_risk_assessment_and_its_signature() {
    let mut s = approved(3);
    let mut f = form(3);
    if let LevelDetails::Participate { officer, .. } = &mut f.details {
        *officer = staff("u-other-officer", "Other Officer", true);
    }
    let events = s.ok(&applicant(), Command::Amend { form: f });
    assert_eq!(
        voided(&events),
        vec![
            Step::RiskAssessment,
            Step::RiskAssessmentSignature,
            Step::CommunicationsApproval
        ]
    );
}

#[test]
fn changing_only_the_contact_keeps_level_sign_offs_but_voids_communications_approval() {
    let mut s = approved(3);
    let mut f = form(3);
    f.business_contact = staff("u-new-contact", "New Contact", true);
    let events = s.ok(&applicant(), Command::Amend { form: f });
    assert_eq!(voided(&events), vec![Step::CommunicationsApproval]);
    assert!(s.state().unwrap().risk_signature.is_some());
}

#[test]
fn changing_level_4_topics_voids_the_senior_officers_sign_off() {
    let mut s = Scenario::new();
    s.submit(form(4));
    s.ok(&senior(), Command::SeniorOfficerSignOff);
    let mut f = form(4);
    if let LevelDetails::Engage { topics, .. } = &mut f.details {
        topics.push("parking".into());
    }
    let events = s.ok(&applicant(), Command::Amend { form: f });
    assert_eq!(voided(&events), vec![Step::SeniorOfficerSignOff]);
}

#[test]
fn changing_consultation_dates_voids_the_finder_listing_and_changing_the_account_voids_it_too() {
    let mut s = Scenario::new();
    s.submit(form(2));
    s.ok(
        &consultation(),
        Command::RecordConsultationListing {
            finder_reference: "CF-9".into(),
        },
    );
    let mut f = form(2);
    if let LevelDetails::Consult { closes_on, .. } = &mut f.details {
        *closes_on = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    }
    assert_eq!(
        voided(&s.ok(&applicant(), Command::Amend { form: f.clone() })),
        vec![Step::ConsultationListing]
    );
    s.ok(
        &consultation(),
        Command::RecordConsultationListing {
            finder_reference: "CF-9".into(),
        },
    );
    f.account = "@NorthConsults".into();
    assert_eq!(
        voided(&s.ok(&applicant(), Command::Amend { form: f })),
        vec![Step::ConsultationListing]
    );
    assert_eq!(
        s.state().unwrap().account_key.to_string(),
        "x:northconsults"
    );
}

#[test]
fn changing_a_branding_asset_voids_its_approval() {
    let mut s = Scenario::new();
    s.submit(with_branding(form(1)));
    s.ok(
        &comms(),
        Command::ApproveBrandingAsset {
            asset_id: "youth-logo".into(),
        },
    );
    let mut f = with_branding(form(1));
    f.branding_assets[0].reference = "DOC-2026-0043".into();
    assert_eq!(
        voided(&s.ok(&applicant(), Command::Amend { form: f })),
        vec![Step::BrandingApproval("youth-logo".into())]
    );
}

#[test]
fn only_the_applicant_amends_and_never_after_publication_nor_to_another_level_nor_to_no_effect() {
    let mut s = Scenario::new();
    s.submit(form(1));
    assert_eq!(
        s.refused(&comms(), Command::Amend { form: form(1) }),
        DomainError::NotTheApplicant
    );
    assert_eq!(
        s.refused(&applicant(), Command::Amend { form: form(1) }),
        DomainError::NothingChanged
    );
    assert_eq!(
        s.refused(&applicant(), Command::Amend { form: form(2) }),
        DomainError::LevelCannotChange
    );
    let mut p = published(1);
    let mut f = form(1);
    f.policy_version = "2027.1".into();
    assert!(matches!(
        p.refused(&applicant(), Command::Amend { form: f }),
        DomainError::NotAllowedInStatus {
            status: Status::Published,
            ..
        }
    ));
    p.ok(&applicant(), withdraw("Account closed"));
}

// --- Withdrawal -------------------------------------------------------------

#[test]
fn a_registration_can_be_withdrawn_from_every_non_terminal_state_and_stays_in_history() {
    fn submitted() -> Scenario {
        let mut s = Scenario::new();
        s.submit(form(1));
        s
    }
    fn changes_requested() -> Scenario {
        let mut s = submitted();
        s.ok(
            &comms(),
            Command::RequestChanges {
                reason: "fix".into(),
            },
        );
        s
    }
    type Builder = fn() -> Scenario;
    let builders: [(&str, Builder); 4] = [
        ("submitted", submitted),
        ("changes requested", changes_requested),
        ("approved", || approved(1)),
        ("published", || published(3)),
    ];
    for (label, build) in builders {
        for who in [applicant(), comms()] {
            let mut s = build();
            let before = s.events.len();
            s.ok(&who, withdraw("No longer needed"));
            let state = s.state().unwrap();
            assert_eq!(state.status, Status::Withdrawn, "{label}");
            assert_eq!(s.events.len(), before + 1, "{label}: history is kept");
            assert_eq!(state.withdrawal.as_ref().unwrap().1.by, who.subject);
            assert!(matches!(
                s.refused(&who, withdraw("again")),
                DomainError::NotAllowedInStatus {
                    status: Status::Withdrawn,
                    ..
                }
            ));
        }
    }
}

#[test]
fn withdrawal_needs_a_reason_and_is_for_the_applicant_or_communications() {
    let mut s = Scenario::new();
    s.submit(form(1));
    assert_eq!(
        invalid_field(s.refused(&applicant(), withdraw("  "))),
        "reason"
    );
    assert_eq!(
        s.refused(&line_manager(), withdraw("mine now")),
        DomainError::NotTheApplicant
    );
}

// --- Re-validation ------------------------------------------------------------

#[test]
fn a_published_registration_is_due_for_review_after_the_review_period() {
    let mut s = published(1);
    let state = s.state().unwrap();
    let published_at = state.published.as_ref().unwrap().at;
    let due = state
        .revalidation_due(published_at + Duration::days(364), 365)
        .unwrap();
    assert!(!due.overdue);
    assert_eq!(
        due.due_on,
        (published_at + Duration::days(365)).date_naive()
    );
    assert!(
        state
            .revalidation_due(published_at + Duration::days(365), 365)
            .unwrap()
            .overdue
    );
    assert!(
        state
            .revalidation_due(published_at + Duration::days(31), 30)
            .unwrap()
            .overdue
    );

    s.now = published_at + Duration::days(400);
    assert_eq!(
        s.refused(
            &Actor::new("u-stranger", [Role::Staff]),
            Command::Revalidate
        ),
        DomainError::NotTheBusinessContact
    );
    s.ok(&contact(), Command::Revalidate);
    let state = s.state().unwrap();
    let due = state.revalidation_due(s.now, 365).unwrap();
    assert!(!due.overdue, "re-validation restarts the period");
    s.ok(&comms(), Command::Revalidate);
}

#[test]
fn only_published_registrations_are_revalidated_or_due() {
    let mut s = approved(1);
    assert!(matches!(
        s.refused(&contact(), Command::Revalidate),
        DomainError::NotAllowedInStatus {
            status: Status::Approved,
            ..
        }
    ));
    assert!(s
        .state()
        .unwrap()
        .revalidation_due(s.now + Duration::days(1000), 365)
        .is_none());
    s.ok(&comms(), Command::Publish);
    s.ok(&comms(), withdraw("closed"));
    assert!(s
        .state()
        .unwrap()
        .revalidation_due(s.now + Duration::days(1000), 365)
        .is_none());
}

#[test]
fn a_command_on_a_registration_that_does_not_exist_is_not_found() {
    let s = Scenario::new();
    let err = s.refused(&comms(), Command::Approve);
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn events_survive_their_stored_encoding_unchanged() {
    let s = published(4);
    for e in &s.events {
        let (event_type, payload) = domain::codec::encode(e);
        assert_eq!(event_type, e.event_type());
        let back: RegistrationEvent = domain::codec::decode(&event_type, 1, &payload, 1).unwrap();
        assert_eq!(&back, e);
        // As the projector reads it: the payload's JSON text.
        let text = payload.to_string();
        let back: RegistrationEvent = domain::codec::decode_text(&event_type, 1, &text, 1).unwrap();
        assert_eq!(&back, e);
    }
    let (t, p) = domain::codec::encode(&s.events[0]);
    assert!(
        domain::codec::decode::<RegistrationEvent>(&t, 2, &p, 1).is_err(),
        "a newer version is refused, not misread"
    );
    assert!(
        domain::codec::decode_text::<RegistrationEvent>(&t, 2, &p.to_string(), 1).is_err(),
        "a newer version is refused, not misread, from text too"
    );
    assert!(
        domain::codec::decode_text::<RegistrationEvent>(&t, 1, "{\"id\": 1", 1).is_err(),
        "malformed JSON text is an error"
    );
}

/// Who must act next, as the approval queues show it.
#[test]
fn a_level_3_registration_waits_for_the_officer_then_the_named_line_manager_then_communications() {
    use domain::registration::{Task, Waiting};
    let mut s = Scenario::new();
    s.submit(form(3));
    let next = |s: &Scenario| s.state().unwrap().waiting_on();
    assert_eq!(
        next(&s),
        [Waiting {
            role: Role::Staff,
            task: Task::Step(Step::RiskAssessment),
            assignee: Some(applicant().subject),
        }]
    );
    s.ok(&applicant(), risk_assessment("u-applicant"));
    let waiting = next(&s);
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].role, Role::LineManager);
    assert_eq!(
        waiting[0].assignee.as_deref(),
        Some(line_manager().subject.as_str())
    );
    s.ok(&line_manager(), Command::SignRiskAssessment);
    assert_eq!(next(&s)[0].task, Task::Step(Step::CommunicationsApproval));
    s.ok(&comms(), Command::Approve);
    assert_eq!(next(&s)[0].task, Task::Publication);
}

// --- Changes after publication ----------------------------------------------

fn propose(s: &mut Scenario, who: &Actor, f: domain::form::Form<domain::personal::Sealed>) {
    s.ok(
        who,
        Command::ProposeChange {
            form: f,
            reason: "Keeping the record current".into(),
        },
    );
}

fn pending(s: &Scenario) -> domain::registration::PendingChange {
    *s.state().unwrap().change.expect("a change is pending")
}

fn renamed(level: u8) -> domain::form::Form<domain::personal::Sealed> {
    let mut f = form(level);
    f.account = format!("https://x.com/NorthLvl{level}New");
    f
}

#[test]
fn a_published_registration_stays_published_under_its_current_details_while_a_change_is_pending() {
    let mut s = published(1);
    propose(&mut s, &applicant(), renamed(1));
    let state = s.state().unwrap();
    assert_eq!(state.status, Status::Published);
    assert_eq!(state.account_key.to_string(), "x:northlevel1");
    assert_eq!(state.form.account, form(1).account);
    let change = pending(&s);
    assert_eq!(change.candidate.account_key.to_string(), "x:northlvl1new");
    assert_eq!(change.status(), Status::Submitted);
    assert_eq!(change.outstanding(), vec![Step::CommunicationsApproval]);
}

#[test]
fn the_applicant_the_business_contact_and_communications_may_propose_a_change_and_nobody_else() {
    let s = published(3);
    let mut contact_form = form(3);
    contact_form.business_contact = staff(CONTACT, "Casey Contact-Smith", true);
    for who in [applicant(), contact(), comms()] {
        assert!(
            s.try_(
                &who,
                Command::ProposeChange {
                    form: contact_form.clone(),
                    reason: "Married name".into()
                }
            )
            .is_ok(),
            "{}",
            who.subject
        );
    }
    for who in [
        line_manager(),
        Actor::new("u-officer", [Role::Staff]),
        Actor::new("u-someone", [Role::Staff]),
        Actor::new("u-auditor", [Role::Auditor]),
    ] {
        assert_eq!(
            s.refused(
                &who,
                Command::ProposeChange {
                    form: contact_form.clone(),
                    reason: "Married name".into()
                }
            ),
            DomainError::NotAllowedToProposeChange,
            "{}",
            who.subject
        );
    }
}

#[test]
fn who_proposed_a_change_and_in_which_capacity_is_recorded_with_the_reason() {
    let mut s = published(1);
    let events = s.ok(
        &contact(),
        Command::ProposeChange {
            form: renamed(1),
            reason: "The service renamed its account".into(),
        },
    );
    assert!(matches!(
        &events[0],
        RegistrationEvent::ChangeProposed { by, capacity: domain::registration::Proposer::BusinessContact, reason, .. }
            if by == CONTACT && reason == "The service renamed its account"
    ));
}

#[test]
fn only_the_proposer_or_communications_may_replace_or_withdraw_a_pending_change() {
    let mut s = published(1);
    propose(&mut s, &contact(), renamed(1));
    let mut other = renamed(1);
    other.account = "https://x.com/SomethingElse".into();
    assert_eq!(
        s.refused(
            &applicant(),
            Command::ProposeChange {
                form: other.clone(),
                reason: "No".into()
            }
        ),
        DomainError::NotTheProposer
    );
    assert_eq!(
        s.refused(
            &applicant(),
            Command::WithdrawChange {
                reason: "No".into()
            }
        ),
        DomainError::NotTheProposer
    );
    s.ok(
        &contact(),
        Command::WithdrawChange {
            reason: "Proposed too early".into(),
        },
    );
    let state = s.state().unwrap();
    assert!(state.change.is_none());
    assert_eq!(state.status, Status::Published);
    assert_eq!(
        s.refused(
            &comms(),
            Command::WithdrawChange {
                reason: "None".into()
            }
        ),
        DomainError::NoPendingChange
    );
}

#[test]
fn a_change_to_the_officer_needs_a_new_risk_assessment_and_the_line_managers_signature() {
    let mut s = published(3);
    let mut f = form(3);
    if let LevelDetails::Participate { officer, .. } = &mut f.details {
        *officer = staff("u-new-officer", "Nia New", true);
    }
    propose(&mut s, &applicant(), f);
    assert_eq!(
        pending(&s).outstanding(),
        vec![
            Step::RiskAssessment,
            Step::RiskAssessmentSignature,
            Step::CommunicationsApproval
        ]
    );
    assert_eq!(
        s.refused(&comms(), Command::Approve),
        DomainError::StepsOutstanding(vec![Step::RiskAssessment, Step::RiskAssessmentSignature])
    );
    assert_eq!(
        s.refused(&line_manager(), Command::SignRiskAssessment),
        DomainError::RiskAssessmentMissing
    );
    s.ok(&applicant(), risk_assessment(APPLICANT));
    s.ok(&line_manager(), Command::SignRiskAssessment);
    // The published registration's own sign-offs are untouched meanwhile.
    let state = s.state().unwrap();
    assert_eq!(state.officer(), Some(OFFICER));
    s.ok(&comms(), Command::Approve);
    let events = s.ok(&comms(), Command::Publish);
    assert!(matches!(
        &events[0],
        RegistrationEvent::ChangePublished { officer_subject: Some(o), renamed_from: None, .. } if o == "u-new-officer"
    ));
    let state = s.state().unwrap();
    assert_eq!(state.officer(), Some("u-new-officer"));
    assert!(state.change.is_none());
    assert_eq!(state.status, Status::Published);
}

#[test]
fn a_change_to_the_line_manager_needs_a_new_risk_assessment_signed_by_the_new_line_manager() {
    let mut s = published(3);
    let mut f = form(3);
    if let LevelDetails::Participate { line_manager, .. } = &mut f.details {
        *line_manager = staff("u-new-manager", "Max Manager", false);
    }
    propose(&mut s, &contact(), f);
    // The proposer stands in the applicant's place for the change.
    assert_eq!(
        s.refused(&applicant(), risk_assessment(APPLICANT)),
        DomainError::NotAllowedToRecordRiskAssessment
    );
    s.ok(&contact(), risk_assessment(CONTACT));
    assert_eq!(
        s.refused(&line_manager(), Command::SignRiskAssessment),
        DomainError::NotTheNamedLineManager
    );
    s.ok(
        &Actor::new("u-new-manager", [Role::Staff, Role::LineManager]),
        Command::SignRiskAssessment,
    );
    assert_eq!(
        pending(&s).outstanding(),
        vec![Step::CommunicationsApproval]
    );
}

#[test]
fn a_change_of_business_contact_alone_keeps_the_level_sign_offs_and_needs_communications_approval()
{
    let mut s = published(3);
    let mut f = form(3);
    f.business_contact = staff("u-new-contact", "Nat Contact", true);
    propose(&mut s, &applicant(), f);
    let change = pending(&s);
    assert_eq!(change.required, vec![Step::CommunicationsApproval]);
    assert!(change.candidate.risk_signature.is_some());
    s.ok(&comms(), Command::Approve);
    s.ok(&comms(), Command::Publish);
    assert_eq!(
        s.state().unwrap().form.business_contact.subject,
        "u-new-contact"
    );
}

#[test]
fn a_change_to_the_senior_officer_or_the_topics_needs_a_new_senior_officer_sign_off() {
    let mut s = published(4);
    let mut f = form(4);
    if let LevelDetails::Engage { topics, .. } = &mut f.details {
        topics.truncate(1);
    }
    propose(&mut s, &applicant(), f);
    assert_eq!(
        pending(&s).outstanding(),
        vec![Step::SeniorOfficerSignOff, Step::CommunicationsApproval]
    );
    s.ok(&senior(), Command::SeniorOfficerSignOff);
    s.ok(&comms(), Command::Approve);
    s.ok(&comms(), Command::Publish);
    let state = s.state().unwrap();
    assert!(
        matches!(&state.form.details, LevelDetails::Engage { topics, .. } if topics.len() == 1)
    );
}

#[test]
fn a_new_logo_needs_its_own_approval_before_the_change_is_published() {
    let mut s = published(1);
    propose(&mut s, &applicant(), with_branding(form(1)));
    assert_eq!(
        pending(&s).outstanding(),
        vec![
            Step::BrandingApproval("youth-logo".into()),
            Step::CommunicationsApproval
        ]
    );
    s.ok(&comms(), Command::Approve);
    assert_eq!(
        s.refused(&comms(), Command::Publish),
        DomainError::BrandingNotApproved(vec!["youth-logo".into()])
    );
    s.ok(
        &comms(),
        Command::ApproveBrandingAsset {
            asset_id: "youth-logo".into(),
        },
    );
    s.ok(&comms(), Command::Publish);
    assert!(s
        .state()
        .unwrap()
        .branding_approvals
        .contains_key("youth-logo"));
}

#[test]
fn a_change_of_level_goes_through_the_new_levels_steps() {
    let mut s = published(1);
    let mut f = form(3);
    f.account = form(1).account;
    propose(&mut s, &applicant(), f);
    assert_eq!(
        pending(&s).outstanding(),
        vec![
            Step::RiskAssessment,
            Step::RiskAssessmentSignature,
            Step::CommunicationsApproval
        ]
    );
    s.ok(&applicant(), risk_assessment(APPLICANT));
    s.ok(&line_manager(), Command::SignRiskAssessment);
    s.ok(&comms(), Command::Approve);
    s.ok(&comms(), Command::Publish);
    assert_eq!(s.state().unwrap().level(), domain::Level::Participate);
}

#[test]
fn nobody_approves_or_publishes_a_change_they_proposed() {
    let mut s = published(1);
    propose(&mut s, &comms(), renamed(1));
    assert_eq!(
        s.refused(&comms(), Command::Approve),
        DomainError::SelfApprovalForbidden
    );
    let other_comms = Actor::new("u-comms-2", [Role::Staff, Role::Communications]);
    s.ok(&other_comms, Command::Approve);
    assert_eq!(
        s.refused(&comms(), Command::Publish),
        DomainError::SelfApprovalForbidden
    );
    s.ok(&other_comms, Command::Publish);
}

#[test]
fn a_published_rename_records_the_old_account_as_renamed_to_the_new_one() {
    let mut s = published(1);
    propose(&mut s, &applicant(), renamed(1));
    s.ok(&comms(), Command::Approve);
    let at = s.now;
    let events = s.ok(&comms(), Command::Publish);
    assert!(matches!(
        &events[0],
        RegistrationEvent::ChangePublished { renamed_from: Some(k), .. } if k.to_string() == "x:northlevel1"
    ));
    let state = s.state().unwrap();
    assert_eq!(state.account_key.to_string(), "x:northlvl1new");
    assert_eq!(state.former_keys.len(), 1);
    assert_eq!(
        state.former_keys[0].account_key.to_string(),
        "x:northlevel1"
    );
    assert_eq!(state.former_keys[0].renamed_to, state.account_key);
    assert_eq!(state.former_keys[0].renamed_at, at);
    assert_eq!(state.last_validated.as_ref().unwrap().at, at);
}

#[test]
fn a_refused_change_leaves_the_registration_published_as_it_was() {
    let mut s = published(1);
    propose(&mut s, &applicant(), renamed(1));
    let events = s.ok(
        &comms(),
        Command::Reject {
            reason: "That handle belongs to someone else".into(),
        },
    );
    assert!(matches!(
        &events[0],
        RegistrationEvent::ChangeRefused {
            role: Role::Communications,
            ..
        }
    ));
    let state = s.state().unwrap();
    assert_eq!(state.status, Status::Published);
    assert!(state.change.is_none());
    assert_eq!(state.account_key.to_string(), "x:northlevel1");
}

#[test]
fn changes_requested_on_a_change_wait_for_its_proposer_who_proposes_again() {
    let mut s = published(1);
    propose(&mut s, &contact(), renamed(1));
    s.ok(
        &comms(),
        Command::RequestChanges {
            reason: "Say why the handle changed".into(),
        },
    );
    assert_eq!(pending(&s).status(), Status::ChangesRequested);
    let waiting = s.state().unwrap().waiting_on();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].assignee.as_deref(), Some(CONTACT));
    propose(&mut s, &contact(), renamed(1));
    assert_eq!(pending(&s).status(), Status::Submitted);
}

#[test]
fn a_change_that_changes_nothing_is_refused() {
    let mut s = published(1);
    assert_eq!(
        s.refused(
            &applicant(),
            Command::ProposeChange {
                form: form(1),
                reason: "Nothing".into()
            }
        ),
        DomainError::NothingChanged
    );
    propose(&mut s, &applicant(), renamed(1));
    assert_eq!(
        s.refused(
            &applicant(),
            Command::ProposeChange {
                form: renamed(1),
                reason: "Again".into()
            }
        ),
        DomainError::NothingChanged
    );
}

#[test]
fn a_change_can_only_be_proposed_to_a_published_registration() {
    let s = approved(1);
    assert!(matches!(
        s.refused(
            &applicant(),
            Command::ProposeChange {
                form: renamed(1),
                reason: "Early".into()
            }
        ),
        DomainError::NotAllowedInStatus { .. }
    ));
}

#[test]
fn withdrawing_a_registration_drops_its_pending_change() {
    let mut s = published(1);
    propose(&mut s, &applicant(), renamed(1));
    s.ok(&comms(), withdraw("Service closed"));
    let state = s.state().unwrap();
    assert_eq!(state.status, Status::Withdrawn);
    assert!(state.change.is_none());
}

// --- The officer link-back --------------------------------------------------

fn link_back(url: &str) -> Command {
    Command::RecordOfficerLinkBack {
        profile_url: url.into(),
    }
}

#[test]
fn only_communications_records_that_a_published_officer_profile_links_back_and_only_for_its_account(
) {
    let mut s = published(3);
    let url = "https://x.com/NorthLevel3";
    for who in [
        applicant(),
        line_manager(),
        Actor::new(OFFICER, [Role::Staff]),
    ] {
        assert!(matches!(
            s.refused(&who, link_back(url)),
            DomainError::MissingRole {
                role: Role::Communications
            }
        ));
    }
    assert!(matches!(
        s.refused(&comms(), link_back("https://x.com/SomeoneElse")),
        DomainError::Invalid { field, .. } if field == "profileUrl"
    ));
    assert!(matches!(
        s.refused(&comms(), link_back("@NorthLevel3")),
        DomainError::Invalid { field, .. } if field == "profileUrl"
    ));
    let events = s.ok(&comms(), link_back(url));
    assert!(matches!(
        &events[0],
        RegistrationEvent::OfficerLinkBackChecked { officer_subject, profile_url, .. }
            if officer_subject == OFFICER && profile_url == url
    ));
    assert_eq!(s.state().unwrap().link_back.unwrap().checked.by, COMMS);
}

#[test]
fn the_link_back_check_applies_to_published_level_3_registrations_only() {
    assert!(matches!(
        published(1).refused(&comms(), link_back("https://x.com/NorthLevel1")),
        DomainError::WrongLevel { .. }
    ));
    assert!(matches!(
        approved(3).refused(&comms(), link_back("https://x.com/NorthLevel3")),
        DomainError::NotAllowedInStatus { .. }
    ));
}

#[test]
fn a_published_level_3_registration_waits_for_communications_to_check_the_link_back() {
    let mut s = published(3);
    let waiting = s.state().unwrap().waiting_on();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].role, Role::Communications);
    assert_eq!(waiting[0].task, domain::registration::Task::LinkBackCheck);
    s.ok(&comms(), link_back("https://x.com/NorthLevel3"));
    assert!(s.state().unwrap().waiting_on().is_empty());
}

#[test]
fn a_change_of_officer_needs_the_link_back_checked_again_and_a_change_of_contact_does_not() {
    let mut s = published(3);
    s.ok(&comms(), link_back("https://x.com/NorthLevel3"));
    let mut f = form(3);
    f.business_contact = staff("u-new-contact", "Nat Contact", true);
    propose(&mut s, &applicant(), f.clone());
    s.ok(&comms(), Command::Approve);
    s.ok(&comms(), Command::Publish);
    assert!(s.state().unwrap().link_back.is_some());
    if let LevelDetails::Participate { officer, .. } = &mut f.details {
        *officer = staff("u-new-officer", "Nia New", true);
    }
    propose(&mut s, &applicant(), f);
    s.ok(&applicant(), risk_assessment(APPLICANT));
    s.ok(&line_manager(), Command::SignRiskAssessment);
    s.ok(&comms(), Command::Approve);
    s.ok(&comms(), Command::Publish);
    assert!(s.state().unwrap().link_back.is_none());
}

// --- Policy versions ----------------------------------------------------------

fn policy(version: &str) -> domain::reference::ReferenceEvent {
    domain::reference::ReferenceEvent::PolicyVersionPublished {
        version: version.into(),
        published_on: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
        summary: "Adds rules for direct messages".into(),
        url: "https://intranet.north.gov.uk/policies/social-media".into(),
    }
}

fn publish_policy(s: &mut Scenario, version: &str) {
    let admin = Actor::new("u-admin", [Role::Admin]);
    let e = s.reference.decide(&admin, &policy(version)).unwrap();
    s.reference.apply(&e);
}

#[test]
fn only_admins_publish_policy_versions_and_each_version_once() {
    let mut s = Scenario::new();
    assert!(matches!(
        s.reference.decide(&comms(), &policy("2026.2")),
        Err(DomainError::MissingRole { role: Role::Admin })
    ));
    publish_policy(&mut s, "2026.2");
    let admin = Actor::new("u-admin", [Role::Admin]);
    assert!(matches!(
        s.reference.decide(&admin, &policy("2026.2")),
        Err(DomainError::ReferenceData(_))
    ));
    let mut bad = policy("2026.3");
    if let domain::reference::ReferenceEvent::PolicyVersionPublished { url, .. } = &mut bad {
        *url = "intranet/policy".into();
    }
    assert!(matches!(
        s.reference.decide(&admin, &bad),
        Err(DomainError::Invalid { field, .. }) if field == "url"
    ));
    assert_eq!(s.reference.current_policy().unwrap().version, "2026.2");
}

#[test]
fn a_form_must_acknowledge_the_current_policy_version_once_one_is_published() {
    let mut s = Scenario::new();
    publish_policy(&mut s, "2026.2");
    let id = s.id;
    assert!(matches!(
        s.refused(&applicant(), Command::Submit { id, form: form(1) }),
        DomainError::Invalid { field, problem } if field == "form.policyVersion" && problem.contains("2026.2")
    ));
    let mut f = form(1);
    f.policy_version = "2026.2".into();
    s.submit(f);
    assert_eq!(s.state().unwrap().policy_acknowledgement.version, "2026.2");
}

#[test]
fn after_a_new_policy_version_the_business_contact_and_only_they_re_acknowledge_it_for_a_published_account(
) {
    let mut s = published(1);
    assert_eq!(s.state().unwrap().policy_acknowledgement.version, "2026.1");
    publish_policy(&mut s, "2026.2");
    let ack = |v: &str| Command::AcknowledgePolicy { version: v.into() };
    for who in [applicant(), comms()] {
        assert_eq!(
            s.refused(&who, ack("2026.2")),
            DomainError::NotTheNamedContact
        );
    }
    assert!(matches!(
        s.refused(&contact(), ack("2026.1")),
        DomainError::Invalid { field, .. } if field == "version"
    ));
    s.ok(&contact(), ack("2026.2"));
    let state = s.state().unwrap();
    assert_eq!(state.policy_acknowledgement.version, "2026.2");
    assert_eq!(state.policy_acknowledgement.by.by, CONTACT);
    assert_eq!(
        s.refused(&contact(), ack("2026.2")),
        DomainError::PolicyAlreadyAcknowledged("2026.2".into())
    );
}

#[test]
fn a_published_change_acknowledges_the_policy_current_when_it_was_proposed() {
    let mut s = published(1);
    publish_policy(&mut s, "2026.2");
    let mut f = renamed(1);
    assert!(matches!(
        s.refused(
            &applicant(),
            Command::ProposeChange {
                form: f.clone(),
                reason: "Renamed".into()
            }
        ),
        DomainError::Invalid { field, .. } if field == "form.policyVersion"
    ));
    f.policy_version = "2026.2".into();
    propose(&mut s, &applicant(), f);
    assert_eq!(s.state().unwrap().policy_acknowledgement.version, "2026.1");
    s.ok(&comms(), Command::Approve);
    s.ok(&comms(), Command::Publish);
    assert_eq!(s.state().unwrap().policy_acknowledgement.version, "2026.2");
}

// --- Permanent account ids ----------------------------------------------------

fn permanent(id: &str) -> Command {
    Command::RecordPermanentId {
        permanent_id: id.into(),
    }
}

#[test]
fn communications_records_a_permanent_id_of_the_registrations_own_platform_at_any_time_before_withdrawal(
) {
    let mut s = Scenario::new();
    s.submit(form(1));
    assert!(matches!(
        s.refused(&applicant(), permanent("1234567890")),
        DomainError::MissingRole {
            role: Role::Communications
        }
    ));
    // An X account's id is a number: a YouTube channel id is refused.
    assert!(matches!(
        s.refused(&comms(), permanent("UCabcdefghijklmnopqrstuv")),
        DomainError::Invalid { field, .. } if field == "permanentId"
    ));
    s.ok(&comms(), permanent("1234567890"));
    assert_eq!(
        s.state().unwrap().permanent_id.unwrap().to_string(),
        "x:pid:1234567890"
    );
    assert_eq!(
        s.refused(&comms(), permanent(" 1234567890 ")),
        DomainError::PermanentIdAlreadyRecorded("x:pid:1234567890".into())
    );
    s.ok(&comms(), Command::Approve);
    s.ok(&comms(), Command::Publish);
    s.ok(&comms(), permanent("1234567891"));
    s.ok(&comms(), withdraw("Closed"));
    assert!(matches!(
        s.refused(&comms(), permanent("1234567892")),
        DomainError::NotAllowedInStatus { .. }
    ));
}

#[test]
fn a_rename_keeps_the_permanent_id_and_a_move_to_another_platform_drops_it() {
    let mut s = published(1);
    s.ok(&comms(), permanent("1234567890"));
    propose(&mut s, &applicant(), renamed(1));
    s.ok(&comms(), Command::Approve);
    s.ok(&comms(), Command::Publish);
    assert!(
        s.state().unwrap().permanent_id.is_some(),
        "same account, new name"
    );
    let mut f = renamed(1);
    f.platform = domain::platform::Platform::Instagram;
    f.account = "https://www.instagram.com/northlibraries".into();
    propose(&mut s, &applicant(), f);
    s.ok(&comms(), Command::Approve);
    s.ok(&comms(), Command::Publish);
    assert!(s.state().unwrap().permanent_id.is_none());
}

// --- Councillors and topic codes -------------------------------------------

fn engage_with(
    edit: impl FnOnce(&mut LevelDetails<domain::personal::Sealed>),
) -> domain::form::Form<domain::personal::Sealed> {
    let mut f = form(4);
    edit(&mut f.details);
    f
}

fn submit_refused(f: domain::form::Form<domain::personal::Sealed>) -> DomainError {
    let s = Scenario::new();
    let id = s.id;
    s.refused(&applicant(), Command::Submit { id, form: f })
}

fn field_of(e: &DomainError) -> &str {
    match e {
        DomainError::Invalid { field, .. } => field,
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

#[test]
fn level_4_topics_are_codes_from_the_topics_list_not_free_text() {
    let e = submit_refused(engage_with(|d| {
        if let LevelDetails::Engage { topics, .. } = d {
            topics[1] = "Road safety".into();
        }
    }));
    assert_eq!(field_of(&e), "form.details.topics[1]");
}

#[test]
fn a_level_4_form_names_a_councillor_with_authority_for_every_topic_or_says_none_is_involved() {
    // The councillor must be in the register as a councillor...
    let e = submit_refused(engage_with(|d| {
        if let LevelDetails::Engage { councillor_id, .. } = d {
            *councillor_id = Some(SENIOR.into());
        }
    }));
    assert_eq!(field_of(&e), "form.details.councillorId");
    // ...with authority for every topic.
    let mut s = Scenario::new();
    s.reference.apply(
        &domain::reference::ReferenceEvent::SpeakingAuthorityRevoked {
            subject: COUNCILLOR.into(),
            topic: "road-safety".into(),
        },
    );
    let id = s.id;
    let e = s.refused(&applicant(), Command::Submit { id, form: form(4) });
    assert!(matches!(&e, DomainError::Invalid { field, problem }
        if field == "form.details.councillorId" && problem.contains("road-safety")));
    // A name without the register id, or neither name nor "no councillor".
    let e = submit_refused(engage_with(|d| {
        if let LevelDetails::Engage { councillor_id, .. } = d {
            *councillor_id = None;
        }
    }));
    assert_eq!(field_of(&e), "form.details.councillorId");
    let e = submit_refused(engage_with(|d| {
        if let LevelDetails::Engage {
            councillor,
            councillor_id,
            ..
        } = d
        {
            *councillor = None;
            *councillor_id = None;
        }
    }));
    assert_eq!(field_of(&e), "form.details.councillor");
    // Both a councillor and "none" is a contradiction.
    let e = submit_refused(engage_with(|d| {
        if let LevelDetails::Engage { no_councillor, .. } = d {
            *no_councillor = true;
        }
    }));
    assert_eq!(field_of(&e), "form.details.noCouncillor");
    // An explicit "no councillor" is accepted.
    let mut s = Scenario::new();
    s.submit(engage_with(|d| {
        if let LevelDetails::Engage {
            councillor,
            councillor_id,
            no_councillor,
            ..
        } = d
        {
            *councillor = None;
            *councillor_id = None;
            *no_councillor = true;
        }
    }));
    assert_eq!(s.state().unwrap().status, Status::Submitted);
}

#[test]
fn councillors_are_granted_speaking_authority_on_listed_topics_as_officers_are() {
    let s = Scenario::new();
    let admin = Actor::new("u-admin", [Role::Admin]);
    let grant = |subject: &str, topic: &str, councillor: bool| {
        domain::reference::ReferenceEvent::SpeakingAuthorityGranted {
            subject: subject.into(),
            topic: topic.into(),
            councillor,
        }
    };
    assert!(matches!(
        s.reference.decide(&admin, &grant("cllr-new", "Highways", true)),
        Err(DomainError::Invalid { field, .. }) if field == "topic"
    ));
    assert!(s
        .reference
        .decide(&admin, &grant("cllr-new", "highways", true))
        .is_ok());
    // Someone in the register as an officer is not granted as a councillor.
    assert!(matches!(
        s.reference.decide(&admin, &grant(SENIOR, "parking", true)),
        Err(DomainError::Invalid { field, .. }) if field == "councillor"
    ));
    assert!(s.reference.is_councillor(COUNCILLOR));
    assert!(!s.reference.is_councillor(SENIOR));
}

// --- Imported (grandfathered) accounts ----------------------------------------

fn imported(level: u8) -> Scenario {
    let mut s = Scenario::new();
    let mut f = form(level);
    f.policy_version = String::new();
    f.policy_acknowledged = false;
    f.corporate_identity_acknowledged = false;
    let id = s.id;
    s.ok(
        &comms(),
        Command::Import {
            id,
            form: Box::new(f),
            permanent_id: Some("1234567890".into()),
            source: domain::registration::ImportSource {
                file_name: "existing-accounts.csv".into(),
                file_sha256: "ab".repeat(32),
                line: 7,
            },
            review_by: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
        },
    );
    s
}

#[test]
fn only_communications_imports_an_existing_account_and_it_is_published_grandfathered_at_once() {
    let s = Scenario::new();
    let id = s.id;
    let command = Command::Import {
        id,
        form: Box::new(form(1)),
        permanent_id: None,
        source: domain::registration::ImportSource {
            file_name: "f.csv".into(),
            file_sha256: "00".into(),
            line: 2,
        },
        review_by: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
    };
    assert!(matches!(
        s.refused(&applicant(), command),
        DomainError::MissingRole {
            role: Role::Communications
        }
    ));
    let state = imported(3).state().unwrap();
    assert_eq!(state.status, Status::Published);
    assert_eq!(state.published.as_ref().unwrap().by, COMMS);
    let g = state.grandfathered.as_ref().unwrap();
    assert_eq!(
        (g.source.line, g.source.file_name.as_str()),
        (7, "existing-accounts.csv")
    );
    assert_eq!(
        state.permanent_id.as_ref().unwrap().to_string(),
        "x:pid:1234567890"
    );
    // No sign-off was given for it.
    assert!(state.risk_signature.is_none() && state.approval.is_none());
}

#[test]
fn an_imported_account_is_due_for_its_full_review_by_the_import_date_and_plain_revalidation_is_refused(
) {
    let mut s = imported(1);
    let state = s.state().unwrap();
    let due = state.revalidation_due(t0(), 365).unwrap();
    assert_eq!(due.due_on, NaiveDate::from_ymd_opt(2026, 6, 1).unwrap());
    assert_eq!(
        s.refused(&contact(), Command::Revalidate),
        DomainError::FullReviewRequired
    );
    // The full review: the complete form, acknowledged, through every step.
    propose(&mut s, &contact(), form(1));
    assert_eq!(pending(&s).required, vec![Step::CommunicationsApproval]);
    s.ok(&comms(), Command::Approve);
    s.ok(&comms(), Command::Publish);
    let state = s.state().unwrap();
    assert!(state.grandfathered.is_none());
    assert_eq!(state.policy_acknowledgement.version, "2026.1");
    s.ok(&contact(), Command::Revalidate);
}

#[test]
fn the_full_review_of_an_imported_level_3_account_needs_the_risk_assessment_and_its_signature() {
    let mut s = imported(3);
    propose(&mut s, &contact(), form(3));
    assert_eq!(
        pending(&s).outstanding(),
        vec![
            Step::RiskAssessment,
            Step::RiskAssessmentSignature,
            Step::CommunicationsApproval
        ]
    );
    s.ok(&contact(), risk_assessment(CONTACT));
    s.ok(&line_manager(), Command::SignRiskAssessment);
    s.ok(&comms(), Command::Approve);
    s.ok(&comms(), Command::Publish);
    assert!(s.state().unwrap().risk_signature.is_some());
}

#[test]
fn an_imported_form_is_held_to_every_rule_but_the_acknowledgements() {
    let s = Scenario::new();
    let mut f = form(3);
    f.policy_acknowledged = false;
    if let LevelDetails::Participate { job_role, .. } = &mut f.details {
        *job_role = "astronaut".into();
    }
    let id = s.id;
    let e = s.refused(
        &comms(),
        Command::Import {
            id,
            form: Box::new(f),
            permanent_id: None,
            source: domain::registration::ImportSource {
                file_name: "f.csv".into(),
                file_sha256: "00".into(),
                line: 2,
            },
            review_by: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
        },
    );
    assert!(
        matches!(
            e,
            DomainError::JobRoleNotAccepted { .. } | DomainError::Invalid { .. }
        ),
        "{e:?}"
    );
}

// --- Who is told what ---------------------------------------------------------

fn told(s: &mut Scenario, who: &Actor, command: Command) -> Vec<domain::notify::Message> {
    let before = s.state();
    let base = s.events.len();
    let events = s.ok(who, command);
    let mut state = before.clone();
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let next = domain::registration::Registration::apply(state.clone(), e).unwrap();
        out.extend(domain::notify::on_event(
            state.as_ref(),
            &next,
            e,
            &who.subject,
            (base + i) as i64,
        ));
        state = Some(next);
    }
    out
}

fn to_whom(messages: &[domain::notify::Message]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|m| {
            (
                m.kind.name(),
                match &m.recipient {
                    domain::notify::Recipient::Person(p) => p.clone(),
                    domain::notify::Recipient::Role(r) => r.code().to_owned(),
                    domain::notify::Recipient::Operations => "operations".to_owned(),
                },
            )
        })
        .collect()
}

#[test]
fn the_named_line_manager_is_told_when_a_risk_assessment_waits_for_their_signature_and_nobody_of_their_own_act(
) {
    let mut s = Scenario::new();
    let id = s.id;
    let submitted = told(&mut s, &applicant(), Command::Submit { id, form: form(3) });
    // The applicant records the assessment: that waits for the applicant,
    // who is the one acting, so nobody is told.
    assert_eq!(to_whom(&submitted), vec![]);
    let recorded = told(&mut s, &applicant(), risk_assessment(APPLICANT));
    assert_eq!(
        to_whom(&recorded),
        vec![(
            "waiting:risk_assessment_signature".into(),
            LINE_MANAGER.into()
        )]
    );
    let signed = told(&mut s, &line_manager(), Command::SignRiskAssessment);
    assert_eq!(
        to_whom(&signed),
        vec![("waiting:approval".into(), "communications".into())]
    );
}

#[test]
fn the_consultation_team_is_told_of_a_level_2_hand_off_and_the_senior_officer_of_a_level_4_sign_off(
) {
    let mut s = Scenario::new();
    let id = s.id;
    let m = told(&mut s, &applicant(), Command::Submit { id, form: form(2) });
    assert_eq!(
        to_whom(&m),
        vec![("waiting:consultation_listing".into(), "consultation".into())]
    );
    let mut s = Scenario::new();
    let id = s.id;
    let m = told(&mut s, &applicant(), Command::Submit { id, form: form(4) });
    assert_eq!(
        to_whom(&m),
        vec![("waiting:senior_officer_sign_off".into(), SENIOR.into())]
    );
}

#[test]
fn requests_for_changes_and_rejections_go_to_whoever_must_answer_and_publication_to_applicant_and_contact(
) {
    let mut s = Scenario::new();
    let id = s.id;
    s.submit(form(1));
    let m = told(
        &mut s,
        &comms(),
        Command::RequestChanges {
            reason: "Add the feed".into(),
        },
    );
    assert!(to_whom(&m).contains(&("changes_requested".into(), APPLICANT.into())));
    let _ = id;
    let mut s = approved(1);
    let m = told(&mut s, &comms(), Command::Publish);
    let mut whom = to_whom(&m);
    whom.sort();
    assert_eq!(
        whom,
        vec![
            ("published".into(), APPLICANT.into()),
            ("published".into(), CONTACT.into())
        ]
    );
    // A change's refusal goes to its proposer.
    propose(&mut s, &contact(), renamed(1));
    let m = told(
        &mut s,
        &comms(),
        Command::Reject {
            reason: "Not that handle".into(),
        },
    );
    assert_eq!(to_whom(&m), vec![("rejected".into(), CONTACT.into())]);
    let m = told(&mut s, &comms(), withdraw("Closed"));
    let mut whom = to_whom(&m);
    whom.sort();
    assert_eq!(
        whom,
        vec![
            ("withdrawn".into(), APPLICANT.into()),
            ("withdrawn".into(), CONTACT.into())
        ]
    );
}

#[test]
fn the_same_facts_give_the_same_message_keys_so_a_replay_sends_nothing_twice() {
    let mut a = Scenario::new();
    let id = a.id;
    let first = told(&mut a, &applicant(), Command::Submit { id, form: form(4) });
    let mut b = Scenario::new();
    b.id = id;
    let again = told(&mut b, &applicant(), Command::Submit { id, form: form(4) });
    assert_eq!(first, again);
    assert!(first[0].key.starts_with("0/"), "{}", first[0].key);
}

#[test]
fn reminders_fall_due_thirty_days_before_a_revalidation_and_again_when_overdue_each_once() {
    let s = published(1);
    let r = s.state().unwrap();
    let published_on = r.published.as_ref().unwrap().at.date_naive();
    let due = published_on + Duration::days(365);
    let at = |d: NaiveDate| to_whom(&domain::notify::reminders(&r, d, 365, None));
    assert_eq!(at(due - Duration::days(31)), vec![]);
    assert_eq!(
        at(due - Duration::days(30)),
        vec![("revalidation_due_soon".into(), CONTACT.into())]
    );
    assert_eq!(
        at(due),
        vec![
            ("revalidation_overdue".into(), CONTACT.into()),
            ("revalidation_overdue".into(), "communications".into())
        ]
    );
    let day1 = domain::notify::reminders(&r, due, 365, None);
    let day2 = domain::notify::reminders(&r, due + Duration::days(1), 365, None);
    assert_eq!(day1, day2, "the key is the due date's, not the day's");
}

#[test]
fn a_new_policy_version_and_a_closing_consultation_remind_the_business_contact() {
    let r = published(1).state().unwrap();
    let today = r.published.as_ref().unwrap().at.date_naive();
    assert_eq!(
        to_whom(&domain::notify::reminders(&r, today, 365, Some("2026.2"))),
        vec![("policy_acknowledgement_due".into(), CONTACT.into())]
    );
    assert_eq!(
        to_whom(&domain::notify::reminders(&r, today, 365, Some("2026.1"))),
        vec![]
    );
    let r = published(2).state().unwrap();
    let closes = NaiveDate::from_ymd_opt(2026, 2, 5).unwrap();
    let on = |d| to_whom(&domain::notify::reminders(&r, d, 3650, None));
    assert_eq!(on(closes - Duration::days(8)), vec![]);
    assert_eq!(
        on(closes - Duration::days(7)),
        vec![("consultation_closing_soon".into(), CONTACT.into())]
    );
    assert_eq!(on(closes + Duration::days(1)), vec![]);
}

// --- What other systems are told (webhooks) ---------------------------------

fn facts(s: &mut Scenario, who: &Actor, command: Command) -> Vec<domain::webhook::WebhookKind> {
    let mut state = s.state();
    let events = s.ok(who, command);
    let mut out = Vec::new();
    for e in &events {
        let next = domain::registration::Registration::apply(state.clone(), e).unwrap();
        out.extend(domain::webhook::fact_of(state.as_ref(), &next, e));
        state = Some(next);
    }
    out
}

#[test]
fn only_public_facts_reach_webhooks_publication_revalidation_change_and_withdrawal_of_a_published_account(
) {
    use domain::webhook::WebhookKind::*;
    // Nothing before publication is public: submission, sign-offs, approval.
    let mut s = Scenario::new();
    s.submit(form(3));
    assert!(facts(&mut s, &applicant(), risk_assessment(APPLICANT)).is_empty());
    assert!(facts(&mut s, &line_manager(), Command::SignRiskAssessment).is_empty());
    assert!(facts(&mut s, &comms(), Command::Approve).is_empty());
    assert_eq!(
        facts(&mut s, &comms(), Command::Publish),
        vec![AccountPublished]
    );
    assert_eq!(
        facts(&mut s, &comms(), Command::Revalidate),
        vec![AccountRevalidated]
    );
    assert_eq!(
        facts(&mut s, &comms(), withdraw("Service closed")),
        vec![AccountWithdrawn]
    );
    // Withdrawing what was never published tells nobody outside.
    let mut s = approved(1);
    assert!(facts(&mut s, &comms(), withdraw("Not needed")).is_empty());
}
