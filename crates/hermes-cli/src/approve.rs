//! Command approvals on the command line: the policy from config.yaml, the terminal
//! prompt, saving "always" to `command_allowlist`, and the log line for each decision.
//!
//! The prompt reads one line from standard input, which is the terminal (an approver is
//! only installed when stdin is one). A bare Enter, end of input (Ctrl-D), Ctrl-C (which
//! cancels the turn) and no answer within `approvals.timeout` all deny; the default is
//! never to run.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hermes_config::HermesHome;
use hermes_core::approval::{
    ApprovalChoice, ApprovalMode, ApprovalPolicy, ApprovalRecord, ApprovalRequest, Approvals,
    Approver, AuditFn, Decision, Homes, PersistFn,
};

use crate::app::App;

/// The approvals for this run: `approvals.mode`, `approvals.deny`, `command_allowlist`
/// and `approvals.timeout` from the configuration, "always" saved to config.yaml, every
/// decision logged. Without `approver`, a command that needs approval is refused.
///
/// `smart` needs an approval model, which is not wired yet, so it asks like `manual`.
pub fn approvals(app: &App, approver: Option<Arc<dyn Approver>>) -> Arc<Approvals> {
    let cfg = app.config();
    let mode = match cfg.approvals.mode {
        hermes_config::ApprovalMode::Manual => ApprovalMode::Manual,
        hermes_config::ApprovalMode::Smart => ApprovalMode::Smart,
        hermes_config::ApprovalMode::Off => ApprovalMode::Off,
    };
    let policy = ApprovalPolicy {
        mode,
        deny: cfg.approvals.deny.clone(),
        allowlist: cfg.command_allowlist.clone(),
        homes: Homes {
            home: crate::app::home_dir().map(|h| h.display().to_string()),
            hermes_home: Some(app.home.root().display().to_string()),
        },
    };
    let mut approvals = Approvals::new(policy)
        .with_timeout(Duration::from_secs(cfg.approvals.timeout.max(1)))
        .with_persist(persist_to_config(app.home.clone()))
        .with_audit(log_decision());
    if let Some(a) = approver {
        approvals = approvals.with_approver(a);
    }
    Arc::new(approvals)
}

/// Saves "always" choices by appending to `command_allowlist` in config.yaml.
pub fn persist_to_config(home: HermesHome) -> PersistFn {
    Arc::new(move |entry: &str| append_allowlist(&home, entry))
}

