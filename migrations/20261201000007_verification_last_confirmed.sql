-- The public answer says when the council last confirmed an account (its
-- publication or latest re-validation), so a resident can see an account
-- whose confirmation is overdue. Existing rows take their registration's
-- last validation from revalidation_due (which holds it for every published
-- registration), or their publication.
alter table read_models.verification_accounts add column last_confirmed_at timestamptz;
update read_models.verification_accounts v
   set last_confirmed_at = coalesce(
       (select r.last_validated_at from read_models.revalidation_due r
         where r.registration_id = v.registration_id),
       v.verified_since);
alter table read_models.verification_accounts alter column last_confirmed_at set not null;
