//! A small demonstration council, loaded through the same commands real
//! users issue (`social-registry seed-demo`): reference data, and
//! registrations at all four levels in every state, including a withdrawn
//! account and published level-3 officers.

use chrono::NaiveDate;
use domain::form::{BrandingAsset, Form, LevelDetails, PressMedia, StaffRef};
use domain::platform::Platform;
use domain::reference::ReferenceEvent;
use domain::registration::{Command, Risk, RiskAssessmentInput};
use domain::{Actor, Role};
use uuid::Uuid;

use crate::commands::{HandleError, Handler, Request, RequestMeta};

/// What the seed made.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seeded {
    /// Registrations submitted.
    pub registrations: usize,
    /// Of which published (and not withdrawn).
    pub published: usize,
    /// Log position after seeding.
    pub position: i64,
}

/// The demonstration people: subject, display name, roles.
pub const PEOPLE: [(&str, &str, &[Role]); 8] = [
    ("demo-alex", "Alex Applicant", &[Role::Staff]),
    (
        "demo-morgan",
        "Morgan Manager",
        &[Role::Staff, Role::LineManager],
    ),
    (
        "demo-sam",
        "Sam Senior",
        &[Role::Staff, Role::SeniorOfficer],
    ),
    (
        "demo-chris",
        "Chris Comms",
        &[Role::Staff, Role::Communications],
    ),
    (
        "demo-priya",
        "Priya Consult",
        &[Role::Staff, Role::Consultation],
    ),
    ("demo-ada", "Ada Auditor", &[Role::Auditor]),
    ("demo-ari", "Ari Admin", &[Role::Admin]),
    ("demo-dana", "Dana Protection", &[Role::DataProtection]),
];

/// A demonstration person's job title and unit, for the people directory.
pub fn job_of(subject: &str) -> (Option<&'static str>, Option<&'static str>) {
    match subject {
        "demo-alex" => (Some("Library Assistant"), Some("Libraries and Archives")),
        "demo-morgan" => (Some("Youth Services Manager"), Some("Youth Services")),
        "demo-sam" => (Some("Head of Parks"), Some("Environment")),
        "demo-chris" => (Some("Communications Officer"), Some("Communications")),
        "demo-priya" => (Some("Consultation Officer"), Some("Policy and Engagement")),
        "demo-ada" => (Some("Internal Auditor"), Some("Audit")),
        "demo-ari" => (Some("Systems Administrator"), Some("Digital Services")),
        "demo-dana" => (
            Some("Data Protection Officer"),
            Some("Information Governance"),
        ),
        _ => (None, None),
    }
}

fn person(subject: &str) -> RequestMeta {
    let (_, name, roles) = PEOPLE
        .iter()
        .find(|p| p.0 == subject)
        .expect("a demo person");
    RequestMeta {
        actor: Actor::new(subject, roles.iter().copied()),
        display_name: Some((*name).to_owned()),
        correlation_id: format!("seed-demo-{}", Uuid::new_v4()),
        idempotency_key: None,
        expected_version: None,
        trace_id: None,
    }
}

fn staff(subject: &str, name: &str) -> StaffRef<String> {
    StaffRef {
        subject: subject.into(),
        name: name.into(),
        email: Some(format!(
            "{}@north-county.example",
            name.to_lowercase().replace(' ', ".")
        )),
        phone: Some("01632 960000".into()),
    }
}

fn form(
    platform: Platform,
    account: &str,
    service_area: &str,
    details: LevelDetails<String>,
) -> Form<String> {
    Form {
        platform,
        account: account.into(),
        service_area: service_area.into(),
        business_contact: staff("demo-alex", "Alex Applicant"),
        policy_version: "2026.1".into(),
        policy_acknowledged: true,
        corporate_identity_acknowledged: true,
        branding_assets: vec![],
        details,
    }
}

fn broadcast(types: &[&str]) -> LevelDetails<String> {
    LevelDetails::Broadcast {
        information_types: types.iter().map(|t| (*t).to_owned()).collect(),
        content_sources: vec!["https://www.north-county.example/news/feed.rss".into()],
    }
}

fn consult(topic: &str) -> LevelDetails<String> {
    LevelDetails::Consult {
        topic: topic.into(),
        opens_on: NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date"),
        closes_on: NaiveDate::from_ymd_opt(2027, 2, 28).expect("a date"),
    }
}

fn participate(officer: (&str, &str), job_role: &str) -> LevelDetails<String> {
    LevelDetails::Participate {
        officer: staff(officer.0, officer.1),
        job_role: job_role.into(),
        line_manager: staff("demo-morgan", "Morgan Manager"),
    }
}

fn engage(topics: &[&str]) -> LevelDetails<String> {
    LevelDetails::Engage {
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        senior_officer: staff("demo-sam", "Sam Senior"),
        councillor: Some("Cllr Jo Rivers".into()),
        councillor_id: Some("cllr-jo-rivers".into()),
        no_councillor: false,
        press_media: PressMedia {
            invited: true,
            involved: false,
            arrangements: Some("Press release before each live debate".into()),
        },
    }
}

