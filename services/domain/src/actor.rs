//! Who is acting: the subject of a signed-in person and the roles they hold.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A role from the JWT `roles` claim (see DESIGN.md, "Who uses it").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Submits, amends and withdraws their own registrations.
    Staff,
    /// Signs the risk assessment of a level-3 registration that names them.
    LineManager,
    /// Signs off a level-4 registration that names them.
    SeniorOfficer,
    /// Approves, publishes, withdraws, re-validates; manages platforms.
    Communications,
    /// Records the Consultation Finder listing of level-2 registrations.
    Consultation,
    /// Reads everything, changes nothing.
    Auditor,
    /// Manages reference data.
    Admin,
    /// Erases personal data, answers subject access requests.
    DataProtection,
    /// Another system (the council's website, a CRM): reads public facts
    /// and webhook deliveries, and nothing else.
    Integration,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 9] = [
        Role::Staff,
        Role::LineManager,
        Role::SeniorOfficer,
        Role::Communications,
        Role::Consultation,
        Role::Auditor,
        Role::Admin,
        Role::DataProtection,
        Role::Integration,
    ];

    /// The claim value, e.g. `line_manager`.
    pub fn code(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::LineManager => "line_manager",
            Role::SeniorOfficer => "senior_officer",
            Role::Communications => "communications",
            Role::Consultation => "consultation",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::DataProtection => "data_protection",
            Role::Integration => "integration",
        }
    }

    /// The role with this claim value.
    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A signed-in person: their stable subject id and their roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The identity provider's subject (a staff id, not a name).
    pub subject: String,
    /// The roles they hold.
    pub roles: BTreeSet<Role>,
}

impl Actor {
    /// An actor with the given subject and roles.
    pub fn new(subject: impl Into<String>, roles: impl IntoIterator<Item = Role>) -> Self {
        Actor {
            subject: subject.into(),
            roles: roles.into_iter().collect(),
        }
    }

    /// True when they hold `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}
