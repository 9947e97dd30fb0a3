//! One shape for every consistency boundary: a state folded from its
//! stream's events, and a decision that turns a command into new events or
//! names the rule it breaks. The application layer runs every command of
//! every aggregate through the same pipeline (load → decide → seal →
//! append), whichever it is.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::DomainError;
use crate::registration::Context;

/// A state built from one stream's events that decides commands.
pub trait Aggregate: Sized {
    /// What happened to it.
    type Event: Serialize + DeserializeOwned;
    /// What may be asked of it.
    type Command;
    /// The schema version its events are written at (and read up to).
    const SCHEMA_VERSION: i32;

    /// Fold one event (`None` before the first).
    fn apply(state: Option<Self>, event: &Self::Event) -> Option<Self>;

    /// The events `command` produces against `state`, or the rule it
    /// breaks. An empty list means there is nothing to do (a repeat of
    /// something already done).
    fn decide(
        state: Option<&Self>,
        command: &Self::Command,
        ctx: &Context<'_>,
    ) -> Result<Vec<Self::Event>, DomainError>;

    /// Fold a whole stream.
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Option<Self>
    where
        Self::Event: 'a,
    {
        events.into_iter().fold(None, Self::apply)
    }
}

impl Aggregate for crate::registration::Registration {
    type Event = crate::registration::RegistrationEvent;
    type Command = crate::registration::Command;
    const SCHEMA_VERSION: i32 = crate::registration::EVENT_SCHEMA_VERSION;

    fn apply(state: Option<Self>, event: &Self::Event) -> Option<Self> {
        crate::registration::Registration::apply(state, event)
    }

    fn decide(
        state: Option<&Self>,
        command: &Self::Command,
        ctx: &Context<'_>,
    ) -> Result<Vec<Self::Event>, DomainError> {
        crate::registration::decide(state, command, ctx)
    }
}

impl Aggregate for crate::reference::ReferenceData {
    type Event = crate::reference::ReferenceEvent;
    type Command = crate::reference::ReferenceCommand;
    const SCHEMA_VERSION: i32 = 1;

    fn apply(state: Option<Self>, event: &Self::Event) -> Option<Self> {
        let mut data = state.unwrap_or_default();
        data.apply(event);
        Some(data)
    }

    fn decide(
        state: Option<&Self>,
        command: &Self::Command,
        ctx: &Context<'_>,
    ) -> Result<Vec<Self::Event>, DomainError> {
        let empty = Self::default();
        Ok(vec![state.unwrap_or(&empty).decide(ctx.actor, command)?])
    }
}

impl Aggregate for crate::report::Report {
    type Event = crate::report::ReportEvent;
    type Command = crate::report::ReportCommand;
    const SCHEMA_VERSION: i32 = 1;

    fn apply(state: Option<Self>, event: &Self::Event) -> Option<Self> {
        crate::report::Report::apply(state, event)
    }

    fn decide(
        state: Option<&Self>,
        command: &Self::Command,
        ctx: &Context<'_>,
    ) -> Result<Vec<Self::Event>, DomainError> {
        crate::report::decide(state, command, ctx).map(|e| vec![e])
    }
}

impl Aggregate for crate::privacy::Erasure {
    type Event = crate::privacy::PrivacyEvent;
    type Command = crate::privacy::Erase;
    const SCHEMA_VERSION: i32 = 1;

    fn apply(_state: Option<Self>, event: &Self::Event) -> Option<Self> {
        let crate::privacy::PrivacyEvent::PersonalDataErased { person, .. } = event;
        Some(crate::privacy::Erasure { person: *person })
    }

    fn decide(
        state: Option<&Self>,
        command: &Self::Command,
        ctx: &Context<'_>,
    ) -> Result<Vec<Self::Event>, DomainError> {
        let event = crate::privacy::decide_erasure(ctx.actor, command.person, &command.reason)?;
        // Erasing someone already erased records nothing new.
        Ok(if state.is_some() { vec![] } else { vec![event] })
    }
}

impl Aggregate for crate::webhook::Endpoint {
    type Event = crate::webhook::WebhookEvent;
    type Command = crate::webhook::WebhookCommand;
    const SCHEMA_VERSION: i32 = crate::webhook::EVENT_SCHEMA_VERSION;

    fn apply(state: Option<Self>, event: &Self::Event) -> Option<Self> {
        crate::webhook::Endpoint::apply(state, event)
    }

    fn decide(
        state: Option<&Self>,
        command: &Self::Command,
        ctx: &Context<'_>,
    ) -> Result<Vec<Self::Event>, DomainError> {
        crate::webhook::decide(state, command, ctx)
    }
}
