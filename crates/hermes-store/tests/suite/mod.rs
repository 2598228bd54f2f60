mod common;

mod crash;
mod fts;
mod hermes_fixture;
mod migrations;
mod sessions;
mod titles;
mod usage;
mod wal;
