//! Keeping secrets and raw upstream bodies out of error messages and logs.

/// Secrets that must never appear in text this crate produces.
#[derive(Clone, Default)]
pub(crate) struct Scrubber {
    secrets: Vec<String>,
}

/// Secrets shorter than this are not scrubbed: replacing every "x" would mangle text, and
/// such values are not real keys anyway.
const MIN_SECRET_LEN: usize = 8;

impl Scrubber {
    pub(crate) fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Scrubber {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(str::trim)
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .map(str::to_string)
            .collect();
        // Longest first, so a key that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Scrubber { secrets }
    }

    /// `text` with every known secret replaced by `[REDACTED]`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "[REDACTED]");
            }
        }
        out
    }

    /// A short, single-line, scrubbed excerpt of `text` (at most `max` characters).
    pub(crate) fn excerpt(&self, text: &str, max: usize) -> String {
        excerpt(&self.scrub(text), max)
    }
}

/// Collapses whitespace to single spaces and cuts to `max` characters, marking the cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max {
        return collapsed;
    }
    let mut out: String = collapsed.chars().take(max).collect();
    out.push('…');
    out
}

/// A URL fit for messages: without userinfo, query and fragment (where keys like to
/// hide).
pub(crate) fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => {
            // Not a URL; drop anything that looks like userinfo or a query.
            let no_query = url.split(['?', '#']).next().unwrap_or_default();
            match no_query.split_once("://") {
                Some((scheme, rest)) => match rest.split_once('@') {
                    Some((_, host)) => format!("{scheme}://{host}"),
                    None => no_query.to_string(),
                },
                None => no_query.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_keys_and_ignores_tiny_values() {
        let s = Scrubber::new(["sk-abcdef123456", "x", ""]);
        assert_eq!(
            s.scrub("bad key sk-abcdef123456 given, x marks"),
            "bad key [REDACTED] given, x marks"
        );
    }

    #[test]
    fn excerpts_are_single_line_and_bounded() {
        assert_eq!(excerpt("a\n  b\tc ", 100), "a b c");
        let long = "word ".repeat(200);
        let e = excerpt(&long, 30);
        assert_eq!(e.chars().count(), 31);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt("ééé", 2), "éé…");
    }

    #[test]
    fn urls_lose_userinfo_and_query() {
        assert_eq!(
            display_url("https://user:pw@api.x.test/v1?key=abc#f"),
            "https://api.x.test/v1"
        );
        assert_eq!(
            display_url("http://127.0.0.1:8080/v1/"),
            "http://127.0.0.1:8080/v1"
        );
        assert_eq!(display_url("nonsense://u:p@h?k=1"), "nonsense://h");
    }
}
