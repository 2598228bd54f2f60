//! Caps on tool output (`tool_output.*`), so one noisy command cannot flood the context.

/// Limits applied to every tool result before it reaches the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    pub max_bytes: usize,
    pub max_lines: usize,
    pub max_line_length: usize,
}

impl Default for OutputLimits {
    fn default() -> OutputLimits {
        OutputLimits {
            max_bytes: 50_000,
            max_lines: 2_000,
            max_line_length: 2_000,
        }
    }
}

/// Largest index `<= i` that lies on a char boundary of `s`.
pub fn floor_char_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Smallest index `>= i` that lies on a char boundary of `s`.
pub fn ceil_char_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Applies `limits` to `text`. Over-long lines are cut; too many lines or bytes keep the
/// head and the tail with a marker saying how much was left out.
pub fn cap_output(text: &str, limits: &OutputLimits) -> String {
    let mut out = String::with_capacity(text.len().min(limits.max_bytes + 256));
    let mut changed = false;
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if limits.max_line_length > 0 && line.len() > limits.max_line_length {
            let cut = floor_char_boundary(line, limits.max_line_length);
            out.push_str(&line[..cut]);
            out.push_str(&format!(
                " … [line truncated: {} more bytes]",
                line.len() - cut
            ));
            changed = true;
        } else {
            out.push_str(line);
        }
    }
    let text = if changed { out } else { text.to_string() };

    let lines: Vec<&str> = text.split('\n').collect();
    let text = if limits.max_lines > 0 && lines.len() > limits.max_lines {
        let head = limits.max_lines * 3 / 5;
        let tail = limits.max_lines - head;
        let omitted = lines.len() - head - tail;
        let mut s = lines[..head].join("\n");
        s.push_str(&format!(
            "\n[… {omitted} lines omitted: output exceeded tool_output.max_lines ({}) …]\n",
            limits.max_lines
        ));
        s.push_str(&lines[lines.len() - tail..].join("\n"));
        s
    } else {
        text
    };

    if limits.max_bytes > 0 && text.len() > limits.max_bytes {
        // Hermes keeps the first 40% and the last 60%: the end of a command's output
        // (errors, summaries) is usually what matters most.
        let head_end = floor_char_boundary(&text, limits.max_bytes * 2 / 5);
        let tail_start = ceil_char_boundary(&text, text.len() - (limits.max_bytes - head_end));
        let omitted = tail_start - head_end;
        format!(
            "{}\n\n... [OUTPUT TRUNCATED - {omitted} chars omitted out of {} total] ...\n\n{}",
            &text[..head_end],
            text.len(),
            &text[tail_start..]
        )
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_unchanged() {
        let l = OutputLimits::default();
        assert_eq!(cap_output("a\nb", &l), "a\nb");
    }

    #[test]
    fn long_lines_are_cut_on_char_boundaries() {
        let l = OutputLimits {
            max_line_length: 5,
            ..OutputLimits::default()
        };
        let out = cap_output("ééééé\nok", &l);
        assert!(out.starts_with("éé …"), "{out}");
        assert!(out.ends_with("\nok"));
    }

    #[test]
    fn many_lines_keep_head_and_tail() {
        let l = OutputLimits {
            max_lines: 10,
            ..OutputLimits::default()
        };
        let text: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let out = cap_output(&text.join("\n"), &l);
        assert!(out.starts_with("0\n1\n"));
        assert!(out.contains("90 lines omitted"));
        assert!(out.ends_with("98\n99"));
    }

    #[test]
    fn byte_cap_holds() {
        let l = OutputLimits {
            max_bytes: 1000,
            max_lines: 0,
            max_line_length: 0,
        };
        let out = cap_output(&"x".repeat(10_000), &l);
        assert!(out.len() < 1200, "{}", out.len());
        assert!(
            out.contains("[OUTPUT TRUNCATED - 9000 chars omitted out of 10000 total]"),
            "{out}"
        );
    }
}
