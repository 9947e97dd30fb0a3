//! One active registration per canonical account (`domain::claims`).

mod common;

use common::*;
use domain::claims::{decide_claim, last_holder, stream_id, ClaimEvent};
use domain::DomainError;
use uuid::Uuid;

#[test]
fn an_account_held_by_a_live_registration_cannot_be_claimed_by_another() {
    let mut held = Scenario::new();
    held.submit(form(1));
    let holder = held.state().unwrap();
    let key = holder.account_key.clone();
    let refused = decide_claim(&key, Uuid::new_v4(), Some(&holder)).unwrap_err();
    assert!(matches!(
        refused,
        DomainError::AccountAlreadyRegistered { registration, .. } if registration == holder.id
    ));
    // The holder itself may claim it again (an amendment that keeps it).
    assert!(decide_claim(&key, holder.id, Some(&holder)).is_ok());
}

#[test]
fn a_claim_lapses_when_its_registration_is_withdrawn() {
    let mut held = Scenario::new();
    held.submit(form(1));
    held.ok(
        &applicant(),
        domain::registration::Command::Withdraw {
            reason: "Account closed".into(),
        },
    );
    let holder = held.state().unwrap();
    let claimed = decide_claim(&holder.account_key, Uuid::new_v4(), Some(&holder)).unwrap();
    let ClaimEvent::AccountClaimed {
        registration_id, ..
    } = &claimed;
    assert_ne!(*registration_id, holder.id);
    assert_eq!(
        last_holder(std::slice::from_ref(&claimed)),
        Some(*registration_id)
    );
    assert!(stream_id(&holder.account_key).starts_with("accountclaim-"));
}

#[test]
fn a_pending_change_to_another_account_holds_that_account_too() {
    let mut held = Scenario::new();
    held.submit(form(1));
    held.ok(&comms(), domain::registration::Command::Approve);
    held.ok(&comms(), domain::registration::Command::Publish);
    let mut f = form(1);
    f.account = "https://x.com/NorthRenamed".into();
    held.ok(
        &applicant(),
        domain::registration::Command::ProposeChange {
            form: f,
            reason: "Renamed".into(),
        },
    );
    let holder = held.state().unwrap();
    let new_key = holder
        .change
        .as_ref()
        .unwrap()
        .candidate
        .account_key
        .clone();
    for key in [&holder.account_key, &new_key] {
        assert!(matches!(
            decide_claim(key, Uuid::new_v4(), Some(&holder)),
            Err(DomainError::AccountAlreadyRegistered { .. })
        ));
    }
}

#[test]
fn a_permanent_id_is_held_by_one_live_registration() {
    let mut held = Scenario::new();
    held.submit(form(1));
    held.ok(
        &comms(),
        domain::registration::Command::RecordPermanentId {
            permanent_id: "1234567890".into(),
        },
    );
    let holder = held.state().unwrap();
    let pid = holder.permanent_id.clone().unwrap();
    assert!(matches!(
        decide_claim(&pid, Uuid::new_v4(), Some(&holder)),
        Err(DomainError::AccountAlreadyRegistered { account, .. }) if account == "x:pid:1234567890"
    ));
}