struct Seeder<'a> {
    handler: &'a Handler,
    seeded: Seeded,
}

impl Seeder<'_> {
    async fn reference(&mut self, change: ReferenceEvent) -> Result<(), HandleError> {
        self.seeded.position = self.handler.reference(change, &person("demo-ari")).await?;
        Ok(())
    }

    async fn submit(&mut self, form: Form<String>) -> Result<Uuid, HandleError> {
        let id = Uuid::new_v4();
        self.seeded.registrations += 1;
        self.run(id, "demo-alex", Request::Submit(form)).await?;
        Ok(id)
    }

    async fn run(&mut self, id: Uuid, who: &str, request: Request) -> Result<(), HandleError> {
        let outcome = self.handler.handle(id, request, &person(who)).await?;
        self.seeded.position = outcome.position;
        Ok(())
    }

    async fn steps(&mut self, id: Uuid, steps: &[(&str, Command)]) -> Result<(), HandleError> {
        for (who, command) in steps {
            self.run(id, who, Request::Other(command.clone())).await?;
            if matches!(command, Command::Publish) {
                self.seeded.published += 1;
            }
            if matches!(command, Command::Withdraw { .. }) {
                self.seeded.published -= 1;
            }
        }
        Ok(())
    }

    async fn risk_assessment(&mut self, id: Uuid) -> Result<(), HandleError> {
        let input = RiskAssessmentInput {
            assessor: "Morgan Manager".into(),
            assessor_subject: "demo-morgan".into(),
            assessed_on: NaiveDate::from_ymd_opt(2026, 11, 2).expect("a date"),
            risks: vec![
                Risk {
                    risk: "Messages from young people out of hours".into(),
                    mitigation: "Auto-reply with office hours and the emergency number".into(),
                },
                Risk {
                    risk: "Disclosure of a safeguarding concern".into(),
                    mitigation: "Follow the safeguarding procedure; officer trained".into(),
                },
            ],
            document_reference: "RA-YOUTH-2026-014".into(),
        };
        self.run(id, "demo-alex", Request::RecordRiskAssessment(input))
            .await
    }
}

