mod agent_loop;
mod support;
