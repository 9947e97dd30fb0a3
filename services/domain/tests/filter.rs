//! Which registrations a list shows (`domain::registration::Filter`).

mod common;

use common::*;
use domain::registration::{Filter, Status};

#[test]
fn a_search_finds_a_registration_by_its_services_name_as_well_as_its_code_and_account() {
    let mut s = Scenario::new();
    s.submit(form(1));
    let r = s.state().unwrap();
    let names =
        |code: &str| (code == r.form.service_area).then(|| "Libraries and Archives".to_owned());
    let search = |words: &str| Filter {
        search: Some(words.into()),
        ..Filter::default()
    };
    assert!(search("ARCHIVES").matches(&r, names));
    assert!(search(&r.form.service_area).matches(&r, names));
    assert!(search(&r.account_key.to_string()[2..]).matches(&r, names));
    assert!(!search("planning").matches(&r, names));
    assert!(
        search("   ").matches(&r, names),
        "blank words filter nothing"
    );
}

#[test]
fn every_given_filter_must_match() {
    let mut s = Scenario::new();
    s.submit(form(1));
    let r = s.state().unwrap();
    let none = |_: &str| None;
    let submitted = Filter {
        statuses: Some(vec![Status::Submitted]),
        applicant: Some(r.applicant.clone()),
        ..Filter::default()
    };
    assert!(submitted.matches(&r, none));
    let published = Filter {
        statuses: Some(vec![Status::Published]),
        ..submitted.clone()
    };
    assert!(!published.matches(&r, none));
    let other_applicant = Filter {
        applicant: Some("someone-else".into()),
        ..submitted
    };
    assert!(!other_applicant.matches(&r, none));
}
