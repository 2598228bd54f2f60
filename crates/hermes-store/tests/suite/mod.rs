mod common;

mod crash;
mod fts;
mod hermes_0_19;
mod hermes_0_19_compat;
mod migrations;
mod newer_hermes;
mod sessions;
mod titles;
mod usage;
mod wal;
