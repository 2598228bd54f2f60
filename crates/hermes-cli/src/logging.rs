//! Log output that never carries credential shapes (promise 4).
//!
//! Logging starts before `config.yaml` and `.env` are read, so the known secret values
//! are not available here: log lines are scrubbed of credential *shapes* only (vendor
//! key prefixes, JWTs, private key blocks, `Authorization` headers, URL passwords,
//! secret-named assignments — see `hermes_core::redact`). Known values are kept out of
//! log statements at the source (the provider client scrubs its own errors), and tool
//! output reaches the log only after the agent scrubbed it with the full redactor. This
//! applies whatever `security.redact_secrets` says: the setting is not known yet when
//! the first line is logged, and scrubbing a log line costs the agent nothing.

use std::io::{self, Write};
use std::sync::LazyLock;

use hermes_core::redact::Redactor;
use tracing_subscriber::fmt::MakeWriter;

/// The shape patterns compile when the first line is logged, not at every start: most
/// runs log nothing, and compiling them costs milliseconds.
static LOG_REDACTOR: LazyLock<Redactor> = LazyLock::new(Redactor::default);

/// A `tracing_subscriber` writer for stderr that scrubs each record before writing it.
#[derive(Clone, Copy, Default)]
pub struct ScrubbedStderr;

impl<'a> MakeWriter<'a> for ScrubbedStderr {
    type Writer = Record;

    fn make_writer(&'a self) -> Record {
        Record { buf: Vec::new() }
    }
}

/// One log record: collected, then scrubbed and written whole when dropped (the
/// formatter makes one writer per event).
pub struct Record {
    buf: Vec<u8>,
}

impl Record {
    /// The collected text, scrubbed; the buffer is emptied.
    fn take_clean(&mut self) -> String {
        let raw = std::mem::take(&mut self.buf);
        let text = String::from_utf8_lossy(&raw);
        LOG_REDACTOR.scrub(&text).into_owned()
    }
}

impl Write for Record {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let clean = self.take_clean();
        if !clean.is_empty() {
            // Nowhere to report a failed write to stderr.
            let _ = io::stderr().lock().write_all(clean.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_scrubbed_as_one_piece() {
        let w = ScrubbedStderr;
        let mut r = w.make_writer();
        r.write_all(b"upstream said: Authorization: Bearer abcdef0123456789")
            .unwrap();
        r.write_all(b"wxyz and sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1w\n")
            .unwrap();
        let clean = r.take_clean();
        assert!(clean.starts_with("upstream said: Authorization: Bearer abcdef…wxyz"));
        assert!(!clean.contains("abcdef0123456789wxyz"), "{clean}");
        assert!(!clean.contains("Ab3dEf6hIj9kLm2nOp5qRs8tUv1w"), "{clean}");
        assert!(clean.ends_with('\n'));
        assert_eq!(r.take_clean(), "", "nothing is written twice");
    }
}
