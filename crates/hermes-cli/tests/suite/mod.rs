mod chat;
mod config;
mod files;
mod interrupt;
mod resume;
mod sessions;
mod support;
