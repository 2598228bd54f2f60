use std::collections::BTreeMap;

use hermes_config::{
    ApiMode, Config, Env, ResolvedModel, parse_config, resolve_fallbacks, resolve_model,
};

fn cfg(yaml: &str) -> Config {
    parse_config(yaml, std::path::Path::new("config.yaml")).expect("config parses")
}

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs)
}

fn resolve(yaml: &str, pairs: &[(&str, &str)]) -> Result<ResolvedModel, String> {
    resolve_model(&cfg(yaml), &env(pairs), None, None).map_err(|e| e.to_string())
}

#[test]
fn built_in_providers() {
    struct Case {
        provider: &'static str,
        env: &'static [(&'static str, &'static str)],
        label: &'static str,
        base: &'static str,
        key: Option<&'static str>,
        mode: ApiMode,
    }
    let cases = [
        Case {
            provider: "openai",
            env: &[("OPENAI_API_KEY", "sk-openai")],
            label: "openai",
            base: "https://api.openai.com/v1",
            key: Some("sk-openai"),
            mode: ApiMode::ChatCompletions,
        },
        Case {
            provider: "anthropic",
            env: &[("ANTHROPIC_API_KEY", "sk-ant")],
            label: "anthropic",
            base: "https://api.anthropic.com",
            key: Some("sk-ant"),
            mode: ApiMode::AnthropicMessages,
        },
        Case {
            provider: "anthropic",
            env: &[("ANTHROPIC_TOKEN", "sk-ant-oat")],
            label: "anthropic",
            base: "https://api.anthropic.com",
            key: Some("sk-ant-oat"),
            mode: ApiMode::AnthropicMessages,
        },
        Case {
            provider: "openrouter",
            env: &[("OPENROUTER_API_KEY", "sk-or")],
            label: "openrouter",
            base: "https://openrouter.ai/api/v1",
            key: Some("sk-or"),
            mode: ApiMode::ChatCompletions,
        },
        Case {
            provider: "deepseek",
            env: &[("DEEPSEEK_API_KEY", "sk-ds")],
            label: "deepseek",
            base: "https://api.deepseek.com/v1",
            key: Some("sk-ds"),
            mode: ApiMode::ChatCompletions,
        },
        Case {
            provider: "ollama",
            env: &[],
            label: "custom",
            base: "http://127.0.0.1:11434/v1",
            key: None,
            mode: ApiMode::ChatCompletions,
        },
        Case {
            provider: "lmstudio",
            env: &[],
            label: "custom",
            base: "http://127.0.0.1:1234/v1",
            key: None,
            mode: ApiMode::ChatCompletions,
        },
        Case {
            provider: "custom",
            env: &[
                ("OPENAI_BASE_URL", "https://llm.example.com/v1/"),
                ("OPENAI_API_KEY", "sk-paired"),
            ],
            label: "custom",
            base: "https://llm.example.com/v1",
            key: Some("sk-paired"),
            mode: ApiMode::ChatCompletions,
        },
        Case {
            provider: "vllm",
            env: &[("OPENAI_BASE_URL", "http://10.0.0.9:8000/v1")],
            label: "custom",
            base: "http://10.0.0.9:8000/v1",
            key: None,
            mode: ApiMode::ChatCompletions,
        },
        Case {
            provider: "OpenAI",
            env: &[("OPENAI_API_KEY", "sk-openai")],
            label: "openai",
            base: "https://api.openai.com/v1",
            key: Some("sk-openai"),
            mode: ApiMode::ChatCompletions,
        },
    ];
    for c in cases {
        let r = resolve(
            &format!("model: {{default: m1, provider: {}}}\n", c.provider),
            c.env,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", c.provider));
        assert_eq!(r.provider, c.label, "{}", c.provider);
        assert_eq!(r.base_url, c.base, "{}", c.provider);
        assert_eq!(r.api_key.as_deref(), c.key, "{}", c.provider);
        assert_eq!(r.api_mode, c.mode, "{}", c.provider);
        assert_eq!(r.model, "m1");
        assert!(r.streaming);
    }
}

#[test]
fn anthropic_prefers_the_api_key_over_the_token() {
    let r = resolve(
        "model: {default: claude, provider: anthropic}\n",
        &[("ANTHROPIC_TOKEN", "tok"), ("ANTHROPIC_API_KEY", "key")],
    )
    .unwrap();
    assert_eq!(r.api_key.as_deref(), Some("key"));
}

#[test]
fn custom_endpoints_from_config() {
    // Loopback: no key needed, OPENAI_API_KEY is not sent to it.
    let r = resolve(
        "model: {default: qwen, provider: custom, base_url: 'http://127.0.0.1:8080/v1'}\n",
        &[("OPENAI_API_KEY", "sk-real-openai")],
    )
    .unwrap();
    assert_eq!(r.provider, "custom");
    assert_eq!(r.api_key, None);

    // A public host without a key is refused with directions.
    let msg = resolve(
        "model: {default: qwen, provider: custom, base_url: 'https://llm.example.com/v1'}\n",
        &[("OPENAI_API_KEY", "sk-real-openai")],
    )
    .unwrap_err();
    assert!(
        msg.contains("model.api_key") && msg.contains("no-key-required"),
        "{msg}"
    );

    // ... unless it has its own key, or says it needs none.
    let r = resolve(
        "model: {default: qwen, provider: custom, base_url: 'https://llm.example.com/v1', api_key: sk-own}\n",
        &[],
    )
    .unwrap();
    assert_eq!(r.api_key.as_deref(), Some("sk-own"));
    let r = resolve(
        "model: {default: qwen, provider: custom, base_url: 'https://llm.example.com/v1', api_key: no-key-required}\n",
        &[],
    )
    .unwrap();
    assert_eq!(r.api_key, None);

    // llamacpp without any base URL.
    let msg = resolve("model: {default: q, provider: llamacpp}\n", &[]).unwrap_err();
    assert!(
        msg.contains("base URL") && msg.contains("model.base_url"),
        "{msg}"
    );

    // A malformed URL.
    let msg = resolve("model: {default: q, base_url: 'localhost:8000'}\n", &[]).unwrap_err();
    assert!(
        msg.contains("model.base_url") && msg.contains("not an http(s) URL"),
        "{msg}"
    );
}

#[test]
fn auto_detection_order() {
    let all = [
        ("ANTHROPIC_API_KEY", "a"),
        ("OPENROUTER_API_KEY", "o"),
        ("OPENAI_API_KEY", "p"),
    ];
    let model = "model: m\n";
    assert_eq!(resolve(model, &all).unwrap().provider, "anthropic");
    assert_eq!(resolve(model, &all[1..]).unwrap().provider, "openrouter");
    assert_eq!(resolve(model, &all[2..]).unwrap().provider, "openai");
    assert_eq!(
        resolve(model, &[("ANTHROPIC_TOKEN", "t")])
            .unwrap()
            .provider,
        "anthropic"
    );
    // A base URL beats every key.
    let r = resolve(
        "model: {default: m, base_url: 'http://localhost:8000/v1'}\n",
        &all,
    )
    .unwrap();
    assert_eq!(
        (r.provider.as_str(), r.base_url.as_str()),
        ("custom", "http://localhost:8000/v1")
    );
    let r = resolve(
        model,
        &[
            ("OPENAI_BASE_URL", "http://localhost:9/v1"),
            ("ANTHROPIC_API_KEY", "a"),
        ],
    )
    .unwrap();
    assert_eq!(r.provider, "custom");
    // `auto` written out is the same.
    assert_eq!(
        resolve("model: {default: m, provider: auto}\n", &all[2..])
            .unwrap()
            .provider,
        "openai"
    );
    // Nothing at all.
    assert_eq!(
        resolve(model, &[]).unwrap_err(),
        "No LLM provider configured: set OPENAI_BASE_URL/OPENAI_API_KEY (any OpenAI-compatible server), ANTHROPIC_API_KEY or OPENROUTER_API_KEY in $HERMES_HOME/.env, or model.provider/base_url in config.yaml"
    );
}

#[test]
fn provider_precedence_cli_then_config_then_environment() {
    let keys = [
        ("OPENAI_API_KEY", "p"),
        ("OPENROUTER_API_KEY", "o"),
        ("HERMES_INFERENCE_PROVIDER", "openrouter"),
    ];
    let config = cfg("model: {default: m, provider: openai}\n");
    let e = env(&keys);
    assert_eq!(
        resolve_model(&config, &e, None, None).unwrap().provider,
        "openai"
    );
    assert_eq!(
        resolve_model(&config, &e, None, Some("openrouter"))
            .unwrap()
            .provider,
        "openrouter"
    );
    let unset = cfg("model: m\n");
    assert_eq!(
        resolve_model(&unset, &e, None, None).unwrap().provider,
        "openrouter"
    );
    // -m wins over model.default.
    assert_eq!(
        resolve_model(&config, &e, Some("gpt-x"), None)
            .unwrap()
            .model,
        "gpt-x"
    );
}

#[test]
fn model_settings_do_not_follow_a_cli_provider_switch() {
    let config = cfg(
        "model: {default: m, provider: custom, base_url: 'http://127.0.0.1:8000/v1', context_length: 8192}\n",
    );
    let e = env(&[("OPENROUTER_API_KEY", "o")]);
    let r = resolve_model(&config, &e, None, Some("openrouter")).unwrap();
    assert_eq!(r.base_url, "https://openrouter.ai/api/v1");
    assert_eq!(r.context_length, None);
    let r = resolve_model(&config, &e, None, Some("custom")).unwrap();
    assert_eq!(r.base_url, "http://127.0.0.1:8000/v1");
    assert_eq!(r.context_length, Some(8192));
}

#[test]
fn named_providers() {
    let yaml = "model: {provider: lab}\nproviders:\n  lab:\n    base_url: https://lab.example.com/v1\n    key_env: LAB_KEY\n    \
                default_model: lab-large\n    extra_headers: {X-Team: core}\n    request_timeout_seconds: 30\n    context_length: 32000\n";
    let dotenv: BTreeMap<String, String> = [("LAB_KEY".to_owned(), "lab-secret".to_owned())].into();
    let e = Env::isolated(BTreeMap::new(), dotenv);
    let r = resolve_model(&cfg(yaml), &e, None, None).unwrap();
    assert_eq!(r.provider, "lab");
    assert_eq!(r.model, "lab-large");
    assert_eq!(r.base_url, "https://lab.example.com/v1");
    assert_eq!(r.api_key.as_deref(), Some("lab-secret"));
    assert_eq!(
        r.extra_headers,
        vec![("X-Team".to_owned(), "core".to_owned())]
    );
    assert_eq!(r.request_timeout_seconds, Some(30));
    assert_eq!(r.context_length, Some(32000));
    // `custom:<name>` is the same entry.
    let r = resolve_model(&cfg(yaml), &e, None, Some("custom:lab")).unwrap();
    assert_eq!(r.provider, "lab");

    // key_env naming an unset variable says which.
    let msg = resolve_model(&cfg(yaml), &env(&[]), None, None)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("providers.lab.key_env names LAB_KEY")
            && msg.contains("hermes config set LAB_KEY"),
        "{msg}"
    );

    // A named entry ending in /anthropic speaks the Anthropic protocol.
    let r = resolve(
        "model: {default: m, provider: mm}\nproviders: {mm: {base_url: 'https://api.minimax.io/anthropic', api_key: k}}\n",
        &[],
    )
    .unwrap();
    assert_eq!(r.api_mode, ApiMode::AnthropicMessages);

    // A named entry on a known vendor host uses that vendor's key.
    let r = resolve(
        "model: {default: m, provider: or2}\nproviders: {or2: {base_url: 'https://openrouter.ai/api/v1'}}\n",
        &[("OPENROUTER_API_KEY", "sk-or")],
    )
    .unwrap();
    assert_eq!(r.api_key.as_deref(), Some("sk-or"));

    // Without a base URL, an entry named like a built-in adjusts it.
    let r = resolve(
        "model: {default: m, provider: openrouter}\nproviders: {openrouter: {key_env: MY_OR, request_timeout_seconds: 9}}\n",
        &[("MY_OR", "sk-mine"), ("OPENROUTER_API_KEY", "sk-default")],
    )
    .unwrap();
    assert_eq!(r.base_url, "https://openrouter.ai/api/v1");
    assert_eq!(r.api_key.as_deref(), Some("sk-mine"));
    assert_eq!(r.request_timeout_seconds, Some(9));

    let msg = resolve(
        "model: {default: m, provider: nourl}\nproviders: {nourl: {api_key: k}}\n",
        &[],
    )
    .unwrap_err();
    assert!(msg.contains("providers.nourl has no base_url"), "{msg}");
}

