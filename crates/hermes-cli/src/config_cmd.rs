//! `hermes config …`.

use std::process::ExitCode;

use crate::app::App;
use crate::cli::{ConfigCmd, Global};
use crate::exit::Failure;

pub fn run(global: &Global, cmd: ConfigCmd) -> Result<ExitCode, Failure> {
    // Path queries work even when config.yaml is broken.
    match &cmd {
        ConfigCmd::Path => {
            let home = hermes_config::HermesHome::resolve()?;
            println!("{}", home.config_path().display());
            return Ok(ExitCode::SUCCESS);
        }
        ConfigCmd::EnvPath => {
            let home = hermes_config::HermesHome::resolve()?;
            println!("{}", home.env_path().display());
            return Ok(ExitCode::SUCCESS);
        }
        ConfigCmd::Set { key, value } => {
            let home = hermes_config::HermesHome::resolve()?;
            home.ensure()?;
            let outcome = hermes_config::set_value(&home, key, value)?;
            println!("{outcome}");
            for w in &outcome.warnings {
                eprintln!("hermes: warning: {w}");
            }
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
            let home = hermes_config::HermesHome::resolve()?;
            let removed = hermes_config::unset_value(&home, key)?;
            if removed {
                println!("✓ Removed {key} from {}", home.config_path().display());
            } else {
                println!("{key} is not set in {}", home.config_path().display());
            }
            return Ok(ExitCode::SUCCESS);
        }
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
        ConfigCmd::Path | ConfigCmd::EnvPath | ConfigCmd::Set { .. } | ConfigCmd::Unset { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}
