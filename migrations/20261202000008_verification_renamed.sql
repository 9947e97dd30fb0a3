-- A published change can rename a registration's account. Its old handle
-- then answers "renamed to ..., since ...": never verified again for this
-- council unless it is registered anew.
alter table read_models.verification_accounts
    drop constraint verification_accounts_status_check;
alter table read_models.verification_accounts
    add constraint verification_accounts_status_check
    check (status in ('verified', 'withdrawn', 'renamed'));
alter table read_models.verification_accounts add column renamed_to text;
alter table read_models.verification_accounts add column renamed_to_url text;
alter table read_models.verification_accounts add column renamed_at timestamptz;
alter table read_models.verification_accounts
    add constraint verification_accounts_renamed_check
    check ((status = 'renamed') = (renamed_to is not null and renamed_to_url is not null and renamed_at is not null));

-- Level 3: when communications checked that the account's profile links to
-- the officer's page. The officer page states the link only once checked.
alter table read_models.verification_accounts add column link_back_checked_at timestamptz;