#[test]
fn missing_keys_and_models_say_what_to_do() {
    let msg = resolve("model: {default: m, provider: openai}\n", &[]).unwrap_err();
    assert!(
        msg.contains("OPENAI_API_KEY") && msg.contains("hermes config set OPENAI_API_KEY"),
        "{msg}"
    );
    let msg = resolve("model: {default: m, provider: anthropic}\n", &[]).unwrap_err();
    assert!(
        msg.contains("ANTHROPIC_API_KEY or ANTHROPIC_TOKEN"),
        "{msg}"
    );

    let msg = resolve("model: {provider: openai}\n", &[("OPENAI_API_KEY", "k")]).unwrap_err();
    assert!(
        msg.contains("model.default")
            && msg.contains("HERMES_INFERENCE_MODEL")
            && msg.contains("-m"),
        "{msg}"
    );
}

#[test]
fn unsupported_and_unknown_providers_and_modes() {
    let msg = resolve("model: {default: m, provider: openruoter}\n", &[]).unwrap_err();
    assert!(
        msg.contains("unknown provider `openruoter`") && msg.contains("Did you mean `openrouter`?"),
        "{msg}"
    );
    let msg = resolve("model: {default: m, provider: nous}\n", &[]).unwrap_err();
    assert!(msg.contains("does not support yet"), "{msg}");
    for mode in ["codex_responses", "bedrock_converse"] {
        let msg = resolve(
            &format!("model: {{default: m, provider: openai, api_mode: {mode}}}\n"),
            &[("OPENAI_API_KEY", "k")],
        )
        .unwrap_err();
        assert!(msg.contains("not supported yet"), "{msg}");
    }
}

