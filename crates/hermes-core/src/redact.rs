//! Secret scrubbing for text on its way to the model, the transcript or the logs.
//!
//! A [`Redactor`] finds two kinds of secrets in one linear pass each:
//!
//! - **Known values** — the `.env` entries, the resolved provider keys and secret-looking
//!   process variables the binary hands in — matched exactly, together with the
//!   encodings an ordinary command produces when it prints them (see *Encodings*). They
//!   are always replaced whole: `[REDACTED:NAME]`, or `[REDACTED]` when the name is not
//!   known.
//! - **Shapes** — credentials recognisable by their form alone: vendor prefixes (OpenAI
//!   `sk-…`, Anthropic `sk-ant-…`, OpenRouter `sk-or-…`, GitHub `ghp_ gho_ ghu_ ghs_ ghr_
//!   github_pat_`, GitLab `glpat-`, Slack `xox?-`/`xapp-` and webhook URLs, AWS key ids
//!   and `aws_secret_access_key = …`, Google `AIza…`, Stripe `sk_/rk_live|test_` and
//!   `whsec_`), Telegram bot tokens, JWTs, PEM private key blocks, `Authorization:`
//!   headers and `Bearer …` tokens, URL userinfo (`scheme://user:pass@host`, which covers
//!   database connection strings), sensitive query parameters, and env / YAML / JSON /
//!   command-line assignments whose name looks secret (`*_API_KEY=…`, `*_TOKEN: …`,
//!   `"password": "…"`, `--token=…`). Replacement follows Hermes: values shorter than 18
//!   characters become `***`, longer ones keep their first 6 and last 4 characters
//!   (`sk-pro…9xQz`). Passwords (URL userinfo, names containing `PASS`) are always `***`;
//!   private key blocks become `[REDACTED PRIVATE KEY]`.
//!
//! Overlapping findings are merged; a span that touches a known value is replaced whole.
//!
//! # Which known values count
//!
//! A value is ignored when, after trimming, it is shorter than [`MIN_KNOWN_LEN`]
//! characters, a boolean or null word (`true`, `disabled`, …), a number or list of
//! numbers (ports, user ids, IP addresses), or a filesystem path (`/…`, `~/…`, `./…`).
//! Values given by an environment name that does not look secret ([`name_looks_secret`])
//! are also ignored when they are a plain lowercase word (`openrouter`,
//! `chat_completions`) or a URL without credentials. A URL with `user:password@` also
//! adds its password on its own. Values containing `REDACTED`, `***` or `…` are ignored
//! (they could never be scrubbed away from their own replacement).
//!
//! # Encodings of known values
//!
//! Covered, anywhere in the text: the raw value; its JSON-escaped form (tool results are
//! JSON); URL-encoding (upper- and lowercase `%XX`, with `/` kept, with `+` for space);
//! lower- and uppercase hex (`xxd -p`, `od -An -tx1 | tr -d ' \n'`, `.hex()`); standard
//! and URL-safe base64 at all three byte alignments, so the value is found inside a
//! longer stream (`echo $KEY | base64`, `base64 .env`, `Authorization: Basic …`). Line
//! breaks — real ones and JSON's `\n` / `\r` escapes — are ignored while matching, so
//! wrapped `base64` / `xxd -p` output is found too (the break is redacted with the value).
//! For base64 the replaced part is the run of characters that depend only on the value:
//! at most two bytes at each end of the value remain as partial base64 groups.
//!
//! Not covered, on purpose: transformations a deliberate leaker would use (`rev`, `tr`,
//! splitting, compression, encryption, other radixes, `xxd` / `od` / `hexdump` layouts
//! with spaces or offsets). Scrubbing is a net for accidents; the boundary is that
//! secrets never enter the sandbox (the child environment is an allowlist).
//!
//! # Known false positives
//!
//! Any text equal to a known value is replaced, even where it is harmless. Assignment
//! shapes replace quoted values of secret-looking names even in source code
//! (`password = "example123"`); unquoted identifiers without digits (`token: String`,
//! `api_key=api_key`, `os.environ`) and placeholders (`$TOKEN`, `<key>`, `{{ x }}`) are
//! left alone so code the model reads stays intact.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Captures, Regex, RegexSet};

/// Known values shorter than this many characters are ignored: replacing short strings
/// would mangle ordinary text, and real credentials are longer.
pub const MIN_KNOWN_LEN: usize = 8;

/// Shape matches shorter than this many characters are masked completely (Hermes' rule).
const PARTIAL_MIN: usize = 18;

/// Replaces secrets in text. Cheap to share (`Arc<Redactor>`); `scrub` takes `&self`.
pub struct Redactor {
    known: Option<Known>,
    shapes: &'static Shapes,
}

