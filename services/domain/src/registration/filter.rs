//! Which registrations a list shows: one rule, used by the in-memory
//! filter of the registry at a past position and mirrored by the read
//! model's SQL filter (the black-box tests check that both agree).

use super::{Registration, Status};
use crate::platform::Platform;
use crate::Level;

/// Filters of a list of registrations; all given ones must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these statuses.
    pub statuses: Option<Vec<Status>>,
    /// Only this level.
    pub level: Option<Level>,
    /// Only this platform.
    pub platform: Option<Platform>,
    /// Only this service area (code).
    pub service_area: Option<String>,
    /// Only those naming this staff id.
    pub named_subject: Option<String>,
    /// Only those submitted by this staff id.
    pub applicant: Option<String>,
    /// Words found, case-insensitively, in the account (as typed or
    /// canonical) or the service (its code or its name).
    pub search: Option<String>,
}

impl Filter {
    /// True when `r` passes every given filter; `service_name` names a
    /// service area's code.
    pub fn matches(&self, r: &Registration, service_name: impl Fn(&str) -> Option<String>) -> bool {
        self.statuses
            .as_ref()
            .is_none_or(|list| list.contains(&r.status))
            && self.level.is_none_or(|l| l == r.level())
            && self.platform.is_none_or(|p| p == r.form.platform)
            && self
                .service_area
                .as_ref()
                .is_none_or(|s| *s == r.form.service_area)
            && self
                .named_subject
                .as_ref()
                .is_none_or(|s| r.named_subjects().contains(s.as_str()))
            && self.applicant.as_ref().is_none_or(|a| *a == r.applicant)
            && self.search_matches(r, service_name)
    }

    fn search_matches(
        &self,
        r: &Registration,
        service_name: impl Fn(&str) -> Option<String>,
    ) -> bool {
        let Some(words) = self
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return true;
        };
        let words = words.to_lowercase();
        let name = service_name(&r.form.service_area).unwrap_or_default();
        [
            r.account_key.to_string(),
            r.form.account.clone(),
            r.form.service_area.clone(),
            name,
        ]
        .iter()
        .any(|text| text.to_lowercase().contains(&words))
    }
}
