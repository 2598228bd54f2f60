//! A server-sent-events decoder that accepts bytes in chunks split anywhere (inside a
//! line, between `\r` and `\n`, inside a UTF-8 sequence) and yields complete events.
//!
//! It follows the SSE rules that matter for model APIs: `data:` lines (several per event
//! are joined with `\n`), `event:` names, `id:`, comment lines starting with `:`, blank
//! lines ending an event, and LF, CRLF or CR line endings. As a leniency for servers that
//! write bare JSON lines into an event stream (some proxies do, for errors), a line that
//! starts with `{` is read as a `data:` line.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` name, if the server gave one.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The `id:` field, if any.
    pub id: Option<String>,
}

/// Why a byte stream is not a valid event stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("line {line} of the event stream is not valid UTF-8 (at byte {byte} of the line)")]
    InvalidUtf8 { line: u64, byte: usize },
    #[error("line {line} of the event stream is longer than {limit} bytes")]
    LineTooLong { line: u64, limit: usize },
    #[error("an event of the stream is larger than {limit} bytes")]
    EventTooLarge { limit: usize },
}

/// The longest line or event accepted (a whole non-streamed answer in one line fits).
pub const DEFAULT_LIMIT: usize = 16 * 1024 * 1024;

/// Incremental decoder; feed it chunks, then call [`SseDecoder::finish`] at the end.
#[derive(Debug)]
pub struct SseDecoder {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The previous chunk ended a line with `\r`; a `\n` starting the next is part of it.
    skip_lf: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
    lines_seen: u64,
    limit: usize,
}

impl Default for SseDecoder {
    fn default() -> SseDecoder {
        SseDecoder::new()
    }
}

impl SseDecoder {
    pub fn new() -> SseDecoder {
        SseDecoder::with_limit(DEFAULT_LIMIT)
    }

    /// A decoder refusing lines and events larger than `limit` bytes.
    pub fn with_limit(limit: usize) -> SseDecoder {
        SseDecoder {
            line: Vec::new(),
            skip_lf: false,
            event: None,
            data: String::new(),
            has_data: false,
            id: None,
            lines_seen: 0,
            limit,
        }
    }

