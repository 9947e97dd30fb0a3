-- Reports from the public of suspected fake accounts (part of the
-- approval-queues read model: open reports also wait in communications'
-- queue, with level 0).
create table read_models.fake_reports (
    id           uuid        primary key,
    reference    text        not null unique,
    account      text        not null,
    account_keys text[]      not null,
    details      text        not null,
    reported_at  timestamptz not null,
    closed_at    timestamptz,
    closed_by    text,
    outcome      text
);
create index fake_reports_open on read_models.fake_reports (reported_at) where closed_at is null;

grant select, insert, update, delete on read_models.fake_reports to registry_app;
