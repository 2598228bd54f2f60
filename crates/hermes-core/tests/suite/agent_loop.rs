use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use hermes_core::compress::CompressionConfig;
use hermes_core::pricing::PriceTable;
use hermes_core::provider::StreamEvent;
use hermes_core::session::InMemorySessions;
use hermes_core::{
    Agent, AgentConfig, AgentError, AgentEvent, ProviderError, Role, ToolRegistry, TurnOutcome,
};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::support::{Probe, Scripted, Step, calls, text};

struct Harness {
    agent: Agent,
    store: Arc<InMemorySessions>,
    provider: Arc<Scripted>,
    log: Arc<Mutex<Vec<String>>>,
    reader: Arc<Probe>,
    writer: Arc<Probe>,
}

fn harness_with(provider: Arc<Scripted>, config: AgentConfig) -> Harness {
    let store = Arc::new(InMemorySessions::new());
    let log = Arc::new(Mutex::new(Vec::new()));
    let reader = Probe::new("look", false, log.clone());
    let writer = Probe::new("change", true, log.clone());
    let mut tools = ToolRegistry::new();
    tools.register(reader.clone());
    tools.register(writer.clone());
    let agent = Agent::new(
        provider.clone(),
        tools,
        store.clone(),
        PriceTable::default(),
        config,
    );
    Harness {
        agent,
        store,
        provider,
        log,
        reader,
        writer,
    }
}

fn harness(steps: Vec<Step>) -> Harness {
    harness_with(Scripted::new(steps), AgentConfig::default())
}

async fn run(
    h: &Harness,
    session: &mut hermes_core::Session,
    input: &str,
) -> (Result<TurnOutcome, AgentError>, Vec<AgentEvent>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let r = h
        .agent
        .run_turn(session, input, &tx, &CancellationToken::new())
        .await;
    drop(tx);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (r, events)
}

#[tokio::test]
async fn plain_answer_is_streamed_and_committed() {
    let h = harness(vec![text("Hello there")]);
    let mut s = h.agent.start_session("s1", "cli", "SYSTEM").unwrap();
    let (r, events) = run(&h, &mut s, "hi").await;
    assert_eq!(
        r.unwrap(),
        TurnOutcome::Completed {
            text: "Hello there".into()
        }
    );
    assert!(events.contains(&AgentEvent::TextDelta("Hello there".into())));
    let stored = h.store.messages("s1");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].role, Role::User);
    assert_eq!(stored[1].content, "Hello there");
    let req = &h.provider.requests()[0];
    assert_eq!(req.system, "SYSTEM");
    assert_eq!(req.tools.len(), 2);
    let calls = h.store.calls("s1");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].usage.input_tokens, 100);
    assert!(calls[0].cost_usd.unwrap() > 0.0);
}

#[tokio::test]
async fn tool_round_trip_keeps_transcript_well_formed() {
    let h = harness(vec![
        calls(&[("c1", "look", json!({"tag": "a"}))]),
        text("done"),
    ]);
    let mut s = h.agent.start_session("s1", "cli", "").unwrap();
    let (r, events) = run(&h, &mut s, "go").await;
    assert!(matches!(r.unwrap(), TurnOutcome::Completed { .. }));
    let stored = h.store.messages("s1");
    let roles: Vec<Role> = stored.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::User, Role::Assistant, Role::Tool, Role::Assistant]
    );
    assert_eq!(stored[1].tool_calls[0].arguments, r#"{"tag":"a"}"#);
    assert_eq!(stored[2].tool_call_id.as_deref(), Some("c1"));
    assert_eq!(stored[2].content, "ok a");
    assert!(events.iter().any(
        |e| matches!(e, AgentEvent::ToolFinished { name, is_error: false, .. } if name == "look")
    ));
    // The second request carries the tool result back to the model.
    let second = &h.provider.requests()[1];
    assert_eq!(second.messages.last().unwrap().content, "ok a");
}

#[tokio::test]
async fn bad_arguments_and_unknown_tools_go_back_to_the_model() {
    let h = harness(vec![
        calls(&[
            ("c1", "look", json!({"tag": 5})),
            ("c2", "nope", json!({})),
            ("c3", "look", json!({"tag": "x", "fail": "model"})),
        ]),
        text("sorry"),
    ]);
    let mut s = h.agent.start_session("s1", "cli", "").unwrap();
    let (r, _) = run(&h, &mut s, "go").await;
    assert!(matches!(r.unwrap(), TurnOutcome::Completed { .. }));
    let stored = h.store.messages("s1");
    assert!(
        stored[2]
            .content
            .contains("argument 'tag': expected string, got integer"),
        "{}",
        stored[2].content
    );
    assert!(stored[3].content.contains("unknown tool 'nope'"));
    assert!(stored[3].content.contains("change, look"));
    assert_eq!(stored[4].content, "Error: probe says no");
}

