-- Versions of the social media policy, as admins publish them: forms
-- acknowledge the current one, and published accounts re-acknowledge a new
-- one within REGISTRY_POLICY_ACKNOWLEDGEMENT_DAYS of its publication.
create table read_models.policy_versions (
    version      text        primary key,
    published_on date        not null,
    summary      text        not null,
    url          text        not null,
    published_at timestamptz not null,
    position     bigint      not null
);
create index policy_versions_position on read_models.policy_versions (position desc);
grant select, insert, update, delete on read_models.policy_versions to registry_app;

-- Each published registration's acknowledged policy version. The model is
-- projected again from the start so that existing rows gain theirs (its
-- rows are rewritten whole from each registration's state).
alter table read_models.revalidation_due add column policy_version text not null default '';
alter table read_models.revalidation_due add column policy_acknowledged_at timestamptz;
alter table read_models.revalidation_due alter column policy_version drop default;
truncate read_models.revalidation_due;
update read_models.checkpoints
   set position = 0, failed_at_position = null, error = null, updated_at = now()
 where projection = 'revalidation_due';
create index revalidation_due_policy on read_models.revalidation_due (policy_version);

-- The platform's permanent id of an account, once communications records
-- it: verification matches it as well as the handle.
alter table read_models.verification_accounts add column permanent_id text;
create index verification_accounts_permanent on read_models.verification_accounts (permanent_id)
    where permanent_id is not null;