impl Default for Redactor {
    /// Shapes only, no known values. Cheap: the shape patterns are compiled once per
    /// process.
    fn default() -> Redactor {
        Redactor {
            known: None,
            shapes: &SHAPES,
        }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("known_values", &self.len())
            .field("shapes", &self.shapes.shapes.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor for `known` secret values (names unknown: replaced by `[REDACTED]`)
    /// plus the built-in shapes. Values that cannot be secrets are skipped (see the
    /// module documentation).
    pub fn new(known: impl IntoIterator<Item = String>) -> Redactor {
        let mut b = RedactorBuilder::default();
        for v in known {
            b.secret(&v);
        }
        b.build()
    }

    /// A redactor for `(name, value)` pairs that are all secrets (replaced by
    /// `[REDACTED:NAME]`).
    pub fn named(known: impl IntoIterator<Item = (String, String)>) -> Redactor {
        let mut b = RedactorBuilder::default();
        for (n, v) in known {
            b.named(&n, &v);
        }
        b.build()
    }

    /// Collects known values from several sources before building.
    pub fn builder() -> RedactorBuilder {
        RedactorBuilder::default()
    }

    /// Number of known secret values (not counting their encodings).
    pub fn len(&self) -> usize {
        self.known.as_ref().map_or(0, |k| k.names.len())
    }

    /// `true` when no known values were given; the shapes still apply.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `text` with every secret replaced. Borrows when nothing was found. Never panics,
    /// for any input; runs in time linear in `text` (plus the number of findings).
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if text.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut spans = Vec::new();
        if let Some(k) = &self.known {
            k.find(text, &mut spans);
        }
        self.shapes.find(text, &mut spans);
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        Cow::Owned(self.render(text, spans))
    }

    /// Like [`scrub`](Self::scrub) for an owned string; returns it unchanged (no copy)
    /// when nothing was found.
    pub fn scrub_string(&self, text: String) -> String {
        match self.scrub(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(s) => s,
        }
    }

    fn render(&self, text: &str, mut spans: Vec<Span>) -> String {
        for s in &mut spans {
            s.start = floor_boundary(text, s.start);
            s.end = ceil_boundary(text, s.end.max(s.start));
        }
        spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
        for s in spans {
            if s.start == s.end {
                continue;
            }
            if let Some(last) = merged.last_mut()
                && s.start < last.end
            {
                last.end = last.end.max(s.end);
                last.fill = last.fill.combine(s.fill);
                continue;
            }
            merged.push(s);
        }
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for s in merged {
            out.push_str(text.get(pos..s.start).unwrap_or_default());
            self.fill(
                &mut out,
                text.get(s.start..s.end).unwrap_or_default(),
                s.fill,
            );
            pos = s.end;
        }
        out.push_str(text.get(pos..).unwrap_or_default());
        out
    }

    fn fill(&self, out: &mut String, secret: &str, fill: Fill) {
        match fill {
            Fill::Known(i) => {
                let name = i
                    .and_then(|i| self.known.as_ref()?.names.get(i))
                    .and_then(Option::as_deref);
                match name {
                    Some(n) => {
                        out.push_str("[REDACTED:");
                        out.push_str(n);
                        out.push(']');
                    }
                    None => out.push_str("[REDACTED]"),
                }
            }
            Fill::Shape(Mask::Fixed(s)) => out.push_str(s),
            Fill::Shape(Mask::Full) => out.push_str("***"),
            Fill::Shape(Mask::Partial) => {
                let n = secret.chars().count();
                if n < PARTIAL_MIN {
                    out.push_str("***");
                } else {
                    out.extend(secret.chars().take(6));
                    out.push('…');
                    out.extend(secret.chars().skip(n - 4));
                }
            }
        }
    }
}

/// Collects known secret values for a [`Redactor`].
#[derive(Default)]
pub struct RedactorBuilder {
    entries: Vec<(Option<String>, String)>,
    index: HashMap<String, usize>,
}

impl RedactorBuilder {
    /// A value known to be secret, name unknown.
    pub fn secret(&mut self, value: &str) -> &mut RedactorBuilder {
        self.add(None, value, false);
        self
    }

    /// A value known to be secret, shown as `[REDACTED:name]` (e.g. a provider key).
    pub fn named(&mut self, name: &str, value: &str) -> &mut RedactorBuilder {
        self.add(Some(name), value, false);
        self
    }

    /// An environment entry (`.env`, process environment). When `name` does not look
    /// secret, plain words and URLs without credentials are skipped as well.
    pub fn env(&mut self, name: &str, value: &str) -> &mut RedactorBuilder {
        self.add(Some(name), value, !name_looks_secret(name));
        self
    }

    /// Number of distinct values collected so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when nothing has been collected.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn add(&mut self, name: Option<&str>, value: &str, strict: bool) {
        let v = value.trim();
        if !worth_redacting(v, strict) {
            return;
        }
        if let Some(pw) = url_password(v) {
            for p in [pw.to_string(), percent_decode(pw)] {
                if worth_redacting(&p, false) {
                    self.insert(name, &p);
                }
            }
        }
        if strict && is_url(v) && url_password(v).is_none() {
            return;
        }
        self.insert(name, v);
    }

    fn insert(&mut self, name: Option<&str>, v: &str) {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        match self.index.get(v) {
            Some(&i) => {
                // A named entry beats an anonymous one; otherwise the first name stays.
                if let Some(entry) = self.entries.get_mut(i)
                    && entry.0.is_none()
                {
                    entry.0 = name.map(str::to_string);
                }
            }
            None => {
                self.index.insert(v.to_string(), self.entries.len());
                self.entries.push((name.map(str::to_string), v.to_string()));
            }
        }
    }

    /// Builds the matcher: one automaton over every value and its encodings.
    pub fn build(&self) -> Redactor {
        if self.entries.is_empty() {
            return Redactor::default();
        }
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut owner = Vec::new();
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        for (i, (_, v)) in self.entries.iter().enumerate() {
            for p in encodings(v) {
                if p.len() >= MIN_KNOWN_LEN && seen.insert(p.clone()) {
                    patterns.push(p);
                    owner.push(i);
                }
            }
        }
        let matcher = match AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&patterns)
        {
            Ok(ac) => Some(ac),
            Err(e) => {
                tracing::warn!("secret matcher could not be built ({e}); using a slower search");
                None
            }
        };
        Redactor {
            known: Some(Known {
                matcher,
                patterns,
                owner,
                names: self.entries.iter().map(|(n, _)| n.clone()).collect(),
            }),
            shapes: &SHAPES,
        }
    }
}

