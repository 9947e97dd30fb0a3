-- Notifications (issue 17): the notifier reads the log like a projection
-- and writes the messages its events call for here, in the same
-- transaction as its checkpoint. A message's key is made of facts (the
-- event's position, the kind, the recipient), so deciding the same events
-- again adds nothing. Recipients are staff subjects or roles, never
-- addresses: the sender looks those up when it sends. This schema is not a
-- read model: rebuilding the read models leaves it alone.
create schema notifications;
grant usage on schema notifications to registry_app;

create table notifications.checkpoint (
    id         smallint    primary key default 1 check (id = 1),
    position   bigint      not null default 0,
    updated_at timestamptz not null default now()
);
-- Start at the head: what was decided before notifications existed is not
-- told now.
insert into notifications.checkpoint (position)
    select coalesce(max(position), 0) from events;

create table notifications.outbox (
    key             text        primary key,
    kind            text        not null,
    recipient       text        not null,
    about           uuid        not null,
    position        bigint,
    created_at      timestamptz not null default now(),
    next_attempt_at timestamptz not null default now(),
    attempts        integer     not null default 0,
    sent_at         timestamptz,
    last_error      text
);
create index outbox_unsent on notifications.outbox (next_attempt_at) where sent_at is null;

grant select, update on notifications.checkpoint to registry_app;
grant select, insert, update on notifications.outbox to registry_app;
