//! Which stream an event belongs to, read from its stream id in one place.
//! Each aggregate names its own stream (`registration::stream_id`,
//! `report::stream_id`, …); this reads them back.

use uuid::Uuid;

/// The prefix of every registration stream.
pub const REGISTRATION: &str = "registration-";
/// The prefix of every fake-account report stream.
pub const REPORT: &str = "fakereport-";
/// The prefix of every person's privacy stream.
pub const PERSON: &str = "person-";
/// The prefix of the reference-data streams.
pub const REFERENCE: &str = "reference-";
/// The prefix of the one-active-registration-per-account claim streams.
pub const ACCOUNT_CLAIM: &str = "accountclaim-";
/// The prefix of every person's people-directory stream.
pub const DIRECTORY: &str = crate::directory::STREAM_PREFIX;
/// The prefix of every webhook endpoint's stream.
pub const WEBHOOK: &str = crate::webhook::STREAM_PREFIX;

/// What a stream id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// A registration.
    Registration(Uuid),
    /// A report of a fake account.
    Report(Uuid),
    /// A person's privacy stream (erasures).
    Person,
    /// Reference data.
    Reference,
    /// An account claim.
    AccountClaim,
    /// A webhook endpoint.
    Webhook(Uuid),
    /// A person's listing in the people directory (by person id).
    Directory(Uuid),
    /// A known prefix whose id does not parse.
    Malformed,
    /// Anything else.
    Other,
}

/// Read a stream id.
pub fn parse(stream_id: &str) -> Stream {
    let id =
        |rest: &str, kind: fn(Uuid) -> Stream| rest.parse::<Uuid>().map_or(Stream::Malformed, kind);
    if let Some(rest) = stream_id.strip_prefix(REGISTRATION) {
        id(rest, Stream::Registration)
    } else if let Some(rest) = stream_id.strip_prefix(REPORT) {
        id(rest, Stream::Report)
    } else if stream_id.starts_with(PERSON) {
        Stream::Person
    } else if stream_id.starts_with(REFERENCE) {
        Stream::Reference
    } else if let Some(rest) = stream_id.strip_prefix(WEBHOOK) {
        id(rest, Stream::Webhook)
    } else if let Some(rest) = stream_id.strip_prefix(DIRECTORY) {
        id(rest, Stream::Directory)
    } else if stream_id.starts_with(ACCOUNT_CLAIM) {
        Stream::AccountClaim
    } else {
        Stream::Other
    }
}

/// The registration a stream id names, if it names one.
pub fn registration_id(stream_id: &str) -> Option<Uuid> {
    match parse(stream_id) {
        Stream::Registration(id) => Some(id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_aggregates_stream_id_reads_back_as_its_kind() {
        let id = Uuid::new_v4();
        assert_eq!(
            parse(&crate::registration::stream_id(id)),
            Stream::Registration(id)
        );
        assert_eq!(parse(&crate::report::stream_id(id)), Stream::Report(id));
        assert_eq!(parse(&crate::privacy::stream_id(id)), Stream::Person);
        assert_eq!(parse("reference-platforms"), Stream::Reference);
        assert_eq!(parse(&crate::webhook::stream_id(id)), Stream::Webhook(id));
        assert_eq!(
            parse(&crate::directory::stream_id("u-1")),
            Stream::Directory(crate::personal::staff_person("u-1"))
        );
        assert_eq!(parse("registration-nope"), Stream::Malformed);
        assert_eq!(parse("other-1"), Stream::Other);
        assert_eq!(
            registration_id(&crate::registration::stream_id(id)),
            Some(id)
        );
    }
}