/// Whether an environment variable or config key name looks like it holds a secret:
/// a word `SECRET`, `PASSWORD`, `PASSWD`, `PASSPHRASE`, `WEBHOOK` anywhere, or a last
/// word `KEY` (not `PUBLIC_KEY`, `PRIMARY_KEY`, `SORT_KEY`, …; not a bare `key`),
/// `TOKEN`, `APIKEY`, `PASS`, `PAT`, `AUTH`, `COOKIE`, `CREDENTIAL(S)`. Words are split at
/// non-alphanumerics and camelCase humps: `OPENAI_API_KEY`, `apiKey`, `DB_PASSWORD`,
/// `x-api-key`, `--token` look secret; `AWS_ACCESS_KEY_ID`, `max_tokens`, `token_type`,
/// `SSH_AUTH_SOCK` do not.
pub fn name_looks_secret(name: &str) -> bool {
    let words = split_words(name);
    if words.iter().any(|w| {
        ["SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "WEBHOOK"]
            .iter()
            .any(|s| w.contains(s))
    }) {
        return true;
    }
    let Some(last) = words.last() else {
        return false;
    };
    let prev = words.len().checked_sub(2).and_then(|i| words.get(i));
    match last.as_str() {
        "KEY" => prev.is_some_and(|p| {
            ![
                "PUBLIC",
                "PUBLISHABLE",
                "PRIMARY",
                "FOREIGN",
                "SORT",
                "PARTITION",
                "CACHE",
                "ROUTING",
                "HOT",
                "LOOKUP",
            ]
            .contains(&p.as_str())
        }),
        "TOKEN" | "APIKEY" | "PASS" | "PAT" | "AUTH" | "COOKIE" | "CREDENTIAL" | "CREDENTIALS" => {
            true
        }
        w => w.ends_with("TOKEN") || w.ends_with("APIKEY") || w.ends_with("PRIVATEKEY"),
    }
}

fn split_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_uppercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

// ---------------------------------------------------------------------------------------
// Known values

struct Known {
    /// `None` only if the automaton could not be built; then `patterns` are searched one
    /// by one.
    matcher: Option<AhoCorasick>,
    patterns: Vec<Vec<u8>>,
    /// For each pattern, the index of the value it encodes.
    owner: Vec<usize>,
    names: Vec<Option<String>>,
}

impl Known {
    fn find(&self, text: &str, spans: &mut Vec<Span>) {
        let hay = text.as_bytes();
        self.each(hay, |start, end, p| {
            spans.push(Span {
                start,
                end,
                fill: Fill::Known(self.owner.get(p).copied()),
            });
        });
        if let Some(view) = Compact::of(hay) {
            self.each(&view.bytes, |start, end, p| {
                let (start, end) = view.original(start, end);
                spans.push(Span {
                    start,
                    end,
                    fill: Fill::Known(self.owner.get(p).copied()),
                });
            });
        }
    }

    /// Calls `f(start, end, pattern)` for every occurrence of every pattern, overlapping
    /// ones included.
    fn each(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        if let Some(ac) = &self.matcher
            && let Ok(iter) = ac.try_find_overlapping_iter(hay)
        {
            for m in iter {
                f(m.start(), m.end(), m.pattern().as_usize());
            }
            return;
        }
        for (p, pat) in self.patterns.iter().enumerate() {
            if pat.is_empty() || pat.len() > hay.len() {
                continue;
            }
            for (i, w) in hay.windows(pat.len()).enumerate() {
                if w == pat.as_slice() {
                    f(i, i + pat.len(), p);
                }
            }
        }
    }
}

/// The text with line breaks (and JSON's `\n` / `\r` escapes) removed, so values wrapped
/// by `base64` or `xxd -p` are found; positions map back to the original.
struct Compact {
    bytes: Vec<u8>,
    /// `(position in bytes, total bytes removed so far)` at each removal.
    cuts: Vec<(usize, usize)>,
}

impl Compact {
    fn of(hay: &[u8]) -> Option<Compact> {
        if !hay.iter().any(|&b| matches!(b, b'\n' | b'\r' | b'\\')) {
            return None;
        }
        let mut bytes = Vec::with_capacity(hay.len());
        let mut cuts = Vec::new();
        let mut removed = 0;
        let mut i = 0;
        while let Some(&b) = hay.get(i) {
            match b {
                b'\n' | b'\r' => {
                    removed += 1;
                    cuts.push((bytes.len(), removed));
                    i += 1;
                }
                b'\\' => match hay.get(i + 1) {
                    Some(b'n' | b'r') => {
                        removed += 2;
                        cuts.push((bytes.len(), removed));
                        i += 2;
                    }
                    // An escaped character (`\\`, `\"`) stays a pair, so `\\n` is not a
                    // line break.
                    Some(&next) => {
                        bytes.push(b);
                        bytes.push(next);
                        i += 2;
                    }
                    None => {
                        bytes.push(b);
                        i += 1;
                    }
                },
                _ => {
                    bytes.push(b);
                    i += 1;
                }
            }
        }
        (!cuts.is_empty()).then_some(Compact { bytes, cuts })
    }

    fn position(&self, c: usize) -> usize {
        let i = self.cuts.partition_point(|&(pos, _)| pos <= c);
        let removed = i
            .checked_sub(1)
            .and_then(|i| self.cuts.get(i))
            .map_or(0, |&(_, r)| r);
        c + removed
    }

    /// The original byte range of `start..end` in the compact text.
    fn original(&self, start: usize, end: usize) -> (usize, usize) {
        let last = end.saturating_sub(1).max(start);
        (self.position(start), self.position(last) + 1)
    }
}

fn is_bool_word(v: &str) -> bool {
    [
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "none",
        "null",
        "nil",
        "undefined",
        "enabled",
        "disabled",
    ]
    .iter()
    .any(|w| v.eq_ignore_ascii_case(w))
}

fn is_number_like(v: &str) -> bool {
    v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_digit() || b".,:+-_ ".contains(&b))
}

fn is_path(v: &str) -> bool {
    (v.starts_with('/') || v.starts_with("~/") || v.starts_with("./") || v.starts_with("../"))
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/~- ".contains(&b))
}

fn is_url(v: &str) -> bool {
    v.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
    })
}

/// The password of `scheme://user:password@host…`, if any.
fn url_password(v: &str) -> Option<&str> {
    if !is_url(v) {
        return None;
    }
    let (_, rest) = v.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pw) = userinfo.split_once(':')?;
    (!pw.is_empty()).then_some(pw)
}

fn worth_redacting(v: &str, strict: bool) -> bool {
    if v.chars().count() < MIN_KNOWN_LEN
        || is_bool_word(v)
        || is_number_like(v)
        || is_path(v)
        || v.contains("REDACTED")
        || v.contains("***")
        || v.contains('…')
    {
        return false;
    }
    if strict {
        let plain_word = v
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b"._-".contains(&b));
        if plain_word {
            return false;
        }
    }
    true
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&x| hex_val(x)),
                b.get(i + 2).and_then(|&x| hex_val(x)),
            )
        {
            out.push((h << 4) | l);
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const B64_STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Base64 of whole 3-byte groups of `bytes` (the rest is ignored): no padding.
fn base64_groups(bytes: &[u8], alphabet: &[u8; 64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() / 3 * 4);
    for c in bytes.chunks_exact(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        for shift in [18, 12, 6, 0] {
            out.push(alphabet[((n >> shift) & 63) as usize]);
        }
    }
    out
}

fn hex(bytes: &[u8], digits: &[u8; 16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(digits[usize::from(b >> 4)]);
        out.push(digits[usize::from(b & 15)]);
    }
    out
}

fn percent_encode(v: &str, digits: &[u8; 16], keep: &[u8], plus_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 3);
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b);
        } else if plus_space && b == b' ' {
            out.push(b'+');
        } else {
            out.push(b'%');
            out.push(digits[usize::from(b >> 4)]);
            out.push(digits[usize::from(b & 15)]);
        }
    }
    out
}

