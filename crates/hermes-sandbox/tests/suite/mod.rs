mod native;
mod spawn;
mod support;
