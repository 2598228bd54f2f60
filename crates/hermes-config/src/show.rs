//! The `hermes config show` report: plain text, no colours, keys and the credentials in
//! URLs redacted.

use std::fmt::Write;

use crate::config::Config;
use crate::env::{Env, EnvSource};
use crate::home::HermesHome;
use crate::load::LoadedConfig;
use crate::url::redact;

/// Provider keys listed in the report: (label, variable).
const KEYS: &[(&str, &str)] = &[
    ("OpenAI", "OPENAI_API_KEY"),
    ("OpenAI base", "OPENAI_BASE_URL"),
    ("Anthropic", "ANTHROPIC_API_KEY"),
    ("Anthropic tok", "ANTHROPIC_TOKEN"),
    ("OpenRouter", "OPENROUTER_API_KEY"),
    ("DeepSeek", "DEEPSEEK_API_KEY"),
    ("Ollama", "OLLAMA_API_KEY"),
    ("API server", "API_SERVER_KEY"),
    ("Telegram", "TELEGRAM_BOT_TOKEN"),
];

/// Hides a key except for its first and last four characters (`sk-o...abcd`); short
/// keys are shown as `***`.
pub fn redact_key(key: &str) -> String {
    let chars: Vec<char> = key.trim().chars().collect();
    if chars.len() < 12 {
        return "***".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

/// The report, looking keys up in the process environment and the loaded `.env`.
pub fn render_show(loaded: &LoadedConfig, home: &HermesHome) -> String {
    render_show_with(loaded, home, &loaded.env())
}

/// The report with an explicit environment.
pub fn render_show_with(loaded: &LoadedConfig, home: &HermesHome, env: &Env) -> String {
    let c: &Config = &loaded.config;
    let mut out = String::new();
    let yes = |b: bool| if b { "yes" } else { "no" };
    let opt = |s: Option<&str>, none: &str| s.filter(|s| !s.is_empty()).unwrap_or(none).to_owned();
    // Labels end with a colon and are padded to one column; the longest ("Write
    // approval:") still gets a space before its value.
    let line = |out: &mut String, label: &str, value: &str| {
        let _ = writeln!(out, "  {:<16}{value}", format!("{label}:"));
    };

    out.push_str("Hermes configuration\n\n");

    out.push_str("Paths\n");
    line(&mut out, "Home", &home.root().display().to_string());
    line(
        &mut out,
        "Config",
        &home.config_path().display().to_string(),
    );
    line(&mut out, "Secrets", &home.env_path().display().to_string());
    line(&mut out, "Persona", &home.soul_path().display().to_string());
    line(
        &mut out,
        "State",
        &home.state_db_path().display().to_string(),
    );

    out.push_str("\nAPI Keys\n");
    for (label, var) in KEYS {
        let shown = match env.get_with_source(var) {
            Some((v, src)) => {
                let where_ = match src {
                    EnvSource::Process => "environment",
                    EnvSource::DotEnv => ".env",
                };
                let v = if var.ends_with("_URL") {
                    redact(&v)
                } else {
                    redact_key(&v)
                };
                format!("{v}  ({where_})")
            }
            None => "(not set)".to_owned(),
        };
        let _ = writeln!(out, "  {label:<16}{shown}");
    }

    out.push_str("\nModel\n");
    let m = &c.model;
    line(&mut out, "Model", &opt(m.default.as_deref(), "(not set)"));
    line(&mut out, "Provider", &opt(m.provider.as_deref(), "auto"));
    line(
        &mut out,
        "Base URL",
        &redact(&opt(m.base_url.as_deref(), "(provider default)")),
    );
    line(
        &mut out,
        "API key",
        &m.api_key
            .as_ref()
            .map_or("(from .env / environment)".to_owned(), |k| {
                format!("{} (in config.yaml)", redact_key(k.expose()))
            }),
    );
    line(&mut out, "API mode", &opt(m.api_mode.as_deref(), "(auto)"));
    line(
        &mut out,
        "Context",
        &m.context_length
            .map_or("(auto)".to_owned(), |n| format!("{n} tokens")),
    );
    line(
        &mut out,
        "Max tokens",
        &m.max_tokens
            .map_or("(provider default)".to_owned(), |n| n.to_string()),
    );
    line(&mut out, "Streaming", yes(m.streaming));
    line(&mut out, "Max turns", &c.agent.max_turns.to_string());
    let chain = c.fallback_chain();
    if chain.is_empty() {
        line(&mut out, "Fallbacks", "(none)");
    } else {
        let list: Vec<String> = chain
            .iter()
            .map(|f| format!("{}/{}", f.provider, f.model))
            .collect();
        line(&mut out, "Fallbacks", &list.join(", "));
    }
    if !c.providers.is_empty() {
        let names: Vec<&str> = c.providers.keys().map(String::as_str).collect();
        line(&mut out, "Named", &names.join(", "));
    }

    out.push_str("\nTerminal\n");
    let t = &c.terminal;
    let backend = if t.backend.is_supported() {
        t.backend.as_str().to_owned()
    } else {
        format!("{} (not supported by hermes-rs)", t.backend.as_str())
    };
    line(&mut out, "Backend", &backend);
    line(&mut out, "Working dir", &t.cwd);
    line(&mut out, "Timeout", &format!("{}s", t.timeout));
    line(&mut out, "Persistent", yes(t.persistent_shell));
    if t.backend == crate::config::TerminalBackend::Docker {
        line(&mut out, "Docker image", &t.docker_image);
        line(
            &mut out,
            "Limits",
            &format!(
                "{} CPU, {} MB memory, {} MB disk",
                t.container_cpu, t.container_memory, t.container_disk
            ),
        );
    }
    if t.backend == crate::config::TerminalBackend::Ssh {
        line(
            &mut out,
            "SSH",
            &format!(
                "{}@{}:{}",
                opt(t.ssh_user.as_deref(), "(user)"),
                opt(t.ssh_host.as_deref(), "(host not set)"),
                t.ssh_port
            ),
        );
    }
    line(&mut out, "Timezone", &opt(Some(&c.timezone), "(system)"));

    out.push_str("\nCompression\n");
    let k = &c.compression;
    line(&mut out, "Enabled", yes(k.enabled));
    line(&mut out, "Threshold", &format!("{}%", pct(k.threshold)));
    line(
        &mut out,
        "Target ratio",
        &format!("{}% of threshold preserved", pct(k.target_ratio)),
    );
    line(
        &mut out,
        "Protect first",
        &format!("{} messages", k.protect_first_n),
    );
    line(
        &mut out,
        "Protect last",
        &format!("{} messages", k.protect_last_n),
    );

    out.push_str("\nMemory\n");
    let mem = &c.memory;
    line(
        &mut out,
        "Memory",
        &format!(
            "{} ({} chars)",
            on_off(mem.memory_enabled),
            mem.memory_char_limit
        ),
    );
    line(
        &mut out,
        "User profile",
        &format!(
            "{} ({} chars)",
            on_off(mem.user_profile_enabled),
            mem.user_char_limit
        ),
    );
    line(&mut out, "Write approval", yes(mem.write_approval));
    if !mem.provider.is_empty() {
        line(&mut out, "Provider", &mem.provider);
    }

    out.push_str("\nApprovals\n");
    let a = &c.approvals;
    line(&mut out, "Mode", a.mode.as_str());
    line(&mut out, "Timeout", &format!("{}s", a.timeout));
    line(&mut out, "Cron mode", a.cron_mode.as_str());
    line(&mut out, "Allowlist", &count(c.command_allowlist.len()));
    line(&mut out, "Deny list", &count(a.deny.len()));

    if !loaded.warnings.is_empty() {
        out.push_str("\nWarnings\n");
        for w in &loaded.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }

    out.push_str(
        "\n  hermes config edit              # edit config.yaml\n  \
         hermes config set <key> <value> # change a setting (API keys go to .env)\n  \
         hermes config get <key>         # print one setting\n",
    );
    out
}

fn pct(f: f64) -> String {
    let p = f * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}", p.round())
    } else {
        format!("{p:.1}")
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn count(n: usize) -> String {
    match n {
        0 => "(none)".to_owned(),
        1 => "1 pattern".to_owned(),
        n => format!("{n} patterns"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        assert_eq!(redact_key("sk-or-1234567890abcd"), "sk-o...abcd");
        assert_eq!(redact_key("short"), "***");
    }

    #[test]
    fn percentages() {
        assert_eq!(pct(0.5), "50");
        assert_eq!(pct(0.125), "12.5");
    }
}