#[tokio::test]
async fn invalid_json_arguments_are_reported() {
    let h = harness(vec![
        Step::Events(vec![
            StreamEvent::ToolCallDelta {
                index: 0,
                id: Some("c1".into()),
                name: Some("look".into()),
                arguments: "{\"tag\": ".into(),
            },
            StreamEvent::Done {
                finish_reason: None,
            },
        ]),
        text("ok"),
    ]);
    let mut s = h.agent.start_session("s1", "cli", "").unwrap();
    run(&h, &mut s, "go").await.0.unwrap();
    let stored = h.store.messages("s1");
    assert!(
        stored[2].content.contains("not valid JSON"),
        "{}",
        stored[2].content
    );
}

#[tokio::test]
async fn read_only_calls_run_together_and_mutations_one_at_a_time_in_order() {
    let h = harness(vec![
        calls(&[
            ("r1", "look", json!({"tag": "r1"})),
            ("r2", "look", json!({"tag": "r2"})),
            ("r3", "look", json!({"tag": "r3"})),
            ("w1", "change", json!({"tag": "w1"})),
            ("w2", "change", json!({"tag": "w2"})),
        ]),
        text("done"),
    ]);
    let mut s = h.agent.start_session("s1", "cli", "").unwrap();
    run(&h, &mut s, "go").await.0.unwrap();
    assert_eq!(h.reader.peak.load(Ordering::SeqCst), 3);
    assert_eq!(h.writer.peak.load(Ordering::SeqCst), 1);
    let log = h.log.lock().unwrap().clone();
    let w = |s: &str| log.iter().position(|l| l == s).unwrap();
    assert!(w("end r3") < w("start w1"));
    assert!(w("end w1") < w("start w2"));
    // Results are committed in the model's order.
    let ids: Vec<String> = h
        .store
        .messages("s1")
        .iter()
        .filter_map(|m| m.tool_call_id.clone())
        .collect();
    assert_eq!(ids, ["r1", "r2", "r3", "w1", "w2"]);
}

#[tokio::test]
async fn iteration_limit_stops_the_loop() {
    let mut steps = Vec::new();
    for i in 0..5 {
        steps.push(calls(&[(&format!("c{i}"), "look", json!({"tag": "x"}))]));
    }
    let cfg = AgentConfig {
        max_turns: 3,
        ..AgentConfig::default()
    };
    let h = harness_with(Scripted::new(steps), cfg);
    let mut s = h.agent.start_session("s1", "cli", "").unwrap();
    let (r, _) = run(&h, &mut s, "loop").await;
    assert!(matches!(
        r.unwrap(),
        TurnOutcome::IterationLimit { limit: 3, .. }
    ));
    assert_eq!(h.provider.requests().len(), 3);
}

#[tokio::test]
async fn cancelling_mid_stream_commits_the_partial_answer() {
    let h = harness(vec![Step::Hang(vec![StreamEvent::TextDelta(
        "partial ".into(),
    )])]);
    let mut s = h.agent.start_session("s1", "cli", "").unwrap();
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if matches!(e, AgentEvent::TextDelta(_)) {
                c2.cancel();
            }
        }
    });
    let r = h.agent.run_turn(&mut s, "tell me", &tx, &cancel).await;
    assert_eq!(r.unwrap(), TurnOutcome::Cancelled);
    let stored = h.store.messages("s1");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].content, "partial ");
    assert_eq!(stored[1].finish_reason.as_deref(), Some("cancelled"));
}

#[tokio::test]
async fn cancelling_during_tools_answers_every_call() {
    let h = harness(vec![calls(&[
        ("w1", "change", json!({"tag": "w1"})),
        ("w2", "change", json!({"tag": "w2"})),
    ])]);
    let mut s = h.agent.start_session("s1", "cli", "").unwrap();
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if matches!(e, AgentEvent::ToolStarted { .. }) {
                c2.cancel();
            }
        }
    });
    let r = h.agent.run_turn(&mut s, "go", &tx, &cancel).await;
    assert_eq!(r.unwrap(), TurnOutcome::Cancelled);
    let stored = h.store.messages("s1");
    let results: Vec<(String, String)> = stored
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| (m.tool_call_id.clone().unwrap(), m.content.clone()))
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results.iter().all(|(_, c)| c.contains("cancelled")));
}

#[tokio::test]
async fn fatal_tool_error_ends_the_turn_with_every_call_answered() {
    let h = harness(vec![calls(&[
        ("w1", "change", json!({"tag": "a", "fail": "fatal"})),
        ("w2", "change", json!({"tag": "b"})),
    ])]);
    let mut s = h.agent.start_session("s1", "cli", "").unwrap();
    let (r, _) = run(&h, &mut s, "go").await;
    assert!(matches!(r, Err(AgentError::Tool { .. })));
    let answered = h
        .store
        .messages("s1")
        .iter()
        .filter(|m| m.role == Role::Tool)
        .count();
    assert_eq!(answered, 2);
}

#[tokio::test]
async fn huge_tool_output_is_capped_with_a_marker() {
    let h = harness(vec![
        calls(&[("c1", "look", json!({"tag": "a", "fail": "big"}))]),
        text("ok"),
    ]);
    let mut s = h.agent.start_session("s1", "cli", "").unwrap();
    run(&h, &mut s, "go").await.0.unwrap();
    let out = &h.store.messages("s1")[2].content;
    assert!(out.len() < 101_000, "{}", out.len());
    assert!(out.contains("[OUTPUT TRUNCATED - 400000 chars omitted out of 500000 total]"));
}

