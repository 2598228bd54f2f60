//! session_search
