//! `hermes chat` (REPL and `-q`) and `hermes -z`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use futures::FutureExt;
use hermes_core::approval::Approver;
use hermes_core::{Agent, AgentError, Session, TurnOutcome};
use hermes_store::Store;
use hermes_tools::process::ProcessRegistry;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::cli::Global;
use crate::exit::{self, Failure};
use crate::render::Renderer;

/// How the conversation is driven.
pub enum Mode {
    /// A read-eval-print loop on the terminal.
    Interactive,
    /// One question; streams the answer (unless quiet) and exits.
    Query { text: String, quiet: bool },
    /// Hermes' `-z`: one question, only the final text on stdout.
    Oneshot(String),
}

const CLI_HINT: &str = "You are talking with the user in a terminal (hermes CLI). Plain text \
and Markdown both display fine; keep answers easy to read in a terminal.";

/// SIGINT, installed once at start so Ctrl-C never kills the process mid-turn: it cancels
/// the running turn instead.
struct Interrupts(Option<Signal>);

impl Interrupts {
    fn install() -> Interrupts {
        match signal(SignalKind::interrupt()) {
            Ok(s) => Interrupts(Some(s)),
            Err(e) => {
                tracing::warn!("cannot handle Ctrl-C ({e}); it will end the program");
                Interrupts(None)
            }
        }
    }

    /// Forgets interrupts that arrived while no turn was running.
    fn drain(&mut self) {
        if let Some(s) = &mut self.0 {
            while matches!(s.recv().now_or_never(), Some(Some(()))) {}
        }
    }

