-- Lists read one screen, sorted and paged in SQL (store::users::sort_keys): walking one of
-- these in order finds the first 26 people of a sorted list without sorting everyone (at
-- 100 000 people, /user_list sort:last went from a sort of every mentor to 1 ms, /inactive's
-- query from 24 ms to under 1). Their expressions are sort_keys' own, letter for letter (names
-- lower-cased in ASCII under the "C" collation; the last name is the last word; activity, or
-- when added if never seen).
CREATE INDEX users_first_name ON users ((lower(full_name COLLATE "C")), id);
CREATE INDEX users_last_name ON users ((lower(substr(full_name, length(rtrim(full_name, replace(full_name, ' ', ''))) + 1) COLLATE "C")), (lower(full_name COLLATE "C")), id);
CREATE INDEX users_activity ON users ((COALESCE(last_activity_at, created_at)), id);
-- The mentors a mentee may be recommended (store::answers::of_available_mentors): the program's
-- mentor personas in one match status, without reading every persona of the program.
CREATE INDEX personas_program_role ON personas (program_id, role, match_status);
-- Keep in step with ../sqlite/0008_list_indexes.sql.
