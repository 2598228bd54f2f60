//! Titles and resolving what a person typed to a session.

use hermes_store::{Store, StoreError};

use super::common::*;

fn three_sessions() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_session(dir.path(), "20260301_100000_abc123");
    store
        .create_session(&new_session("20260301_100000_abd456", "cli"))
        .unwrap();
    store
        .create_session(&new_session("20260302_090000_ffffff", "cli"))
        .unwrap();
    (dir, store)
}

#[test]
fn titles_are_sanitised_unique_and_bounded() {
    let (_d, store) = three_sessions();
    store
        .set_title(
            "20260301_100000_abc123",
            "  Deploy\u{200B} the\t\tblog \u{7} ",
        )
        .unwrap();
    let row = store
        .get_session("20260301_100000_abc123")
        .unwrap()
        .unwrap();
    assert_eq!(row.title.as_deref(), Some("Deploy the blog"));
    assert_eq!(row.title_source.as_deref(), Some("user"));

    let err = store
        .set_title("20260302_090000_ffffff", "Deploy the blog")
        .unwrap_err();
    match &err {
        StoreError::TitleInUse { holder, .. } => assert_eq!(holder, "20260301_100000_abc123"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("already in use"), "{err}");
    // Setting the same title on its holder is fine.
    store
        .set_title("20260301_100000_abc123", "Deploy the blog")
        .unwrap();

    let err = store
        .set_title("20260302_090000_ffffff", &"t".repeat(101))
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::TitleTooLong { len: 101, max: 100 }
    ));
    store
        .set_title("20260302_090000_ffffff", &"t".repeat(100))
        .unwrap();

    // Empty clears.
    store
        .set_title("20260301_100000_abc123", " \u{FEFF} ")
        .unwrap();
    assert_eq!(
        store
            .get_session("20260301_100000_abc123")
            .unwrap()
            .unwrap()
            .title,
        None
    );
    assert!(matches!(
        store.set_title("nope", "x"),
        Err(StoreError::SessionNotFound(_))
    ));
    // The unique index backs the check even for writers that skip it.
    let dup = raw(store.path().unwrap()).execute(
        "UPDATE sessions SET title = ?1 WHERE id = '20260301_100000_abd456'",
        [&"t".repeat(100)],
    );
    assert!(dup.is_err());
}

#[test]
fn resolves_ids_prefixes_and_titles() {
    let (_d, store) = three_sessions();
    assert_eq!(
        store.resolve_session("20260302_090000_ffffff").unwrap(),
        "20260302_090000_ffffff"
    );
    assert_eq!(
        store.resolve_session("20260302").unwrap(),
        "20260302_090000_ffffff"
    );
    assert_eq!(
        store.resolve_session("20260301_100000_abc").unwrap(),
        "20260301_100000_abc123"
    );
    let err = store.resolve_session("20260301_100000_ab").unwrap_err();
    match &err {
        StoreError::AmbiguousSession { candidates, .. } => assert_eq!(candidates.len(), 2),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("matches 2 sessions"), "{err}");
    assert!(matches!(
        store.resolve_session("nothing-like-this"),
        Err(StoreError::SessionNotFound(_))
    ));
    assert!(store.resolve_session("  ").is_err());
    // LIKE wildcards in the input are literal.
    assert!(store.resolve_session("2026%").is_err());
    assert!(store.resolve_session("2026030_").is_err());

    store
        .set_title("20260301_100000_abc123", "Blog work")
        .unwrap();
    store
        .set_title("20260302_090000_ffffff", "Blog work #2")
        .unwrap();
    store
        .set_title("20260301_100000_abd456", "Blog work #10")
        .unwrap();
    // The highest-numbered continuation wins.
    assert_eq!(
        store.resolve_session("Blog work").unwrap(),
        "20260301_100000_abd456"
    );
    assert_eq!(
        store.resolve_session("Blog work #2").unwrap(),
        "20260302_090000_ffffff"
    );
    assert_eq!(store.resolve_title("Blog").unwrap(), None);
}

#[test]
fn continuations_number_their_titles() {
    let (_d, store) = three_sessions();
    store.set_title("20260301_100000_abc123", "Taxes").unwrap();
    let mut next = new_session("20260303_000000_000001", "cli");
    next.parent_session_id = Some("20260301_100000_abc123".into());
    store.create_session(&next).unwrap();
    let mut third = new_session("20260303_000000_000002", "cli");
    third.parent_session_id = Some("20260303_000000_000001".into());
    store.create_session(&third).unwrap();
    let title = |id: &str| store.get_session(id).unwrap().unwrap().title;
    assert_eq!(title("20260303_000000_000001").as_deref(), Some("Taxes #2"));
    assert_eq!(title("20260303_000000_000002").as_deref(), Some("Taxes #3"));
    // An explicit title must be free.
    let mut clash = new_session("20260303_000000_000003", "cli");
    clash.title = Some("Taxes".into());
    assert!(matches!(
        store.create_session(&clash),
        Err(StoreError::TitleInUse { .. })
    ));
}
