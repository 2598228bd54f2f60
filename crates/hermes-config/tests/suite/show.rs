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
    assert!(out.contains("Backend:       docker"), "{out}");
    assert!(out.contains("Threshold:     50%"), "{out}");
    assert!(out.contains("Mode:          smart"), "{out}");
    assert!(out.contains(&home.config_path().display().to_string()));
    assert!(!out.contains('\u{1b}'), "ANSI escape in output");
}
