-- Hardening (issue 11).

-- signed_heads refuses TRUNCATE as events does (a statement-level trigger:
-- row triggers do not fire on TRUNCATE).
create trigger signed_heads_no_truncate
    before truncate on signed_heads
    for each statement execute function table_is_append_only();

-- A reporter's free text is sealed in the vault (under a key of its own, the
-- report's id), so it can be erased; the read model keeps the ciphertext.
-- Reports filed before this keep their plaintext in `details`.
alter table read_models.fake_reports add column details_sealed jsonb;
