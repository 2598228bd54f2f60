//! search_files
