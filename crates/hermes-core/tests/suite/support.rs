//! A provider that replays scripted answers, and small test tools.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use hermes_core::provider::{EventStream, ModelInfo, StreamEvent};
use hermes_core::{
    ChatRequest, Provider, ProviderError, Tool, ToolContext, ToolError, ToolSpec, Usage,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// One scripted model call.
pub enum Step {
    Events(Vec<StreamEvent>),
    /// Stream these, then hang until cancelled.
    Hang(Vec<StreamEvent>),
    Fail(ProviderError),
}

pub fn text(t: &str) -> Step {
    Step::Events(vec![
        StreamEvent::TextDelta(t.to_string()),
        StreamEvent::Usage(Usage {
            input_tokens: 100,
            output_tokens: 10,
            ..Usage::default()
        }),
        StreamEvent::Done {
            finish_reason: Some("stop".into()),
        },
    ])
}

pub fn calls(list: &[(&str, &str, Value)]) -> Step {
    let mut ev = Vec::new();
    for (i, (id, name, args)) in list.iter().enumerate() {
        let args = args.to_string();
        let (a, b) = args.split_at(args.len() / 2);
        ev.push(StreamEvent::ToolCallDelta {
            index: i,
            id: Some(id.to_string()),
            name: Some(name.to_string()),
            arguments: a.to_string(),
        });
        ev.push(StreamEvent::ToolCallDelta {
            index: i,
            id: None,
            name: None,
            arguments: b.to_string(),
        });
    }
    ev.push(StreamEvent::Done {
        finish_reason: Some("tool_calls".into()),
    });
    Step::Events(ev)
}

pub struct Scripted {
    info: ModelInfo,
    steps: Mutex<VecDeque<Step>>,
    pub requests: Mutex<Vec<ChatRequest>>,
}

impl Scripted {
    pub fn new(steps: Vec<Step>) -> Arc<Scripted> {
        Scripted::with_context(steps, Some(100_000))
    }

    pub fn with_context(steps: Vec<Step>, context_length: Option<u64>) -> Arc<Scripted> {
        Arc::new(Scripted {
            info: ModelInfo {
                provider: "openai".into(),
                model: "gpt-4o".into(),
                base_url: "https://api.openai.com/v1".into(),
                context_length,
            },
            steps: Mutex::new(steps.into()),
            requests: Mutex::new(Vec::new()),
        })
    }

    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait]
impl Provider for Scripted {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    async fn stream(
        &self,
        request: &ChatRequest,
        cancel: &CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        self.requests.lock().unwrap().push(request.clone());
        if request.tools.is_empty() && request.system.contains("compress conversations") {
            // Summary requests are answered here so scripts need not predict when
            // compression happens.
            let Step::Events(ev) = text("SUMMARY OF EARLIER WORK") else {
                unreachable!()
            };
            return Ok(futures::stream::iter(ev.into_iter().map(Ok)).boxed());
        }
        let step = self
            .steps
            .lock()
            .unwrap()
            .pop_front()
            .expect("the script ran out of steps");
        match step {
            Step::Fail(e) => Err(e),
            Step::Events(ev) => Ok(futures::stream::iter(ev.into_iter().map(Ok)).boxed()),
            Step::Hang(ev) => {
                let cancel = cancel.clone();
                let head = futures::stream::iter(ev.into_iter().map(Ok));
                let tail = futures::stream::once(async move {
                    cancel.cancelled().await;
                    Err(ProviderError::Cancelled)
                });
                Ok(head.chain(tail).boxed())
            }
        }
    }
}

/// Records calls; sleeps a little so concurrency is observable; tracks peak concurrency.
pub struct Probe {
    spec: ToolSpec,
    mutating: bool,
    pub log: Arc<Mutex<Vec<String>>>,
    running: AtomicUsize,
    pub peak: AtomicUsize,
}

impl Probe {
    pub fn new(name: &str, mutating: bool, log: Arc<Mutex<Vec<String>>>) -> Arc<Probe> {
        Arc::new(Probe {
            spec: ToolSpec {
                name: name.into(),
                description: format!("test tool {name}"),
                parameters: json!({
                    "type": "object",
                    "properties": {"tag": {"type": "string"}, "fail": {"type": "string"}},
                    "required": ["tag"],
                    "additionalProperties": false
                }),
            },
            mutating,
            log,
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Tool for Probe {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn is_mutating(&self, _args: &Value) -> bool {
        self.mutating
    }

    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<String, ToolError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let tag = args["tag"].as_str().unwrap_or("").to_string();
        self.log.lock().unwrap().push(format!("start {tag}"));
        let outcome = tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(50)) => Ok(()),
            () = ctx.cancel.cancelled() => Err(ToolError::Cancelled),
        };
        self.log.lock().unwrap().push(format!("end {tag}"));
        self.running.fetch_sub(1, Ordering::SeqCst);
        outcome?;
        match args["fail"].as_str() {
            Some("model") => Err(ToolError::model("probe says no")),
            Some("fatal") => Err(ToolError::Fatal("probe broke".into())),
            Some("big") => Ok("x".repeat(500_000)),
            _ => Ok(format!("ok {tag}")),
        }
    }
}
