//! `hermes sessions …` and the REPL's session views.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use hermes_core::{Role, Session};
use hermes_store::{SearchOptions, SessionFilter, Store};

use crate::app::App;
use crate::cli::{ExportFormat, Global, SessionsCmd};
use crate::exit::Failure;

pub fn run(global: &Global, cmd: SessionsCmd) -> Result<ExitCode, Failure> {
    let app = App::load(global)?;
    let store = app.open_store()?;
    match cmd {
        SessionsCmd::List { source, limit } => print_list(&store, source.as_deref(), limit)?,
        SessionsCmd::Show { session } => show(&store, &session)?,
        SessionsCmd::Search {
            query,
            limit,
            session_id,
        } => search(&store, &query, limit, session_id.as_deref())?,
        SessionsCmd::Export {
            target,
            session_id,
            format: ExportFormat::Jsonl,
            output,
        } => export(
            &store,
            target.as_deref(),
            session_id.as_deref(),
            output.as_deref(),
        )?,
        SessionsCmd::Rename { session, title } => {
            let id = store.resolve_session(&session)?;
            let title = title.join(" ");
            store.set_title(&id, &title)?;
            println!("Session {id} is now titled \"{title}\"");
        }
        SessionsCmd::Delete { session, yes } => {
            let id = store.resolve_session(&session)?;
            if !yes && !confirm(&format!("Delete session {id} and all its messages?"))? {
                println!("Nothing deleted.");
                return Ok(ExitCode::SUCCESS);
            }
            store.delete_session(&id)?;
            println!("Deleted session {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn confirm(question: &str) -> Result<bool, Failure> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "refusing to delete without confirmation; pass --yes",
        ));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// "just now", "5m ago", "3h ago", "yesterday", "4d ago", or the date.
pub fn relative_time(ts: f64, now: f64) -> String {
    let d = (now - ts).max(0.0);
    if d < 60.0 {
        "just now".into()
    } else if d < 3600.0 {
        format!("{}m ago", (d / 60.0) as u64)
    } else if d < 86_400.0 {
        format!("{}h ago", (d / 3600.0) as u64)
    } else if d < 172_800.0 {
        "yesterday".into()
    } else if d < 604_800.0 {
        format!("{}d ago", (d / 86_400.0) as u64)
    } else {
        hermes_core::ids::format_utc(ts)[..10].to_string()
    }
}

fn clip(s: &str, n: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > n {
        let mut t: String = flat.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        flat
    }
}

fn pad(s: &str, n: usize) -> String {
    let c = clip(s, n);
    let len = c.chars().count();
    format!("{c}{}", " ".repeat(n.saturating_sub(len)))
}

/// Hermes' session table: titled layout when any session has a title.
pub fn print_list(store: &Store, source: Option<&str>, limit: usize) -> Result<(), Failure> {
    let filter = SessionFilter {
        source: source.map(str::to_string),
        limit: limit.saturating_add(1),
        ..SessionFilter::default()
    };
    let mut rows = store.list_sessions(&filter)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    if rows.is_empty() {
        println!("No sessions yet. Start one with `hermes chat`.");
        return Ok(());
    }
    let now = hermes_core::ids::now_ts();
    let titled = rows.iter().any(|r| r.title.is_some());
    let mut out = std::io::stdout().lock();
    if titled {
        let _ = writeln!(
            out,
            "{} {} {} ID",
            pad("Title", 32),
            pad("Preview", 40),
            pad("Last Active", 13)
        );
        let _ = writeln!(out, "{}", "─".repeat(110));
        for r in &rows {
            let _ = writeln!(
                out,
                "{} {} {} {}",
                pad(r.title.as_deref().unwrap_or("—"), 32),
                pad(&r.preview, 40),
                pad(&relative_time(r.last_active, now), 13),
                r.id
            );
        }
    } else {
        let _ = writeln!(
            out,
            "{} {} {} ID",
            pad("Preview", 50),
            pad("Last Active", 13),
            pad("Src", 6)
        );
        let _ = writeln!(out, "{}", "─".repeat(95));
        for r in &rows {
            let _ = writeln!(
                out,
                "{} {} {} {}",
                pad(&r.preview, 50),
                pad(&relative_time(r.last_active, now), 13),
                pad(&r.source, 6),
                r.id
            );
        }
    }
    if more {
        let _ = writeln!(out, "… more not shown (use --limit N to see more)");
    }
    Ok(())
}

fn show(store: &Store, session: &str) -> Result<(), Failure> {
    let id = store.resolve_session(session)?;
    let row = store
        .get_session(&id)?
        .ok_or_else(|| Failure::usage(format!("no session {id}")))?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "Session {id}");
    if let Some(t) = &row.title {
        let _ = writeln!(out, "Title:    {t}");
    }
    let _ = writeln!(out, "Source:   {}", row.source);
    if let Some(m) = &row.model {
        let _ = writeln!(out, "Model:    {m}");
    }
    let _ = writeln!(
        out,
        "Started:  {} UTC",
        hermes_core::ids::format_utc(row.started_at)
    );
    if let Some(p) = &row.parent_session_id {
        let _ = writeln!(out, "Parent:   {p}");
    }
    if let Some(r) = &row.end_reason {
        let _ = writeln!(out, "Ended:    {r}");
    }
    let _ = writeln!(out);
    for m in store.load_conversation(&id)? {
        match m.role {
            Role::Tool => {
                let name = m.tool_name.as_deref().unwrap_or("tool");
                let _ = writeln!(out, "[{name} result]\n{}\n", clip_block(&m.content, 2000));
            }
            role => {
                if !m.content.is_empty() {
                    let _ = writeln!(out, "[{}]\n{}\n", role.as_str(), m.content);
                }
                for c in &m.tool_calls {
                    let _ = writeln!(
                        out,
                        "[{} → {}] {}\n",
                        role.as_str(),
                        c.name,
                        clip_block(&c.arguments, 500)
                    );
                }
            }
        }
    }
    Ok(())
}

fn clip_block(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let cut = hermes_core::truncate::floor_char_boundary(s, max);
    format!("{}… [{} more bytes]", &s[..cut], s.len() - cut)
}

fn search(store: &Store, query: &str, limit: usize, session: Option<&str>) -> Result<(), Failure> {
    let session_id = match session {
        Some(s) => Some(store.resolve_session(s)?),
        None => None,
    };
    let opts = SearchOptions {
        limit,
        session_id,
        ..SearchOptions::default()
    };
    let hits = store.search(query, &opts)?;
    let mut out = std::io::stdout().lock();
    if hits.is_empty() {
        let _ = writeln!(out, "No messages match \"{query}\".");
        return Ok(());
    }
    for h in &hits {
        let _ = writeln!(
            out,
            "{}  {}  {}  {}\n  {}\n",
            h.session_id,
            h.role,
            hermes_core::ids::format_utc(h.timestamp),
            h.session_title.as_deref().unwrap_or(""),
            h.snippet.replace('\n', " ")
        );
    }
    Ok(())
}

fn export(
    store: &Store,
    target: Option<&str>,
    session_id: Option<&str>,
    output: Option<&Path>,
) -> Result<(), Failure> {
    // Hermes' form: `export OUT [--session-id ID]`; ours: `export ID [-o OUT]`.
    let (ids, out_path): (Vec<String>, Option<std::path::PathBuf>) = match (target, session_id) {
        (t, Some(s)) => (
            vec![store.resolve_session(s)?],
            t.filter(|t| *t != "-")
                .map(Into::into)
                .or(output.map(Into::into)),
        ),
        (Some(t), None) => match store.resolve_session(t) {
            Ok(id) => (vec![id], output.map(Into::into)),
            Err(e) if t == "-" || t.contains('/') || t.contains('.') => {
                let _ = e;
                (all_ids(store)?, (t != "-").then(|| t.into()))
            }
            Err(e) => return Err(e.into()),
        },
        (None, None) => (all_ids(store)?, output.map(Into::into)),
    };
    let mut buf = Vec::new();
    for id in &ids {
        let v = store.export_session(id)?;
        serde_json::to_writer(&mut buf, &v).map_err(Failure::failed)?;
        buf.push(b'\n');
    }
    match out_path {
        Some(p) => {
            std::fs::write(&p, &buf)?;
            eprintln!("Exported {} session(s) to {}", ids.len(), p.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&buf)?;
        }
    }
    Ok(())
}

fn all_ids(store: &Store) -> Result<Vec<String>, Failure> {
    let filter = SessionFilter {
        source: None,
        exclude_sources: Vec::new(),
        limit: usize::MAX / 2,
        offset: 0,
    };
    Ok(store
        .list_sessions(&filter)?
        .into_iter()
        .map(|s| s.id)
        .collect())
}

/// The REPL's /usage.
pub fn print_usage(store: &Store, session: &Session) -> Result<(), Failure> {
    let u = &session.usage;
    println!(
        "Session {}: {} model call(s) in this run\n  input {} · output {} · cache read {} · cache write {} tokens\n  estimated cost: ${:.4}",
        session.id,
        session.api_calls,
        u.input_tokens,
        u.output_tokens,
        u.cache_read_tokens,
        u.cache_write_tokens,
        session.cost_usd
    );
    let rows = store.usage_by_model(Some(&session.id))?;
    if !rows.is_empty() {
        println!("Recorded for this session:");
        for r in rows {
            println!(
                "  {} ({}{}): {} calls, {} in / {} out tokens, ${:.4}",
                r.model,
                r.billing_provider,
                if r.task.is_empty() {
                    String::new()
                } else {
                    format!(", {}", r.task)
                },
                r.api_call_count,
                r.input_tokens,
                r.output_tokens,
                r.estimated_cost_usd
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        let now = 1_000_000_000.0;
        assert_eq!(relative_time(now - 5.0, now), "just now");
        assert_eq!(relative_time(now - 300.0, now), "5m ago");
        assert_eq!(relative_time(now - 7200.0, now), "2h ago");
        assert_eq!(relative_time(now - 100_000.0, now), "yesterday");
        assert_eq!(relative_time(now - 300_000.0, now), "3d ago");
        assert_eq!(relative_time(now - 3_000_000.0, now), "2001-08-05");
    }

    #[test]
    fn padding_counts_characters() {
        assert_eq!(pad("数据库", 5), "数据库  ");
        assert_eq!(pad("abcdefgh", 4), "abc…");
    }
}
