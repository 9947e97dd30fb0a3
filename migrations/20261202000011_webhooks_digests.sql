-- Webhooks and digests (issue 17).
--
-- Endpoints are registered by events (`webhook-<id>` streams); the
-- notifier keeps this table from them in the same transaction as its
-- checkpoint, and writes a delivery for each public fact an enabled
-- endpoint asked for. A delivery's id is derived from the endpoint and the
-- event's position, so deciding the same events again adds nothing; it is
-- the `webhook-id` the receiver sees on every attempt and every replay.
create table notifications.webhook_endpoints (
    id                  uuid        primary key,
    url                 text        not null,
    kinds               text[]      not null,
    description         text        not null,
    enabled             boolean     not null default true,
    disabled_reason     text,
    -- Deliveries are for events after this position only.
    registered_position bigint      not null,
    registered_at       timestamptz not null,
    -- Set by the sender at the first failure after a success; cleared by a
    -- success. An endpoint failing continuously for long enough is disabled.
    failing_since       timestamptz,
    last_success_at     timestamptz
);

create table notifications.webhook_deliveries (
    id                uuid        primary key,
    endpoint          uuid        not null references notifications.webhook_endpoints (id),
    kind              text        not null,
    position          bigint      not null,
    -- The body exactly as signed and sent: public facts only.
    payload           text        not null,
    created_at        timestamptz not null default now(),
    -- Retries stop (the delivery becomes a dead letter) once it has failed
    -- for the retry window from here; a replay starts a new window.
    window_started_at timestamptz not null default now(),
    next_attempt_at   timestamptz not null default now(),
    attempts          integer     not null default 0,
    delivered_at      timestamptz,
    dead_at           timestamptz,
    last_status       integer,
    last_error        text,
    last_response     text,
    replayed_position bigint
);
create index webhook_deliveries_due on notifications.webhook_deliveries (next_attempt_at)
    where delivered_at is null and dead_at is null;
create index webhook_deliveries_endpoint on notifications.webhook_deliveries (endpoint, position desc);

-- Every attempt, for the endpoint's delivery log.
create table notifications.webhook_attempts (
    delivery    uuid        not null references notifications.webhook_deliveries (id),
    attempt     integer     not null,
    at          timestamptz not null default now(),
    -- The receiver's HTTP status; null when it never answered.
    status      integer,
    -- A fixed text when it never answered (timed out, could not connect).
    error       text,
    -- The first kilobyte of the receiver's answer.
    response    text,
    duration_ms integer     not null,
    primary key (delivery, attempt)
);

-- How each person wants to be told: at once, or in one daily digest. Kept
-- by the notifier from `NotificationPreferenceSet` events.
create table notifications.preferences (
    subject    text        primary key,
    delivery   text        not null check (delivery in ('immediate', 'daily_digest')),
    updated_at timestamptz not null default now()
);

-- A message held for a digest is marked with the digest that carried it.
alter table notifications.outbox add column digest text;

-- The daily digests sent, one per person and day.
create table notifications.digests (
    key        text        primary key,
    subject    text        not null,
    day        date        not null,
    messages   integer     not null,
    sent_at    timestamptz,
    last_error text
);

-- Reminders are decided from the log's facts and the date; their keys
-- (registration, due date, recipient) make a second run add nothing.
create table notifications.reminder_runs (
    day         date        primary key,
    ran_at      timestamptz not null default now(),
    reminders   integer     not null
);

grant select, insert, update on notifications.webhook_endpoints to registry_app;
grant select, insert, update on notifications.webhook_deliveries to registry_app;
grant select, insert on notifications.webhook_attempts to registry_app;
grant select, insert, update on notifications.preferences to registry_app;
grant select, insert, update on notifications.digests to registry_app;
grant select, insert, update on notifications.reminder_runs to registry_app;
