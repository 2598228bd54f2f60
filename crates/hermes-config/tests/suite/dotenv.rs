use hermes_config::{ConfigError, read_dotenv};

use super::{load_with, temp_home, write};

#[test]
fn dotenv_is_read_into_a_map_and_never_into_the_process_environment() {
    let (_d, home) = temp_home();
    let name = format!("HERMES_CONFIG_TEST_SENTINEL_{}", std::process::id());
    write(
        &home,
        ".env",
        &format!("# secrets\n{name}=sk-sentinel-value\nexport OTHER='a b'\n"),
    );
    let map = read_dotenv(&home.env_path()).unwrap();
    assert_eq!(map[&name], "sk-sentinel-value");
    assert_eq!(map["OTHER"], "a b");
    let loaded = load_with(&home, &[], &[]).unwrap();
    assert_eq!(loaded.dotenv[&name], "sk-sentinel-value");
    assert!(
        std::env::var(&name).is_err(),
        ".env leaked into the process environment"
    );
    // LoadedConfig's Debug shows names, not values.
    let dbg = format!("{loaded:?}");
    assert!(
        dbg.contains(&name) && !dbg.contains("sk-sentinel-value"),
        "{dbg}"
    );
}

#[test]
fn a_missing_dotenv_is_empty() {
    let (_d, home) = temp_home();
    assert!(read_dotenv(&home.env_path()).unwrap().is_empty());
}

#[test]
fn a_malformed_line_names_file_and_line() {
    let (_d, home) = temp_home();
    write(&home, ".env", "A=1\n# ok\nB=2\nnot an assignment\n");
    let err = read_dotenv(&home.env_path()).unwrap_err();
    let ConfigError::Dotenv { line, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*line, 4);
    let msg = err.to_string();
    assert!(
        msg.contains(&home.env_path().display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("line 4"), "{msg}");
    assert!(msg.contains("no `=`"), "{msg}");
    // Loading the config fails the same way.
    let err = load_with(&home, &[], &[]).unwrap_err();
    assert!(err.to_string().contains("line 4"), "{err}");
}
