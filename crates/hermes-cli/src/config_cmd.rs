//! `hermes config …`.

use std::path::Path;
use std::process::ExitCode;

use hermes_config::{HermesHome, SetOptions};

use crate::app::App;
use crate::cli::{ConfigCmd, Global};
use crate::exit::Failure;

pub fn run(global: &Global, cmd: ConfigCmd) -> Result<ExitCode, Failure> {
    // Path queries, set, unset and edit work even when config.yaml is broken.
    match &cmd {
        ConfigCmd::Path => {
            let home = resolve_home()?;
            println!("{}", home.config_path().display());
            return Ok(ExitCode::SUCCESS);
        }
        ConfigCmd::EnvPath => {
            let home = resolve_home()?;
            println!("{}", home.env_path().display());
            return Ok(ExitCode::SUCCESS);
        }
        ConfigCmd::Set { key, value, force } => {
            let home = HermesHome::resolve()?;
            // Creates the home if needed; its warnings come back in the outcome.
            let outcome =
                hermes_config::set_value_with(&home, key, value, SetOptions { force: *force })?;
            println!("{outcome}");
            warn_all(&outcome.warnings);
            if let Some(var) = outcome.env_override
                && std::env::var_os(var).is_some()
            {
                eprintln!(
                    "hermes: note: {var} is set in your environment and overrides {key} until you unset it"
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        ConfigCmd::Unset { key } => {
            let home = resolve_home()?;
            let outcome = hermes_config::unset_value(&home, key)?;
            println!("{outcome}");
            return Ok(ExitCode::SUCCESS);
        }
        ConfigCmd::Edit => return edit(),
        _ => {}
    }
    let app = App::load(global)?;
    match cmd {
        ConfigCmd::Show => print!("{}", hermes_config::render_show(&app.loaded, &app.home)),
        ConfigCmd::Get { key, json } => {
            let Some(v) = hermes_config::get_value(&app.loaded.tree, &key) else {
                return Err(Failure::usage(format!("{key} is not set")));
            };
            if json {
                let j = serde_json::to_string_pretty(v).map_err(Failure::failed)?;
                println!("{j}");
            } else {
                println!("{}", hermes_config::value_to_display(v));
            }
        }
        ConfigCmd::Check => {
            if app.loaded.warnings.is_empty() {
                println!(
                    "✓ {} and {} look fine",
                    app.home.config_path().display(),
                    app.home.env_path().display()
                );
            } else {
                // The warnings were printed while loading.
                return Ok(ExitCode::from(crate::exit::USAGE));
            }
        }
        ConfigCmd::Path
        | ConfigCmd::EnvPath
        | ConfigCmd::Set { .. }
        | ConfigCmd::Unset { .. }
        | ConfigCmd::Edit => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// The home, with its warnings printed, for commands that do not create it.
fn resolve_home() -> Result<HermesHome, Failure> {
    let home = HermesHome::resolve()?;
    warn_all(&home.warnings());
    Ok(home)
}

fn warn_all(warnings: &[String]) {
    for w in warnings {
        eprintln!("hermes: warning: {w}");
    }
}

/// `config edit`: opens config.yaml in the user's editor, then loads it and reports.
/// Exit 2 when the file no longer loads, 1 when the editor could not run or failed.
fn edit() -> Result<ExitCode, Failure> {
    let home = HermesHome::resolve()?;
    warn_all(&home.ensure()?.warnings);
    let path = home.config_path();
    create_private(&path)?;
    let editor = editor_command();
    let status = editor_process(&editor, &path).status().map_err(|e| {
        Failure::failed(format!(
            "could not start the editor `{editor}`: {e}; set VISUAL or EDITOR to your editor's command"
        ))
    })?;

    let loaded = match hermes_config::load_from_process(&home, &[]) {
        Ok(loaded) => loaded,
        Err(e) => {
            return Err(Failure::usage(format!(
                "{e}\n{} no longer loads; run `hermes config edit` again to fix it",
                path.display()
            )));
        }
    };
    warn_all(&loaded.warnings);
    if !status.success() {
        return Err(Failure::failed(format!(
            "the editor `{editor}` exited with {status}; {} loads as it is now",
            path.display()
        )));
    }
    match loaded.warnings.len() {
        0 => println!("✓ {} loads", path.display()),
        n => println!(
            "✓ {} loads, with {n} warning{} (above)",
            path.display(),
            if n == 1 { "" } else { "s" }
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// `$VISUAL`, else `$EDITOR`, else `vi`.
fn editor_command() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|v| v.trim().to_owned())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "vi".to_owned())
}

/// The editor runs through the shell, as other tools run `$EDITOR`, so that a command
/// with arguments (`code --wait`) works; the file is passed as `"$1"`, never spliced
/// into the command text.
fn editor_process(editor: &str, path: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg(editor)
        .arg(path);
    cmd
}

/// Creates an empty config.yaml with mode 0600 when there is none, so that the editor
/// does not create it with the default (often world-readable) mode.
fn create_private(path: &Path) -> Result<(), Failure> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Failure::failed(format!(
            "could not create {}: {e}",
            path.display()
        ))),
    }
}
