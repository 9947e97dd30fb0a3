-- The append-only event log, its idempotency record and the personal-data vault.
-- What `hash` covers is defined once, in services/event-store/src/canonical.rs.

create table events (
    position       bigint      primary key check (position > 0),
    stream_id      text        not null,
    stream_version bigint      not null check (stream_version > 0),
    event_id       uuid        not null unique,
    event_type     text        not null,
    schema_version integer     not null check (schema_version > 0),
    payload        jsonb       not null,
    metadata       jsonb       not null,
    recorded_at    timestamptz not null,
    prev_hash      bytea       not null check (length(prev_hash) = 32),
    hash           bytea       not null check (length(hash) = 32),
    unique (stream_id, stream_version)
);

comment on table events is
    'Append-only event log. Positions are gap-free and in commit order (appends hold a transaction-scoped advisory lock).';

create function events_are_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'events is append-only: % is not allowed', tg_op
        using errcode = 'insufficient_privilege',
              hint = 'Correct a past event by appending a new one.';
end;
$$;

create trigger events_no_update_or_delete
    before update or delete on events
    for each row execute function events_are_append_only();

create trigger events_no_truncate
    before truncate on events
    for each statement execute function events_are_append_only();

-- A retried command with the same key returns what the first one appended.
create table idempotency_keys (
    key            text        primary key check (length(key) between 1 and 200),
    stream_id      text        not null,
    first_position bigint      not null,
    last_position  bigint      not null,
    stream_version bigint      not null,
    recorded_at    timestamptz not null default now()
);

-- Per-person data keys, wrapped by the master key. Deleting a row erases the
-- person: their ciphertexts in the log can no longer be opened.
create table vault_keys (
    person_id   uuid        primary key,
    wrapped_key bytea       not null,
    created_at  timestamptz not null default now()
);

-- Who was erased and when (no personal data), so an erased person's
-- ciphertext reads as "erased" and no new key is ever made for them.
create table vault_erasures (
    person_id uuid        primary key,
    erased_at timestamptz not null default now()
);

-- The runtime role: the service connects as the owner, then `set role
-- registry_app` on every pooled connection, so its statements can only read
-- and append the log. Roles are cluster-wide, so create it once.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'registry_app') then
        create role registry_app nologin;
    end if;
    if not pg_has_role(current_user, 'registry_app', 'member') then
        execute format('grant registry_app to %I', current_user);
    end if;
end;
$$;

revoke all on events, idempotency_keys, vault_keys, vault_erasures from public;
grant usage on schema public to registry_app;
grant select, insert on events to registry_app;
grant select, insert on idempotency_keys to registry_app;
grant select, insert, delete on vault_keys to registry_app;
grant select, insert on vault_erasures to registry_app;
grant select on _sqlx_migrations to registry_app;
