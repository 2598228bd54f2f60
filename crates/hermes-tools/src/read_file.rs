//! read_file