#[test]
fn max_tokens_and_streaming_carry_over() {
    let r = resolve(
        "model: {default: m, provider: ollama, streaming: false, max_tokens: 512, default_headers: {A: b}}\n",
        &[],
    )
    .unwrap();
    assert!(!r.streaming);
    assert_eq!(r.max_tokens, Some(512));
    assert_eq!(r.extra_headers, vec![("A".to_owned(), "b".to_owned())]);
}

#[test]
fn debug_never_shows_the_key() {
    let r = resolve(
        "model: {default: m, provider: openai}\n",
        &[("OPENAI_API_KEY", "sk-top-secret-123")],
    )
    .unwrap();
    let s = format!("{r:?}");
    assert!(!s.contains("sk-top-secret-123"), "{s}");
    assert!(s.contains("***"), "{s}");
    let c = cfg(
        "model: {api_key: sk-in-config-456}\nproviders: {x: {base_url: 'http://h', api_key: sk-entry-789}}\n",
    );
    let s = format!("{c:?}");
    assert!(
        !s.contains("sk-in-config-456") && !s.contains("sk-entry-789"),
        "{s}"
    );
}

#[test]
fn fallbacks_resolve_in_order_and_skip_broken_entries() {
    let config = cfg(
        "model: {default: m, provider: openai}\nfallback_providers:\n  - {provider: openrouter, model: a/b}\n  \
         - {provider: deepseek, model: deepseek-chat}\n  - {provider: custom, model: local, base_url: 'http://127.0.0.1:8080/v1'}\n  \
         - {provider: '', model: x}\n",
    );
    let (chain, warnings) = resolve_fallbacks(&config, &env(&[("OPENROUTER_API_KEY", "o")]));
    let got: Vec<(&str, &str)> = chain
        .iter()
        .map(|r| (r.provider.as_str(), r.model.as_str()))
        .collect();
    assert_eq!(got, vec![("openrouter", "a/b"), ("custom", "local")]);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("fallback_providers.1 skipped")
            && warnings[0].contains("DEEPSEEK_API_KEY"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].starts_with("fallback_providers.3 skipped"),
        "{warnings:?}"
    );

    let legacy = cfg("fallback_model: {provider: openrouter, model: x/y}\n");
    let (chain, warnings) = resolve_fallbacks(&legacy, &env(&[("OPENROUTER_API_KEY", "o")]));
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].model, "x/y");
    assert!(warnings.is_empty());
}

