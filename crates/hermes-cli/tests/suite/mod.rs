mod chat;
mod config;
mod files;
mod interrupt;
mod resume;
mod sandbox;
mod sessions;
mod support;
