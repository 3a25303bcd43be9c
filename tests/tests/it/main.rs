//! Black-box tests of mentorops: the real engine, real SQLite and PostgreSQL, real files.
//! One test binary (link time); each test gets a fresh database.

mod fakes;
mod support;

mod architecture;
mod big_import;
mod cascade_place;
mod chains;
mod chat_edge;
mod claim;
mod claim_telegram;
mod console;
mod csv_safety;
mod discord;
mod edits;
mod email;
mod feedback;
mod flash;
mod guarding;
mod hostile_corpus;
mod hostile_input;
mod ics;
mod inactivity;
mod lifecycle;
mod linking;
mod matching;
mod messages;
mod overview;
mod paging;
mod pause_and_capacity;
mod people;
mod permissions;
mod properties;
mod quiet_hours;
mod races;
mod ready_and_rank;
mod recommendations;
mod removal;
mod schema;
mod seed_fidelity;
mod telegram;
mod timers_batch;
mod unpaired;
mod upcoming;
mod worker;