/// H4: the host that picks a key must be the host the HTTP client connects to.
#[test]
fn base_urls_read_two_ways_never_get_a_vendor_key() {
    let openai = [("OPENAI_API_KEY", "sk-openai-secret")];
    for base in [
        // reqwest (WHATWG) connects to evil.example for all of these.
        "https://evil.example\\x.openai.azure.com/v1",
        "https://evil.example\\@x.openai.azure.com/v1",
        "https://api.openai.com@evil.example/v1",
        "https://evil.example%2f.openai.azure.com/v1",
        // Read as api.openai.com by the client, but not by a person.
        "http://localhost:pw@api.openai.com/v1",
        "https://api%2eopenai%2ecom/v1",
    ] {
        for yaml in [
            format!("model: {{default: m, provider: custom, base_url: '{base}'}}\n"),
            format!(
                "model: {{default: m, provider: p}}\nproviders: {{p: {{base_url: '{base}'}}}}\n"
            ),
        ] {
            match resolve(&yaml, &openai) {
                Ok(r) => panic!("{base}: resolved to {r:?} with a key: {:?}", r.api_key),
                Err(msg) => {
                    assert!(msg.contains("base_url: base URL `"), "{base}: {msg}");
                    assert!(!msg.contains("sk-openai-secret"), "{msg}");
                }
            }
        }
    }
    // `#` and `?` end the host for both readers: the key stays home.
    for base in [
        "https://evil.example#.openai.azure.com/v1",
        "https://evil.example?.openai.azure.com/v1",
    ] {
        let msg = resolve(
            &format!("model: {{default: m, provider: custom, base_url: '{base}'}}\n"),
            &openai,
        )
        .unwrap_err();
        assert!(msg.contains("has no API key"), "{base}: {msg}");
    }
    // The same host in other spellings is still the vendor's host.
    for base in [
        "https://API.OPENAI.COM/v1",
        "https://api.openai.com./v1",
        "https://x.openai.azure.com./openai",
    ] {
        let r = resolve(
            &format!("model: {{default: m, provider: custom, base_url: '{base}'}}\n"),
            &openai,
        )
        .unwrap();
        assert_eq!(r.api_key.as_deref(), Some("sk-openai-secret"), "{base}");
    }
}

