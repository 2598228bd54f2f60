//! Background processes: the [`ProcessRegistry`] behind `terminal(background=true)` and
//! the `process` tool ([`ProcessTool`]) that lists, polls, reads, waits for, feeds and
//! stops them.
//!
//! A background command is started through the same [`Executor`] as a foreground one
//! (`Executor::spawn`), so it runs under the same sandbox policy and limits, in the
//! conversation's sandbox scope. The registry keeps, per conversation (the tool context's
//! `lineage_id`), every process it started: a Hermes-style id (`proc_` + 12 hex digits),
//! the command, when it started, whether it still runs or how it ended, and its output.
//! A task per process reads the output continuously (so a chatty process never blocks on
//! a full pipe) and waits for the exit status.
//!
//! Output is kept whole up to [`ProcessLimits::max_buffer_bytes`]; beyond that the oldest
//! part is dropped (at a line start when one is near) and the buffer keeps the tail, while
//! the number of bytes and lines dropped is counted so `log` offsets stay absolute. What
//! the model sees is shaped like terminal output: ANSI escapes removed
//! ([`strip_ansi`]), long texts cut in the middle ([`truncate_middle`]), and — because a
//! pseudo-terminal turns `\n` into `\r\n` — line ends normalised for PTY processes.
//! Secrets are scrubbed from tool results by the agent; notifications, which do not pass
//! through a tool result, are scrubbed here with the registry's redactor.
//!
//! Limits: at most [`ProcessLimits::max_running`] running processes per conversation (a
//! clear error beyond), at most [`ProcessLimits::max_kept`] remembered (finished ones are
//! forgotten oldest first, and after [`ProcessLimits::finished_ttl`]).
//! [`ProcessRegistry::release`] kills everything of a conversation; call it when the
//! conversation ends. Dropping the registry kills everything it still tracks.
//!
//! Notifications follow Hermes. `notify_on_complete` queues
//! `[IMPORTANT: Background process {id} completed (exit code {code}).\nCommand: {cmd}\nOutput:\n{tail}]`
//! when the process ends on its own (not after `process(action='kill')`, and not when the
//! model already saw the exit through poll/wait/log). `watch_patterns` (plain substrings,
//! matched per line) queue a match text at most once per [`WATCH_MIN_INTERVAL`] per process;
//! matches inside that window are dropped and counted, and after [`WATCH_STRIKE_LIMIT`]
//! consecutive windows with drops the patterns are switched off and the process gets one
//! notification on exit instead. The host drains them with
//! [`ProcessRegistry::take_notifications`]. A host that cannot deliver them (a one-shot
//! run) leaves notifications disabled ([`ProcessRegistry::set_notifications_enabled`]), and
//! the terminal tool tells the model so instead of accepting the flags silently.
//!
//! Exit codes: a process that exits reports its code; one ended by a signal reports the
//! negative signal number (`-9`), as Hermes does for background processes.
//! There is no host pid for a sandboxed process (it lives in its own pid namespace), so
//! `pid` is always `null`.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hermes_core::redact::Redactor;
use hermes_core::{Tool, ToolContext, ToolError, ToolSpec};
use hermes_sandbox::{ExecError, Executor, ExitStatus, SpawnRequest};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use crate::terminal::{strip_ansi, truncate_middle};
use crate::util::int_arg;

/// At most this many notifications per process per window (Hermes: 15 s).
pub const WATCH_MIN_INTERVAL: Duration = Duration::from_secs(15);
/// Consecutive windows with dropped matches before watching stops (Hermes: 3).
pub const WATCH_STRIKE_LIMIT: u32 = 3;
/// Output characters a completion notification and `wait`/`kill` results carry.
pub const COMPLETION_OUTPUT_CHARS: usize = 2000;
/// Characters of `output_preview` in `poll` results.
pub const PREVIEW_CHARS: usize = 1000;
const LIST_PREVIEW_CHARS: usize = 200;
const LIST_COMMAND_CHARS: usize = 200;
/// After the exit status arrives, output is still read this long (a process that left
/// the group may hold the pipe open; it must not keep the process "running").
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);
/// How long `kill` waits for the process to end before saying it did not.
const KILL_GRACE: Duration = Duration::from_secs(10);
/// How long a write to stdin may block (a process that does not read its input).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Watch patterns: how many, how long each.
const MAX_WATCH_PATTERNS: usize = 20;
const MAX_WATCH_PATTERN_CHARS: usize = 500;
/// A line longer than this is scanned for watch patterns without waiting for its end.
const MAX_WATCH_LINE_BYTES: usize = 64 * 1024;
/// Lines and characters of a watch-match notification.
const WATCH_OUTPUT_LINES: usize = 20;
const WATCH_OUTPUT_CHARS: usize = 2000;
const ACTIONS: &str = "list, poll, log, wait, kill, write, submit, close";

/// How many processes a conversation may have and how much output each keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessLimits {
    /// Running processes per conversation (default 16).
    pub max_running: usize,
    /// Processes remembered per conversation, running or finished (default 32); finished
    /// ones beyond it are forgotten, oldest first.
    pub max_kept: usize,
    /// Output bytes kept per process (default 4 MiB); beyond it the tail is kept.
    pub max_buffer_bytes: usize,
    /// Finished processes are forgotten this long after they ended (default 30 min).
    pub finished_ttl: Duration,
}

impl Default for ProcessLimits {
    fn default() -> ProcessLimits {
        ProcessLimits {
            max_running: 16,
            max_kept: 32,
            max_buffer_bytes: 4 << 20,
            finished_ttl: Duration::from_secs(30 * 60),
        }
    }
}

/// Why a background process was not started.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(
        "{running} background processes are already running in this conversation, the limit \
         is {max}. Stop one with process(action='kill') or wait for one to finish, then start \
         this one again."
    )]
    TooMany { running: usize, max: usize },
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("the conversation ended while the process was starting; it was stopped")]
    Released,
}

/// What to start in the background; cwd and environment are already decided.
#[derive(Debug, Clone)]
pub struct BackgroundCommand {
    /// The command as the model wrote it (run by the executor's shell, shown in results).
    pub command: String,
    pub cwd: PathBuf,
    pub env: std::collections::BTreeMap<String, String>,
    /// Give it a pseudo-terminal.
    pub pty: bool,
    /// Queue a notification when it ends.
    pub notify_on_complete: bool,
    /// Queue a notification when a line contains one of these.
    pub watch_patterns: Vec<String>,
}

/// A started background process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// `proc_` + 12 hex digits.
    pub id: String,
}

// ---------------------------------------------------------------------------------------
// Output buffer

/// Output kept whole up to a cap, then its tail, with what was dropped counted.
#[derive(Debug)]
struct OutputBuffer {
    data: Vec<u8>,
    cap: usize,
    dropped_bytes: u64,
    dropped_lines: u64,
}

