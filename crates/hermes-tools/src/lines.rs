//! Line-by-line reading with a bound on the memory one line may take.
//!
//! `BufRead::read_until` keeps a whole line in memory, so a 300 MiB minified bundle or log
//! without newlines costs 300 MiB. [`BoundedLines`] keeps at most `keep` bytes of each line
//! and skips the rest as it streams past, while still counting every line: the memory a
//! caller holds is `keep` plus the reader's own buffer, whatever the file looks like.

use std::io::{self, BufRead};

/// One line read by [`BoundedLines::next_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineInfo {
    /// Bytes of the line that were skipped because they did not fit (`\n` not counted).
    pub skipped: u64,
}

impl LineInfo {
    /// Whether part of the line was dropped.
    pub fn cut(&self) -> bool {
        self.skipped > 0
    }
}

/// Splits a byte stream into lines at `\n`, keeping a bounded prefix of each.
pub(crate) struct BoundedLines<R> {
    inner: R,
}

impl<R: BufRead> BoundedLines<R> {
    pub fn new(inner: R) -> BoundedLines<R> {
        BoundedLines { inner }
    }

    /// Reads the next line. `buf` is cleared and receives at most `keep` bytes from the start
    /// of the line, without the terminating `\n` (a `\r` before it is left to the caller).
    /// Returns `None` at the end of the input; a last line without `\n` still counts.
    pub fn next_line(&mut self, buf: &mut Vec<u8>, keep: usize) -> io::Result<Option<LineInfo>> {
        buf.clear();
        let mut seen_any = false;
        let mut skipped = 0u64;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                return Ok(seen_any.then_some(LineInfo { skipped }));
            }
            seen_any = true;
            let newline = memchr::memchr(b'\n', chunk);
            let part = &chunk[..newline.unwrap_or(chunk.len())];
            let room = keep.saturating_sub(buf.len());
            let take = room.min(part.len());
            buf.extend_from_slice(&part[..take]);
            skipped += (part.len() - take) as u64;
            let used = newline.map_or(chunk.len(), |i| i + 1);
            self.inner.consume(used);
            if newline.is_some() {
                return Ok(Some(LineInfo { skipped }));
            }
        }
    }
}

/// `bytes` without one trailing `\r`.
pub(crate) fn strip_cr(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source of `total` bytes handed out in chunks of at most `chunk` bytes, with a `\n`
    /// after every `line_len` bytes of `x`; it never holds more than one chunk.
    struct Synthetic {
        total: u64,
        pos: u64,
        line_len: u64,
        chunk: Vec<u8>,
        start: usize,
        max_chunk: usize,
    }

    impl Synthetic {
        fn new(total: u64, line_len: u64, max_chunk: usize) -> Synthetic {
            Synthetic {
                total,
                pos: 0,
                line_len,
                chunk: Vec::new(),
                start: 0,
                max_chunk,
            }
        }
    }

    impl io::Read for Synthetic {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = {
                let avail = self.fill_buf()?;
                let n = avail.len().min(out.len());
                out[..n].copy_from_slice(&avail[..n]);
                n
            };
            self.consume(n);
            Ok(n)
        }
    }

    impl BufRead for Synthetic {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            if self.start == self.chunk.len() {
                let left = self.total - self.pos;
                let n = left.min(self.max_chunk as u64) as usize;
                self.chunk.clear();
                for i in 0..n as u64 {
                    let at = self.pos + i;
                    let byte = if (at + 1).is_multiple_of(self.line_len + 1) {
                        b'\n'
                    } else {
                        b'x'
                    };
                    self.chunk.push(byte);
                }
                self.pos += n as u64;
                self.start = 0;
            }
            Ok(&self.chunk[self.start..])
        }

        fn consume(&mut self, n: usize) {
            self.start += n;
        }
    }

    fn lines(text: &str, keep: usize) -> Vec<(String, u64)> {
        let mut r = BoundedLines::new(io::Cursor::new(text.as_bytes().to_vec()));
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(info) = r.next_line(&mut buf, keep).unwrap() {
            out.push((String::from_utf8(buf.clone()).unwrap(), info.skipped));
        }
        out
    }

    #[test]
    fn splits_like_read_until_and_counts_a_last_line_without_newline() {
        assert_eq!(
            lines("a\nbb\n\nccc", 10),
            vec![
                ("a".into(), 0),
                ("bb".into(), 0),
                ("".into(), 0),
                ("ccc".into(), 0)
            ]
        );
        assert_eq!(lines("a\n", 10), vec![("a".into(), 0)]);
        assert!(lines("", 10).is_empty());
        assert_eq!(lines("x\r\n", 10)[0].0, "x\r");
        assert_eq!(strip_cr(b"x\r"), b"x");
    }

    #[test]
    fn long_lines_keep_a_prefix_and_report_what_was_skipped() {
        assert_eq!(
            lines("abcdef\nxy\n", 3),
            vec![("abc".into(), 3), ("xy".into(), 0)]
        );
        assert_eq!(lines("abcdef", 0), vec![("".into(), 6)]);
        assert!(lines("abc\n", 3).iter().all(|(_, s)| *s == 0));
    }

    #[test]
    fn a_50_mib_line_in_1_mib_chunks_never_holds_more_than_the_bound() {
        const MIB: usize = 1 << 20;
        // One 50 MiB line, then a short one.
        let line_len = 50 * MIB as u64;
        let src = Synthetic::new(line_len + 1 + 5, line_len, MIB);
        let mut r = BoundedLines::new(src);
        let mut buf = Vec::new();
        let keep = 8000;
        let first = r.next_line(&mut buf, keep).unwrap().unwrap();
        assert_eq!(buf.len(), keep);
        assert!(buf.iter().all(|b| *b == b'x'));
        assert_eq!(first.skipped, line_len - keep as u64);
        assert!(first.cut());
        // The line buffer grew to the bound, not to the line: at most one doubling past it.
        assert!(buf.capacity() <= 2 * keep, "capacity {}", buf.capacity());
        // The source never handed out more than a chunk at a time, so nothing else held it.
        assert!(r.inner.chunk.capacity() <= MIB);
        let second = r.next_line(&mut buf, keep).unwrap().unwrap();
        assert_eq!(buf, b"xxxxx");
        assert!(!second.cut());
        assert_eq!(r.next_line(&mut buf, keep).unwrap(), None);
    }
}
