//! Turning what a person typed into a safe FTS5 query (or LIKE predicates).
//!
//! The rules follow Hermes' `_sanitize_fts5_query` in spirit, but every term is emitted as
//! a quoted FTS5 string, so no input can produce an FTS5 syntax error:
//!
//! - the input is cut to 2048 characters;
//! - balanced `"…"` pairs become phrases; a stray `"` is whitespace;
//! - outside phrases, the characters FTS5's grammar reserves (`+{}():^@/#&|~[]<>,;!?$=\'`)
//!   and `*` separate terms, except that a trailing `*` marks a prefix term (`deploy*`);
//! - dotted, hyphenated and underscored words (`my-app.config`) stay one term and therefore
//!   match as a phrase of their parts, as in Hermes;
//! - upper-case `AND`, `OR`, `NOT` between two terms are operators; dangling or repeated
//!   operators are dropped; lower-case `and`/`or`/`not` are ordinary words;
//! - a term with no letter or digit is dropped (it could never match).

/// Hermes' `MAX_FTS5_QUERY_CHARS`.
pub const MAX_QUERY_CHARS: usize = 2048;

const RESERVED: &[char] = &[
    '+', '{', '}', '(', ')', ':', '^', '@', '/', '#', '&', '|', '~', '[', ']', '<', '>', ',', ';',
    '!', '?', '$', '=', '\\', '\'', '*',
];

/// A boolean operator between two terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    And,
    Or,
    Not,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::And => "AND",
            Op::Or => "OR",
            Op::Not => "NOT",
        }
    }
}

/// One searchable term or phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub prefix: bool,
}

/// A query element, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Term(Term),
    Op(Op),
}

/// A parsed, sanitised query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FtsQuery {
    pub items: Vec<Item>,
}

/// True for the scripts Hermes routes to its CJK search paths: CJK Unified Ideographs and
/// extensions A and B, CJK symbols and punctuation, Hiragana, Katakana, Hangul syllables.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x3000..=0x303F
        | 0x3040..=0x309F
        | 0x30A0..=0x30FF
        | 0xAC00..=0xD7AF)
}

fn has_word_char(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

impl FtsQuery {
    /// Parses `input` by the rules in the module docs.
    pub fn parse(input: &str) -> FtsQuery {
        let input: String = input.chars().take(MAX_QUERY_CHARS).collect();
        let mut raw: Vec<Item> = Vec::new();
        // Split into phrase and bare segments; a `"` without a partner is whitespace.
        let mut rest = input.as_str();
        while !rest.is_empty() {
            match rest.find('"') {
                Some(start) => {
                    parse_bare(&rest[..start], &mut raw);
                    let after = &rest[start + 1..];
                    match after.find('"') {
                        Some(end) => {
                            let phrase = after[..end].trim();
                            if has_word_char(phrase) {
                                raw.push(Item::Term(Term {
                                    text: phrase.split_whitespace().collect::<Vec<_>>().join(" "),
                                    prefix: false,
                                }));
                            }
                            rest = &after[end + 1..];
                        }
                        None => {
                            parse_bare(after, &mut raw);
                            rest = "";
                        }
                    }
                }
                None => {
                    parse_bare(rest, &mut raw);
                    rest = "";
                }
            }
        }
        // Operators only between two terms; the last of a run of operators wins.
        let mut items: Vec<Item> = Vec::new();
        for item in raw {
            match item {
                Item::Op(op) => match items.last_mut() {
                    None => {}
                    Some(Item::Op(prev)) => *prev = op,
                    Some(Item::Term(_)) => items.push(Item::Op(op)),
                },
                term => items.push(term),
            }
        }
        if matches!(items.last(), Some(Item::Op(_))) {
            items.pop();
        }
        FtsQuery { items }
    }

    /// True when nothing searchable is left.
    pub fn is_empty(&self) -> bool {
        self.terms().next().is_none()
    }

    /// The terms, without operators.
    pub fn terms(&self) -> impl Iterator<Item = &Term> {
        self.items.iter().filter_map(|i| match i {
            Item::Term(t) => Some(t),
            Item::Op(_) => None,
        })
    }

    /// True when any term contains a CJK character.
    pub fn has_cjk(&self) -> bool {
        self.terms().any(|t| t.text.chars().any(is_cjk))
    }

    /// True when the trigram index can answer: every term has at least three characters
    /// (a shorter term yields no trigram, and under the implicit AND it would empty the
    /// whole result).
    pub fn trigram_eligible(&self) -> bool {
        !self.is_empty() && self.terms().all(|t| t.text.chars().count() >= 3)
    }

    /// The FTS5 MATCH expression. `allow_prefix` keeps `*` on prefix terms (the trigram
    /// tokenizer matches substrings anyway, so callers drop it there).
    pub fn to_match(&self, allow_prefix: bool) -> String {
        let mut out = String::new();
        for item in &self.items {
            if !out.is_empty() {
                out.push(' ');
            }
            match item {
                Item::Op(op) => out.push_str(op.as_str()),
                Item::Term(t) => {
                    out.push('"');
                    out.push_str(&t.text.replace('"', "\"\""));
                    out.push('"');
                    if t.prefix && allow_prefix {
                        out.push('*');
                    }
                }
            }
        }
        out
    }

    /// The query as LIKE groups: the outer list is OR-ed, each inner list AND-ed; a `true`
    /// flag negates the term. Groups with no positive term are dropped.
    pub fn like_groups(&self) -> Vec<Vec<(String, bool)>> {
        let mut groups: Vec<Vec<(String, bool)>> = vec![Vec::new()];
        let mut negate = false;
        for item in &self.items {
            match item {
                Item::Op(Op::Or) => {
                    if groups.last().is_some_and(|g| !g.is_empty()) {
                        groups.push(Vec::new());
                    }
                    negate = false;
                }
                Item::Op(Op::And) => {}
                Item::Op(Op::Not) => negate = true,
                Item::Term(t) => {
                    if let Some(g) = groups.last_mut() {
                        g.push((t.text.clone(), negate));
                    }
                    negate = false;
                }
            }
        }
        groups.retain(|g| g.iter().any(|(_, neg)| !neg));
        groups
    }
}

fn parse_bare(segment: &str, out: &mut Vec<Item>) {
    for word in segment.split_whitespace() {
        match word {
            "AND" => {
                out.push(Item::Op(Op::And));
                continue;
            }
            "OR" => {
                out.push(Item::Op(Op::Or));
                continue;
            }
            "NOT" => {
                out.push(Item::Op(Op::Not));
                continue;
            }
            _ => {}
        }
        let prefix = word.ends_with('*');
        let pieces: Vec<&str> = word
            .split(|c: char| RESERVED.contains(&c))
            .filter(|p| has_word_char(p))
            .collect();
        let n = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            out.push(Item::Term(Term {
                text: piece.to_string(),
                prefix: prefix && i + 1 == n,
            }));
        }
    }
}