impl OutputBuffer {
    fn new(cap: usize) -> OutputBuffer {
        OutputBuffer {
            data: Vec::new(),
            cap: cap.max(1),
            dropped_bytes: 0,
            dropped_lines: 0,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.data.extend_from_slice(chunk);
        if self.data.len() <= self.cap {
            return;
        }
        // Trim to 7/8 of the cap so trimming is not repeated for every chunk; start at a
        // line when one begins soon after the cut, else at a character boundary.
        let keep = self.cap - self.cap / 8;
        let mut cut = self.data.len() - keep.max(1);
        let window = &self.data[cut..self.data.len().min(cut + 64 * 1024)];
        match memchr::memchr(b'\n', window) {
            Some(i) => cut += i + 1,
            None => {
                while cut < self.data.len() && is_continuation(self.data[cut]) {
                    cut += 1;
                }
            }
        }
        self.dropped_lines += memchr::memchr_iter(b'\n', &self.data[..cut]).count() as u64;
        self.dropped_bytes += cut as u64;
        self.data.drain(..cut);
    }

    /// Bytes ever received.
    fn total_bytes(&self) -> u64 {
        self.dropped_bytes + self.data.len() as u64
    }

    /// What is kept from absolute byte position `pos` on, starting at a character.
    fn since(&self, pos: u64) -> &[u8] {
        let mut start = usize::try_from(pos.saturating_sub(self.dropped_bytes))
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        while start < self.data.len() && is_continuation(self.data[start]) {
            start += 1;
        }
        &self.data[start..]
    }
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Raw output as the model sees it: UTF-8 (lossy), no ANSI escapes, and for a terminal
/// `\r\n` line ends as `\n`.
fn clean(bytes: &[u8], pty: bool) -> String {
    let text = strip_ansi(&String::from_utf8_lossy(bytes));
    if pty {
        text.replace("\r\n", "\n")
    } else {
        text
    }
}

/// The last `n` characters of `s`.
fn last_chars(s: &str, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    match s.char_indices().rev().nth(n - 1) {
        Some((i, _)) => &s[i..],
        None => s,
    }
}

/// The first `n` characters of `s`.
fn first_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

// ---------------------------------------------------------------------------------------
// Watch patterns

/// Watch-pattern matching with Hermes' rate limit.
#[derive(Debug, Clone)]
struct Watch {
    patterns: Vec<String>,
    cooldown_until: Option<Instant>,
    /// The current window already dropped a match (it counts as one strike).
    strike_candidate: bool,
    strikes: u32,
    suppressed: u64,
    disabled: bool,
    /// The start of a line whose end has not arrived yet.
    carry: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum WatchEvent {
    Match {
        pattern: String,
        output: String,
        suppressed: u64,
    },
    /// Too many matches: watching stopped, the process notifies once on exit instead.
    Disabled,
}

impl Watch {
    fn new(patterns: Vec<String>) -> Watch {
        Watch {
            patterns,
            cooldown_until: None,
            strike_candidate: false,
            strikes: 0,
            suppressed: 0,
            disabled: false,
            carry: Vec::new(),
        }
    }

    /// Scans the complete lines of `chunk` (with what was carried over).
    fn feed(&mut self, chunk: &[u8], now: Instant) -> Option<WatchEvent> {
        if self.disabled {
            return None;
        }
        self.carry.extend_from_slice(chunk);
        let complete = match memchr::memrchr(b'\n', &self.carry) {
            Some(i) => i + 1,
            None if self.carry.len() > MAX_WATCH_LINE_BYTES => self.carry.len(),
            None => return None,
        };
        let bytes: Vec<u8> = self.carry.drain(..complete).collect();
        let text = strip_ansi(&String::from_utf8_lossy(&bytes));
        self.lines(text.lines(), now)
    }

    fn lines<'a>(
        &mut self,
        lines: impl Iterator<Item = &'a str>,
        now: Instant,
    ) -> Option<WatchEvent> {
        let mut first_pattern = None;
        let mut hits = Vec::new();
        for line in lines {
            if let Some(p) = self.patterns.iter().find(|p| line.contains(p.as_str())) {
                first_pattern.get_or_insert_with(|| p.clone());
                hits.push(line.trim_end());
            }
        }
        let pattern = first_pattern?;
        if let Some(until) = self.cooldown_until
            && now < until
        {
            self.suppressed += hits.len() as u64;
            if self.strike_candidate {
                return None;
            }
            self.strike_candidate = true;
            self.strikes += 1;
            if self.strikes < WATCH_STRIKE_LIMIT {
                return None;
            }
            self.disabled = true;
            self.carry = Vec::new();
            return Some(WatchEvent::Disabled);
        }
        // A new window. One that passed without drops ends the run of strikes.
        if self.cooldown_until.is_some() && !self.strike_candidate {
            self.strikes = 0;
        }
        self.strike_candidate = false;
        self.cooldown_until = Some(now + WATCH_MIN_INTERVAL);
        let mut output = hits
            .iter()
            .take(WATCH_OUTPUT_LINES)
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
        if output.chars().count() > WATCH_OUTPUT_CHARS {
            output = format!(
                "{}\n...(truncated)",
                first_chars(&output, WATCH_OUTPUT_CHARS)
            );
        }
        Some(WatchEvent::Match {
            pattern,
            output,
            suppressed: std::mem::take(&mut self.suppressed),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Processes

type Input = Box<dyn AsyncWrite + Send + Unpin>;
type Output = Box<dyn AsyncRead + Send + Unpin>;
type ExitFuture = Pin<Box<dyn Future<Output = ExitStatus> + Send>>;

/// Who ended a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Termination {
    /// `process(action='kill')`.
    Kill,
    /// The conversation ended.
    Release,
}

impl Termination {
    fn source(self) -> &'static str {
        match self {
            Termination::Kill => "process.kill",
            Termination::Release => "release",
        }
    }
}

struct Process {
    id: String,
    command: String,
    cwd: PathBuf,
    pty: bool,
    started: Instant,
    started_ts: f64,
    state: StdMutex<ProcState>,
    input: tokio::sync::Mutex<Option<Input>>,
    kill: Box<dyn Fn() + Send + Sync>,
    done: watch::Sender<bool>,
}

struct ProcState {
    output: OutputBuffer,
    exit: Option<ExitStatus>,
    ended: Option<Instant>,
    termination: Option<Termination>,
    notify_on_complete: bool,
    watch: Option<Watch>,
    /// Where the previous `poll` stopped (absolute byte position).
    poll_cursor: u64,
    /// The model has seen how it ended (poll, wait, log to the end, kill): a completion
    /// notification would only repeat it.
    result_seen: bool,
    stdin_closed: bool,
}

impl Process {
    fn state(&self) -> MutexGuard<'_, ProcState> {
        // Every update leaves the state consistent; a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_running(&self) -> bool {
        self.state().exit.is_none()
    }

    fn uptime_seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Ends the process (and everything it started), remembering who asked.
    fn terminate(&self, by: Termination) {
        {
            let mut st = self.state();
            if st.exit.is_some() {
                return;
            }
            st.termination.get_or_insert(by);
        }
        (self.kill)();
    }

    /// The kept output, cleaned.
    fn text(&self) -> String {
        let st = self.state();
        clean(&st.output.data, self.pty)
    }

    /// The last `chars` characters of the output, cleaned, without cleaning all of it.
    fn tail(&self, st: &ProcState, chars: usize) -> String {
        let window = chars.saturating_mul(8).max(64 * 1024) as u64;
        let from = st.output.total_bytes().saturating_sub(window);
        last_chars(&clean(st.output.since(from), self.pty), chars).to_string()
    }
}

/// How a process ended, as Hermes reports it: the exit code, or minus the signal.
fn exit_code(status: &ExitStatus) -> i64 {
    match (status.code, status.signal) {
        (Some(c), _) => i64::from(c),
        (None, Some(s)) => -i64::from(s),
        (None, None) => -1,
    }
}

// ---------------------------------------------------------------------------------------
// Notifications

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoticeKind {
    Completion,
    Watch,
    WatchDisabled,
}

#[derive(Debug, Clone)]
struct Notice {
    process_id: String,
    kind: NoticeKind,
    text: String,
    summary: String,
    announced: bool,
}

fn short_command(cmd: &str) -> String {
    let one: String = cmd.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 80 {
        format!("{}...", first_chars(&one, 77))
    } else {
        one
    }
}

fn completion_text(id: &str, cmd: &str, code: i64, tail: &str) -> String {
    format!(
        "[IMPORTANT: Background process {id} completed (exit code {code}).\nCommand: {cmd}\n\
         Output:\n{tail}]"
    )
}

fn watch_text(id: &str, cmd: &str, pattern: &str, output: &str, suppressed: u64) -> String {
    let mut t = format!(
        "[IMPORTANT: Background process {id} matched watch pattern \"{pattern}\".\nCommand: \
         {cmd}\nMatched output:\n{output}"
    );
    if suppressed > 0 {
        t.push_str(&format!(
            "\n({suppressed} earlier matches were suppressed by rate limit)"
        ));
    }
    t.push(']');
    t
}

fn watch_disabled_text(id: &str) -> String {
    format!(
        "[IMPORTANT: Watch patterns disabled for process {id} — {WATCH_STRIKE_LIMIT} \
         consecutive rate-limit windows triggered (min spacing {}s). Falling back to \
         notify_on_complete semantics; you'll get exactly one notification when the process \
         exits.]",
        WATCH_MIN_INTERVAL.as_secs()
    )
}

// ---------------------------------------------------------------------------------------
// Registry

/// Background processes of every conversation of one agent. See the module docs.
pub struct ProcessRegistry {
    shared: Arc<Shared>,
}

struct Shared {
    limits: ProcessLimits,
    conversations: StdMutex<HashMap<String, Conversation>>,
    notifications: AtomicBool,
    redactor: OnceLock<Arc<Redactor>>,
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct Conversation {
    procs: Vec<Arc<Process>>,
    /// Starts in flight (counted against the running limit).
    starting: usize,
    /// Bumped by `release`: a start that began before it is stopped when it lands.
    epoch: u64,
    queue: VecDeque<Notice>,
}

impl Conversation {
    /// Forgets finished processes past their time or beyond the count limit.
    fn prune(&mut self, limits: &ProcessLimits) {
        let now = Instant::now();
        self.procs.retain(|p| {
            let st = p.state();
            match st.ended {
                Some(t) => now.duration_since(t) < limits.finished_ttl,
                None => true,
            }
        });
        while self.procs.len() > limits.max_kept {
            let oldest_finished = self
                .procs
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.state().ended.map(|t| (i, t)))
                .min_by_key(|(_, t)| *t)
                .map(|(i, _)| i);
            match oldest_finished {
                Some(i) => {
                    self.procs.remove(i);
                }
                None => break,
            }
        }
    }

    fn running(&self) -> usize {
        self.procs.iter().filter(|p| p.is_running()).count()
    }

    fn seen(&self, process_id: &str) -> bool {
        self.procs
            .iter()
            .find(|p| p.id == process_id)
            .is_some_and(|p| p.state().result_seen)
    }

    /// Drops completion notices whose result the model already has.
    fn live_queue(&mut self) {
        let seen: Vec<String> = self
            .queue
            .iter()
            .filter(|n| n.kind == NoticeKind::Completion && self.seen(&n.process_id))
            .map(|n| n.process_id.clone())
            .collect();
        self.queue
            .retain(|n| !(n.kind == NoticeKind::Completion && seen.contains(&n.process_id)));
    }
}

impl Default for ProcessRegistry {
    fn default() -> ProcessRegistry {
        ProcessRegistry::new(ProcessLimits::default())
    }
}

impl std::fmt::Debug for ProcessRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessRegistry")
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

impl ProcessRegistry {
    /// An empty registry. Notifications start disabled: enable them when the host can
    /// deliver them ([`ProcessRegistry::set_notifications_enabled`]).
    pub fn new(limits: ProcessLimits) -> ProcessRegistry {
        ProcessRegistry {
            shared: Arc::new(Shared {
                limits,
                conversations: StdMutex::new(HashMap::new()),
                notifications: AtomicBool::new(false),
                redactor: OnceLock::new(),
                changed: watch::channel(0).0,
            }),
        }
    }

    /// Scrubs secrets from notification texts with `redactor`.
    /// `None` (`security.redact_secrets: false`) leaves them as they are.
    pub fn with_redactor(self, redactor: Option<Arc<Redactor>>) -> ProcessRegistry {
        if let Some(r) = redactor {
            // Set once, when the registry is built.
            let _ = self.shared.redactor.set(r);
        }
        self
    }

    pub fn limits(&self) -> &ProcessLimits {
        &self.shared.limits
    }

    /// Whether somebody delivers notifications to the model (an interactive session).
    /// Without that, `notify_on_complete` and `watch_patterns` are refused with Hermes'
    /// `notify_unsupported` note.
    pub fn set_notifications_enabled(&self, enabled: bool) {
        self.shared.notifications.store(enabled, Ordering::SeqCst);
    }

    pub fn notifications_enabled(&self) -> bool {
        self.shared.notifications.load(Ordering::SeqCst)
    }

    fn conversations(&self) -> MutexGuard<'_, HashMap<String, Conversation>> {
        self.shared.conversations()
    }

    /// Starts `cmd` in the background for conversation `lineage` through `executor`.
    pub async fn start(
        &self,
        executor: &dyn Executor,
        lineage: &str,
        cmd: BackgroundCommand,
    ) -> Result<Started, ProcessError> {
        let limits = &self.shared.limits;
        let epoch = {
            let mut convs = self.conversations();
            let conv = convs.entry(lineage.to_string()).or_default();
            conv.prune(limits);
            let running = conv.running() + conv.starting;
            if running >= limits.max_running {
                return Err(ProcessError::TooMany {
                    running,
                    max: limits.max_running,
                });
            }
            conv.starting += 1;
            conv.epoch
        };
        // Gives the reserved slot back however this call ends (a dropped future too).
        let mut slot = StartSlot {
            shared: &self.shared,
            lineage,
            armed: true,
        };
        let spawned = executor
            .spawn(SpawnRequest {
                command: cmd.command.clone(),
                cwd: cmd.cwd.clone(),
                env: cmd.env.clone(),
                scope: Some(lineage.to_string()),
                pty: cmd.pty,
                lifetime: None,
            })
            .await;
        let mut convs = self.conversations();
        let conv = convs.entry(lineage.to_string()).or_default();
        // Given back under the same lock that registers the process, so no other start
        // can see neither.
        conv.starting = conv.starting.saturating_sub(1);
        slot.armed = false;
        let spawned = spawned?;
        if conv.epoch != epoch {
            (spawned.kill)();
            return Err(ProcessError::Released);
        }
        let id = loop {
            let id = format!(
                "proc_{:012x}",
                hermes_core::ids::random_u64() & 0xffff_ffff_ffff
            );
            if !convs.values().any(|c| c.procs.iter().any(|p| p.id == id)) {
                break id;
            }
        };
        let watch = (!cmd.notify_on_complete && !cmd.watch_patterns.is_empty())
            .then(|| Watch::new(cmd.watch_patterns.clone()));
        let process = Arc::new(Process {
            id: id.clone(),
            command: cmd.command,
            cwd: cmd.cwd,
            pty: cmd.pty,
            started: Instant::now(),
            started_ts: hermes_core::ids::now_ts(),
            state: StdMutex::new(ProcState {
                output: OutputBuffer::new(limits.max_buffer_bytes),
                exit: None,
                ended: None,
                termination: None,
                notify_on_complete: cmd.notify_on_complete,
                watch,
                poll_cursor: 0,
                result_seen: false,
                stdin_closed: false,
            }),
            input: tokio::sync::Mutex::new(Some(spawned.input)),
            kill: spawned.kill,
            done: watch::channel(false).0,
        });
        let conv = convs.entry(lineage.to_string()).or_default();
        conv.procs.push(process.clone());
        conv.prune(limits);
        drop(convs);
        tokio::spawn(drive(
            process,
            Arc::downgrade(&self.shared),
            lineage.to_string(),
            spawned.output,
            spawned.exit,
        ));
        Ok(Started { id })
    }

    /// Kills every process of conversation `lineage` and forgets them and their pending
    /// notifications. Call it when the conversation ends.
    pub fn release(&self, lineage: &str) {
        let procs = {
            let mut convs = self.conversations();
            match convs.get_mut(lineage) {
                Some(conv) => {
                    conv.epoch += 1;
                    conv.queue.clear();
                    std::mem::take(&mut conv.procs)
                }
                None => Vec::new(),
            }
        };
        for p in procs {
            p.terminate(Termination::Release);
        }
    }

    /// [`ProcessRegistry::release`] for every conversation.
    pub fn release_all(&self) {
        self.shared.release_all();
    }

    /// Running processes of `lineage`.
    pub fn running(&self, lineage: &str) -> usize {
        self.conversations().get(lineage).map_or(0, |c| c.running())
    }

    /// Takes the notifications queued for `lineage`, oldest first (completion notices
    /// whose result the model has already seen are dropped).
    pub fn take_notifications(&self, lineage: &str) -> Vec<String> {
        let mut convs = self.conversations();
        let Some(conv) = convs.get_mut(lineage) else {
            return Vec::new();
        };
        conv.live_queue();
        conv.queue.drain(..).map(|n| n.text).collect()
    }

    /// One-line summaries of queued notifications not announced before (for a status
    /// line); the notifications stay queued.
    pub fn announce(&self, lineage: &str) -> Vec<String> {
        let mut convs = self.conversations();
        let Some(conv) = convs.get_mut(lineage) else {
            return Vec::new();
        };
        conv.live_queue();
        conv.queue
            .iter_mut()
            .filter(|n| !n.announced)
            .map(|n| {
                n.announced = true;
                n.summary.clone()
            })
            .collect()
    }

    /// Changes whenever a notification is queued (for any conversation).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.changed.subscribe()
    }

    /// The process `id` of `lineage`: its full id, or a unique prefix of at least four
    /// hex digits (with or without `proc_`).
    fn find(&self, lineage: &str, id: &str) -> Option<Arc<Process>> {
        let mut convs = self.conversations();
        let conv = convs.get_mut(lineage)?;
        conv.prune(&self.shared.limits);
        if let Some(p) = conv.procs.iter().find(|p| p.id == id) {
            return Some(p.clone());
        }
        let query = if id.starts_with("proc_") {
            id.to_string()
        } else {
            format!("proc_{id}")
        };
        if query.len() < "proc_".len() + 4 {
            return None;
        }
        let mut matches = conv.procs.iter().filter(|p| p.id.starts_with(&query));
        match (matches.next(), matches.next()) {
            (Some(p), None) => Some(p.clone()),
            _ => None,
        }
    }

    fn list(&self, lineage: &str) -> Vec<Arc<Process>> {
        let mut convs = self.conversations();
        match convs.get_mut(lineage) {
            Some(conv) => {
                conv.prune(&self.shared.limits);
                conv.procs.clone()
            }
            None => Vec::new(),
        }
    }
}

/// A start in flight, counted against the running limit until it is dropped.
struct StartSlot<'a> {
    shared: &'a Shared,
    lineage: &'a str,
    armed: bool,
}

