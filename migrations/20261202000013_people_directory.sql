-- The people directory's search index (issue 16), kept by the directory
-- indexer (`app::directory`) from the `directory-*` streams, with its own
-- checkpoint. Names are personal data and live only in the vault: the
-- index holds keyed hashes (HMAC-SHA-256 under a key derived from the
-- vault's master key) of every prefix of every word of a name, so a search
-- for "mor" finds Morgan without this table holding "Morgan". An erasure
-- empties the person's tokens; their row stays, to say they were listed.
create table staff.people (
    subject    text        primary key,
    person     uuid        not null,
    tokens     text[]      not null,
    unit       text,
    position   bigint      not null,
    listed_at  timestamptz not null
);
create index people_tokens on staff.people using gin (tokens);
create index people_person on staff.people (person);

create table staff.people_checkpoint (
    id       int    primary key check (id = 1),
    position bigint not null
);
insert into staff.people_checkpoint values (1, 0);

grant select, insert, update, delete on staff.people to registry_app;
grant select, update on staff.people_checkpoint to registry_app;