#[test]
fn lan_hosts_need_no_key_but_never_get_a_vendor_key() {
    for base in [
        "http://192.168.1.10:8000/v1",
        "http://[fd00::5]:8000/v1",
        "http://ollama:11434/v1",
        "http://[::1]:8080/v1",
    ] {
        let r = resolve(
            &format!("model: {{default: m, provider: custom, base_url: '{base}'}}\n"),
            &[("OPENAI_API_KEY", "sk-openai-secret")],
        )
        .unwrap();
        assert_eq!(r.api_key, None, "{base}");
    }
    // A public host is not local even when it embeds a loopback address.
    let msg = resolve(
        "model: {default: m, provider: custom, base_url: 'https://127.0.0.1.nip.io/v1'}\n",
        &[],
    )
    .unwrap_err();
    assert!(msg.contains("has no API key"), "{msg}");
}

#[test]
fn credentials_in_a_base_url_are_never_shown() {
    let yaml = "model: {default: m, provider: custom, base_url: 'https://bob:hunter2@llm.example.com/v1'}\n";
    let msg = resolve(yaml, &[]).unwrap_err();
    assert!(msg.contains("https://***@llm.example.com/v1"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    let r = resolve(
        "model: {default: m, provider: custom, base_url: 'https://bob:hunter2@llm.example.com/v1', api_key: k}\n",
        &[],
    )
    .unwrap();
    assert_eq!(r.base_url, "https://bob:hunter2@llm.example.com/v1");
    let debug = format!("{r:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[test]
fn messages_name_the_real_dotenv() {
    let home = [("HERMES_HOME", "/srv/hermes"), ("HOME", "/home/u")];
    let msg = resolve("model: m\n", &home).unwrap_err();
    assert!(msg.contains("in /srv/hermes/.env"), "{msg}");
    assert!(!msg.contains("~/.hermes"), "{msg}");
    let msg = resolve("model: {default: m, provider: openai}\n", &home).unwrap_err();
    assert!(msg.contains("in /srv/hermes/.env"), "{msg}");
    let msg = resolve(
        "model: {default: m, provider: custom, base_url: 'https://llm.example.com/v1'}\n",
        &home,
    )
    .unwrap_err();
    assert!(msg.contains("in /srv/hermes/.env"), "{msg}");
    let msg = resolve("model: {default: m, provider: llamacpp}\n", &home).unwrap_err();
    assert!(msg.contains("OPENAI_BASE_URL in /srv/hermes/.env"), "{msg}");
    let msg = resolve(
        "model: {default: m, provider: p}\nproviders: {p: {base_url: 'https://x.example.com', key_env: PK}}\n",
        &home,
    )
    .unwrap_err();
    assert!(msg.contains("or in /srv/hermes/.env"), "{msg}");
    let msg = resolve(
        "model: {default: m, provider: p}\nproviders: {p: {base_url: 'https://x.example.com'}}\n",
        &home,
    )
    .unwrap_err();
    assert!(msg.contains("variable in /srv/hermes/.env"), "{msg}");
}