impl Drop for StartSlot<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(conv) = self.shared.conversations().get_mut(self.lineage) {
            conv.starting = conv.starting.saturating_sub(1);
        }
    }
}

impl Shared {
    fn conversations(&self) -> MutexGuard<'_, HashMap<String, Conversation>> {
        // Every update leaves the map consistent; a poisoned lock is still usable.
        self.conversations.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn release_all(&self) {
        let procs: Vec<Arc<Process>> = {
            let mut convs = self.conversations();
            convs
                .values_mut()
                .flat_map(|c| {
                    c.epoch += 1;
                    c.queue.clear();
                    std::mem::take(&mut c.procs)
                })
                .collect()
        };
        for p in procs {
            p.terminate(Termination::Release);
        }
    }

    /// Queues a notice for `lineage` if `process` still belongs to it.
    fn queue(&self, lineage: &str, process: &Arc<Process>, kind: NoticeKind, text: String) {
        let summary = match kind {
            NoticeKind::Completion => {
                let code = process.state().exit.as_ref().map_or(-1, exit_code);
                format!(
                    "background process {} finished (exit code {code}): {}",
                    process.id,
                    short_command(&process.command)
                )
            }
            NoticeKind::Watch => format!(
                "background process {} printed a watched pattern: {}",
                process.id,
                short_command(&process.command)
            ),
            NoticeKind::WatchDisabled => format!(
                "background process {} matched its watch patterns too often; it will notify \
                 once on exit",
                process.id
            ),
        };
        let (text, summary) = match self.redactor.get() {
            Some(r) => (r.scrub_string(text), r.scrub_string(summary)),
            None => (text, summary),
        };
        {
            let mut convs = self.conversations();
            let Some(conv) = convs.get_mut(lineage) else {
                return;
            };
            if !conv.procs.iter().any(|p| Arc::ptr_eq(p, process)) {
                return;
            }
            conv.queue.push_back(Notice {
                process_id: process.id.clone(),
                kind,
                text,
                summary,
                announced: false,
            });
        }
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.release_all();
    }
}

