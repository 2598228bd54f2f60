//! Terminal output: streamed answers, tool progress, and line input for the REPL.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use hermes_core::AgentEvent;
use rustyline::error::ReadlineError;

/// Renders agent events. Answer text goes to stdout; tool progress and notices go to
/// stderr so stdout stays pipeable.
pub struct Renderer {
    stream_text: bool,
    show_tools: bool,
    color: bool,
    at_line_start: bool,
}

impl Renderer {
    /// Streams text and shows tool progress.
    pub fn streaming(color: bool) -> Renderer {
        Renderer {
            stream_text: true,
            show_tools: true,
            color,
            at_line_start: true,
        }
    }

    /// Shows nothing while the turn runs (the caller prints the final answer).
    pub fn silent() -> Renderer {
        Renderer {
            stream_text: false,
            show_tools: false,
            color: false,
            at_line_start: true,
        }
    }

    fn dim(&self, s: &str) -> String {
        if self.color {
            format!("\x1b[2m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn newline_if_needed(&mut self) {
        if !self.at_line_start {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(b"\n");
            let _ = out.flush();
            self.at_line_start = true;
        }
    }

    pub fn event(&mut self, ev: &AgentEvent) {
        match ev {
            AgentEvent::TextDelta(t) if self.stream_text => {
                let t = sanitize(t);
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(t.as_bytes());
                let _ = out.flush();
                if !t.is_empty() {
                    self.at_line_start = t.ends_with('\n');
                }
            }
            AgentEvent::ToolStarted {
                name, arguments, ..
            } if self.show_tools => {
                self.newline_if_needed();
                let line = format!("  ⚙ {name} {}", preview_args(arguments));
                eprintln!("{}", self.dim(&line));
            }
            AgentEvent::ToolFinished {
                name,
                output,
                is_error,
                duration,
                ..
            } if self.show_tools => {
                let line = if *is_error || looks_failed(output) {
                    format!(
                        "  ✗ {name} ({}): {}",
                        secs(*duration),
                        first_line(output, 100)
                    )
                } else {
                    format!("  ✓ {name} ({})", secs(*duration))
                };
                eprintln!("{}", self.dim(&line));
            }
            AgentEvent::Compressed {
                new_session_id,
                removed_messages,
                ..
            } if self.show_tools => {
                self.newline_if_needed();
                eprintln!(
                    "{}",
                    self.dim(&format!(
                        "  (context compressed: {removed_messages} messages summarised; continuing in session {new_session_id})"
                    ))
                );
            }
            AgentEvent::Notice(n) if self.show_tools => {
                self.newline_if_needed();
                eprintln!("{}", self.dim(&format!("  ({n})")));
            }
            _ => {}
        }
    }

    pub fn interrupted(&mut self) {
        self.newline_if_needed();
    }

    pub fn end_turn(&mut self) {
        self.newline_if_needed();
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The most telling argument of a tool call, shortened: a command, a path, a pattern.
fn preview_args(arguments: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(arguments).unwrap_or_default();
    let pick = ["command", "path", "pattern", "query", "action", "target"]
        .iter()
        .find_map(|k| v.get(*k).and_then(|x| x.as_str()))
        .map(str::to_string)
        .unwrap_or_default();
    first_line(&pick, 80)
}

/// Removes terminal control characters (escape sequences, carriage returns, C1 codes) from
/// text the model or a tool produced, so it cannot rewrite what the user sees — recolour,
/// move the cursor, set the clipboard or disguise a command. Newlines and tabs stay.
pub fn sanitize(s: &str) -> std::borrow::Cow<'_, str> {
    let bad =
        |c: char| (c.is_control() && c != '\n' && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c);
    if s.chars().any(bad) {
        std::borrow::Cow::Owned(s.chars().filter(|c| !bad(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn first_line(s: &str, max: usize) -> String {
    let s = sanitize(s);
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > max {
        let cut: String = line.chars().take(max).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// Whether a tool's JSON result reports failure (`"error"` set, or `"success": false`).
fn looks_failed(output: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(output) {
        Ok(v) => {
            v.get("success") == Some(&serde_json::Value::Bool(false))
                || v.get("error").is_some_and(|e| !e.is_null() && e != "")
        }
        Err(_) => false,
    }
}

/// Reads REPL lines with history (rustyline), off the async runtime.
pub struct LineReader {
    editor: Option<rustyline::DefaultEditor>,
    history: PathBuf,
}

impl LineReader {
    pub fn new(history: PathBuf, tty: bool) -> LineReader {
        let editor = rustyline::DefaultEditor::new().ok().map(|mut e| {
            if tty {
                let _ = e.load_history(&history);
            }
            e
        });
        LineReader { editor, history }
    }

    /// The next line, or `None` at end of input (Ctrl-D).
    pub async fn read(&mut self, prompt: &str) -> Option<String> {
        loop {
            let mut editor = self.editor.take()?;
            let prompt = prompt.to_string();
            let (editor, result) = tokio::task::spawn_blocking(move || {
                let r = editor.readline(&prompt);
                (editor, r)
            })
            .await
            .ok()?;
            self.editor = Some(editor);
            match result {
                Ok(line) => {
                    if let Some(e) = self.editor.as_mut()
                        && !line.trim().is_empty()
                    {
                        let _ = e.add_history_entry(line.as_str());
                        let _ = e.append_history(&self.history);
                    }
                    return Some(line);
                }
                Err(ReadlineError::Interrupted) => {
                    eprintln!("(Ctrl-D or /quit to leave)");
                }
                Err(ReadlineError::Eof) => return None,
                Err(e) => {
                    eprintln!("hermes: cannot read input: {e}");
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_are_removed() {
        assert_eq!(sanitize("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(
            sanitize("\x1b]52;c;ZXZpbA==\x07ok\x1b[2K\rls\u{9b}31m"),
            "]52;c;ZXZpbA==ok[2Kls31m"
        );
        assert_eq!(
            preview_args(r#"{"command": "rm -rf ~\r\u001b[2Kls"}"#),
            "rm -rf ~[2Kls"
        );
    }
}
