mod agent_loop;
mod redaction;
mod support;