/// Reads the process's output until it has ended, then records how it ended.
async fn drive(
    process: Arc<Process>,
    shared: Weak<Shared>,
    lineage: String,
    mut output: Output,
    mut exit: ExitFuture,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut status = None;
    let mut eof = false;
    let drain = tokio::time::sleep(Duration::MAX);
    tokio::pin!(drain);
    while !(eof && status.is_some()) {
        tokio::select! {
            r = output.read(&mut buf), if !eof => match r {
                Ok(0) | Err(_) => eof = true,
                Ok(n) => ingest(&process, &shared, &lineage, &buf[..n]),
            },
            s = &mut exit, if status.is_none() => {
                status = Some(s);
                drain.as_mut().reset(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
            }
            () = &mut drain, if status.is_some() => break,
        }
    }
    drop(output);
    finish(&process, &shared, &lineage, status.unwrap_or_default());
}

fn ingest(process: &Arc<Process>, shared: &Weak<Shared>, lineage: &str, chunk: &[u8]) {
    let event = {
        let mut st = process.state();
        st.output.push(chunk);
        let event = st
            .watch
            .as_mut()
            .and_then(|w| w.feed(chunk, Instant::now()));
        if event == Some(WatchEvent::Disabled) {
            st.notify_on_complete = true;
        }
        event
    };
    let (Some(event), Some(shared)) = (event, shared.upgrade()) else {
        return;
    };
    match event {
        WatchEvent::Match {
            pattern,
            output,
            suppressed,
        } => {
            let text = watch_text(&process.id, &process.command, &pattern, &output, suppressed);
            shared.queue(lineage, process, NoticeKind::Watch, text);
        }
        WatchEvent::Disabled => {
            shared.queue(
                lineage,
                process,
                NoticeKind::WatchDisabled,
                watch_disabled_text(&process.id),
            );
        }
    }
}

fn finish(process: &Arc<Process>, shared: &Weak<Shared>, lineage: &str, status: ExitStatus) {
    let notify = {
        let mut st = process.state();
        st.exit = Some(status);
        st.ended = Some(Instant::now());
        st.notify_on_complete && st.termination.is_none()
    };
    if notify && let Some(shared) = shared.upgrade() {
        let tail = process.tail(&process.state(), COMPLETION_OUTPUT_CHARS);
        let text = completion_text(
            &process.id,
            &process.command,
            exit_code(&status),
            tail.trim_end(),
        );
        shared.queue(lineage, process, NoticeKind::Completion, text);
    }
    process.done.send_replace(true);
}

// ---------------------------------------------------------------------------------------
// The `process` tool

/// Settings of the `process` tool.
#[derive(Debug, Clone)]
pub struct ProcessToolConfig {
    /// Longest `wait` (Hermes: `TERMINAL_TIMEOUT`, the terminal's default timeout, 180 s);
    /// also the default when no timeout is given.
    pub max_wait: Duration,
    /// Characters of `log` output and of `poll`'s new output (`tool_output.max_bytes`).
    pub max_output_chars: usize,
}

impl Default for ProcessToolConfig {
    fn default() -> ProcessToolConfig {
        ProcessToolConfig {
            max_wait: Duration::from_secs(180),
            max_output_chars: 50_000,
        }
    }
}

/// The `process` tool: Hermes' schema and result shapes over a [`ProcessRegistry`].
pub struct ProcessTool {
    spec: ToolSpec,
    registry: Arc<ProcessRegistry>,
    cfg: ProcessToolConfig,
}

/// A JSON object that keeps its keys in insertion order (Hermes' result shapes).
#[derive(Debug, Default)]
struct Obj(Vec<(&'static str, Value)>);

impl Obj {
    fn new() -> Obj {
        Obj::default()
    }

    fn with(mut self, key: &'static str, value: impl Into<Value>) -> Obj {
        self.0.push((key, value.into()));
        self
    }

    fn push(&mut self, key: &'static str, value: impl Into<Value>) {
        self.0.push((key, value.into()));
    }

    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            json!({"error": format!("could not encode the result: {e}")}).to_string()
        })
    }
}

