//! Who may read what. The rules of DESIGN.md ("Who uses it") as pure
//! functions, so the API's resolvers, subscriptions and replays say the
//! same thing.
//!
//! - Communications, auditors and data protection read every registration.
//! - The consultation team reads every level-2 registration.
//! - Anyone else signed in reads the registrations they submitted or are
//!   named on (business contact, officer, line manager, senior officer).
//! - Contact details (email, telephone) of a person named on a form are
//!   shown only to that person, the applicant, communications, auditors,
//!   data protection, and (for a level-2 business contact) the consultation
//!   team. Other readers see names only.

use crate::form::StaffRef;
use crate::level::Level;
use crate::registration::Registration;
use crate::{Actor, Role};

/// Roles that read every registration.
pub const READ_ALL: [Role; 3] = [Role::Communications, Role::Auditor, Role::DataProtection];

/// True when `actor` is another system's identity only: it reads public
/// facts and webhook deliveries, and nothing that needs a member of staff.
pub fn integration_only(actor: &Actor) -> bool {
    actor.has(Role::Integration) && actor.roles.len() == 1
}

/// True when `actor` may read `r` at all.
pub fn may_read(actor: &Actor, r: &Registration) -> bool {
    !integration_only(actor) && READ_ALL.iter().any(|role| actor.has(*role))
        || (actor.has(Role::Consultation) && r.level() == Level::Consult)
        || involved(actor, r)
}

/// Which registrations `actor` may list, in a form a read model can filter
/// by (the same rule as [`may_read`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadScope {
    /// Every registration.
    All,
    /// Those they submitted or are named on, and every level-2
    /// registration when `consultations` (the consultation team).
    Involved {
        /// Their staff id.
        subject: String,
        /// They also read every level-2 registration.
        consultations: bool,
    },
}

/// What `actor` may list.
pub fn read_scope(actor: &Actor) -> ReadScope {
    if READ_ALL.iter().any(|role| actor.has(*role)) {
        ReadScope::All
    } else {
        ReadScope::Involved {
            subject: actor.subject.clone(),
            consultations: actor.has(Role::Consultation),
        }
    }
}

/// True when `actor`, reading the queue of `role`, sees only what waits for
/// them by name (line managers, senior officers and staff; auditors see
/// every queue whole).
pub fn queue_named_only(actor: &Actor, role: Role) -> bool {
    matches!(role, Role::LineManager | Role::SeniorOfficer | Role::Staff)
        && !actor.has(Role::Auditor)
}

/// True when `actor` submitted `r` or is named on it.
pub fn involved(actor: &Actor, r: &Registration) -> bool {
    r.applicant == actor.subject || r.named_subjects().contains(actor.subject.as_str())
}

/// True when `actor` may see the contact details of `person` on `r`.
pub fn may_see_contact<P>(actor: &Actor, r: &Registration, person: &StaffRef<P>) -> bool {
    READ_ALL.iter().any(|role| actor.has(*role))
        || r.applicant == actor.subject
        || person.subject == actor.subject
        || (actor.has(Role::Consultation)
            && r.level() == Level::Consult
            && person.subject == r.form.business_contact.subject)
}

/// The roles whose approval activity `actor` may watch as `role`.
pub fn may_watch(actor: &Actor, role: Role) -> bool {
    actor.has(role) || actor.has(Role::Auditor)
}

