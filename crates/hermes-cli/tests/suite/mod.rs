mod chat;
mod config;
mod files;
mod resume;
mod sessions;
mod support;