impl Serialize for Obj {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

fn fail(obj: Obj) -> ToolError {
    ToolError::model(obj.text())
}

impl ProcessTool {
    pub fn new(registry: Arc<ProcessRegistry>, cfg: ProcessToolConfig) -> ProcessTool {
        ProcessTool {
            spec: spec(),
            registry,
            cfg,
        }
    }

    pub fn registry(&self) -> &Arc<ProcessRegistry> {
        &self.registry
    }

    /// Runs one call; the result is the JSON text the model sees.
    pub async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, ToolError> {
        let action = args.get("action").and_then(Value::as_str).unwrap_or("");
        let lineage = ctx.lineage_id.as_str();
        if action == "list" {
            return Ok(self.list(lineage));
        }
        if !["poll", "log", "wait", "kill", "write", "submit", "close"].contains(&action) {
            return Err(fail(Obj::new().with(
                "error",
                format!("Unknown process action: {action}. Use: {ACTIONS}"),
            )));
        }
        let id = args
            .get("session_id")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("");
        if id.is_empty() {
            return Err(fail(
                Obj::new().with("error", format!("session_id is required for {action}")),
            ));
        }
        let Some(p) = self.registry.find(lineage, id) else {
            return Err(fail(
                Obj::new()
                    .with("status", "not_found")
                    .with("error", format!("No process with ID {id}")),
            ));
        };
        let data = args.get("data").and_then(Value::as_str).unwrap_or("");
        Ok(match action {
            "poll" => self.poll(&p),
            "log" => self.log(&p, args),
            "wait" => return self.wait(&p, args, ctx).await,
            "kill" => self.kill(&p).await,
            "write" => self.write(&p, data.as_bytes()).await,
            "submit" => self.write(&p, format!("{data}\n").as_bytes()).await,
            _ => self.close(&p).await,
        })
    }

    fn list(&self, lineage: &str) -> String {
        let procs: Vec<Value> = self
            .registry
            .list(lineage)
            .iter()
            .map(|p| {
                let st = p.state();
                let preview = p.tail(&st, LIST_PREVIEW_CHARS);
                let mut o = Obj::new()
                    .with("session_id", p.id.clone())
                    .with("command", first_chars(&p.command, LIST_COMMAND_CHARS))
                    .with("cwd", p.cwd.display().to_string())
                    .with("pid", Value::Null)
                    .with(
                        "started_at",
                        hermes_core::ids::format_utc(p.started_ts).replace(' ', "T"),
                    )
                    .with("uptime_seconds", p.uptime_seconds())
                    .with(
                        "status",
                        if st.exit.is_some() {
                            "exited"
                        } else {
                            "running"
                        },
                    )
                    .with("output_preview", preview);
                if let Some(w) = st.watch.as_ref().filter(|w| !w.disabled) {
                    o.push("watch_patterns", w.patterns.clone());
                }
                if st.notify_on_complete {
                    o.push("notify_on_complete", true);
                }
                if let Some(exit) = &st.exit {
                    o.push("exit_code", exit_code(exit));
                }
                serde_json::to_value(&o).unwrap_or(Value::Null)
            })
            .collect();
        Obj::new().with("processes", procs).text()
    }

