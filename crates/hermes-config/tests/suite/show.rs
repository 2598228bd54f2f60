use hermes_config::{Env, render_show_with};

use super::{load_with, temp_home, write};

#[test]
fn show_lists_sections_with_redacted_keys_and_no_colours() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "model: {default: gpt-4o, provider: openai}\nterminal: {backend: docker}\nagnet: 1\n",
    );
    let loaded = load_with(&home, &[], &[]).unwrap();
    let env = Env::from_pairs(&[("OPENAI_API_KEY", "sk-openai-0123456789abcd")]);
    let out = render_show_with(&loaded, &home, &env);
    for section in [
        "Paths",
        "API Keys",
        "Model",
        "Terminal",
        "Compression",
        "Memory",
        "Approvals",
        "Warnings",
    ] {
        assert!(
            out.lines().any(|l| l == section),
            "missing {section}:\n{out}"
        );
    }
    assert!(out.contains("sk-o...abcd"), "{out}");
    assert!(!out.contains("0123456789"), "{out}");
    assert!(out.contains("(not set)"), "{out}");
    assert!(out.contains("gpt-4o"));
    assert!(out.contains("Backend:        docker"), "{out}");
    assert!(out.contains("Threshold:      50%"), "{out}");
    assert!(out.contains("Mode:           smart"), "{out}");
    assert!(out.contains(&home.config_path().display().to_string()));
    assert!(!out.contains('\u{1b}'), "ANSI escape in output");
}

#[test]
fn every_label_is_followed_by_a_space() {
    let (_d, home) = temp_home();
    let loaded = load_with(&home, &[], &[]).unwrap();
    let out = render_show_with(&loaded, &home, &Env::from_pairs(&[]));
    assert!(out.contains("  Write approval: no\n"), "{out}");
    for l in out
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains(':'))
    {
        let (_, after) = l.split_once(':').unwrap();
        assert!(
            after.is_empty() || after.starts_with(' ') || after.starts_with('/'),
            "{l:?}"
        );
    }
}

#[test]
fn credentials_in_urls_are_redacted() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "model: {default: m, base_url: 'https://bob:hunter2@llm.example.com/v1'}\n",
    );
    let loaded = load_with(&home, &[], &[]).unwrap();
    let env = Env::from_pairs(&[("OPENAI_BASE_URL", "http://tok3n@proxy.example.com:8080/v1")]);
    let out = render_show_with(&loaded, &home, &env);
    assert!(!out.contains("hunter2") && !out.contains("bob"), "{out}");
    assert!(!out.contains("tok3n"), "{out}");
    assert!(out.contains("https://***@llm.example.com/v1"), "{out}");
    assert!(
        out.contains("http://***@proxy.example.com:8080/v1"),
        "{out}"
    );
}
