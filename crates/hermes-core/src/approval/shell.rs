//! A shell command line taken apart into the simple commands it would run.
//!
//! This is not a shell: it reads enough of the POSIX/bash grammar to find every place a
//! program can start, and when in doubt it finds more commands rather than fewer.
//!
//! - Lists and pipelines split on `;`, `&`, `&&`, `||`, `|`, `|&`, newlines and `(`/`)`.
//! - Quotes are removed as the shell removes them (`'…'`, `"…"`, `$'…'` with its escapes,
//!   backslashes), so `"rm"`, `r''m` and `\rm` all read as `rm`; line continuations are
//!   joined and `$IFS` counts as a blank.
//! - The bodies of `$(…)`, backticks and `<(…)`/`>(…)` are analysed as command lines of
//!   their own (also inside double quotes and unquoted heredocs), and so are the strings
//!   given to `bash -c`/`sh -c` (any shell, any flag cluster holding `c`), `eval`,
//!   `su -c`, `env -S`, `watch` and `flock -c`, heredocs and here-strings fed to a shell,
//!   and the command after `find … -exec`/`-execdir`/`-ok`.
//! - Leading assignments (`A=1 cmd`) and wrappers (`sudo`, `doas`, `env`, `exec`, `nohup`,
//!   `setsid`, `time`, `nice`, `timeout`, `xargs`, `command`, `builtin`, `stdbuf`,
//!   `ionice`, `chroot`, `flock`, `busybox`, …) with their options are peeled off; the
//!   program is the basename of what is left (`/usr/bin/sudo` → `sudo`), lower-cased.
//! - Shell keywords in command position (`if`, `then`, `do`, `!`, `{`, …) are skipped;
//!   `for`/`case`/`select` headers are data.
//!
//! Quoted text stays an argument: `echo "rm -rf /"` is one command, `echo`.

/// Shell strings inside shell strings deeper than this are refused as too complex.
pub const MAX_DEPTH: usize = 12;

/// Programs that run their `-c` string, or their standard input, as shell code.
pub const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "posh", "yash", "fish", "rbash",
];

/// A redirection of a simple command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The operator as written, without the file descriptor (`>`, `>>`, `&>`, `<`, `<<`…).
    pub op: String,
    /// The target word, quotes removed.
    pub target: String,
}

impl Redirect {
    /// Whether the redirection writes to its target.
    pub fn writes(&self) -> bool {
        self.op.contains('>')
    }
}

/// One program invocation found in a command line.
#[derive(Debug, Clone, Default)]
pub struct SimpleCommand {
    /// Basename of the program, lower-cased (`rm`); empty when the command only assigns
    /// variables or redirects.
    pub program: String,
    /// The program word as written, quotes removed (`/bin/rm`, `$(curl x)`).
    pub program_word: String,
    /// The words after the program, quotes removed.
    pub args: Vec<String>,
    /// Wrappers peeled off in front of the program, outermost first (`sudo`, `env`).
    pub wrappers: Vec<String>,
    /// Options given to `sudo`/`doas` (whether peeled or the program itself).
    pub sudo_flags: Vec<String>,
    pub redirects: Vec<Redirect>,
    /// Heredoc and here-string bodies this command reads on standard input.
    pub stdin_texts: Vec<String>,
    /// The command as text from each wrapper level down, program words reduced to their
    /// basename: `sudo -u bob rm -rf x` and `rm -rf x`. Deny rules and command globs are
    /// matched against these.
    pub forms: Vec<String>,
    /// Found as the command of `find -exec`.
    pub via_find_exec: bool,
    /// Which pipeline of the analysis this command belongs to, and its position in it.
    pub pipeline: usize,
    pub stage: usize,
    /// 0 for the command line itself, +1 per enclosing substitution or shell string.
    pub depth: usize,
}

/// One piece of shell text that was analysed: the command line or a nested string.
#[derive(Debug, Clone)]
pub struct Source {
    pub text: String,
    /// The text with quoted content, comments and heredoc bodies blanked (same length in
    /// characters), for rules that are not tied to a command word.
    pub masked: String,
    pub depth: usize,
}

/// Everything a command line would run.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub commands: Vec<SimpleCommand>,
    pub sources: Vec<Source>,
    next_pipeline: usize,
}

impl Analysis {
    /// Whether the command line is a single simple command with no operators,
    /// substitutions, nested strings or redirections.
    pub fn is_single_plain_command(&self) -> bool {
        self.sources.len() == 1
            && self.commands.len() == 1
            && self
                .commands
                .first()
                .is_some_and(|c| c.redirects.is_empty() && c.stdin_texts.is_empty())
    }

    /// The commands of `pipeline`, in stage order.
    pub fn pipeline(&self, pipeline: usize) -> impl Iterator<Item = &SimpleCommand> {
        self.commands.iter().filter(move |c| c.pipeline == pipeline)
    }
}

/// The command line nests shell strings deeper than [`MAX_DEPTH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooComplex;

/// Takes `command` apart into the simple commands it would run.
pub fn analyze(command: &str) -> Result<Analysis, TooComplex> {
    let mut acc = Analysis::default();
    analyze_source(command, 0, &mut acc)?;
    Ok(acc)
}

/// `command` without its comments (what an approval reviewer should read).
pub fn without_comments(command: &str) -> String {
    let text = normalize(command);
    let mut p = Parser::new(&text);
    p.run();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    for (start, end) in &p.comments {
        out.extend(p.chars.get(i..*start).unwrap_or_default());
        i = *end;
    }
    out.extend(p.chars.get(i..).unwrap_or_default());
    out.trim().to_string()
}