    /// `session_id`, `command`, `status`: the head of most results.
    fn head(p: &Process, exited: bool) -> Obj {
        Obj::new()
            .with("session_id", p.id.clone())
            .with("command", p.command.clone())
            .with("status", if exited { "exited" } else { "running" })
    }

    /// Exit fields of an ended process.
    fn exit_fields(o: &mut Obj, st: &ProcState) {
        if let Some(exit) = &st.exit {
            o.push("exit_code", exit_code(exit));
            o.push(
                "completion_reason",
                if st.termination.is_some() {
                    "killed"
                } else {
                    "exited"
                },
            );
            if let Some(t) = st.termination {
                o.push("termination_source", t.source());
            }
        }
    }

    /// The completion-sized output tail, with `output_cut` when it is not all of it.
    fn completion_output(o: &mut Obj, text: &str, dropped: u64) {
        let tail = last_chars(text, COMPLETION_OUTPUT_CHARS);
        let cut = (text.chars().count() - tail.chars().count()) as u64 + dropped;
        o.push("output", tail.trim_end());
        if cut > 0 {
            o.push("output_cut", cut);
        }
    }

    fn poll(&self, p: &Process) -> String {
        let mut st = p.state();
        let exited = st.exit.is_some();
        let preview = p.tail(&st, PREVIEW_CHARS);
        let new = clean(st.output.since(st.poll_cursor), p.pty);
        st.poll_cursor = st.output.total_bytes();
        let mut o = Self::head(p, exited)
            .with("pid", Value::Null)
            .with("uptime_seconds", p.uptime_seconds())
            .with("output_preview", preview)
            .with(
                "new_output",
                truncate_middle(&new, self.cfg.max_output_chars),
            );
        if exited {
            Self::exit_fields(&mut o, &st);
            st.result_seen = true;
        }
        o.text()
    }

    fn log(&self, p: &Process, args: &Value) -> String {
        let limit = int_arg(args, "limit").unwrap_or(200).max(1) as usize;
        let offset = int_arg(args, "offset").map(|o| o.max(0) as u64);
        let mut st = p.state();
        let exited = st.exit.is_some();
        let text = clean(&st.output.data, p.pty);
        let lines: Vec<&str> = text.lines().collect();
        let dropped = st.output.dropped_lines;
        let total = dropped + lines.len() as u64;
        let mut note = None;
        let (start, reached_end) = match offset {
            None => (lines.len().saturating_sub(limit), true),
            Some(o) => {
                if o < dropped {
                    note = Some(format!(
                        "Lines 0-{} are no longer kept (only the last {} bytes of output are); \
                         showing from line {dropped}.",
                        dropped - 1,
                        self.registry.limits().max_buffer_bytes
                    ));
                }
                let start = usize::try_from(o.saturating_sub(dropped))
                    .unwrap_or(usize::MAX)
                    .min(lines.len());
                (start, start + limit >= lines.len())
            }
        };
        let selected = &lines[start..lines.len().min(start.saturating_add(limit))];
        let mut o = Self::head(p, exited)
            .with(
                "output",
                truncate_middle(&selected.join("\n"), self.cfg.max_output_chars),
            )
            .with("total_lines", total)
            .with("showing", format!("{} lines", selected.len()));
        if let Some(n) = note {
            o.push("note", n);
        }
        if exited && reached_end {
            st.result_seen = true;
        }
        o.text()
    }

    async fn wait(
        &self,
        p: &Arc<Process>,
        args: &Value,
        ctx: &ToolContext,
    ) -> Result<String, ToolError> {
        let max = self.cfg.max_wait.as_secs().max(1);
        let requested = int_arg(args, "timeout");
        if let Some(t) = requested
            && t <= 0
        {
            return Ok(Obj::new()
                .with("status", "error")
                .with("error", format!("timeout must be positive (got {t})"))
                .text());
        }
        let mut clamp_note = None;
        let effective = match requested {
            Some(t) if t as u64 > max => {
                clamp_note = Some(format!(
                    "Requested wait of {t}s was clamped to configured limit of {max}s"
                ));
                max
            }
            Some(t) => t as u64,
            None => max,
        };
        let mut done = p.done.subscribe();
        tokio::select! {
            _ = tokio::time::timeout(Duration::from_secs(effective), done.wait_for(|d| *d)) => {}
            () = ctx.cancel.cancelled() => return Err(ToolError::Cancelled),
        }
        let text = p.text();
        let mut st = p.state();
        let result = if st.exit.is_some() {
            st.result_seen = true;
            let mut o = Obj::new()
                .with("status", "exited")
                .with("command", p.command.clone());
            Self::exit_fields(&mut o, &st);
            Self::completion_output(&mut o, &text, st.output.dropped_bytes);
            if let Some(n) = clamp_note {
                o.push("timeout_note", n);
            }
            o
        } else {
            let mut note = format!(
                "Wait window of {effective}s elapsed — the process is still running. This is not \
                 an error. Uptime: {}s.",
                p.uptime_seconds()
            );
            note.push_str(if st.notify_on_complete && self.registry.notifications_enabled() {
                " notify_on_complete is set: you will be notified on exit — do more work instead \
                 of waiting again."
            } else {
                " Poll again later or use terminal(background=true, notify_on_complete=true) next \
                 time for automatic notification."
            });
            let note = match clamp_note {
                Some(c) => format!("{c}. {note}"),
                None => note,
            };
            Obj::new()
                .with("status", "timeout")
                .with("command", p.command.clone())
                .with("output", last_chars(&text, PREVIEW_CHARS))
                .with("process_running", true)
                .with("timeout_note", note)
        };
        Ok(result.text())
    }

