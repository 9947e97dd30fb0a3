-- The staff app's sessions and pending sign-ins (issue 16). Not a read
-- model and not the log: a session is a short-lived credential. Only the
-- SHA-256 of the cookie's value is stored; the person's name is sealed in
-- the vault under their own key, so an erasure makes it unreadable here.
create schema staff;
grant usage on schema staff to registry_app;

create table staff.sessions (
    id_hash      bytea       primary key,
    subject      text        not null,
    roles        text[]      not null,
    name_person  uuid,
    name_sealed  text,
    csrf         text        not null,
    created_at   timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    ended_at     timestamptz
);
create index sessions_subject on staff.sessions (subject);

-- An OpenID Connect sign-in under way: the state sent to the provider,
-- the PKCE verifier and nonce that must come back with it, and where to go
-- after. Each is used once (deleted when the provider returns).
create table staff.sign_ins (
    state         text        primary key,
    pkce_verifier text        not null,
    nonce         text        not null,
    return_to     text        not null,
    created_at    timestamptz not null default now()
);

grant select, insert, update, delete on staff.sessions to registry_app;
grant select, insert, delete on staff.sign_ins to registry_app;