/// True when an approval-activity event on `r` is visible to `actor`
/// watching as `role`: communications and auditors see everything; the
/// consultation team level 2; line managers and senior officers what names
/// them in that capacity; staff their own and those naming them.
pub fn activity_visible(actor: &Actor, role: Role, r: &Registration) -> bool {
    match role {
        Role::Communications | Role::Auditor | Role::DataProtection => true,
        Role::Consultation => r.level() == Level::Consult,
        Role::LineManager => r.line_manager() == Some(actor.subject.as_str()),
        Role::SeniorOfficer => r.senior_officer() == Some(actor.subject.as_str()),
        Role::Staff | Role::Admin => involved(actor, r),
        Role::Integration => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::{Form, LevelDetails};
    use crate::personal::Sealed;
    use crate::platform::{normalise, Platform};
    use crate::registration::RegistrationEvent;
    use chrono::{NaiveDate, Utc};
    use uuid::Uuid;

    fn person(subject: &str) -> StaffRef<Sealed> {
        StaffRef {
            subject: subject.into(),
            name: Sealed {
                person: Uuid::nil(),
                sealed: "x".into(),
            },
            email: None,
            phone: None,
        }
    }

    fn registration(details: LevelDetails<Sealed>) -> Registration {
        let form = Form {
            platform: Platform::X,
            account: "@north".into(),
            service_area: "youth".into(),
            business_contact: person("contact"),
            policy_version: "1".into(),
            policy_acknowledged: true,
            corporate_identity_acknowledged: true,
            branding_assets: vec![],
            details,
        };
        Registration::apply(
            None,
            &RegistrationEvent::RegistrationSubmitted {
                id: Uuid::new_v4(),
                applicant: "applicant".into(),
                account_key: normalise(Platform::X, "@north").unwrap(),
                form,
                at: Utc::now(),
            },
        )
        .unwrap()
    }

    fn level3() -> Registration {
        registration(LevelDetails::Participate {
            officer: person("officer"),
            job_role: "youth-worker".into(),
            line_manager: person("manager"),
        })
    }

    fn level2() -> Registration {
        let d = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        registration(LevelDetails::Consult {
            topic: "Parks".into(),
            opens_on: d,
            closes_on: d,
        })
    }

    #[test]
    fn a_member_of_staff_reads_only_registrations_they_submitted_or_are_named_on() {
        let r = level3();
        for subject in ["applicant", "contact", "officer", "manager"] {
            assert!(
                may_read(&Actor::new(subject, [Role::Staff]), &r),
                "{subject}"
            );
        }
        assert!(!may_read(
            &Actor::new("stranger", [Role::Staff, Role::LineManager]),
            &r
        ));
        assert!(may_read(&Actor::new("c", [Role::Communications]), &r));
        assert!(may_read(&Actor::new("a", [Role::Auditor]), &r));
    }

    #[test]
    fn the_consultation_team_reads_level_2_registrations_only() {
        let team = Actor::new("t", [Role::Consultation]);
        assert!(may_read(&team, &level2()));
        assert!(!may_read(&team, &level3()));
    }

    #[test]
    fn contact_details_are_shown_to_the_person_the_applicant_and_communications_but_not_to_other_named_staff(
    ) {
        let r = level3();
        let LevelDetails::Participate { officer, .. } = &r.form.details else {
            unreachable!()
        };
        assert!(may_see_contact(
            &Actor::new("officer", [Role::Staff]),
            &r,
            officer
        ));
        assert!(may_see_contact(
            &Actor::new("applicant", [Role::Staff]),
            &r,
            officer
        ));
        assert!(may_see_contact(
            &Actor::new("c", [Role::Communications]),
            &r,
            officer
        ));
        assert!(!may_see_contact(
            &Actor::new("manager", [Role::LineManager]),
            &r,
            officer
        ));
        let team = Actor::new("t", [Role::Consultation]);
        let r2 = level2();
        assert!(may_see_contact(&team, &r2, &r2.form.business_contact));
    }

    #[test]
    fn a_line_manager_watches_only_the_registrations_that_name_them_as_line_manager() {
        let r = level3();
        assert!(activity_visible(
            &Actor::new("manager", [Role::LineManager]),
            Role::LineManager,
            &r
        ));
        assert!(!activity_visible(
            &Actor::new("officer", [Role::LineManager]),
            Role::LineManager,
            &r
        ));
        assert!(activity_visible(
            &Actor::new("c", [Role::Communications]),
            Role::Communications,
            &r
        ));
        assert!(!activity_visible(
            &Actor::new("t", [Role::Consultation]),
            Role::Consultation,
            &r
        ));
    }
}