    async fn kill(&self, p: &Arc<Process>) -> String {
        if !p.is_running() {
            let text = p.text();
            let mut st = p.state();
            st.result_seen = true;
            let mut o = Obj::new()
                .with("status", "already_exited")
                .with("command", p.command.clone());
            Self::exit_fields(&mut o, &st);
            Self::completion_output(&mut o, &text, st.output.dropped_bytes);
            return o.text();
        }
        p.terminate(Termination::Kill);
        let mut done = p.done.subscribe();
        let ended = tokio::time::timeout(KILL_GRACE, done.wait_for(|d| *d))
            .await
            .is_ok();
        if !ended {
            return Obj::new()
                .with("status", "error")
                .with(
                    "error",
                    format!(
                        "Kill incomplete: the process has not ended {}s after it was told to; \
                         it is still tracked. Try process(action='kill') again, or check it with \
                         process(action='poll').",
                        KILL_GRACE.as_secs()
                    ),
                )
                .with("session_id", p.id.clone())
                .with("process_running", true)
                .text();
        }
        let text = p.text();
        let mut st = p.state();
        st.result_seen = true;
        if st.termination.is_none() {
            // It ended on its own just before the kill.
            let mut o = Obj::new()
                .with("status", "already_exited")
                .with("command", p.command.clone());
            Self::exit_fields(&mut o, &st);
            Self::completion_output(&mut o, &text, st.output.dropped_bytes);
            return o.text();
        }
        let mut o = Obj::new()
            .with("status", "killed")
            .with("session_id", p.id.clone())
            .with("completion_reason", "killed")
            .with(
                "termination_source",
                st.termination.unwrap_or(Termination::Kill).source(),
            );
        if let Some(exit) = &st.exit {
            o.push("exit_code", exit_code(exit));
        }
        Self::completion_output(&mut o, &text, st.output.dropped_bytes);
        o.text()
    }

    fn already_exited() -> String {
        Obj::new()
            .with("status", "already_exited")
            .with("error", "Process has already finished")
            .text()
    }

    async fn write(&self, p: &Process, data: &[u8]) -> String {
        match Self::send(p, data).await {
            Ok(()) => Obj::new()
                .with("status", "ok")
                .with("bytes_written", data.len())
                .text(),
            Err(refusal) => refusal,
        }
    }

    /// Writes `data` to the process's input; the error is the call's result.
    async fn send(p: &Process, data: &[u8]) -> Result<(), String> {
        if !p.is_running() {
            return Err(Self::already_exited());
        }
        let mut input = p.input.lock().await;
        let Some(w) = input.as_mut() else {
            return Err(Obj::new()
                .with("status", "error")
                .with(
                    "error",
                    "Process stdin is closed (process(action='close') was called); it cannot \
                     take more input.",
                )
                .text());
        };
        let written = tokio::time::timeout(WRITE_TIMEOUT, async {
            w.write_all(data).await?;
            w.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) if !p.is_running() => Err(Self::already_exited()),
            Ok(Err(e)) => Err(Obj::new()
                .with("status", "error")
                .with(
                    "error",
                    format!("Could not write to the process's input: {e}"),
                )
                .text()),
            Err(_) => Err(Obj::new()
                .with("status", "error")
                .with(
                    "error",
                    format!(
                        "The process did not read its input within {}s; part of the data may \
                         have been written. Check it with process(action='poll').",
                        WRITE_TIMEOUT.as_secs()
                    ),
                )
                .text()),
        }
    }

    async fn close(&self, p: &Process) -> String {
        if !p.is_running() {
            return Self::already_exited();
        }
        if p.pty {
            // A terminal has no end of input to close: Ctrl-D at the start of a line is
            // what ends a read there.
            if let Err(refusal) = Self::send(p, b"\x04").await {
                return refusal;
            }
            return Obj::new()
                .with("status", "ok")
                .with("message", "EOF sent")
                .text();
        }
        let mut input = p.input.lock().await;
        if let Some(mut w) = input.take() {
            let _ = w.shutdown().await;
        }
        p.state().stdin_closed = true;
        Obj::new()
            .with("status", "ok")
            .with("message", "stdin closed")
            .text()
    }
}

#[async_trait]
impl Tool for ProcessTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn is_mutating(&self, args: &Value) -> bool {
        !matches!(
            args.get("action").and_then(Value::as_str),
            Some("list" | "poll" | "log" | "wait")
        )
    }

    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<String, ToolError> {
        self.run(&args, ctx).await
    }
}

/// Checks `watch_patterns` as the model sent them: strings, not empty, bounded.
pub fn parse_watch_patterns(v: Option<&Value>) -> Result<Vec<String>, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Some(items) = v.as_array() else {
        return Err("watch_patterns must be a list of strings".into());
    };
    let mut out = Vec::new();
    for item in items {
        let Some(s) = item.as_str() else {
            return Err("watch_patterns must be a list of strings".into());
        };
        if s.is_empty() {
            continue;
        }
        if s.chars().count() > MAX_WATCH_PATTERN_CHARS {
            return Err(format!(
                "watch pattern is longer than {MAX_WATCH_PATTERN_CHARS} characters; use a \
                 short, distinctive substring"
            ));
        }
        if !out.iter().any(|p| p == s) {
            out.push(s.to_string());
        }
    }
    if out.len() > MAX_WATCH_PATTERNS {
        return Err(format!(
            "at most {MAX_WATCH_PATTERNS} watch patterns are allowed; got {}",
            out.len()
        ));
    }
    Ok(out)
}

