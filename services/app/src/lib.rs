//! The application layer between the transports (GraphQL, pages, the
//! command line) and the core (`domain`, `event-store`): every command goes
//! through one pipeline in [`commands`]; [`context`] is who asks and how to
//! trace it; [`live`] is the process's one log tail for subscribers;
//! [`notifier`] writes the messages the log calls for to the outbox, which
//! [`mailer`] sends by email and [`webhooks`] to other systems;
//! [`audit`], [`privacy`], [`jobs`] and [`demo`] are the operations built
//! on it. No HTTP server and no GraphQL here: the senders are clients only
//! (SMTP, and the POSTs of webhook deliveries).

pub mod audit;
pub mod background;
pub mod commands;
pub mod context;
pub mod demo;
pub mod directory;
pub mod jobs;
pub mod live;
pub mod mailer;
pub mod notifier;
pub mod privacy;
pub mod public_index;
pub mod reminders;
pub mod state;
pub mod webhooks;