/// The byte strings that stand for `v` in output: raw, JSON-escaped, URL-encoded, hex,
/// and the alignment-independent cores of its base64 encodings.
fn encodings(v: &str) -> Vec<Vec<u8>> {
    let raw = v.as_bytes();
    let mut out = vec![raw.to_vec()];
    if let Ok(json) = serde_json::to_string(v)
        && let Some(inner) = json.get(1..json.len().saturating_sub(1))
    {
        out.push(inner.as_bytes().to_vec());
    }
    out.push(percent_encode(v, HEX_UPPER, b"", false));
    out.push(percent_encode(v, HEX_LOWER, b"", false));
    out.push(percent_encode(v, HEX_UPPER, b"/", false));
    out.push(percent_encode(v, HEX_UPPER, b"", true));
    out.push(hex(raw, HEX_LOWER));
    out.push(hex(raw, HEX_UPPER));
    for alphabet in [B64_STD, B64_URL] {
        // The value starts at byte offset 0, 1 or 2 of a 3-byte group of the stream.
        // Skipping to its first whole group gives characters that depend on the value
        // alone.
        for offset in 0..3 {
            let skip = (3 - offset) % 3;
            if let Some(rest) = raw.get(skip..) {
                let core = base64_groups(rest, alphabet);
                if core.len() >= MIN_KNOWN_LEN {
                    out.push(core);
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Spans

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    fill: Fill,
}

#[derive(Debug, Clone, Copy)]
enum Fill {
    /// A known value (index of its entry, for the name).
    Known(Option<usize>),
    Shape(Mask),
}

impl Fill {
    fn combine(self, other: Fill) -> Fill {
        match (self, other) {
            (Fill::Known(a), _) => Fill::Known(a),
            (_, Fill::Known(b)) => Fill::Known(b),
            (Fill::Shape(a), Fill::Shape(b)) => Fill::Shape(a.stronger(b)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mask {
    /// Hermes' rule: `***` under 18 characters, else first 6 + `…` + last 4.
    Partial,
    /// Always `***`.
    Full,
    /// A fixed replacement.
    Fixed(&'static str),
}

impl Mask {
    fn rank(self) -> u8 {
        match self {
            Mask::Partial => 0,
            Mask::Full => 1,
            Mask::Fixed(_) => 2,
        }
    }

    fn stronger(self, other: Mask) -> Mask {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

fn floor_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

// ---------------------------------------------------------------------------------------
// Shapes

/// What a shape match must also satisfy (checks regexes cannot express cheaply).
#[derive(Debug, Clone, Copy)]
enum Check {
    None,
    /// Contains an ASCII digit and an ASCII letter.
    DigitAndLetter,
    /// After the first `-`: upper- and lowercase letters and a digit (random keys).
    Mixed,
    /// Not a placeholder (`$VAR`, `<key>`, `{{ x }}`, already masked).
    NotPlaceholder,
    /// `name = value`: the name looks secret and the value could be one.
    Assignment,
}

struct Shape {
    regex: Regex,
    mask: Mask,
    check: Check,
}

struct Shapes {
    set: RegexSet,
    shapes: Vec<Shape>,
}

static SHAPES: LazyLock<Shapes> = LazyLock::new(Shapes::compile);

const PRIVATE_KEY: &str = "[REDACTED PRIVATE KEY]";

/// `(name, pattern, mask, check)`. The secret is the group named `s` (for assignments:
/// `dq`, `sq` or `bare`).
fn shape_specs() -> Vec<(&'static str, String, Mask, Check)> {
    // Start of a token: start of text, a non-word character, or a JSON escape such as
    // `\n` (tool results are JSON, so a line break before a token is `\` + `n`, and a
    // plain `\b` would see no boundary there).
    const B: &str = r"(?:\\[nrt]|[^A-Za-z0-9_]|^)";
    // End of a token.
    const E: &str = r"(?:[^A-Za-z0-9_]|$)";
    // Optional quotes around a name, JSON-escaped ones included.
    const Q: &str = r#"[\\"']*"#;
    let p = Mask::Partial;
    vec![
        (
            "private key block",
            r"(?P<s>-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?s:.*?)-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)".into(),
            Mask::Fixed(PRIVATE_KEY),
            Check::None,
        ),
        (
            // A block cut off by truncation: the base64 body up to the end.
            "private key block (unterminated)",
            r"(?P<s>-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=\s]|\\[nr])*)".into(),
            Mask::Fixed(PRIVATE_KEY),
            Check::None,
        ),
        ("anthropic key", format!("{B}(?P<s>sk-ant-[A-Za-z0-9_-]{{20,}})"), p, Check::DigitAndLetter),
        ("openrouter key", format!("{B}(?P<s>sk-or-[A-Za-z0-9_-]{{20,}})"), p, Check::DigitAndLetter),
        ("openai key", format!("{B}(?P<s>sk-[A-Za-z0-9_-]{{20,}})"), p, Check::Mixed),
        ("github token", format!("{B}(?P<s>gh[pousr]_[A-Za-z0-9]{{30,}})"), p, Check::None),
        ("github fine-grained token", format!("{B}(?P<s>github_pat_[A-Za-z0-9_]{{30,}})"), p, Check::None),
        ("gitlab token", format!("{B}(?P<s>glpat-[A-Za-z0-9_.-]{{20,}})"), p, Check::None),
        ("slack token", format!("{B}(?P<s>xox[abposre]-[A-Za-z0-9-]{{10,}})"), p, Check::DigitAndLetter),
        ("slack app token", format!("{B}(?P<s>xapp-[A-Za-z0-9-]{{10,}})"), p, Check::DigitAndLetter),
        (
            "slack webhook",
            r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9/_-]{20,})".into(),
            Mask::Full,
            Check::None,
        ),
        ("aws access key id", format!("{B}(?P<s>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{{16}}){E}"), p, Check::None),
        (
            "aws secret access key",
            format!(r"(?i)aws_?secret_?access_?key{Q}[ \t]*[:=][ \t]*{Q}(?P<s>[A-Za-z0-9/+=]{{40}})"),
            p,
            Check::None,
        ),
        ("google api key", format!("{B}(?P<s>AIza[0-9A-Za-z_-]{{35}})"), p, Check::None),
        ("stripe key", format!("{B}(?P<s>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{{16,}})"), p, Check::None),
        ("stripe webhook secret", format!("{B}(?P<s>whsec_[A-Za-z0-9+/=]{{24,}})"), p, Check::None),
        (
            // `bot123456789:AA…` in API URLs has no word boundary before the digits.
            "telegram bot token",
            r"(?:^|[^0-9])(?P<s>[0-9]{8,10}:[A-Za-z0-9_-]{35})".into(),
            p,
            Check::None,
        ),
        (
            "jwt",
            format!(r"{B}(?P<s>eyJ[A-Za-z0-9_-]{{10,}}\.eyJ[A-Za-z0-9_-]{{10,}}\.[A-Za-z0-9_-]*)"),
            p,
            Check::None,
        ),
        (
            "authorization header",
            format!(
                r"(?i)authorization{Q}[ \t]*[:=][ \t]*{Q}(?:(?:bearer|basic|token|bot|digest|apikey|sso-key|negotiate)[ \t]+)?(?P<s>[A-Za-z0-9._~+/=:-]{{8,}})"
            ),
            p,
            Check::NotPlaceholder,
        ),
        (
            "bearer token",
            format!(r"(?i){B}bearer[ \t]+(?P<s>[A-Za-z0-9._~+/-]{{16,}}=*)"),
            p,
            Check::DigitAndLetter,
        ),
        (
            "url password",
            format!(r#"{B}[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@"'<>\\]*:(?P<s>[^\s/?#@"'<>\\]+)@"#),
            Mask::Full,
            Check::NotPlaceholder,
        ),
        (
            "url token",
            format!(r"{B}https?://(?P<s>[A-Za-z0-9_-]{{16,}})@"),
            p,
            Check::DigitAndLetter,
        ),
        (
            "sensitive query parameter",
            r#"(?i)[?&;](?:access_token|refresh_token|id_token|auth_token|token|api_key|apikey|api-key|key|password|passwd|pwd|secret|client_secret|signature|sig|code|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)=(?P<s>[^&#\s"'<>\\]+)"#.into(),
            p,
            Check::NotPlaceholder,
        ),
        (
            // The name must contain a secret-ish word; `name_looks_secret` decides.
            "secret assignment",
            format!(
                r#"(?:\\[nrt]|[^A-Za-z0-9_.-]|^)(?P<name>(?i:[A-Za-z0-9_.-]*(?:token|secret|pass|key|credential|auth|cookie|webhook|pat)[A-Za-z0-9_.-]*)){Q}[ \t]*(?::=|=>|[:=])[ \t]*(?:\\?"(?P<dq>[^"\\\r\n]+)|'(?P<sq>[^'\\\r\n]+)|(?P<bare>[^\s"'\\,;&<>{{}}()\[\]`]+))"#
            ),
            p,
            Check::Assignment,
        ),
    ]
}

impl Shapes {
    fn compile() -> Shapes {
        let mut shapes = Vec::new();
        for (name, pattern, mask, check) in shape_specs() {
            match Regex::new(&pattern) {
                Ok(regex) => shapes.push(Shape { regex, mask, check }),
                Err(e) => tracing::error!("secret shape '{name}' does not compile: {e}"),
            }
        }
        let set = RegexSet::new(shapes.iter().map(|s| s.regex.as_str())).unwrap_or_else(|e| {
            tracing::error!("secret shapes do not compile as a set: {e}");
            RegexSet::empty()
        });
        Shapes { set, shapes }
    }

    fn find(&self, text: &str, spans: &mut Vec<Span>) {
        let hits = self.set.matches(text);
        if !hits.matched_any() {
            return;
        }
        for i in hits.iter() {
            let Some(shape) = self.shapes.get(i) else {
                continue;
            };
            for caps in shape.regex.captures_iter(text) {
                if let Some((start, end, mask)) = shape.accept(&caps) {
                    spans.push(Span {
                        start,
                        end,
                        fill: Fill::Shape(mask),
                    });
                }
            }
        }
    }
}

impl Shape {
    fn accept(&self, caps: &Captures<'_>) -> Option<(usize, usize, Mask)> {
        if let Check::Assignment = self.check {
            let name = caps.name("name")?.as_str();
            let (value, quoted) = match (caps.name("dq"), caps.name("sq"), caps.name("bare")) {
                (Some(v), _, _) | (_, Some(v), _) => (v, true),
                (_, _, Some(v)) => (v, false),
                _ => return None,
            };
            if !name_looks_secret(name) || !assigned_value_is_secret(value.as_str(), quoted) {
                return None;
            }
            let mask = if name.to_ascii_uppercase().contains("PASS") {
                Mask::Full
            } else {
                Mask::Partial
            };
            return Some((value.start(), value.end(), mask));
        }
        let m = caps.name("s")?;
        let s = m.as_str();
        if already_masked(s) {
            return None;
        }
        let ok = match self.check {
            Check::None | Check::Assignment => true,
            Check::DigitAndLetter => has_digit_and_letter(s),
            Check::Mixed => {
                let tail = s.split_once('-').map_or(s, |(_, t)| t);
                tail.bytes().any(|b| b.is_ascii_uppercase())
                    && tail.bytes().any(|b| b.is_ascii_lowercase())
                    && tail.bytes().any(|b| b.is_ascii_digit())
            }
            Check::NotPlaceholder => !is_placeholder(s),
        };
        ok.then_some((m.start(), m.end(), self.mask))
    }
}

fn has_digit_and_letter(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit()) && s.bytes().any(|b| b.is_ascii_alphabetic())
}

fn already_masked(s: &str) -> bool {
    s.contains('…') || s.contains("***") || s.contains("REDACTED")
}

fn is_placeholder(s: &str) -> bool {
    already_masked(s)
        || !s.bytes().any(|b| b.is_ascii_alphanumeric())
        || s.starts_with(['$', '%', '<', '{'])
}

fn assigned_value_is_secret(v: &str, quoted: bool) -> bool {
    let v = v.trim();
    if v.is_empty() || is_placeholder(v) || is_bool_word(v) || is_number_like(v) || is_path(v) {
        return false;
    }
    // Code, not a value: `token: String`, `api_key=api_key`, `key = os.environ`.
    let identifier = v
        .bytes()
        .all(|b| b.is_ascii_alphabetic() || b"_.-".contains(&b));
    if !quoted && identifier {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    !(lower.starts_with("your")
        || lower.starts_with("xxxx")
        || lower.contains("example")
        || lower.contains("placeholder"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes() -> Redactor {
        Redactor::default()
    }

    /// Scrubs and asserts the secret is gone.
    #[track_caller]
    fn gone(r: &Redactor, text: &str, secret: &str) -> String {
        let out = r.scrub(text).into_owned();
        assert!(!out.contains(secret), "{secret:?} survived in {out:?}");
        out
    }

    #[track_caller]
    fn kept(r: &Redactor, text: &str) {
        assert_eq!(r.scrub(text), text, "changed although nothing is secret");
    }

    fn b64_std(bytes: &[u8]) -> String {
        // Full encoding with padding, for building test input.
        let mut out = String::from_utf8(base64_groups(bytes, B64_STD)).unwrap();
        let rest = &bytes[bytes.len() / 3 * 3..];
        match rest.len() {
            1 => {
                let n = u32::from(rest[0]) << 16;
                out.push(B64_STD[((n >> 18) & 63) as usize] as char);
                out.push(B64_STD[((n >> 12) & 63) as usize] as char);
                out.push_str("==");
            }
            2 => {
                let n = (u32::from(rest[0]) << 16) | (u32::from(rest[1]) << 8);
                out.push(B64_STD[((n >> 18) & 63) as usize] as char);
                out.push(B64_STD[((n >> 12) & 63) as usize] as char);
                out.push(B64_STD[((n >> 6) & 63) as usize] as char);
                out.push('=');
            }
            _ => {}
        }
        out
    }

    #[test]
    fn every_shape_compiles() {
        assert_eq!(SHAPES.shapes.len(), shape_specs().len());
        assert_eq!(SHAPES.set.len(), shape_specs().len());
    }

    const VENDOR_TOKENS: &[&str] = &[
        "sk-ant-api03-abcdefghijklmnop1234567890ABCDEFGH_-xyz",
        "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij",
        "gho_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij",
        "ghu_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij",
        "ghs_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij",
        "ghr_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
        "glpat-xYz12AbCdEfGhIjKlMnO",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxp-123456789012-1234567890123-AbCdEfGhIjKl",
        "xapp-1-A0123456789-1234567890123-abcdef0123456789",
        "AKIAIOSFODNN7EXAMPLE",
        "ASIAY34FZKBOKMUTVV7A",
        "AIzaSyA-1234567890abcdefghijklmnopqrstu",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "rk_live_51H8abcdefghijklmnopqrstu",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ];

    #[test]
    fn vendor_prefixes_are_masked_hermes_style() {
        let r = shapes();
        let openai = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_AbCdEfGh-1234";
        let out = gone(&r, &format!("key is {openai} ok"), openai);
        assert_eq!(out, "key is sk-pro…1234 ok");
        let legacy = "sk-T3BlbkFJa1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8";
        gone(&r, legacy, legacy);
        for secret in VENDOR_TOKENS {
            let out = gone(&r, &format!("x {secret} y"), secret);
            assert!(out.contains('…'), "long tokens keep 6 + 4: {out}");
            assert!(out.starts_with("x ") && out.ends_with(" y"), "{out}");
        }
    }

    /// Tool results are JSON: a line break before a token is `\` + `n`.
    #[test]
    fn shapes_inside_json_tool_results() {
        let r = shapes();
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlMTIz";
        for secret in VENDOR_TOKENS.iter().chain(&[jwt]) {
            let output = format!("line one\n{secret}\nline three");
            let json = serde_json::json!({"output": output, "exit_code": 0}).to_string();
            assert!(json.contains("\\n"), "{json}");
            gone(&r, &json, secret);
        }
        for (text, secret) in [
            (
                "ok\nOPENAI_API_KEY=abc123def456ghi789jkl",
                "abc123def456ghi789jkl",
            ),
            ("ok\npassword: hunter2hunter2", "hunter2hunter2"),
            ("ok\nhttps://u:pw123456@host/x", "pw123456"),
        ] {
            let json = serde_json::json!({"output": text}).to_string();
            gone(&r, &json, secret);
        }
        // The escape is not part of the name: `\nprimary_key` is still `primary_key`.
        kept(&r, r#"{"output":"x\nprimary_key: created_at9"}"#);
    }

    #[test]
    fn telegram_jwt_and_headers() {
        let r = shapes();
        let tg = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq";
        gone(&r, &format!("token {tg}"), tg);
        gone(&r, &format!("https://api.telegram.org/bot{tg}/getMe"), tg);
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        gone(&r, &format!("jwt={jwt}"), jwt);
        let out = gone(
            &r,
            "curl -H 'Authorization: Bearer abcdef0123456789xyzw' https://x",
            "abcdef0123456789xyzw",
        );
        assert!(out.contains("Authorization: Bearer abcdef…xyzw"), "{out}");
        gone(
            &r,
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",
            "dXNlcjpwYXNzd29yZA",
        );
        gone(
            &r,
            "authorization: token 0123456789abcdef",
            "0123456789abcdef",
        );
        gone(
            &r,
            "got bearer 0a1b2c3d4e5f6a7b8c9d",
            "0a1b2c3d4e5f6a7b8c9d",
        );
        // Escaped JSON from a tool result.
        gone(
            &r,
            r#"{\"Authorization\": \"Bearer zzzz0123456789abcdefgh\"}"#,
            "zzzz0123456789abcdefgh",
        );
    }

    #[test]
    fn private_key_blocks() {
        let r = shapes();
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
        let pem = format!(
            "a\n-----BEGIN RSA PRIVATE KEY-----\n{body}\nabc=\n-----END RSA PRIVATE KEY-----\nb"
        );
        let out = gone(&r, &pem, body);
        assert_eq!(out, "a\n[REDACTED PRIVATE KEY]\nb");
        let ssh = format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\\n{body}\\n-----END OPENSSH PRIVATE KEY-----"
        );
        assert_eq!(gone(&r, &ssh, body), PRIVATE_KEY);
        let cut = format!("-----BEGIN PRIVATE KEY-----\n{body}\n{body}");
        gone(&r, &cut, body);
        kept(
            &r,
            "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
        );
    }

    #[test]
    fn urls_and_query_parameters() {
        let r = shapes();
        assert_eq!(
            r.scrub("postgres://app:s3cr3t-pass@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        gone(&r, "redis://:hunter2hunter2@cache:6379", "hunter2hunter2");
        gone(
            &r,
            "mongodb+srv://u:pw12345678@c.example.net/db",
            "pw12345678",
        );
        gone(
            &r,
            "git clone https://x-access-token:abc123def456ghi789@github.com/o/r",
            "abc123def456ghi789",
        );
        gone(
            &r,
            "https://0123456789abcdefXYZ@github.com/o/r",
            "0123456789abcdefXYZ",
        );
        for (url, secret) in [
            ("https://x/cb?code=4/0AfJohXn123&state=1", "4/0AfJohXn123"),
            (
                "https://x/?access_token=ya29.a0Af-123abc",
                "ya29.a0Af-123abc",
            ),
            ("https://maps/api?key=k-9f8e7d6c5b4a&z=1", "k-9f8e7d6c5b4a"),
            ("https://x/?API_KEY=abcdef123456", "abcdef123456"),
            ("https://x/?a=1&password=pa55word!", "pa55word!"),
            (
                "https://s3/o?X-Amz-Signature=0123456789abcdef0123",
                "0123456789abcdef0123",
            ),
            (
                "https://x/?secret=topsecret99&token=t0k3nvalue",
                "topsecret99",
            ),
            ("https://x/?signature=sigsigsig123", "sigsigsig123"),
        ] {
            gone(&r, url, secret);
        }
        kept(&r, "https://example.com/path?page=2&sort=asc&monkey=banana");
        kept(&r, "ssh://git@github.com/o/r.git and http://host:8080/x@y");
        kept(&r, "postgres://app:$DB_PASSWORD@db/x");
    }

    #[test]
    fn secret_assignments() {
        let r = shapes();
        for (text, secret) in [
            (
                "OPENAI_API_KEY=abc123def456ghi789jkl",
                "abc123def456ghi789jkl",
            ),
            (
                "export GITHUB_TOKEN=\"t0k3n-value-here\"",
                "t0k3n-value-here",
            ),
            ("MY_SERVICE_TOKEN: zz99yy88xx77", "zz99yy88xx77"),
            (
                r#"{"password": "correct horse battery"}"#,
                "correct horse battery",
            ),
            (r#"{\"password\": \"hunter2-hunter2\"}"#, "hunter2-hunter2"),
            ("SECRET=s3cr3t", "s3cr3t"),
            ("client_secret: 'abcd1234efgh'", "abcd1234efgh"),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "wJalrXUtnFEMI",
            ),
            ("x-api-key: 0123abcd4567efgh", "0123abcd4567efgh"),
            ("mysql --password=pw0rd123 db", "pw0rd123"),
            ("token := \"abc123xyz\"", "abc123xyz"),
            ("Server=db;User Id=sa;Password=P4ssw0rd;", "P4ssw0rd"),
            ("DB_PASSWORD=short1", "short1"),
        ] {
            gone(&r, text, secret);
        }
        assert_eq!(
            r.scrub("DB_PASSWORD=averyveryverylongpassword1"),
            "DB_PASSWORD=***"
        );
        assert_eq!(
            r.scrub("SOME_API_KEY=abcdef0123456789wxyz"),
            "SOME_API_KEY=abcdef…wxyz"
        );
    }

    #[test]
    fn things_that_are_not_secrets_stay() {
        let r = shapes();
        for text in [
            "commit 3f786850e387550fdab836ed7e6dc881de23001b",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "id 123e4567-e89b-12d3-a456-426614174000",
            "task-list-for-the-next-sprint-planning and disk-usage-report-2024",
            "pip install sk-learn-model-training-pipeline-v2",
            "aGVsbG8gd29ybGQsIHRoaXMgaXMgbm90IGEgc2VjcmV0IGF0IGFsbA==",
            "max_tokens: 4096\ntoken_type: bearer\nuse_auth: true",
            "let token: String = read();\napi_key=api_key, password: &str",
            "AWS_ACCESS_KEY_ID is not secret on its own; sort_key: created_at",
            "export GITHUB_TOKEN=$GITHUB_TOKEN\nOPENAI_API_KEY=<your key>\nSECRET={{ secret }}",
            "api_key = os.environ[\"OPENAI_API_KEY\"]",
            "Bearer authentication is described in RFC 6750",
            "passwords: must be at least 12 characters",
            "the key: value store, with a key=value syntax",
            "PATH=/usr/local/bin:/usr/bin and PWD=/home/user",
            "",
        ] {
            kept(&r, text);
        }
    }

    #[test]
    fn known_values_raw_and_encoded() {
        let secret = "canary-secret-value-123456";
        let r = Redactor::named([("CANARY_TOKEN".to_string(), secret.to_string())]);
        assert_eq!(r.len(), 1);
        assert_eq!(
            r.scrub(&format!("value: {secret}.")),
            "value: [REDACTED:CANARY_TOKEN]."
        );
        // Hex, both cases.
        let hex_lower: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        gone(&r, &format!("dump {hex_lower} end"), &hex_lower);
        gone(&r, &hex_lower.to_uppercase(), &hex_lower.to_uppercase());
        // URL encoding of a value with reserved characters.
        let odd = "p@ss/w0rd with space&more";
        let r2 = Redactor::new([odd.to_string()]);
        for enc in [
            "p%40ss%2Fw0rd%20with%20space%26more",
            "p%40ss%2fw0rd%20with%20space%26more",
            "p%40ss/w0rd%20with%20space%26more",
            "p%40ss%2Fw0rd+with+space%26more",
        ] {
            assert_eq!(r2.scrub(&format!("?q={enc}")), "?q=[REDACTED]", "{enc}");
        }
        // JSON-escaped.
        let quoted = r#"pa"ss\word99"#;
        let r3 = Redactor::new([quoted.to_string()]);
        let json = serde_json::to_string(&serde_json::json!({"output": quoted})).unwrap();
        assert_eq!(r3.scrub(&json), r#"{"output":"[REDACTED]"}"#);
    }

    #[test]
    fn known_values_in_base64_at_every_offset() {
        let secret = "canary-secret-value-123456";
        let r = Redactor::named([("CANARY_TOKEN".to_string(), secret.to_string())]);
        for prefix in ["", "a", "ab", "abc", "KEY=", "CANARY_TOKEN="] {
            for suffix in ["", "\n", "xy"] {
                let stream = format!("{prefix}{secret}{suffix}");
                let b64 = b64_std(stream.as_bytes());
                let out = r.scrub(&b64).into_owned();
                assert!(out.contains("[REDACTED:CANARY_TOKEN]"), "{stream:?}: {out}");
                // The characters that depend only on the value are gone.
                let core_len = secret.len() / 3 * 4;
                assert!(
                    out.len() < b64.len() - core_len + "[REDACTED:CANARY_TOKEN]".len() + 1,
                    "{out}"
                );
                let url_safe = b64.replace('+', "-").replace('/', "_");
                assert!(r.scrub(&url_safe).contains("[REDACTED"), "{url_safe}");
            }
        }
        // `printf value | base64`: the full encoding never survives.
        let full = b64_std(secret.as_bytes());
        gone(&r, &format!("{{\"output\": \"{full}\\n\"}}"), &full);
    }

    #[test]
    fn wrapped_base64_and_hex_are_found() {
        let secret = "wrapped-secret-value-0987654321-abcdefghij";
        let r = Redactor::named([("W".to_string(), secret.to_string())]);
        let stream = format!("{}{secret}{}", "x".repeat(40), "y".repeat(40));
        let b64 = b64_std(stream.as_bytes());
        // Wrap at 76 like coreutils base64, both as real newlines and JSON escapes.
        let lines: Vec<String> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        for sep in ["\n", "\\n", "\r\n", "\\r\\n"] {
            let wrapped = lines.join(sep);
            let out = r.scrub(&wrapped).into_owned();
            assert!(out.contains("[REDACTED:W]"), "{sep:?}: {out}");
            assert!(!out.replace(sep, "").contains(&b64[56..80]), "{out}");
        }
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        let wrapped_hex = format!("{}\n{}", &hex[..30], &hex[30..]);
        assert_eq!(r.scrub(&wrapped_hex), "[REDACTED:W]");
        // An escaped backslash followed by `n` is not a line break.
        assert_eq!(r.scrub(r"a\\nb"), r"a\\nb");
    }

    #[test]
    fn overlapping_and_nested_secrets() {
        let r = Redactor::named([
            ("A".to_string(), "abcdefghij".to_string()),
            ("B".to_string(), "ghijklmnop".to_string()),
            ("C".to_string(), "cdefgh12".to_string()),
        ]);
        let out = r.scrub("--abcdefghijklmnop--").into_owned();
        assert_eq!(out, "--[REDACTED:A]--");
        let out = r.scrub("abcdefghij ghijklmnop cdefgh12").into_owned();
        assert_eq!(out, "[REDACTED:A] [REDACTED:B] [REDACTED:C]");
        // A known value inside a shape: the whole span goes, by name.
        let key = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1w";
        let r = Redactor::named([("OPENAI_API_KEY".to_string(), key.to_string())]);
        assert_eq!(
            r.scrub(&format!("OPENAI_API_KEY={key}")),
            "OPENAI_API_KEY=[REDACTED:OPENAI_API_KEY]"
        );
    }

    #[test]
    fn value_rules() {
        let r = Redactor::new(
            [
                "short",
                "true",
                "disabled",
                "8642",
                "10.0.0.1",
                "/home/user/.hermes",
                "~/work/x",
                "123456789,987654321",
                "real-secret-1",
                "REDACTED-ish-value",
            ]
            .map(String::from),
        );
        assert_eq!(r.len(), 1);
        let mut b = Redactor::builder();
        b.env("HERMES_INFERENCE_PROVIDER", "openrouter")
            .env("OPENAI_BASE_URL", "https://api.openai.com/v1")
            .env("DATABASE_URL", "postgres://u:db-password-1@h/x")
            .env("LLM_MODEL", "anthropic/claude-sonnet-4")
            .env("DB_PASSWORD", "correct-horse-battery")
            .env(
                "SLACK_WEBHOOK_URL",
                "https://hooks.slack.com/services/T0/B0/XYZ",
            );
        let r = b.build();
        // model, DATABASE_URL (+ its password), DB_PASSWORD, webhook.
        assert_eq!(r.len(), 5);
        let out = r.scrub("psql postgres://u:db-password-1@h/x; pw db-password-1; openrouter");
        assert!(!out.contains("db-password-1"), "{out}");
        assert!(out.ends_with("openrouter"), "{out}");
        assert_eq!(r.scrub("correct-horse-battery"), "[REDACTED:DB_PASSWORD]");
        assert!(Redactor::default().is_empty());
    }

    #[test]
    fn secret_names() {
        for n in [
            "OPENAI_API_KEY",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PASSWORD",
            "SECRET",
            "apiKey",
            "accessToken",
            "x-api-key",
            "--token",
            "client_secret",
            "HASS_TOKEN",
            "TELEGRAM_BOT_TOKEN",
            "EMAIL_PASSWORD",
            "SLACK_WEBHOOK_URL",
            "ssh_private_key",
            "NPM_AUTH",
            "MYSQL_PWD_PASS",
            "session_cookie",
            "GITHUB_PAT",
        ] {
            assert!(name_looks_secret(n), "{n}");
        }
        for n in [
            "AWS_ACCESS_KEY_ID",
            "max_tokens",
            "token_type",
            "SSH_AUTH_SOCK",
            "PUBLIC_KEY",
            "primary_key",
            "key",
            "HERMES_INFERENCE_PROVIDER",
            "PATH",
            "KEYBOARD",
            "MONKEY",
            "TOKENIZERS_PARALLELISM",
            "",
        ] {
            assert!(!name_looks_secret(n), "{n}");
        }
    }

    /// A tiny deterministic generator, so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn garbage_never_panics_and_known_values_never_survive() {
        let secret = "zq9-Known_Secret/Value+42é";
        let r = Redactor::named([("K".to_string(), secret.to_string())]);
        let pieces = [
            secret,
            "é",
            "日本",
            "🦀",
            "\\",
            "\\n",
            "\n",
            "\r",
            "\"",
            "sk-",
            "ghp_",
            "-----BEGIN ",
            "PRIVATE KEY-----",
            "-----END ",
            "eyJ",
            "://",
            ":",
            "@",
            "?token=",
            "&",
            "=",
            "password",
            "Bearer ",
            "Authorization: ",
            "AKIA",
            "0123456789",
            "abcdefABCDEF",
            "%2F",
            "xox",
            "\u{0}",
            "…",
            "***",
            "[REDACTED",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let mut s = String::new();
            for _ in 0..rng.below(40) {
                s.push_str(pieces[rng.below(pieces.len())]);
            }
            let out = r.scrub(&s);
            assert!(!out.contains(secret), "{s:?} -> {out:?}");
            let again = r.scrub(&out);
            assert!(!again.contains(secret));
        }
        // Arbitrary bytes, made into text the lossy way.
        for _ in 0..2000 {
            let bytes: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
            let s = String::from_utf8_lossy(&bytes);
            let _ = r.scrub(&s);
            let _ = shapes().scrub(&s);
        }
    }

    #[test]
    fn known_value_survives_no_surroundings_in_base64() {
        let secret = "Sec+ret/Val=ue-0123";
        let r = Redactor::new([secret.to_string()]);
        let mut rng = Rng(42);
        for _ in 0..500 {
            let pre: Vec<u8> = (0..rng.below(10)).map(|_| rng.next() as u8).collect();
            let post: Vec<u8> = (0..rng.below(10)).map(|_| rng.next() as u8).collect();
            let mut stream = pre.clone();
            stream.extend_from_slice(secret.as_bytes());
            stream.extend_from_slice(&post);
            let b64 = b64_std(&stream);
            let out = r.scrub(&b64);
            assert!(out.contains("[REDACTED]"), "{b64}");
            // No 12 consecutive characters that encode the value alone remain.
            let skip = (3 - pre.len() % 3) % 3;
            let core = base64_groups(&secret.as_bytes()[skip..], B64_STD);
            let core = std::str::from_utf8(&core).unwrap();
            assert!(!out.contains(core), "{b64} -> {out}");
        }
    }

    #[test]
    fn borrowed_when_clean() {
        let r = Redactor::new(["a-secret-value-1".to_string()]);
        assert!(matches!(r.scrub("nothing here"), Cow::Borrowed(_)));
        assert!(matches!(r.scrub("a-secret-value-1"), Cow::Owned(_)));
        assert_eq!(r.scrub_string("x a-secret-value-1".into()), "x [REDACTED]");
        assert!(format!("{r:?}").contains("known_values: 1"));
        assert!(!format!("{r:?}").contains("a-secret"));
    }
}
