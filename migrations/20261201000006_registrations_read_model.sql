-- The registrations read model keeps what staff queries filter and sort by.
-- Its copy of each folded state (`state`, JSON with sealed personal values)
-- was read by nothing: every reader folds the registration from its own
-- stream up to the row's `last_position`. Without it the model holds no
-- ciphertext of anyone (only who it names, in `persons`), and writing a row
-- no longer means encoding and parsing a kilobyte and a half of JSON.
alter table read_models.registrations drop column state;

-- Lists are ordered newest submission first: an index in that order.
-- Level, platform and service area (a handful of values each) narrow a
-- list too little for an index of their own to pay for its upkeep.
create index registrations_submitted on read_models.registrations (submitted_at desc, id desc);
drop index read_models.registrations_level;
drop index read_models.registrations_platform;
drop index read_models.registrations_service;