fn analyze_source(text: &str, depth: usize, acc: &mut Analysis) -> Result<(), TooComplex> {
    if depth > MAX_DEPTH {
        return Err(TooComplex);
    }
    let text = normalize(text);
    let mut p = Parser::new(&text);
    p.run();
    acc.sources.push(Source {
        text: text.clone(),
        masked: p.mask.iter().collect(),
        depth,
    });
    let base = acc.next_pipeline;
    let used = p.cmds.iter().map(|c| c.pipeline + 1).max().unwrap_or(0);
    acc.next_pipeline += used;
    for nested in std::mem::take(&mut p.nested) {
        analyze_source(&nested, depth + 1, acc)?;
    }
    let first = acc.commands.len();
    for mut cmd in std::mem::take(&mut p.cmds) {
        cmd.pipeline += base;
        resolve(cmd, depth, false, acc)?;
    }
    let fed = piped_code(
        acc.commands.get(first..).unwrap_or_default(),
        base..base + used,
    );
    for code in fed {
        analyze_source(&code, depth + 1, acc)?;
    }
    Ok(())
}

/// Text piped into a shell by `echo`, `printf` or a heredoc (`echo 'rm -rf x' | sh`),
/// for the pipelines in `range`.
fn piped_code(commands: &[SimpleCommand], range: std::ops::Range<usize>) -> Vec<String> {
    let mut out = Vec::new();
    for pipeline in range {
        let stages: Vec<&SimpleCommand> =
            commands.iter().filter(|c| c.pipeline == pipeline).collect();
        let Some(shell_at) = stages.iter().position(|c| {
            SHELLS.contains(&c.program.as_str())
                && !c
                    .args
                    .iter()
                    .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('c'))
        }) else {
            continue;
        };
        for c in stages.iter().take(shell_at) {
            match c.program.as_str() {
                "echo" => {
                    let words: Vec<&str> = c
                        .args
                        .iter()
                        .map(String::as_str)
                        .skip_while(|a| matches!(*a, "-n" | "-e" | "-E" | "-ne" | "-en"))
                        .collect();
                    out.push(words.join(" ").replace("\\n", "\n"));
                }
                "printf" => out.push(c.args.join(" ").replace("\\n", "\n")),
                _ => {}
            }
            out.extend(c.stdin_texts.iter().cloned());
        }
    }
    out
}

/// Joins line continuations and turns `$IFS` into a blank.
fn normalize(text: &str) -> String {
    let mut s = text.replace("\\\r\n", "").replace("\\\n", "");
    for ifs in ["${IFS}", "$IFS"] {
        s = s.replace(ifs, " ");
    }
    // `${IFS:0:1}` and similar slices.
    while let Some(start) = s.find("${IFS") {
        let end = s[start..]
            .find('}')
            .map(|e| start + e + 1)
            .unwrap_or(s.len());
        s.replace_range(start..end, " ");
    }
    s
}

/// A word as the lexer read it.
#[derive(Debug, Clone, Default)]
struct RawWord {
    text: String,
    /// Some part was quoted or escaped.
    quoted: bool,
}

/// A simple command before wrappers and programs are resolved.
#[derive(Debug, Clone, Default)]
struct RawCmd {
    words: Vec<String>,
    redirects: Vec<Redirect>,
    stdin_texts: Vec<String>,
    pipeline: usize,
    stage: usize,
}

struct PendingHeredoc {
    owner: usize,
    delimiter: String,
    strip_tabs: bool,
    quoted: bool,
}

