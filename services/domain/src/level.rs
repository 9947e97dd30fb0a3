//! The four levels of the framework.

use serde::{Deserialize, Serialize};

/// A level of usage; each has its own requirements before publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 1: re-use existing content via RSS, or simple conversational updates.
    Broadcast,
    /// 2: structured feedback (surveys, blogs, video, podcasts).
    Consult,
    /// 3: an officer whose role already involves direct contact with the public.
    Participate,
    /// 4: formal discussion and debate with individuals, communities, groups.
    Engage,
}

impl Level {
    /// 1 to 4.
    pub fn number(self) -> u8 {
        match self {
            Level::Broadcast => 1,
            Level::Consult => 2,
            Level::Participate => 3,
            Level::Engage => 4,
        }
    }

    /// The framework's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Broadcast => "Broadcast",
            Level::Consult => "Consult",
            Level::Participate => "Participate",
            Level::Engage => "Engage",
        }
    }
}
