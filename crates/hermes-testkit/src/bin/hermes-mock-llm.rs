//! `hermes-mock-llm [--port N] [--script FILE]`: the mock model server for manual runs.
//! FILE holds a JSON list of replies (see `hermes_testkit::reply`); after the script,
//! every request is answered with an echo of the last user message.

use std::process::ExitCode;

use hermes_testkit::{MockLlm, Reply};

const USAGE: &str = "usage: hermes-mock-llm [--port N] [--script FILE]

Serves OpenAI chat completions (POST /v1/chat/completions, GET /v1/models) and
Anthropic messages (POST /v1/messages) on 127.0.0.1. Replies come from FILE (a JSON
list, for example [{\"type\": \"text\", \"text\": \"hi\"}]), then echo the last user message.";

struct Args {
    port: u16,
    script: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        script: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" | "-p" => {
                let v = it.next().ok_or("--port needs a number")?;
                args.port = v
                    .parse()
                    .map_err(|_| format!("--port: `{v}` is not a port number"))?;
            }
            "--script" | "-s" => {
                args.script = Some(it.next().ok_or("--script needs a file")?);
            }
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

fn load_script(path: &str) -> Result<Vec<Reply>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read script {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| {
        format!("script {path} is not a JSON list of replies ({e}); see the hermes_testkit::reply docs for the shape")
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("hermes-mock-llm: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let script = match args.script.as_deref().map(load_script).transpose() {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => {
            eprintln!("hermes-mock-llm: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match MockLlm::try_start(args.port).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "hermes-mock-llm: cannot listen on 127.0.0.1:{}: {e}",
                args.port
            );
            return ExitCode::FAILURE;
        }
    };
    let n = script.len();
    server.push_all(script);
    println!("hermes-mock-llm listening on {}", server.base_url());
    println!("  OpenAI base URL:    {}", server.openai_url());
    println!("  Anthropic base URL: {}", server.base_url());
    println!("  {n} scripted replies, then echo");
    if tokio::signal::ctrl_c().await.is_err() {
        eprintln!("hermes-mock-llm: cannot wait for Ctrl-C; stopping");
    }
    ExitCode::SUCCESS
}