fn spec() -> ToolSpec {
    ToolSpec {
        name: "process".into(),
        description: "Manage background processes started with terminal(background=true). \
                      Actions: 'list' (show all), 'poll' (check status + new output), 'log' \
                      (full output with pagination), 'wait' (block until done or timeout), \
                      'kill' (terminate), 'write' (send raw stdin data without newline), \
                      'submit' (send data + Enter, for answering prompts), 'close' (close \
                      stdin/send EOF)."
            .into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "action": {
                    "type": "string",
                    "enum": ["list", "poll", "log", "wait", "kill", "write", "submit", "close"],
                    "description": "Action to perform on background processes"
                },
                "session_id": {
                    "type": "string",
                    "description": "Process session ID (from terminal background output). Required for all actions except 'list'."
                },
                "data": {
                    "type": "string",
                    "description": "Text to send to process stdin (for 'write' and 'submit' actions)"
                },
                "timeout": {
                    "type": "integer",
                    "description": "Max seconds to block for 'wait' action. Returns partial output on timeout.",
                    "minimum": 1
                },
                "offset": {
                    "type": "integer",
                    "description": "Line offset for 'log' action (default: last 200 lines)"
                },
                "limit": {
                    "type": "integer",
                    "description": "Max lines to return for 'log' action",
                    "minimum": 1
                }
            },
            "required": ["action"]
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_keeps_everything_up_to_the_cap_then_the_tail() {
        let mut b = OutputBuffer::new(1000);
        for i in 0..50 {
            b.push(format!("line {i:03}\n").as_bytes());
        }
        // 50 × 9 bytes = 450: all kept.
        assert_eq!(b.total_bytes(), 450);
        assert_eq!(b.dropped_bytes, 0);
        for i in 50..200 {
            b.push(format!("line {i:03}\n").as_bytes());
        }
        assert_eq!(b.total_bytes(), 1800);
        assert!(b.data.len() <= 1000, "{}", b.data.len());
        // The tail is kept, starting at a line, and the counts add up.
        let text = String::from_utf8(b.data.clone()).unwrap();
        assert!(text.starts_with("line "), "{text}");
        assert!(text.ends_with("line 199\n"));
        assert_eq!(b.dropped_bytes + b.data.len() as u64, 1800);
        let first: u64 = text[5..8].parse().unwrap();
        assert_eq!(b.dropped_lines, first);
        // Positions before the kept part read from its start.
        assert_eq!(b.since(0), &b.data[..]);
        assert_eq!(b.since(1791), b"line 199\n");
    }

    #[test]
    fn the_buffer_cuts_between_characters_when_there_are_no_lines() {
        let mut b = OutputBuffer::new(100);
        b.push("é".repeat(200).as_bytes());
        assert!(b.data.len() <= 100);
        assert!(std::str::from_utf8(&b.data).is_ok());
        assert_eq!(b.dropped_lines, 0);
        assert_eq!(b.total_bytes(), 400);
        // A position inside a character starts at the next one.
        let pos = b.dropped_bytes + 1;
        assert!(std::str::from_utf8(b.since(pos)).is_ok());
    }

    #[test]
    fn cleaning_strips_escapes_and_terminal_line_ends() {
        assert_eq!(clean(b"\x1b[31mred\x1b[0m\r\nnext", true), "red\nnext");
        assert_eq!(clean(b"keep\r\n", false), "keep\r\n");
        assert_eq!(last_chars("abcdé", 2), "dé");
        assert_eq!(last_chars("ab", 5), "ab");
        assert_eq!(first_chars("abcdé", 4), "abcd");
    }

    fn watch() -> Watch {
        Watch::new(vec!["READY".into(), "ERR".into()])
    }

    #[test]
    fn a_match_is_reported_with_its_line() {
        let mut w = watch();
        let t0 = Instant::now();
        assert_eq!(w.feed(b"starting\nnot ye", t0), None);
        // The line is completed by the next chunk.
        assert_eq!(
            w.feed(b"t READY\nmore\n", t0),
            Some(WatchEvent::Match {
                pattern: "READY".into(),
                output: "not yet READY".into(),
                suppressed: 0
            })
        );
        // ANSI colours do not hide a match.
        let later = t0 + WATCH_MIN_INTERVAL;
        assert_eq!(
            w.feed(b"\x1b[31mERR\x1b[0m: x\n", later),
            Some(WatchEvent::Match {
                pattern: "ERR".into(),
                output: "ERR: x".into(),
                suppressed: 0
            })
        );
    }

    #[test]
    fn matches_inside_the_window_are_dropped_and_counted() {
        let mut w = watch();
        let t0 = Instant::now();
        assert!(matches!(
            w.feed(b"READY 1\n", t0),
            Some(WatchEvent::Match { .. })
        ));
        let s = Duration::from_secs(1);
        assert_eq!(w.feed(b"READY 2\nREADY 3\n", t0 + s), None);
        assert_eq!(w.feed(b"READY 4\n", t0 + 2 * s), None);
        // The next window reports the drops.
        match w.feed(b"READY 5\n", t0 + WATCH_MIN_INTERVAL + s) {
            Some(WatchEvent::Match {
                suppressed, output, ..
            }) => {
                assert_eq!(suppressed, 3);
                assert_eq!(output, "READY 5");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn three_windows_with_drops_switch_watching_off() {
        let mut w = watch();
        let mut t = Instant::now();
        let s = Duration::from_secs(1);
        for window in 0..WATCH_STRIKE_LIMIT {
            assert!(
                matches!(w.feed(b"READY\n", t), Some(WatchEvent::Match { .. })),
                "window {window} reports its first match"
            );
            let dropped = w.feed(b"READY again\n", t + s);
            if window + 1 < WATCH_STRIKE_LIMIT {
                assert_eq!(dropped, None);
            } else {
                assert_eq!(dropped, Some(WatchEvent::Disabled));
            }
            t += WATCH_MIN_INTERVAL + s;
        }
        assert!(w.disabled);
        assert_eq!(w.feed(b"READY\n", t + WATCH_MIN_INTERVAL * 10), None);
    }

    #[test]
    fn a_quiet_window_resets_the_strikes() {
        let mut w = watch();
        let mut t = Instant::now();
        let s = Duration::from_secs(1);
        for _ in 0..10 {
            // Two windows with drops, then one without.
            for _ in 0..2 {
                assert!(matches!(
                    w.feed(b"READY\n", t),
                    Some(WatchEvent::Match { .. })
                ));
                assert_eq!(w.feed(b"READY\n", t + s), None);
                t += WATCH_MIN_INTERVAL + s;
            }
            assert!(matches!(
                w.feed(b"READY\n", t),
                Some(WatchEvent::Match { .. })
            ));
            t += WATCH_MIN_INTERVAL + s;
        }
        assert!(!w.disabled);
    }

    #[test]
    fn many_matching_lines_are_capped() {
        let mut w = watch();
        let lines: String = (0..100).map(|i| format!("ERR {i}\n")).collect();
        match w.feed(lines.as_bytes(), Instant::now()) {
            Some(WatchEvent::Match { output, .. }) => {
                assert_eq!(output.lines().count(), WATCH_OUTPUT_LINES);
            }
            other => panic!("{other:?}"),
        }
        let mut w = watch();
        let long = format!("ERR {}\n", "x".repeat(5000));
        match w.feed(long.as_bytes(), Instant::now()) {
            Some(WatchEvent::Match { output, .. }) => {
                assert!(output.ends_with("\n...(truncated)"));
                assert!(output.chars().count() < WATCH_OUTPUT_CHARS + 20);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn watch_patterns_are_checked() {
        assert_eq!(parse_watch_patterns(None), Ok(vec![]));
        assert_eq!(parse_watch_patterns(Some(&json!(null))), Ok(vec![]));
        assert_eq!(
            parse_watch_patterns(Some(&json!(["a", "", "a", "b"]))),
            Ok(vec!["a".to_string(), "b".to_string()])
        );
        assert!(parse_watch_patterns(Some(&json!("a"))).is_err());
        assert!(parse_watch_patterns(Some(&json!([1]))).is_err());
        let many: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        assert!(parse_watch_patterns(Some(&json!(many))).is_err());
    }

    #[test]
    fn notification_texts_are_hermes() {
        assert_eq!(
            completion_text("proc_1", "make", 2, "boom"),
            "[IMPORTANT: Background process proc_1 completed (exit code 2).\nCommand: make\n\
             Output:\nboom]"
        );
        assert_eq!(
            watch_text("proc_1", "srv", "READY", "READY now", 0),
            "[IMPORTANT: Background process proc_1 matched watch pattern \"READY\".\nCommand: \
             srv\nMatched output:\nREADY now]"
        );
        assert!(
            watch_text("proc_1", "srv", "READY", "READY now", 4)
                .ends_with("READY now\n(4 earlier matches were suppressed by rate limit)]")
        );
        assert_eq!(
            exit_code(&ExitStatus {
                code: Some(3),
                signal: None
            }),
            3
        );
        assert_eq!(
            exit_code(&ExitStatus {
                code: None,
                signal: Some(9)
            }),
            -9
        );
    }

    #[test]
    fn ordered_objects_keep_their_keys_in_order() {
        let o = Obj::new().with("status", "not_found").with("error", "x");
        assert_eq!(o.text(), r#"{"status":"not_found","error":"x"}"#);
    }
}
