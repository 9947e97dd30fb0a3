-- Read models (projections). Everything here is derived from `events` and can
-- be rebuilt from position 0 (`social-registry rebuild-projections` builds a
-- copy in `read_models_next` and swaps the schemas). Personal values are kept
-- only as vault ciphertext (or an explicit erased marker), never in plain text.

create schema read_models;

-- One row per projection: how far it has applied the log, and the error that
-- stopped it, if any.
create table read_models.checkpoints (
    projection         text        primary key,
    position           bigint      not null default 0,
    failed_at_position bigint,
    error              text,
    updated_at         timestamptz not null default now()
);

-- Internal view for staff and approvers.
create table read_models.registrations (
    id              uuid        primary key,
    version         bigint      not null,
    status          text        not null,
    level           smallint    not null,
    platform        text        not null,
    account_key     text        not null,
    account_input   text        not null,
    service_area    text        not null,
    applicant       text        not null,
    named_subjects  text[]      not null,
    steps_done      text[]      not null,
    steps_outstanding text[]    not null,
    submitted_at    timestamptz not null,
    updated_at      timestamptz not null,
    published_at    timestamptz,
    withdrawn_at    timestamptz,
    last_position   bigint      not null,
    state           jsonb       not null,
    persons         uuid[]      not null
);
create index registrations_status on read_models.registrations (status, updated_at);
create index registrations_level on read_models.registrations (level);
create index registrations_platform on read_models.registrations (platform);
create index registrations_service on read_models.registrations (service_area);
create index registrations_named on read_models.registrations using gin (named_subjects);
create index registrations_persons on read_models.registrations using gin (persons);
create index registrations_applicant on read_models.registrations (applicant);

-- Public: published accounts, with only what the framework publishes.
create table read_models.directory (
    registration_id uuid        primary key,
    platform        text        not null,
    account_key     text        not null unique,
    account_url     text        not null,
    level           smallint    not null,
    service_area    text        not null,
    officer_slug    text,
    published_at    timestamptz not null
);

-- Public: what a resident's "is this account genuine?" lookup answers.
create table read_models.verification_accounts (
    account_key     text        primary key,
    platform        text        not null,
    account_url     text        not null,
    status          text        not null check (status in ('verified', 'withdrawn')),
    registration_id uuid        not null,
    level           smallint    not null,
    service_area    text        not null,
    officer_slug    text,
    verified_since  timestamptz not null,
    withdrawn_at    timestamptz
);
create index verification_accounts_officer on read_models.verification_accounts (officer_slug);

-- Public: level-3 officers' verification pages (name sealed or erased).
create table read_models.officers (
    slug            text        primary key,
    name            jsonb       not null,
    job_role        text        not null,
    service_area    text        not null,
    published_since timestamptz not null
);

-- The consultation team's view of level-2 registrations.
create table read_models.consultations (
    registration_id  uuid        primary key,
    account_key      text        not null,
    platform         text        not null,
    service_area     text        not null,
    topic            text        not null,
    opens_on         date        not null,
    closes_on        date        not null,
    finder_reference text,
    status           text        not null,
    updated_at       timestamptz not null
);

-- What waits for whom: per role, and per named person where one is named.
create table read_models.approval_queue (
    registration_id uuid        not null,
    role            text        not null,
    step            text        not null,
    assignee        text,
    level           smallint    not null,
    account_key     text        not null,
    service_area    text        not null,
    waiting_since   timestamptz not null,
    primary key (registration_id, role, step)
);
create index approval_queue_role on read_models.approval_queue (role, waiting_since);
create index approval_queue_assignee on read_models.approval_queue (assignee, waiting_since);

-- Published registrations and when their review falls due.
create table read_models.revalidation_due (
    registration_id   uuid        primary key,
    account_key       text        not null,
    platform          text        not null,
    service_area      text        not null,
    contact_subject   text        not null,
    last_validated_at timestamptz not null,
    due_on            date        not null
);
create index revalidation_due_on on read_models.revalidation_due (due_on);

-- Reference data, for names shown beside codes.
create table read_models.org_units (
    code    text primary key,
    name    text not null,
    retired boolean not null default false
);
create table read_models.job_roles (
    code     text primary key,
    title    text not null,
    accepted boolean not null default true
);

grant usage on schema read_models to registry_app;
grant select, insert, update, delete on all tables in schema read_models to registry_app;

-- Erasure events are looked up by type when a projection batch starts.
create index events_erasures on events (position) where event_type = 'PersonalDataErased';
