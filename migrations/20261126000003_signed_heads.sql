-- Signed log heads: the service's Ed25519 signature over (position, hash,
-- signed_at), made on request and at an interval. Auditors keep copies; a
-- head proves the log up to its position unchanged, even against someone
-- with database superuser rights but without the signing key.
create table signed_heads (
    id          bigserial   primary key,
    position    bigint      not null,
    hash        bytea       not null check (length(hash) = 32),
    signed_at   timestamptz not null,
    key_id      text        not null,
    public_key  text        not null,
    signature   text        not null
);
create index signed_heads_position on signed_heads (position);

create function table_is_append_only() returns trigger
language plpgsql as $$
begin
    raise exception '% is append-only: % is not allowed', tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end;
$$;

create trigger signed_heads_no_update_or_delete
    before update or delete on signed_heads
    for each row execute function table_is_append_only();

revoke all on signed_heads from public;
grant select, insert on signed_heads to registry_app;
grant usage on sequence signed_heads_id_seq to registry_app;
