//! One module per tool. More modules (the file tools, session_search) are declared here
//! by their owners.

mod memory;
mod terminal;
mod todo;