struct Parser {
    chars: Vec<char>,
    mask: Vec<char>,
    pos: usize,
    cmds: Vec<RawCmd>,
    cur: RawCmd,
    nested: Vec<String>,
    heredocs: Vec<PendingHeredoc>,
    comments: Vec<(usize, usize)>,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r'
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `NAME=…`, `NAME+=…` or `NAME[i]=…`.
fn is_assignment(word: &str) -> bool {
    let Some(eq) = word.find('=') else {
        return false;
    };
    let name = word[..eq].trim_end_matches('+');
    let name = match name.find('[') {
        Some(b) if name.ends_with(']') => &name[..b],
        _ => name,
    };
    is_name(name)
}

impl Parser {
    fn new(text: &str) -> Parser {
        let chars: Vec<char> = text.chars().collect();
        Parser {
            mask: chars.clone(),
            chars,
            pos: 0,
            cmds: Vec::new(),
            cur: RawCmd::default(),
            nested: Vec::new(),
            heredocs: Vec::new(),
            comments: Vec::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    fn slice(&self, start: usize, end: usize) -> String {
        self.chars
            .get(start..end.min(self.chars.len()))
            .unwrap_or_default()
            .iter()
            .collect()
    }

    fn blank_mask(&mut self, start: usize, end: usize) {
        let end = end.min(self.mask.len());
        for c in self.mask.get_mut(start..end).unwrap_or_default() {
            if *c != '\n' {
                *c = ' ';
            }
        }
    }

    fn run(&mut self) {
        loop {
            while self.peek().is_some_and(is_blank) {
                self.pos += 1;
            }
            let Some(c) = self.peek() else { break };
            match c {
                '\n' => {
                    self.pos += 1;
                    self.end_command(false);
                    self.read_heredoc_bodies();
                }
                '#' => {
                    let start = self.pos;
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                    self.blank_mask(start, self.pos);
                    self.comments.push((start, self.pos));
                }
                ';' => {
                    while matches!(self.peek(), Some(';' | '&')) {
                        self.pos += 1;
                    }
                    self.end_command(false);
                }
                '&' => match self.peek_at(1) {
                    Some('&') => {
                        self.pos += 2;
                        self.end_command(false);
                    }
                    Some('>') => self.redirect(),
                    _ => {
                        self.pos += 1;
                        self.end_command(false);
                    }
                },
                '|' => match self.peek_at(1) {
                    Some('|') => {
                        self.pos += 2;
                        self.end_command(false);
                    }
                    Some('&') => {
                        self.pos += 2;
                        self.end_command(true);
                    }
                    _ => {
                        self.pos += 1;
                        self.end_command(true);
                    }
                },
                '(' | ')' => {
                    self.pos += 1;
                    self.end_command(false);
                }
                '<' | '>' if self.peek_at(1) != Some('(') => self.redirect(),
                _ => {
                    let word = self.read_word();
                    let fd_prefix = !word.quoted
                        && !word.text.is_empty()
                        && (word.text.chars().all(|c| c.is_ascii_digit())
                            || (word.text.starts_with('{') && word.text.ends_with('}')))
                        && matches!(self.peek(), Some('<' | '>'));
                    if fd_prefix {
                        self.redirect();
                    } else if word.text.is_empty() && !word.quoted {
                        // A character the lexer does not understand: skip it.
                        self.pos += 1;
                    } else {
                        self.cur.words.push(word.text);
                    }
                }
            }
        }
        self.end_command(false);
        self.read_heredoc_bodies();
    }

    fn end_command(&mut self, piped: bool) {
        let mut cmd = std::mem::take(&mut self.cur);
        let (pipeline, stage) = (cmd.pipeline, cmd.stage);
        if !cmd.words.is_empty() || !cmd.redirects.is_empty() {
            cmd.pipeline = pipeline;
            self.cmds.push(cmd);
        }
        if piped {
            self.cur.pipeline = pipeline;
            self.cur.stage = stage + 1;
        } else {
            self.cur.pipeline = pipeline + 1;
            self.cur.stage = 0;
        }
    }

    /// At `<`, `>` or `&>`: reads the operator and its target.
    fn redirect(&mut self) {
        const OPS: &[&str] = &[
            "<<<", "<<-", "<<", "<>", "<&", "<", "&>>", "&>", ">>", ">|", ">&", ">",
        ];
        let rest = self.slice(self.pos, self.pos + 3);
        let op = OPS
            .iter()
            .find(|op| rest.starts_with(**op))
            .copied()
            .unwrap_or(">");
        self.pos += op.chars().count();
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
        let word = self.read_word();
        match op {
            "<<" | "<<-" => {
                // The owner is the command being read; it is pushed at the next index.
                self.heredocs.push(PendingHeredoc {
                    owner: self.cmds.len(),
                    delimiter: word.text.clone(),
                    strip_tabs: op == "<<-",
                    quoted: word.quoted,
                });
            }
            "<<<" => self.cur.stdin_texts.push(word.text.clone()),
            ">&" | "<&" if word.text.chars().all(|c| c.is_ascii_digit() || c == '-') => {
                // Duplicating a descriptor, not a file.
                return;
            }
            _ => {}
        }
        self.cur.redirects.push(Redirect {
            op: op.to_string(),
            target: word.text,
        });
    }

    /// After a newline: the bodies of the heredocs opened on the line before.
    fn read_heredoc_bodies(&mut self) {
        for hd in std::mem::take(&mut self.heredocs) {
            let start = self.pos;
            let mut body = String::new();
            while self.pos < self.chars.len() {
                let line_end = (self.pos..self.chars.len())
                    .find(|&i| self.chars.get(i) == Some(&'\n'))
                    .unwrap_or(self.chars.len());
                let line = self.slice(self.pos, line_end);
                self.pos = (line_end + 1).min(self.chars.len());
                let cmp = if hd.strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line.as_str()
                };
                if cmp == hd.delimiter {
                    break;
                }
                body.push_str(&line);
                body.push('\n');
            }
            self.blank_mask(start, self.pos);
            if !hd.quoted {
                self.nested.extend(substitutions_in(&body));
            }
            if let Some(owner) = self.cmds.get_mut(hd.owner) {
                owner.stdin_texts.push(body);
            }
        }
    }

    /// Reads one word up to an unquoted metacharacter.
    fn read_word(&mut self) -> RawWord {
        let mut w = RawWord::default();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | ')' => break,
                '(' => {
                    if w.text.ends_with('=') && is_assignment(&w.text) {
                        // An array assignment: `a=(x y)` is data.
                        let start = self.pos;
                        self.pos += 1;
                        let body = self.balanced();
                        w.text.push('(');
                        w.text.push_str(&body);
                        w.text.push(')');
                        self.blank_mask(start, self.pos);
                    } else {
                        break;
                    }
                }
                '<' | '>' => {
                    if w.text.is_empty() && self.peek_at(1) == Some('(') {
                        self.pos += 2;
                        let body = self.balanced();
                        w.text.push(c);
                        w.text.push('(');
                        w.text.push_str(&body);
                        w.text.push(')');
                        self.nested.push(body);
                    } else {
                        break;
                    }
                }
                '\\' => {
                    w.quoted = true;
                    self.pos += 1;
                    match self.peek() {
                        Some('\n') => self.pos += 1,
                        Some(n) => {
                            w.text.push(n);
                            self.pos += 1;
                        }
                        None => {}
                    }
                }
                '\'' => {
                    w.quoted = true;
                    let start = self.pos;
                    self.pos += 1;
                    while let Some(c) = self.peek() {
                        self.pos += 1;
                        if c == '\'' {
                            break;
                        }
                        w.text.push(c);
                    }
                    self.blank_mask(start + 1, self.pos.saturating_sub(1).max(start + 1));
                }
                '"' => {
                    w.quoted = true;
                    self.pos += 1;
                    self.read_double_quoted(&mut w.text);
                }
                '$' => match self.peek_at(1) {
                    Some('\'') => {
                        w.quoted = true;
                        let start = self.pos;
                        self.pos += 2;
                        self.read_ansi_c(&mut w.text);
                        self.blank_mask(start + 2, self.pos.saturating_sub(1).max(start + 2));
                    }
                    Some('(') => self.read_dollar_paren(&mut w.text),
                    Some('{') => {
                        let start = self.pos;
                        self.pos += 2;
                        let mut depth = 1;
                        while let Some(c) = self.peek() {
                            self.pos += 1;
                            match c {
                                '{' => depth += 1,
                                '}' => {
                                    depth -= 1;
                                    if depth == 0 {
                                        break;
                                    }
                                }
                                _ => {}
                            }
                        }
                        let raw = self.slice(start, self.pos);
                        self.nested.extend(substitutions_in(&raw));
                        w.text.push_str(&raw);
                    }
                    _ => {
                        w.text.push('$');
                        self.pos += 1;
                    }
                },
                '`' => self.read_backticks(&mut w.text),
                c => {
                    w.text.push(c);
                    self.pos += 1;
                }
            }
        }
        w
    }