/// Escapes `%`, `_` and `\` for `LIKE … ESCAPE '\'`.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(q: &str) -> String {
        FtsQuery::parse(q).to_match(true)
    }

    #[test]
    fn plain_words_are_quoted() {
        assert_eq!(m("docker networking"), r#""docker" "networking""#);
        assert_eq!(m("  hello  "), r#""hello""#);
    }

    #[test]
    fn phrases_prefixes_and_operators() {
        assert_eq!(
            m(r#""docker networking" OR kube*"#),
            r#""docker networking" OR "kube"*"#
        );
        assert_eq!(m("python NOT java"), r#""python" NOT "java""#);
        assert_eq!(m("a and b"), r#""a" "and" "b""#);
    }

    #[test]
    fn odd_input_is_neutralised() {
        assert_eq!(m("\""), "");
        assert_eq!(m("AND OR"), "");
        assert_eq!(m("*"), "");
        assert_eq!(m("("), "");
        assert_eq!(m(""), "");
        assert_eq!(m("NOT x"), r#""x""#);
        assert_eq!(m("x AND OR y NOT"), r#""x" OR "y""#);
        assert_eq!(m("TODO: fix(it)"), r#""TODO" "fix" "it""#);
        assert_eq!(m(r#"say "hi"#), r#""say" "hi""#);
        assert_eq!(m("**deploy"), r#""deploy""#);
        assert_eq!(m("content:secret"), r#""content" "secret""#);
    }

    #[test]
    fn dotted_terms_stay_whole() {
        assert_eq!(m("my-app.config.ts"), r#""my-app.config.ts""#);
        assert_eq!(m("P2.2"), r#""P2.2""#);
    }

    #[test]
    fn cjk_and_trigram_rules() {
        let q = FtsQuery::parse("数据库");
        assert!(q.has_cjk());
        assert!(q.trigram_eligible());
        let q = FtsQuery::parse("数据");
        assert!(q.has_cjk());
        assert!(!q.trigram_eligible());
        let q = FtsQuery::parse("广西 OR 桂林");
        assert!(!q.trigram_eligible());
        assert!(!FtsQuery::parse("hello").has_cjk());
    }

    #[test]
    fn like_groups_follow_boolean_structure() {
        let q = FtsQuery::parse("a b OR c NOT d");
        assert_eq!(
            q.like_groups(),
            vec![
                vec![("a".to_string(), false), ("b".to_string(), false)],
                vec![("c".to_string(), false), ("d".to_string(), true)],
            ]
        );
        assert_eq!(escape_like("50%_a\\"), "50\\%\\_a\\\\");
    }
}