#[tokio::test]
async fn provider_errors_surface_classified() {
    let h = harness(vec![Step::Fail(ProviderError::Auth {
        provider: "openai".into(),
        detail: "invalid key".into(),
    })]);
    let mut s = h.agent.start_session("s1", "cli", "").unwrap();
    let (r, _) = run(&h, &mut s, "hi").await;
    match r {
        Err(AgentError::Provider(e)) => assert_eq!(e.class(), "auth"),
        other => panic!("{other:?}"),
    }
    // The user's message was committed before the call.
    assert_eq!(h.store.messages("s1").len(), 1);
}

#[tokio::test]
async fn stream_that_ends_early_is_an_error() {
    let h = harness(vec![Step::Events(vec![StreamEvent::TextDelta(
        "half".into(),
    )])]);
    let mut s = h.agent.start_session("s1", "cli", "").unwrap();
    let (r, _) = run(&h, &mut s, "hi").await;
    match r {
        Err(AgentError::Provider(e)) => assert_eq!(e.class(), "malformed"),
        other => panic!("{other:?}"),
    }
}

/// Long answers without usage reports, so the loop relies on its own size estimate.
fn long_conversation_steps(turns: usize) -> Vec<Step> {
    (0..turns)
        .map(|i| {
            Step::Events(vec![
                StreamEvent::TextDelta(format!("answer {i} {}", "word ".repeat(200))),
                StreamEvent::Done {
                    finish_reason: Some("stop".into()),
                },
            ])
        })
        .collect()
}

#[tokio::test]
async fn compression_summarises_the_middle_into_a_linked_session() {
    // A tiny window so a few turns cross the threshold.
    let steps = long_conversation_steps(8);
    let provider = Scripted::with_context(steps, Some(2_000));
    let cfg = AgentConfig {
        compression: CompressionConfig {
            protect_first_n: 2,
            protect_last_n: 2,
            threshold: 0.5,
            ..CompressionConfig::default()
        },
        ..AgentConfig::default()
    };
    let mut h = harness_with(provider, cfg);
    h.agent = h.agent.with_compaction_note(Arc::new(|lineage: &str| {
        Some(format!("TODO LIST OF {lineage}"))
    }));
    let mut s = h.agent.start_session("s1", "cli", "SYS").unwrap();
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut compressed = None;
    for i in 0..8 {
        let before = s.id.clone();
        h.agent
            .run_turn(
                &mut s,
                &format!("question {i}"),
                &tx,
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        if s.id != before {
            compressed = Some((before, s.id.clone()));
            break;
        }
    }
    let (old, new) = compressed.expect("compression happened");
    assert_eq!(h.store.end_reason(&old).as_deref(), Some("compression"));
    let sessions = h.store.sessions();
    let child = sessions.iter().find(|x| x.id == new).unwrap();
    assert_eq!(child.parent_session_id.as_deref(), Some(old.as_str()));
    assert_eq!(child.system_prompt.as_deref(), Some("SYS"));
    let msgs = h.store.messages(&new);
    assert!(
        msgs.iter()
            .any(|m| m.content.contains("SUMMARY OF EARLIER WORK")
                && m.content.starts_with("[CONTEXT COMPACTION"))
    );
    assert_eq!(msgs[0].content, "question 0");
    // Per-conversation state stays keyed by the first session id.
    assert_eq!(s.lineage_id, "s1");
    assert!(msgs.iter().any(|m| m.content.contains("TODO LIST OF s1")));
    // The summary call was recorded as an auxiliary task.
    assert!(h.store.calls(&old).iter().any(|c| c.task == "compression"));
}

#[tokio::test]
async fn context_too_long_triggers_compression_and_one_retry() {
    let mut steps = long_conversation_steps(3);
    steps.push(Step::Fail(ProviderError::ContextTooLong {
        provider: "openai".into(),
        detail: "too long".into(),
    }));
    steps.push(text("after retry"));
    // A large window: the estimate never triggers compression by itself.
    let provider = Scripted::with_context(steps, Some(1_000_000));
    let cfg = AgentConfig {
        compression: CompressionConfig {
            protect_first_n: 1,
            protect_last_n: 1,
            ..CompressionConfig::default()
        },
        ..AgentConfig::default()
    };
    let h = harness_with(provider, cfg);
    let mut s = h.agent.start_session("s1", "cli", "").unwrap();
    let (tx, _rx) = mpsc::unbounded_channel();
    for i in 0..3 {
        h.agent
            .run_turn(&mut s, &format!("q{i}"), &tx, &CancellationToken::new())
            .await
            .unwrap();
    }
    let r = h
        .agent
        .run_turn(&mut s, "q3", &tx, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        r,
        TurnOutcome::Completed {
            text: "after retry".into()
        }
    );
    assert_ne!(s.id, "s1");
}