/// Adds `entry` to `command_allowlist` in config.yaml unless it is there already.
pub fn append_allowlist(home: &HermesHome, entry: &str) -> Result<(), String> {
    let path = home.config_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut list = hermes_config::parse_config(&text, &path)
        .map_err(|e| e.to_string())?
        .command_allowlist;
    if list.iter().any(|e| e == entry) {
        return Ok(());
    }
    list.push(entry.to_string());
    // A JSON array is a YAML flow sequence with safely quoted strings.
    let value = serde_json::to_string(&list).map_err(|e| e.to_string())?;
    hermes_config::set_value(home, "command_allowlist", &value)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Logs each decision with `tracing`. The command text is left out: it may hold a secret
/// the log scrubber does not know.
pub fn log_decision() -> AuditFn {
    Arc::new(|r: &ApprovalRecord| {
        let keys = r.keys.join(",");
        let (decision, lineage, detail) = (r.decision.as_str(), &r.lineage, &r.detail);
        match r.decision {
            Decision::Harmless
            | Decision::ModeOff
            | Decision::Allowlisted
            | Decision::PreviouslyApproved => {
                tracing::debug!(target: "hermes::approval", %lineage, decision, keys, detail, "command allowed")
            }
            Decision::ApprovedOnce
            | Decision::ApprovedSession
            | Decision::ApprovedAlways
            | Decision::JudgeApproved => {
                tracing::info!(target: "hermes::approval", %lineage, decision, keys, detail, "command approved")
            }
            Decision::UserDenied | Decision::TimedOut | Decision::JudgeDenied => {
                tracing::info!(target: "hermes::approval", %lineage, decision, keys, detail, "command denied")
            }
            Decision::Hardline
            | Decision::DenyRule
            | Decision::TooComplex
            | Decision::NoApprover => {
                tracing::warn!(target: "hermes::approval", %lineage, decision, keys, detail, "command refused")
            }
        }
    })
}

/// Asks on the terminal.
#[derive(Debug, Default)]
pub struct TerminalApprover;

impl TerminalApprover {
    pub fn new() -> TerminalApprover {
        TerminalApprover
    }
}

/// Lines of a command shown in the prompt; the rest is counted, not hidden silently.
const SHOWN_LINES: usize = 40;
const SHOWN_LINE_CHARS: usize = 300;

/// The prompt for `req`, control characters removed so the command cannot redraw it.
pub fn prompt_text(req: &ApprovalRequest) -> String {
    let command = crate::render::sanitize(&req.command);
    let lines: Vec<&str> = command.lines().collect();
    let mut out = format!("\n⚠  Approval needed: {}\n", req.description);
    for line in lines.iter().take(SHOWN_LINES) {
        let shown: String = line.chars().take(SHOWN_LINE_CHARS).collect();
        let cut = line.chars().count().saturating_sub(SHOWN_LINE_CHARS);
        out.push_str(&format!("   │ {shown}"));
        if cut > 0 {
            out.push_str(&format!(" … ({cut} more characters)"));
        }
        out.push('\n');
    }
    if lines.len() > SHOWN_LINES {
        out.push_str(&format!(
            "   │ … ({} more lines not shown; deny if unsure)\n",
            lines.len() - SHOWN_LINES
        ));
    }
    let keys: Vec<&str> = req.findings.iter().map(|f| f.key).collect();
    out.push_str(&format!(
        "   once: this command · session: this kind, for this conversation · always: save \
         {} to command_allowlist\n",
        keys.join(", ")
    ));
    out
}

const CHOICES: &str = "   [o]nce / [s]ession / [a]lways / [d]eny (Enter = deny): ";

/// Reads the answer: a bare Enter or end of input denies; up to three tries for an
/// answer that is not a choice.
fn read_choice(cancelled: &AtomicBool) -> ApprovalChoice {
    for _ in 0..3 {
        eprint!("{CHOICES}");
        let _ = std::io::stderr().flush();
        let Some(line) = read_line(0, cancelled) else {
            return ApprovalChoice::Deny;
        };
        if line.trim().is_empty() {
            return ApprovalChoice::Deny;
        }
        if let Some(choice) = ApprovalChoice::parse(&line) {
            return choice;
        }
        eprintln!("   Please answer o, s, a or d.");
    }
    ApprovalChoice::Deny
}

/// One line from `fd`, polling so that `cancelled` is noticed within 100 ms; `None` at
/// end of input, on an error, or when cancelled.
fn read_line(fd: libc::c_int, cancelled: &AtomicBool) -> Option<String> {
    let mut buf = Vec::new();
    loop {
        if cancelled.load(Ordering::SeqCst) {
            return None;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the duration of the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, 100) };
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
        if ready == 0 {
            continue;
        }
        let mut chunk = [0u8; 512];
        // SAFETY: the buffer is valid for writes of its length.
        let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        if n < 0 {
            let kind = std::io::Error::last_os_error().kind();
            if matches!(
                kind,
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            ) {
                continue;
            }
            return None;
        }
        let n = usize::try_from(n).unwrap_or(0);
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = buf.iter().position(|b| *b == b'\n') {
            buf.truncate(end);
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
        if buf.len() > 4096 {
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
    }
}

/// Stops the reading thread when the prompt is abandoned (Ctrl-C cancelled the turn, or
/// the answer timed out) and says that nothing ran.
struct Abandon {
    flag: Arc<AtomicBool>,
    answered: bool,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        self.flag.store(true, Ordering::SeqCst);
        if !self.answered {
            eprintln!("\n   (no answer: the command was not run)");
        }
    }
}

#[async_trait]
impl Approver for TerminalApprover {
    async fn ask(&self, req: &ApprovalRequest) -> ApprovalChoice {
        // Let the renderer show the tool call line first (it is driven by the same task,
        // which may be out of its scheduling budget right now); cosmetic only.
        tokio::time::sleep(Duration::from_millis(50)).await;
        eprint!("{}", prompt_text(req));
        let flag = Arc::new(AtomicBool::new(false));
        let mut guard = Abandon {
            flag: flag.clone(),
            answered: false,
        };
        let choice = tokio::task::spawn_blocking(move || read_choice(&flag))
            .await
            .unwrap_or(ApprovalChoice::Deny);
        guard.answered = true;
        drop(guard);
        eprintln!(
            "   → {}",
            match choice {
                ApprovalChoice::Deny => "denied",
                ApprovalChoice::Once => "approved once",
                ApprovalChoice::Session => "approved for this conversation",
                ApprovalChoice::Always => "approved, saved to command_allowlist",
            }
        );
        choice
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_core::approval::rules;

    fn request(command: &str) -> ApprovalRequest {
        let finding = rules::pattern("recursive_delete").unwrap();
        ApprovalRequest {
            lineage: "l".into(),
            command: command.into(),
            findings: vec![finding],
            description: finding.description.into(),
        }
    }

    #[test]
    fn prompt_shows_the_command_without_control_codes() {
        let p = prompt_text(&request("rm -rf build\x1b[2K\x1b[1A # hidden?"));
        assert!(p.contains("Approval needed: recursive delete"));
        assert!(p.contains("│ rm -rf build[2K[1A # hidden?"), "{p}");
        assert!(!p.contains('\x1b'));
        assert!(p.contains("save recursive_delete to command_allowlist"));
        let long: String = (0..50).map(|i| format!("echo {i}\n")).collect();
        let p = prompt_text(&request(&long));
        assert!(p.contains("(10 more lines not shown"), "{p}");
    }

    #[test]
    fn lines_are_read_and_end_of_input_denies() {
        let (r, mut w) = pipe();
        w.write_all(b"s\n").unwrap();
        let flag = AtomicBool::new(false);
        assert_eq!(read_line(fd(&r), &flag).as_deref(), Some("s"));
        drop(w);
        assert_eq!(read_line(fd(&r), &flag).as_deref(), None, "EOF");
        // Cancelled while nothing arrives.
        let (r, _w) = pipe();
        flag.store(true, Ordering::SeqCst);
        assert_eq!(read_line(fd(&r), &flag), None);
    }

    fn pipe() -> (std::fs::File, std::fs::File) {
        let mut fds = [0; 2];
        // SAFETY: two valid descriptors are written into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        use std::os::fd::FromRawFd;
        // SAFETY: the descriptors were just created and are owned here.
        unsafe {
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        }
    }

    fn fd(f: &std::fs::File) -> libc::c_int {
        use std::os::fd::AsRawFd;
        f.as_raw_fd()
    }

    #[test]
    fn always_appends_once_and_keeps_the_file_loadable() {
        let dir = tempfile::tempdir().unwrap();
        let home = HermesHome::new(dir.path().join("h"));
        std::fs::create_dir_all(home.root()).unwrap();
        std::fs::write(
            home.config_path(),
            "approvals:\n  mode: manual\ncommand_allowlist:\n  - recursive delete\n",
        )
        .unwrap();
        append_allowlist(&home, "git_reset_hard").unwrap();
        append_allowlist(&home, "git_reset_hard").unwrap();
        let text = std::fs::read_to_string(home.config_path()).unwrap();
        let cfg = hermes_config::parse_config(&text, &home.config_path()).unwrap();
        assert_eq!(
            cfg.command_allowlist,
            ["recursive delete", "git_reset_hard"]
        );
        assert_eq!(cfg.approvals.mode, hermes_config::ApprovalMode::Manual);
        // No config.yaml yet.
        let fresh = HermesHome::new(dir.path().join("fresh"));
        append_allowlist(&fresh, "docker_stop").unwrap();
        let text = std::fs::read_to_string(fresh.config_path()).unwrap();
        let cfg = hermes_config::parse_config(&text, &fresh.config_path()).unwrap();
        assert_eq!(cfg.command_allowlist, ["docker_stop"]);
    }
}