    /// Consumes a chunk and returns the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut out = Vec::new();
        let mut rest = chunk;
        if self.skip_lf && !rest.is_empty() {
            self.skip_lf = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (head, tail) = rest.split_at(pos);
            self.push_line_bytes(head)?;
            let ended_with_cr = tail.first() == Some(&b'\r');
            rest = &tail[1..];
            if ended_with_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, &mut out)?;
        }
        self.push_line_bytes(rest)?;
        Ok(out)
    }

    /// Ends the stream: a last line without terminator is processed and a pending event
    /// (one not followed by a blank line) is dispatched.
    pub fn finish(&mut self) -> Result<Option<SseEvent>, SseError> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, &mut out)?;
        }
        self.dispatch(&mut out);
        self.skip_lf = false;
        Ok(out.pop())
    }

    fn push_line_bytes(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + bytes.len() > self.limit {
            return Err(SseError::LineTooLong {
                line: self.lines_seen + 1,
                limit: self.limit,
            });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn process_line(&mut self, raw: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        self.lines_seen += 1;
        let line = std::str::from_utf8(raw).map_err(|e| SseError::InvalidUtf8 {
            line: self.lines_seen,
            byte: e.valid_up_to(),
        })?;
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = if line.starts_with('{') {
            ("data", line)
        } else {
            match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            }
        };
        match field {
            "data" => {
                if self.data.len() + value.len() + 1 > self.limit {
                    return Err(SseError::EventTooLarge { limit: self.limit });
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            // `retry:` and unknown fields are ignored, as the SSE rules say.
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if !self.has_data {
            // An event without data is not dispatched (and its name is forgotten).
            return;
        }
        self.has_data = false;
        out.push(SseEvent {
            event: event.filter(|e| !e.is_empty()),
            data: std::mem::take(&mut self.data),
            id: self.id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(chunks: &[&[u8]]) -> Result<Vec<SseEvent>, SseError> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(d.feed(c)?);
        }
        out.extend(d.finish()?);
        Ok(out)
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_string),
            data: data.to_string(),
            id: None,
        }
    }

    #[test]
    fn data_lines_and_event_names() {
        let got = decode_all(&[b"event: ping\ndata: {}\n\ndata: a\ndata: b\n\n"]).unwrap();
        assert_eq!(got, vec![ev(Some("ping"), "{}"), ev(None, "a\nb")]);
    }

    #[test]
    fn comments_and_unknown_fields_are_ignored() {
        let got =
            decode_all(&[b": keep-alive\n\nretry: 10\nfoo: bar\ndata:x\n: mid\ndata:  y\n\n"])
                .unwrap();
        assert_eq!(got, vec![ev(None, "x\n y")]);
    }

    #[test]
    fn crlf_and_cr_line_endings() {
        let got = decode_all(&[b"data: 1\r\n\r\ndata: 2\r\rdata: 3\n\n"]).unwrap();
        assert_eq!(got, vec![ev(None, "1"), ev(None, "2"), ev(None, "3")]);
    }

    #[test]
    fn crlf_split_between_chunks_is_one_line_ending() {
        let got = decode_all(&[b"data: 1\r", b"\n", b"\r", b"\ndata: 2\r", b"\r\n"]).unwrap();
        assert_eq!(got, vec![ev(None, "1"), ev(None, "2")]);
    }

    #[test]
    fn utf8_split_inside_a_character() {
        let text = "data: héllo ✓\n\n".as_bytes();
        let pos = text.iter().position(|&b| b == 0xE2).unwrap() + 1;
        let got = decode_all(&[&text[..pos], &text[pos..]]).unwrap();
        assert_eq!(got, vec![ev(None, "héllo ✓")]);
    }

    #[test]
    fn pending_event_is_flushed_at_the_end() {
        let got = decode_all(&[b"data: [DONE]"]).unwrap();
        assert_eq!(got, vec![ev(None, "[DONE]")]);
    }

    #[test]
    fn event_without_data_is_not_dispatched() {
        let got = decode_all(&[b"event: x\n\ndata: y\n\n"]).unwrap();
        assert_eq!(got, vec![ev(None, "y")]);
    }

    #[test]
    fn bare_json_lines_are_data() {
        let got = decode_all(&[b"{\"error\":{\"message\":\"x\"}}\n\n"]).unwrap();
        assert_eq!(got, vec![ev(None, "{\"error\":{\"message\":\"x\"}}")]);
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let err = decode_all(&[b"data: ok\n\ndata: \xff\xfe\n\n"]).unwrap_err();
        assert_eq!(err, SseError::InvalidUtf8 { line: 3, byte: 6 });
        assert!(err.to_string().contains("not valid UTF-8"));
    }

    #[test]
    fn oversized_lines_are_refused() {
        let mut d = SseDecoder::with_limit(8);
        assert!(d.feed(b"data: 12").is_ok());
        assert!(matches!(d.feed(b"3"), Err(SseError::LineTooLong { .. })));
        let mut d = SseDecoder::with_limit(12);
        let err = d.feed(b"data:1234567\ndata:1234567\n\n").unwrap_err();
        assert!(matches!(err, SseError::EventTooLarge { .. }), "{err:?}");
    }

    #[test]
    fn ids_are_kept() {
        let got = decode_all(&[b"id: 7\ndata: a\n\n"]).unwrap();
        assert_eq!(got[0].id.as_deref(), Some("7"));
    }

    /// A tiny deterministic generator (no extra crates needed).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_chunking_gives_the_same_events() {
        let pieces = [
            "data: {\"a\":\"héllo\"}",
            "data: ✓✓ 日本語 🎉",
            "event: content_block_delta",
            ": comment",
            "data: [DONE]",
            "data",
            "id: 3",
            "",
            "",
        ];
        let endings = ["\n", "\r\n", "\r"];
        let mut rng = Lcg(42);
        for round in 0..300 {
            let mut text = String::new();
            for _ in 0..(5 + rng.below(30)) {
                text.push_str(pieces[rng.below(pieces.len())]);
                text.push_str(endings[rng.below(endings.len())]);
            }
            let bytes = text.as_bytes();
            let whole = decode_all(&[bytes]).unwrap();
            // Split at random byte offsets, including inside UTF-8 sequences and CRLFs.
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut start = 0;
            while start < bytes.len() {
                let len = 1 + rng.below(7);
                let end = (start + len).min(bytes.len());
                chunks.push(&bytes[start..end]);
                if rng.below(5) == 0 {
                    chunks.push(&[]);
                }
                start = end;
            }
            let split = decode_all(&chunks).unwrap();
            assert_eq!(whole, split, "round {round}: {text:?}");
        }
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut rng = Lcg(7);
        for _ in 0..300 {
            let len = rng.below(200);
            let bytes: Vec<u8> = (0..len)
                .map(|_| match rng.below(6) {
                    0 => b'\n',
                    1 => b'\r',
                    2 => b':',
                    _ => rng.below(256) as u8,
                })
                .collect();
            let mut d = SseDecoder::with_limit(64);
            for c in bytes.chunks(1 + rng.below(9)) {
                if d.feed(c).is_err() {
                    break;
                }
            }
            let _ = d.finish();
        }
    }
}
