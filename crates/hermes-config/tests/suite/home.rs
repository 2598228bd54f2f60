use hermes_config::HermesHome;
use hermes_config::home::{DEFAULT_SOUL, SUBDIRS};

#[cfg(unix)]
use super::mode;

#[test]
fn ensure_creates_a_private_root_subdirs_and_soul_once() {
    let dir = tempfile::tempdir().unwrap();
    let home = HermesHome::new(dir.path().join("nested/hermes"));
    let report = home.ensure().unwrap();
    assert!(report.created_root);
    assert!(report.seeded_soul);
    assert_eq!(report.created_dirs.len(), SUBDIRS.len());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    #[cfg(unix)]
    assert_eq!(mode(home.root()), 0o700);
    for sub in SUBDIRS {
        assert!(home.root().join(sub).is_dir(), "{sub}");
    }
    for p in [
        home.memories_dir(),
        home.skills_dir(),
        home.cron_dir(),
        home.logs_dir(),
        home.workspace_dir(),
    ] {
        assert!(p.is_dir(), "{}", p.display());
    }
    assert_eq!(
        std::fs::read_to_string(home.soul_path()).unwrap(),
        DEFAULT_SOUL
    );

    // The user edits SOUL.md; a second run changes nothing.
    std::fs::write(home.soul_path(), "my own persona\n").unwrap();
    let again = home.ensure().unwrap();
    assert!(!again.created_root && !again.seeded_soul && again.created_dirs.is_empty());
    assert_eq!(
        std::fs::read_to_string(home.soul_path()).unwrap(),
        "my own persona\n"
    );
}

#[test]
fn ensure_recreates_missing_parts_without_touching_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let home = HermesHome::new(dir.path().join("h"));
    home.ensure().unwrap();
    std::fs::remove_dir(home.logs_dir()).unwrap();
    std::fs::write(home.memories_dir().join("MEMORY.md"), "fact").unwrap();
    let report = home.ensure().unwrap();
    assert_eq!(report.created_dirs, vec!["logs".to_owned()]);
    assert_eq!(
        std::fs::read_to_string(home.memories_dir().join("MEMORY.md")).unwrap(),
        "fact"
    );
}

#[cfg(unix)]
#[test]
fn an_open_existing_root_is_reported_not_changed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let home = HermesHome::new(dir.path().join("h"));
    std::fs::create_dir(home.root()).unwrap();
    std::fs::set_permissions(home.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let report = home.ensure().unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("chmod 700"),
        "{}",
        report.warnings[0]
    );
    assert_eq!(mode(home.root()), 0o755);
    // The same warning without creating anything, for commands that only read.
    assert_eq!(home.warnings(), report.warnings);
    std::fs::set_permissions(home.root(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(home.warnings().is_empty());
    assert!(
        HermesHome::new(dir.path().join("missing"))
            .warnings()
            .is_empty()
    );
}

#[test]
fn a_file_in_place_of_the_root_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h");
    std::fs::write(&path, "").unwrap();
    let err = HermesHome::new(&path).ensure().unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
}
