//! The people directory through the one pipeline: a sign-in lists the
//! person signing in from their claims; an admin's import lists each row
//! of a file. A listing that says what is already listed appends nothing,
//! so every sign-in may try.

use domain::directory::{self, DirectoryEvent, PersonDetails, Source};
use domain::personal::{staff_person, Sealed};
use event_store::{ExpectedVersion, NewEvent, StreamAppend};

use super::{metadata, seal, HandleError, Handler, RequestMeta};

/// How many rows of an import are appended in one transaction.
const IMPORT_CHUNK: usize = 200;

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeopleImport {
    /// Rows listed (new people, or changed details).
    pub listed: usize,
    /// Rows that said what was already listed.
    pub unchanged: usize,
    /// The log position of the last listing (0 when none).
    pub position: i64,
}

/// Why an import was refused: every bad row, and nothing listed.
#[derive(Debug, thiserror::Error)]
pub enum PeopleImportError {
    /// Rows that cannot be listed.
    #[error("{} problems in the file", .0.len())]
    Rows(Vec<directory::ImportProblem>),
    /// Anything else.
    #[error(transparent)]
    Handle(#[from] HandleError),
}

impl Handler {
    /// The details listed for `subject` now, personal values opened
    /// (`None` for one that is erased); `None` when never listed.
    async fn listed_plain(
        &self,
        subject: &str,
    ) -> Result<Option<PersonDetails<Option<String>>>, HandleError> {
        let Some(d) = crate::directory::listed(&self.store, subject).await? else {
            return Ok(None);
        };
        let open = |s: Sealed| async move {
            Ok::<_, HandleError>(
                seal::open(&self.vault, &s)
                    .await?
                    .as_value()
                    .map(str::to_owned),
            )
        };
        let email = match d.email {
            Some(e) => Some(open(e).await?),
            None => None,
        };
        let job_title = match d.job_title {
            Some(t) => Some(open(t).await?),
            None => None,
        };
        Ok(Some(PersonDetails {
            subject: d.subject,
            name: open(d.name).await?,
            email,
            job_title,
            unit: d.unit,
        }))
    }

    /// Whether `details` (tidied) say exactly what is listed.
    async fn already_listed(&self, details: &PersonDetails<String>) -> Result<bool, HandleError> {
        Ok(match self.listed_plain(&details.subject).await? {
            Some(current) => {
                current.name.as_deref() == Some(details.name.as_str())
                    && current.email.map(|e| e.unwrap_or_default()) == details.email.clone()
                    && current.job_title.map(|t| t.unwrap_or_default()) == details.job_title.clone()
                    && current.unit == details.unit
            }
            None => false,
        })
    }

    /// Seal `details` under the person's own key, as an event.
    async fn listing(
        sealer: &mut event_store::vault::Sealer<'_>,
        details: &PersonDetails<String>,
        source: Source,
    ) -> Result<NewEvent, HandleError> {
        let person = staff_person(&details.subject);
        let name = seal::one(sealer, person, &details.name).await?;
        let email = match &details.email {
            Some(e) => Some(seal::one(sealer, person, e).await?),
            None => None,
        };
        let job_title = match &details.job_title {
            Some(t) => Some(seal::one(sealer, person, t).await?),
            None => None,
        };
        let event = DirectoryEvent::PersonListed {
            details: PersonDetails {
                subject: details.subject.clone(),
                name,
                email,
                job_title,
                unit: details.unit.clone(),
            },
            source,
        };
        let (event_type, payload) = domain::codec::encode(&event);
        Ok(NewEvent::new(
            event_type,
            directory::EVENT_SCHEMA_VERSION,
            payload,
        ))
    }

    /// List a person in the directory: the log position, or `None` when
    /// the directory already says exactly this.
    pub async fn list_person(
        &self,
        details: PersonDetails<String>,
        source: Source,
        meta: &RequestMeta,
    ) -> Result<Option<i64>, HandleError> {
        let details = details.tidy();
        details.check()?;
        directory::may_list(&meta.actor, &details.subject, &source)?;
        if self.already_listed(&details).await? {
            return Ok(None);
        }
        let mut sealer = self.vault.sealer();
        let event = Self::listing(&mut sealer, &details, source).await?;
        let metadata = metadata(&mut sealer, meta, "ListPerson").await?;
        let stream = directory::stream_id(&details.subject);
        let events = [event];
        let batch = StreamAppend {
            stream_id: &stream,
            expected: ExpectedVersion::Any,
            events: &events,
        };
        Ok(Some(
            self.commit(&[batch], &metadata, meta, sealer)
                .await?
                .last_position,
        ))
    }

    /// Import people from a CSV file (admin): every row checked first, and
    /// nothing listed if any is wrong; then rows listed in transactions of
    /// a few hundred, skipping those that say what is already listed (so
    /// running an import again after a failure finishes it).
    pub async fn import_people(
        &self,
        file_name: &str,
        text: &str,
        meta: &RequestMeta,
    ) -> Result<PeopleImport, PeopleImportError> {
        let source = |line| Source::Import {
            file: file_name.to_owned(),
            line,
        };
        directory::may_list(&meta.actor, "", &source(0)).map_err(HandleError::from)?;
        let rows = directory::parse_import(text).map_err(PeopleImportError::Rows)?;
        let mut report = PeopleImport::default();
        for chunk in rows.chunks(IMPORT_CHUNK) {
            let mut sealer = self.vault.sealer();
            let mut appends: Vec<(String, [NewEvent; 1])> = Vec::new();
            for (line, details) in chunk {
                if self.already_listed(details).await? {
                    report.unchanged += 1;
                    continue;
                }
                let event = Self::listing(&mut sealer, details, source(*line)).await?;
                appends.push((directory::stream_id(&details.subject), [event]));
            }
            if appends.is_empty() {
                continue;
            }
            let metadata = metadata(&mut sealer, meta, "ImportPeople").await?;
            let batches: Vec<StreamAppend<'_>> = appends
                .iter()
                .map(|(stream, events)| StreamAppend {
                    stream_id: stream,
                    expected: ExpectedVersion::Any,
                    events,
                })
                .collect();
            // Each chunk is its own command: a retried import key would
            // otherwise replay the first chunk for every other.
            let chunk_meta = RequestMeta {
                idempotency_key: None,
                ..meta.clone()
            };
            let outcome = self
                .commit(&batches, &metadata, &chunk_meta, sealer)
                .await?;
            report.listed += appends.len();
            report.position = outcome.last_position;
        }
        Ok(report)
    }
}