/// Load the demonstration council. The caller checks the log is empty.
pub async fn seed(handler: &Handler) -> Result<Seeded, HandleError> {
    let mut s = Seeder {
        handler,
        seeded: Seeded::default(),
    };
    // The people directory lists the demonstration people, as an admin's
    // import would, so the forms' person picker finds them all.
    let mut csv = String::from("subject,name,email,job_title,unit\n");
    for (subject, name, _) in PEOPLE {
        let (title, unit) = job_of(subject);
        csv += &format!(
            "{subject},{name},{subject}@council.example,{},{}\n",
            title.unwrap_or_default(),
            unit.unwrap_or_default()
        );
    }
    let listed = handler
        .import_people("demo-people.csv", &csv, &person("demo-ari"))
        .await
        .map_err(|e| match e {
            crate::commands::PeopleImportError::Handle(h) => h,
            rows => HandleError::Domain(domain::DomainError::Invalid {
                field: "demo people".into(),
                problem: rows.to_string(),
            }),
        })?;
    s.seeded.position = s.seeded.position.max(listed.position);
    for (code, name) in [
        ("libraries", "Libraries and Archives"),
        ("youth", "Youth Services"),
        ("parks", "Parks and Countryside"),
        ("highways", "Highways and Transport"),
        ("planning", "Planning"),
    ] {
        s.reference(ReferenceEvent::OrganisationalUnitAdded {
            code: code.into(),
            name: name.into(),
        })
        .await?;
    }
    for (code, title) in [
        ("youth-worker", "Youth Worker"),
        ("youth-participation-worker", "Youth Participation Worker"),
        ("countryside-ranger", "Countryside Ranger"),
    ] {
        s.reference(ReferenceEvent::JobRoleAccepted {
            code: code.into(),
            title: title.into(),
        })
        .await?;
    }
    s.reference(ReferenceEvent::PolicyVersionPublished {
        version: "2026.1".into(),
        published_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 12).expect("a date"),
        summary: "Social media and online participation policy, first edition".into(),
        url: "https://intranet.example.gov.uk/policies/social-media".into(),
    })
    .await?;
    for (code, name) in [
        ("parks", "Parks"),
        ("countryside", "Countryside and rights of way"),
        ("local-plan", "The local plan"),
    ] {
        s.reference(ReferenceEvent::TopicAdded {
            code: code.into(),
            name: name.into(),
        })
        .await?;
        for (subject, councillor) in [("demo-sam", false), ("cllr-jo-rivers", true)] {
            s.reference(ReferenceEvent::SpeakingAuthorityGranted {
                subject: subject.into(),
                topic: code.into(),
                councillor,
            })
            .await?;
        }
    }

    let approve = ("demo-chris", Command::Approve);
    let publish = ("demo-chris", Command::Publish);

    // Level 1: published; awaiting branding; withdrawn; rejected.
    let id = s
        .submit(form(
            Platform::X,
            "https://x.com/NorthCountyLibs",
            "libraries",
            broadcast(&["Opening hours", "Events"]),
        ))
        .await?;
    s.steps(id, &[approve.clone(), publish.clone()]).await?;
    let mut with_logo = form(
        Platform::Facebook,
        "https://www.facebook.com/NorthCountyReads/",
        "libraries",
        broadcast(&["Reading challenge news"]),
    );
    with_logo.branding_assets = vec![BrandingAsset {
        id: "reading-challenge-logo".into(),
        description: "Summer reading challenge logo for the cover image".into(),
        reference: "DAM-2026-0412".into(),
    }];
    s.submit(with_logo).await?;
    let id = s
        .submit(form(
            Platform::X,
            "@NorthRoads",
            "highways",
            broadcast(&["Road closures"]),
        ))
        .await?;
    s.steps(
        id,
        &[
            approve.clone(),
            publish.clone(),
            (
                "demo-chris",
                Command::Withdraw {
                    reason: "Replaced by the corporate travel account".into(),
                },
            ),
        ],
    )
    .await?;
    let id = s
        .submit(form(
            Platform::Tiktok,
            "@northcountyfun",
            "parks",
            broadcast(&["Event clips"]),
        ))
        .await?;
    s.steps(
        id,
        &[(
            "demo-chris",
            Command::Reject {
                reason: "Parks events are covered by the main council account".into(),
            },
        )],
    )
    .await?;

    // Level 2: awaiting the Consultation Finder listing; approved; published.
    s.submit(form(
        Platform::Facebook,
        "facebook.com/NorthLocalPlan",
        "planning",
        consult("Local plan 2027–2042"),
    ))
    .await?;
    let listed = |r: &str| {
        (
            "demo-priya",
            Command::RecordConsultationListing {
                finder_reference: r.into(),
            },
        )
    };
    let id = s
        .submit(form(
            Platform::Youtube,
            "https://www.youtube.com/@NorthCountyConsults",
            "libraries",
            consult("Mobile library routes"),
        ))
        .await?;
    s.steps(id, &[listed("CF-2026-101"), approve.clone()])
        .await?;
    let id = s
        .submit(form(
            Platform::Instagram,
            "instagram.com/northcountyparksviews",
            "parks",
            consult("Play areas"),
        ))
        .await?;
    s.steps(
        id,
        &[listed("CF-2026-102"), approve.clone(), publish.clone()],
    )
    .await?;

    // Level 3: awaiting the risk assessment; awaiting the signature; changes
    // requested; two published officers.
    s.submit(form(
        Platform::Instagram,
        "@north.youth.club",
        "youth",
        participate(("demo-olivia", "Olivia Officer"), "youth-worker"),
    ))
    .await?;
    let id = s
        .submit(form(
            Platform::Threads,
            "@north.youth.voice",
            "youth",
            participate(("demo-yusuf", "Yusuf Youngs"), "youth-participation-worker"),
        ))
        .await?;
    s.risk_assessment(id).await?;
    let id = s
        .submit(form(
            Platform::Facebook,
            "facebook.com/NorthRangersHeath",
            "parks",
            participate(("demo-rhian", "Rhian Ranger"), "countryside-ranger"),
        ))
        .await?;
    s.risk_assessment(id).await?;
    s.steps(
        id,
        &[(
            "demo-morgan",
            Command::RequestChanges {
                reason: "Name the heath in the account, as on the signs".into(),
            },
        )],
    )
    .await?;
    for (account, officer, job) in [
        (
            "https://x.com/NorthYouthWork",
            ("demo-olivia", "Olivia Officer"),
            "youth-worker",
        ),
        (
            "https://www.instagram.com/north.rangers/",
            ("demo-rhian", "Rhian Ranger"),
            "countryside-ranger",
        ),
    ] {
        let platform = if account.contains("x.com") {
            Platform::X
        } else {
            Platform::Instagram
        };
        let area = if job == "youth-worker" {
            "youth"
        } else {
            "parks"
        };
        let id = s
            .submit(form(platform, account, area, participate(officer, job)))
            .await?;
        s.risk_assessment(id).await?;
        s.steps(
            id,
            &[
                ("demo-morgan", Command::SignRiskAssessment),
                approve.clone(),
                publish.clone(),
            ],
        )
        .await?;
    }

    // Level 4: awaiting the senior officer; published.
    s.submit(form(
        Platform::Facebook,
        "facebook.com/NorthCountrysideDebate",
        "parks",
        engage(&["countryside"]),
    ))
    .await?;
    let id = s
        .submit(form(
            Platform::Youtube,
            "youtube.com/@NorthCountyDebates",
            "planning",
            engage(&["local-plan"]),
        ))
        .await?;
    s.steps(
        id,
        &[
            ("demo-sam", Command::SeniorOfficerSignOff),
            approve,
            publish,
        ],
    )
    .await?;
    Ok(s.seeded)
}