    async fn next(&mut self) {
        match &mut self.0 {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
}

/// Everything a conversation needs, built once per run.
struct Chat {
    app: App,
    store: Arc<Store>,
    agent: Agent,
    source: &'static str,
    /// Background processes; released when a conversation ends and at exit.
    processes: Arc<ProcessRegistry>,
    /// Where commands run; a conversation's sandbox is released with it.
    executor: Arc<dyn hermes_sandbox::Executor>,
}

impl Chat {
    /// `approver` answers command approval prompts; without one they are refused.
    fn new(
        global: &Global,
        source: &'static str,
        approver: Option<Arc<dyn Approver>>,
    ) -> Result<Chat, Failure> {
        let app = App::load(global)?;
        let store = app.open_store()?;
        let workspace = app.workspace()?;
        let provider = app.provider(global)?;
        let processes = app.process_registry();
        let executor = app.executor(&workspace)?;
        let (tools, todos) = app.tools(
            &workspace,
            store.clone(),
            approver,
            processes.clone(),
            executor.clone(),
        )?;
        let agent = app.agent(provider, tools, todos, store.clone(), &workspace);
        Ok(Chat {
            app,
            store,
            agent,
            source,
            processes,
            executor,
        })
    }

    fn new_session(&self) -> Result<Session, Failure> {
        let workspace = self.agent.config().workspace.clone();
        let prompt = self.app.system_prompt(
            &workspace,
            self.agent.tools(),
            self.agent.provider().as_ref(),
            CLI_HINT,
        );
        self.agent
            .start_session(hermes_core::ids::new_session_id(), self.source, prompt)
            .map_err(Failure::failed)
    }

    /// Loads a stored session so the conversation continues where it stopped.
    fn resume(&self, id_or_title: &str) -> Result<Session, Failure> {
        let id = self.store.resolve_session(id_or_title)?;
        let row = self
            .store
            .get_session(&id)?
            .ok_or_else(|| Failure::usage(format!("no session {id}")))?;
        let messages = self.store.load_conversation(&id)?;
        self.store.reopen_session(&id)?;
        let prompt = match row.system_prompt {
            Some(p) if !p.is_empty() => p,
            _ => {
                let workspace = self.agent.config().workspace.clone();
                self.app.system_prompt(
                    &workspace,
                    self.agent.tools(),
                    self.agent.provider().as_ref(),
                    CLI_HINT,
                )
            }
        };
        Ok(Session::new(id, row.source, prompt, messages))
    }

    fn continue_latest(&self, name: &str) -> Result<Session, Failure> {
        if !name.is_empty() {
            return self.resume(name);
        }
        match self.store.latest_session(Some("cli"))? {
            Some(id) => self.resume(&id),
            None => Err(Failure::usage(
                "no previous CLI session to continue; start one with `hermes chat`",
            )),
        }
    }

    fn initial_session(&self, global: &Global) -> Result<Session, Failure> {
        if let Some(r) = &global.resume {
            self.resume(r)
        } else if let Some(c) = &global.continue_ {
            self.continue_latest(c)
        } else {
            self.new_session()
        }
    }

    /// Runs one turn, rendering events as they arrive; Ctrl-C cancels the turn only.
    async fn turn(
        &self,
        session: &mut Session,
        input: &str,
        renderer: &mut Renderer,
        interrupts: &mut Interrupts,
    ) -> Result<TurnOutcome, AgentError> {
        interrupts.drain();
        let cancel = CancellationToken::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let result = {
            let turn = self.agent.run_turn(session, input, &tx, &cancel);
            tokio::pin!(turn);
            loop {
                tokio::select! {
                    r = &mut turn => break r,
                    Some(ev) = rx.recv() => renderer.event(&ev),
                    () = interrupts.next(), if !cancel.is_cancelled() => {
                        renderer.interrupted();
                        cancel.cancel();
                    }
                }
            }
        };
        drop(tx);
        while let Ok(ev) = rx.try_recv() {
            renderer.event(&ev);
        }
        renderer.end_turn();
        result
    }
}

pub async fn run(global: &Global, mode: Mode) -> Result<ExitCode, Failure> {
    match mode {
        Mode::Interactive => interactive(global).await,
        Mode::Query { text, quiet } => single(global, &text, quiet, false).await,
        Mode::Oneshot(text) => single(global, &text, true, true).await,
    }
}

/// `chat -q` and `-z`.
async fn single(
    global: &Global,
    text: &str,
    quiet: bool,
    oneshot: bool,
) -> Result<ExitCode, Failure> {
    if text.trim().is_empty() {
        return Err(Failure::usage("the prompt is empty"));
    }
    let mut interrupts = Interrupts::install();
    // `-z` never asks (Hermes bypasses approvals there; here an ask is a denial).
    let approver = if oneshot { None } else { terminal_approver() };
    let chat = Chat::new(global, if oneshot { "oneshot" } else { "cli" }, approver)?;
    let mut session = chat.initial_session(global)?;
    let mut renderer = if quiet {
        Renderer::silent()
    } else {
        Renderer::streaming(std::io::stderr().is_terminal())
    };
    // One turn and out: nobody is left to deliver a notification, so the registry keeps
    // them disabled (the terminal tool says so), and background processes end with it.
    let outcome = chat
        .turn(&mut session, text, &mut renderer, &mut interrupts)
        .await;
    chat.processes.release_all();
    close(&chat.store, &session.id, "cli_close");
    let prefix = if oneshot { "hermes -z" } else { "hermes" };
    match outcome {
        Ok(TurnOutcome::Completed { text }) => {
            if quiet {
                print_final(&text);
            }
            if !oneshot {
                eprintln!("\nsession_id: {}", session.id);
            }
            if text.trim().is_empty() {
                eprintln!("{prefix}: no final response was produced; treating the run as failed.");
                return Ok(ExitCode::from(exit::FAILED));
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(TurnOutcome::IterationLimit { text, limit }) => {
            if quiet && !text.is_empty() {
                print_final(&text);
            }
            eprintln!(
                "{prefix}: stopped after {limit} model calls without a final answer (agent.max_turns); session {}",
                session.id
            );
            Ok(ExitCode::from(exit::INCOMPLETE))
        }
        Ok(TurnOutcome::Cancelled) => {
            eprintln!("{prefix}: interrupted; session {}", session.id);
            Ok(ExitCode::from(exit::INTERRUPTED))
        }
        Err(e) => Err(Failure::failed(format!(
            "{e} (session {} keeps everything up to this point)",
            session.id
        ))),
    }
}

/// The terminal approval prompt, when somebody is at a terminal to answer it (stdin and
/// stderr are terminals); otherwise none, and commands that need approval are refused.
fn terminal_approver() -> Option<Arc<dyn Approver>> {
    (std::io::stdin().is_terminal() && std::io::stderr().is_terminal())
        .then(|| Arc::new(crate::approve::TerminalApprover::new()) as Arc<dyn Approver>)
}

/// Marks a session ended; failures are only logged (the messages are already committed).
fn close(store: &Store, id: &str, reason: &str) {
    if let Err(e) = hermes_core::SessionStore::end_session(store, id, reason) {
        tracing::warn!("could not mark session {id} ended: {e}");
    }
}

fn print_final(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

const HELP: &str = "Commands:
  /new            start a new session
  /resume [ID]    list recent sessions, or switch to one (id, prefix or title)
  /usage          tokens and estimated cost of this session
  /help           this list
  /quit, /exit    leave (Ctrl-D works too)
Ctrl-C stops the current answer; the session keeps everything up to that point.";

/// The REPL.
async fn interactive(global: &Global) -> Result<ExitCode, Failure> {
    let mut interrupts = Interrupts::install();
    let chat = Chat::new(global, "cli", terminal_approver())?;
    let mut session = chat.initial_session(global)?;
    let tty = std::io::stdin().is_terminal();
    let info = chat.agent.provider().info().clone();
    if tty {
        eprintln!(
            "hermes {} · {} via {} · session {}\nType /help for commands, /quit to leave.",
            crate::VERSION,
            info.model,
            info.provider,
            session.id
        );
        if !session.messages.is_empty() {
            eprintln!("(resumed: {} messages)", session.messages.len());
        }
    }
    let mut lines =
        crate::render::LineReader::new(chat.app.home.root().join(".hermes_history"), tty);
    let mut renderer = Renderer::streaming(tty);
    chat.processes.set_notifications_enabled(true);
    let notices = Notices::start(chat.processes.clone(), tty);
    loop {
        notices.idle(&session.lineage_id);
        let line = lines.read("› ").await;
        notices.busy();
        let line = match line {
            Some(l) => l,
            None => break,
        };
        let input = line.trim();
        if input.is_empty() {
            continue;
        }
        if let Some(cmd) = input.strip_prefix('/') {
            let mut parts = cmd.splitn(2, char::is_whitespace);
            let name = parts.next().unwrap_or("");
            let arg = parts.next().map(str::trim).unwrap_or("");
            match name {
                "quit" | "exit" | "q" => break,
                "help" | "?" => println!("{HELP}"),
                "new" | "reset" => {
                    chat.processes.release(&session.lineage_id);
                    chat.executor.release(&session.lineage_id).await;
                    close(&chat.store, &session.id, "new_session");
                    session = chat.new_session()?;
                    println!("New session {}", session.id);
                }
                "resume" => {
                    if arg.is_empty() {
                        crate::sessions::print_list(&chat.store, None, 10)?;
                        println!("Use /resume ID to switch.");
                    } else {
                        match chat.resume(arg) {
                            Ok(s) => {
                                chat.processes.release(&session.lineage_id);
                                chat.executor.release(&session.lineage_id).await;
                                chat.executor.release(&session.lineage_id).await;
                                close(&chat.store, &session.id, "session_switch");
                                session = s;
                                println!(
                                    "Resumed session {} ({} messages)",
                                    session.id,
                                    session.messages.len()
                                );
                            }
                            Err(e) => eprintln!("{}", e.message()),
                        }
                    }
                }
                "usage" => crate::sessions::print_usage(&chat.store, &session)?,
                other => eprintln!("Unknown command /{other}. Type /help for the list."),
            }
            continue;
        }
        let input = notices.prepend(&session.lineage_id, input);
        match chat
            .turn(&mut session, &input, &mut renderer, &mut interrupts)
            .await
        {
            Ok(TurnOutcome::Completed { .. }) => {}
            Ok(TurnOutcome::IterationLimit { limit, .. }) => eprintln!(
                "(stopped after {limit} model calls without a final answer; raise agent.max_turns or ask again)"
            ),
            Ok(TurnOutcome::Cancelled) => eprintln!("(interrupted)"),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    chat.processes.release_all();
    close(&chat.store, &session.id, "cli_close");
    if tty {
        eprintln!(
            "Session {} saved. Resume with: hermes --resume {}",
            session.id, session.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Background-process notifications in the REPL. Hermes' texts (`[IMPORTANT: Background
/// process … completed …]`) reach the model with the user's next message, in front of
/// it. While the prompt waits, each new one is announced on stderr in one line, so the
/// user knows there is something to pick up; no turn starts without the user.
struct Notices {
    processes: Arc<ProcessRegistry>,
    idle: Arc<AtomicBool>,
    lineage: Arc<StdMutex<String>>,
    tty: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Notices {
    fn start(processes: Arc<ProcessRegistry>, tty: bool) -> Notices {
        let idle = Arc::new(AtomicBool::new(false));
        let lineage = Arc::new(StdMutex::new(String::new()));
        let mut changes = processes.subscribe();
        let task = tokio::spawn({
            let (processes, idle, lineage) = (processes.clone(), idle.clone(), lineage.clone());
            async move {
                while changes.changed().await.is_ok() {
                    if idle.load(Ordering::SeqCst) {
                        let current = lineage.lock().map(|l| l.clone()).unwrap_or_default();
                        announce(&processes, &current, tty);
                    }
                }
            }
        });
        Notices {
            processes,
            idle,
            lineage,
            tty,
            task,
        }
    }

    /// The prompt is about to wait for `lineage`'s user: announce what is pending, and
    /// from now on what arrives (each notification is announced once, whoever sees it
    /// first).
    fn idle(&self, lineage: &str) {
        if let Ok(mut l) = self.lineage.lock() {
            l.clear();
            l.push_str(lineage);
        }
        self.idle.store(true, Ordering::SeqCst);
        announce(&self.processes, lineage, self.tty);
    }

    fn busy(&self) {
        self.idle.store(false, Ordering::SeqCst);
    }

    /// `input` with the pending notifications of `lineage` in front of it.
    fn prepend(&self, lineage: &str, input: &str) -> String {
        let mut parts = self.processes.take_notifications(lineage);
        if parts.is_empty() {
            return input.to_string();
        }
        parts.push(input.to_string());
        parts.join("\n\n")
    }
}

impl Drop for Notices {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One stderr line per notification not announced yet.
fn announce(processes: &ProcessRegistry, lineage: &str, tty: bool) {
    for summary in processes.announce(lineage) {
        let line = format!(
            "  ({}; the agent gets it with your next message)",
            crate::render::sanitize(&summary)
        );
        if tty {
            // The prompt is on screen: start a fresh line and leave one for typing.
            eprint!("\r\n{line}\r\n");
        } else {
            eprintln!("{line}");
        }
    }
}
