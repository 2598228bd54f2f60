//! One module per tool. More modules (the file tools, session_search) are declared here
//! by their owners.

mod approvals;
mod files;
mod memory;
mod patch;
mod process;
mod protected;
mod search;
mod terminal;
mod todo;
