//! write_file