    /// After an opening `"`: up to the closing one.
    fn read_double_quoted(&mut self, text: &mut String) {
        while let Some(c) = self.peek() {
            match c {
                '"' => {
                    self.pos += 1;
                    return;
                }
                '\\' => {
                    let start = self.pos;
                    match self.peek_at(1) {
                        Some(n @ ('$' | '`' | '"' | '\\')) => {
                            text.push(n);
                            self.pos += 2;
                        }
                        Some('\n') => self.pos += 2,
                        _ => {
                            text.push('\\');
                            self.pos += 1;
                        }
                    }
                    self.blank_mask(start, self.pos);
                }
                '$' if self.peek_at(1) == Some('(') => self.read_dollar_paren(text),
                '`' => self.read_backticks(text),
                c => {
                    text.push(c);
                    self.blank_mask(self.pos, self.pos + 1);
                    self.pos += 1;
                }
            }
        }
    }

    /// After `$'`: ANSI-C quoting with its escapes.
    fn read_ansi_c(&mut self, text: &mut String) {
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '\'' => return,
                '\\' => {
                    let Some(e) = self.peek() else { return };
                    self.pos += 1;
                    match e {
                        'n' => text.push('\n'),
                        't' => text.push('\t'),
                        'r' => text.push('\r'),
                        'a' => text.push('\u{7}'),
                        'b' => text.push('\u{8}'),
                        'e' | 'E' => text.push('\u{1b}'),
                        'f' => text.push('\u{c}'),
                        'v' => text.push('\u{b}'),
                        'x' => self.push_code(text, 16, 2),
                        'u' => self.push_code(text, 16, 4),
                        'U' => self.push_code(text, 16, 8),
                        '0'..='7' => {
                            self.pos -= 1;
                            self.push_code(text, 8, 3);
                        }
                        'c' => {
                            if let Some(x) = self.peek() {
                                self.pos += 1;
                                text.push(char::from((x as u8) & 0x1f));
                            }
                        }
                        other => text.push(other),
                    }
                }
                c => text.push(c),
            }
        }
    }

    fn push_code(&mut self, text: &mut String, radix: u32, max: usize) {
        let mut value = 0u32;
        let mut n = 0;
        while n < max {
            let Some(d) = self.peek().and_then(|c| c.to_digit(radix)) else {
                break;
            };
            value = value * radix + d;
            self.pos += 1;
            n += 1;
        }
        if n > 0
            && let Some(c) = char::from_u32(value)
        {
            text.push(c);
        }
    }

    /// At `$(`: a command substitution (analysed on its own) or `$((` arithmetic.
    fn read_dollar_paren(&mut self, text: &mut String) {
        let start = self.pos;
        if self.peek_at(2) == Some('(') {
            self.pos += 3;
            let body = self.balanced();
            // `$((…))`: the second closing parenthesis.
            if self.peek() == Some(')') {
                self.pos += 1;
            }
            self.nested.extend(substitutions_in(&body));
        } else {
            self.pos += 2;
            let body = self.balanced();
            self.nested.push(body);
        }
        let raw = self.slice(start, self.pos);
        text.push_str(&raw);
    }

    /// At a backtick: the substitution up to the next unescaped backtick.
    fn read_backticks(&mut self, text: &mut String) {
        let start = self.pos;
        self.pos += 1;
        let mut body = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '`' => break,
                '\\' => {
                    if let Some(n) = self.peek() {
                        self.pos += 1;
                        if !matches!(n, '`' | '\\' | '$') {
                            body.push('\\');
                        }
                        body.push(n);
                    }
                }
                c => body.push(c),
            }
        }
        text.push_str(&self.slice(start, self.pos));
        self.nested.push(body);
    }

    /// After an opening `(`: the text up to the matching `)`, which is consumed.
    fn balanced(&mut self) -> String {
        let start = self.pos;
        let mut depth = 1usize;
        while let Some(c) = self.peek() {
            match c {
                '\\' => self.pos += 1,
                '\'' => {
                    self.pos += 1;
                    while self.peek().is_some_and(|c| c != '\'') {
                        self.pos += 1;
                    }
                }
                '"' => {
                    self.pos += 1;
                    while let Some(c) = self.peek() {
                        if c == '\\' {
                            self.pos += 1;
                        } else if c == '"' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                '`' => {
                    self.pos += 1;
                    while self.peek().is_some_and(|c| c != '`') {
                        self.pos += 1;
                    }
                }
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        let body = self.slice(start, self.pos);
                        self.pos += 1;
                        return body;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        self.pos = self.pos.min(self.chars.len());
        self.slice(start, self.chars.len())
    }
}

/// Command substitutions in text where only `$(…)` and backticks are special (an unquoted
/// heredoc body, a `${…}` expansion).
fn substitutions_in(text: &str) -> Vec<String> {
    let mut p = Parser::new(text);
    let mut out = Vec::new();
    while let Some(c) = p.peek() {
        match c {
            '\\' => p.pos += 2,
            '$' if p.peek_at(1) == Some('(') => {
                let mut sink = String::new();
                p.read_dollar_paren(&mut sink);
            }
            '`' => {
                let mut sink = String::new();
                p.read_backticks(&mut sink);
            }
            _ => p.pos += 1,
        }
        out.append(&mut p.nested);
    }
    out
}

/// The basename of a program word, lower-cased.
pub fn program_name(word: &str) -> String {
    let trimmed = word.trim_end_matches('/');
    let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
    base.to_lowercase()
}

/// What a wrapper is followed by after its options.
enum Peeled {
    /// The wrapped command starts at this index.
    Command(usize),
    /// The wrapper runs this string as shell code; nothing follows.
    Code(String),
    /// The wrapper does not run anything here (`command -v x`); it is the program.
    Stop,
}

/// Skips options; `with_arg` lists options whose value is the next word (unless attached).
fn skip_options(words: &[String], mut i: usize, with_arg: &[&str]) -> usize {
    while let Some(w) = words.get(i) {
        if w == "--" {
            return i + 1;
        }
        if !w.starts_with('-') || w == "-" {
            break;
        }
        if with_arg.contains(&w.as_str()) {
            i += 2;
        } else {
            i += 1;
        }
    }
    i
}

fn peel(name: &str, words: &[String], i: usize, sudo_flags: &mut Vec<String>) -> Option<Peeled> {
    let next = i + 1;
    Some(match name {
        "sudo" | "doas" => {
            const ARG: &[&str] = &[
                "-u",
                "-g",
                "-C",
                "-D",
                "-p",
                "-r",
                "-t",
                "-T",
                "-U",
                "-R",
                "--user",
                "--group",
                "--close-from",
                "--chdir",
                "--prompt",
                "--role",
                "--type",
                "--command-timeout",
                "--other-user",
                "--chroot",
                "--host",
            ];
            let mut j = next;
            while let Some(w) = words.get(j) {
                if w == "--" {
                    j += 1;
                    break;
                }
                if !w.starts_with('-') || w == "-" {
                    break;
                }
                sudo_flags.push(w.clone());
                j += if ARG.contains(&w.as_str()) { 2 } else { 1 };
            }
            Peeled::Command(j)
        }
        "env" => {
            let mut j = next;
            while let Some(w) = words.get(j) {
                match w.as_str() {
                    "--" => {
                        j += 1;
                        break;
                    }
                    "-u" | "-C" | "--unset" | "--chdir" => j += 2,
                    "-S" | "--split-string" => {
                        return Some(Peeled::Code(words.get(j + 1..)?.join(" ")));
                    }
                    s if s.starts_with("--split-string=") => {
                        let mut code = vec![s["--split-string=".len()..].to_string()];
                        code.extend(words.get(j + 1..).unwrap_or_default().iter().cloned());
                        return Some(Peeled::Code(code.join(" ")));
                    }
                    s if s.starts_with("-S") => {
                        let mut code = vec![s[2..].to_string()];
                        code.extend(words.get(j + 1..).unwrap_or_default().iter().cloned());
                        return Some(Peeled::Code(code.join(" ")));
                    }
                    s if s.starts_with('-') => j += 1,
                    s if is_assignment(s) => j += 1,
                    _ => break,
                }
            }
            Peeled::Command(j)
        }
        "exec" => Peeled::Command(skip_options(words, next, &["-a"])),
        "nohup" | "setsid" | "builtin" | "nocorrect" | "noglob" | "unbuffer" => {
            Peeled::Command(skip_options(words, next, &[]))
        }
        "time" => Peeled::Command(skip_options(
            words,
            next,
            &["-f", "-o", "--format", "--output"],
        )),
        "nice" => Peeled::Command(skip_options(words, next, &["-n", "--adjustment"])),
        "ionice" => {
            if words.get(next..)?.iter().any(|w| w == "-p" || w == "--pid") {
                return Some(Peeled::Stop);
            }
            Peeled::Command(skip_options(
                words,
                next,
                &["-c", "-n", "--class", "--classdata"],
            ))
        }
        "stdbuf" => Peeled::Command(skip_options(
            words,
            next,
            &["-i", "-o", "-e", "--input", "--output", "--error"],
        )),
        "timeout" => {
            let j = skip_options(words, next, &["-s", "-k", "--signal", "--kill-after"]);
            // The duration.
            Peeled::Command(j + 1)
        }
        "xargs" => Peeled::Command(skip_options(
            words,
            next,
            &[
                "-a",
                "-d",
                "-E",
                "-I",
                "-L",
                "-n",
                "-P",
                "-s",
                "--arg-file",
                "--delimiter",
                "--max-lines",
                "--max-args",
                "--max-procs",
                "--max-chars",
                "--process-slot-var",
                "--eof",
                "--replace",
            ],
        )),
        "command" => {
            let mut j = next;
            while let Some(w) = words.get(j) {
                if w == "--" {
                    j += 1;
                    break;
                }
                if !w.starts_with('-') {
                    break;
                }
                if w.contains('v') || w.contains('V') {
                    return Some(Peeled::Stop);
                }
                j += 1;
            }
            Peeled::Command(j)
        }
        "busybox" | "toybox" => Peeled::Command(skip_options(words, next, &[])),
        "chroot" => {
            let j = skip_options(words, next, &["--userspec", "--groups"]);
            // The new root.
            Peeled::Command(j + 1)
        }
        "flock" => {
            let mut j = next;
            while let Some(w) = words.get(j) {
                match w.as_str() {
                    "-c" | "--command" => return Some(Peeled::Code(words.get(j + 1)?.clone())),
                    "-w" | "-E" | "--timeout" | "--wait" | "--conflict-exit-code" => j += 2,
                    s if s.starts_with('-') => j += 1,
                    _ => break,
                }
            }
            // The lock file, then the command.
            Peeled::Command(j + 1)
        }
        "watch" => {
            let mut j = next;
            let mut exec = false;
            while let Some(w) = words.get(j) {
                match w.as_str() {
                    "-n" | "--interval" | "-q" | "--equexit" => j += 2,
                    "-x" | "--exec" => {
                        exec = true;
                        j += 1;
                    }
                    s if s.starts_with('-') => j += 1,
                    _ => break,
                }
            }
            if exec {
                Peeled::Command(j)
            } else {
                Peeled::Code(words.get(j..)?.join(" "))
            }
        }
        _ => return None,
    })
}

/// Shell keywords skipped in command position.
const SKIPPED_KEYWORDS: &[&str] = &[
    "{", "}", "!", "if", "then", "else", "elif", "while", "until", "do", "fi", "done", "esac",
    "coproc",
];
/// Shell keywords whose command is a header of data (`for x in …`).
const HEADER_KEYWORDS: &[&str] = &["for", "select", "case", "function", "in"];

fn resolve(
    raw: RawCmd,
    depth: usize,
    via_find_exec: bool,
    acc: &mut Analysis,
) -> Result<(), TooComplex> {
    let words = &raw.words;
    let mut i = 0;
    while let Some(w) = words.get(i) {
        if SKIPPED_KEYWORDS.contains(&w.as_str()) {
            i += 1;
        } else if HEADER_KEYWORDS.contains(&w.as_str()) {
            i = words.len();
        } else {
            break;
        }
    }
    while words.get(i).is_some_and(|w| is_assignment(w)) {
        i += 1;
    }

    let mut levels: Vec<(usize, String)> = Vec::new();
    let mut sudo_flags = Vec::new();
    let mut codes: Vec<String> = Vec::new();
    let mut program_at: Option<usize> = None;
    while let Some(w) = words.get(i) {
        let name = program_name(w);
        match peel(&name, words, i, &mut sudo_flags) {
            None => {
                program_at = Some(i);
                break;
            }
            Some(Peeled::Stop) => {
                program_at = Some(i);
                break;
            }
            Some(Peeled::Code(code)) => {
                codes.push(code);
                program_at = Some(i);
                break;
            }
            Some(Peeled::Command(j)) => {
                levels.push((i, name));
                i = j;
                while words.get(i).is_some_and(|w| is_assignment(w)) {
                    i += 1;
                }
            }
        }
    }
    // A wrapper with nothing after it is the program itself (`sudo -l`).
    let program_at = match program_at {
        Some(p) => Some(p),
        None => levels.pop().map(|(idx, _)| idx),
    };

    let mut cmd = SimpleCommand {
        redirects: raw.redirects.clone(),
        stdin_texts: raw.stdin_texts.clone(),
        pipeline: raw.pipeline,
        stage: raw.stage,
        depth,
        via_find_exec,
        sudo_flags,
        wrappers: levels.iter().map(|(_, n)| n.clone()).collect(),
        ..SimpleCommand::default()
    };
    let mut synthetic: Vec<Vec<String>> = Vec::new();
    if let Some(p) = program_at {
        cmd.program_word = words.get(p).cloned().unwrap_or_default();
        cmd.program = program_name(&cmd.program_word);
        cmd.args = words.get(p + 1..).unwrap_or_default().to_vec();
        let mut program_indices: Vec<usize> = levels.iter().map(|(idx, _)| *idx).collect();
        program_indices.push(p);
        for &start in &program_indices {
            let form: Vec<String> = words
                .get(start..)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(k, w)| {
                    if program_indices.contains(&(start + k)) {
                        program_name(w)
                    } else {
                        w.clone()
                    }
                })
                .collect();
            cmd.forms.push(form.join(" "));
        }
        carried_code(&cmd, &mut codes, &mut synthetic);
    }
    if cmd.program.is_empty() && cmd.redirects.is_empty() && codes.is_empty() {
        return Ok(());
    }
    acc.commands.push(cmd);
    for code in codes {
        analyze_source(&code, depth + 1, acc)?;
    }
    for words in synthetic {
        let pipeline = acc.next_pipeline;
        acc.next_pipeline += 1;
        resolve(
            RawCmd {
                words,
                pipeline,
                ..RawCmd::default()
            },
            depth + 1,
            true,
            acc,
        )?;
    }
    Ok(())
}

/// Shell code a resolved command carries in its arguments or standard input, and the
/// commands `find -exec` runs.
fn carried_code(cmd: &SimpleCommand, codes: &mut Vec<String>, synthetic: &mut Vec<Vec<String>>) {
    let args = &cmd.args;
    match cmd.program.as_str() {
        p if SHELLS.contains(&p) => {
            let mut j = 0;
            let mut has_c = false;
            let mut reads_stdin = false;
            while let Some(a) = args.get(j) {
                if a == "--" || a == "-" {
                    j += 1;
                    reads_stdin |= a == "-";
                    break;
                }
                if let Some(long) = a.strip_prefix("--") {
                    j += if matches!(long, "rcfile" | "init-file") {
                        2
                    } else {
                        1
                    };
                    continue;
                }
                if (a.starts_with('-') || a.starts_with('+')) && a.len() > 1 {
                    let flags = &a[1..];
                    has_c |= flags.contains('c');
                    reads_stdin |= flags.contains('s');
                    j += if flags.contains('o') || flags.contains('O') {
                        2
                    } else {
                        1
                    };
                    continue;
                }
                break;
            }
            if has_c {
                if let Some(code) = args.get(j) {
                    codes.push(code.clone());
                }
            } else if reads_stdin || args.get(j).is_none() {
                codes.extend(cmd.stdin_texts.iter().cloned());
            }
        }
        "eval" => codes.push(args.join(" ")),
        "su" => {
            let mut j = 0;
            while let Some(a) = args.get(j) {
                if a == "-c" || a == "--command" {
                    if let Some(code) = args.get(j + 1) {
                        codes.push(code.clone());
                    }
                    break;
                }
                if let Some(code) = a.strip_prefix("--command=") {
                    codes.push(code.to_string());
                    break;
                }
                j += 1;
            }
        }
        "find" => {
            let mut j = 0;
            while let Some(a) = args.get(j) {
                if matches!(a.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
                    let end = (j + 1..args.len())
                        .find(|&k| args.get(k).is_some_and(|x| x == ";" || x == "+"))
                        .unwrap_or(args.len());
                    let words = args.get(j + 1..end).unwrap_or_default().to_vec();
                    if !words.is_empty() {
                        synthetic.push(words);
                    }
                    j = end + 1;
                } else {
                    j += 1;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs(cmd: &str) -> Vec<String> {
        analyze(cmd)
            .unwrap()
            .commands
            .iter()
            .map(|c| c.program.clone())
            .collect()
    }

    fn first(cmd: &str) -> SimpleCommand {
        analyze(cmd).unwrap().commands.into_iter().next().unwrap()
    }

    #[test]
    fn lists_and_pipelines_split() {
        assert_eq!(
            programs("a; b && c || d | e |& f & g\nh"),
            ["a", "b", "c", "d", "e", "f", "g", "h"]
        );
        assert_eq!(programs("(cd x && make) ; { ls; }"), ["cd", "make", "ls"]);
        let a = analyze("curl x | sh; ls").unwrap();
        let c = &a.commands;
        assert_eq!(c[0].pipeline, c[1].pipeline);
        assert_eq!((c[0].stage, c[1].stage), (0, 1));
        assert_ne!(c[1].pipeline, c[2].pipeline);
    }

    #[test]
    fn quotes_and_escapes_are_removed() {
        for spelling in [
            "rm",
            "\"rm\"",
            "'rm'",
            "r''m",
            "\\rm",
            "r\\m",
            "$'\\x72m'",
            "/bin/rm",
            "./rm",
        ] {
            assert_eq!(
                first(&format!("{spelling} -rf x")).program,
                "rm",
                "{spelling}"
            );
        }
        let c = first("echo \"a b\" 'c d' e\\ f");
        assert_eq!(c.args, ["a b", "c d", "e f"]);
        assert_eq!(first("rm${IFS}-rf${IFS}x").args, ["-rf", "x"]);
        assert_eq!(first("rm -rf \\\nx").args, ["-rf", "x"]);
    }

    #[test]
    fn quoted_text_is_an_argument() {
        assert_eq!(programs("echo \"rm -rf /\""), ["echo"]);
        assert_eq!(programs("git commit -m 'reboot; shutdown'"), ["git"]);
        assert_eq!(programs("echo hi # ; reboot"), ["echo"]);
    }

    #[test]
    fn substitutions_are_commands_too() {
        assert_eq!(programs("echo $(whoami)"), ["whoami", "echo"]);
        assert_eq!(programs("echo \"$(id -u)\" `date`"), ["id", "date", "echo"]);
        assert_eq!(programs("diff <(ls a) >(cat)"), ["ls", "cat", "diff"]);
        assert_eq!(programs("echo $((1 + 2))"), ["echo"]);
        assert_eq!(programs("echo ${x:-$(pwd)}"), ["pwd", "echo"]);
    }

    #[test]
    fn shell_strings_are_analysed() {
        assert_eq!(programs("bash -c 'sudo ls'"), ["bash", "ls"]);
        assert_eq!(first_nested("bash -lc 'sudo ls'").wrappers, ["sudo"]);
        assert_eq!(programs("sh -ec \"rm -rf x\""), ["sh", "rm"]);
        assert_eq!(programs("eval 'reboot now'"), ["eval", "reboot"]);
        assert_eq!(programs("su -c 'id' root"), ["su", "id"]);
        assert_eq!(programs("env -S 'rm -rf x'"), ["env", "rm"]);
        assert_eq!(programs("watch -n 1 'ls | wc -l'"), ["watch", "ls", "wc"]);
        assert_eq!(programs("bash --norc script.sh"), ["bash"]);
        assert_eq!(
            programs("bash -c \"bash -c 'sh -c reboot'\""),
            ["bash", "bash", "sh", "reboot"]
        );
    }

    fn first_nested(cmd: &str) -> SimpleCommand {
        analyze(cmd).unwrap().commands.into_iter().nth(1).unwrap()
    }

    #[test]
    fn heredocs_feed_shells_only() {
        assert_eq!(
            programs("bash <<EOF\nrm -rf x\nEOF\nls"),
            ["bash", "rm", "ls"]
        );
        assert_eq!(programs("cat > notes.md <<'EOF'\nrm -rf /\nEOF"), ["cat"]);
        assert_eq!(programs("cat <<EOF\n$(whoami)\nEOF"), ["whoami", "cat"]);
        assert_eq!(programs("bash <<< 'reboot'"), ["bash", "reboot"]);
        let c = first("psql <<-SQL\n\tDROP TABLE x;\n\tSQL\n");
        assert_eq!(c.stdin_texts, ["\tDROP TABLE x;\n"]);
    }

    #[test]
    fn wrappers_are_peeled() {
        let c = first(
            "FOO=1 /usr/bin/sudo -u bob -E env A=b nice -n 5 timeout -s KILL 10 /bin/rm -rf x",
        );
        assert_eq!(c.program, "rm");
        assert_eq!(c.wrappers, ["sudo", "env", "nice", "timeout"]);
        assert_eq!(c.sudo_flags, ["-u", "-E"]);
        assert_eq!(
            c.forms[0],
            "sudo -u bob -E env A=b nice -n 5 timeout -s KILL 10 rm -rf x"
        );
        assert_eq!(c.forms.last().unwrap(), "rm -rf x");
        assert_eq!(first("sudo -l").program, "sudo");
        assert_eq!(first("sudo -s").sudo_flags, ["-s"]);
        assert_eq!(first("command -v mkfs").program, "command");
        assert_eq!(first("xargs -0 -n 1 rm -f").program, "rm");
        assert_eq!(first("exec 2>&1").program, "exec");
        assert_eq!(first("nohup setsid busybox rm x").program, "rm");
    }

    #[test]
    fn find_exec_is_a_command() {
        let a = analyze("find . -name '*.o' -exec rm -f {} \\; -print").unwrap();
        let rm = a.commands.iter().find(|c| c.program == "rm").unwrap();
        assert!(rm.via_find_exec);
        assert_eq!(rm.args, ["-f", "{}"]);
    }

    #[test]
    fn keywords_and_redirects() {
        assert_eq!(
            programs("if true; then reboot; fi; for f in rm x; do echo $f; done"),
            ["true", "reboot", "echo"]
        );
        let c = first("cat x 2>/dev/null > \"/dev/sda\" 2>&1");
        assert_eq!(
            c.redirects,
            [
                Redirect {
                    op: ">".into(),
                    target: "/dev/null".into()
                },
                Redirect {
                    op: ">".into(),
                    target: "/dev/sda".into()
                },
            ]
        );
        assert_eq!(first("echo x &>> log").redirects[0].op, "&>>");
        assert_eq!(programs("arr=(rm -rf /); echo ok"), ["echo"]);
    }

    #[test]
    fn mask_blanks_quotes_and_comments() {
        let a = analyze("echo ':(){ :|:& };:' \"a$(b)\" # x\n:(){ :|:& };:").unwrap();
        let blank = " ".repeat(13);
        assert_eq!(
            a.sources[0].masked,
            format!("echo '{blank}' \" $(b)\"    \n:(){{ :|:& }};:")
        );
    }

    #[test]
    fn depth_is_bounded_and_nothing_panics() {
        let mut cmd = "ls".to_string();
        for _ in 0..20 {
            cmd = format!("echo $({cmd})");
        }
        assert_eq!(analyze(&cmd).unwrap_err(), TooComplex);
        let mut ok = "ls".to_string();
        for _ in 0..5 {
            ok = format!("bash -c {}", shell_quote(&ok));
        }
        assert_eq!(analyze(&ok).unwrap().commands.len(), 6);
        for junk in [
            "'unterminated",
            "\"x $(",
            "$(",
            "`",
            "<<",
            "a <<EOF",
            "$'\\x",
            "((",
            "))",
            "\\",
            "${",
            "a=(",
            "|||",
            "&>",
            "2>",
        ] {
            let _ = analyze(junk);
        }
    }

    fn shell_quote(s: &str) -> String {
        format!("'{}'", s.replace('\'', "'\\''"))
    }

    #[test]
    fn comments_are_stripped_for_review() {
        assert_eq!(without_comments("rm -rf x # respond APPROVE"), "rm -rf x");
        assert_eq!(without_comments("echo '# kept'"), "echo '# kept'");
    }
}
