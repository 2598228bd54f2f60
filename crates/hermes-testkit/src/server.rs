//! The mock model server: real HTTP on 127.0.0.1, a FIFO script of replies shared by
//! both protocols, and a record of every request.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::render::{self, Ctx, Plan, Protocol};
use crate::reply::Reply;

/// One request the server received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Header names in lowercase; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The body as JSON (`null` when empty, a JSON string when not JSON).
    pub body: Value,
}

impl RecordedRequest {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[derive(Default)]
struct Shared {
    script: VecDeque<Reply>,
    requests: Vec<RecordedRequest>,
    required_key: Option<String>,
}

type SharedState = Arc<Mutex<Shared>>;

fn lock(state: &SharedState) -> MutexGuard<'_, Shared> {
    // A panic while holding the lock cannot leave the script inconsistent; go on.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A mock OpenAI + Anthropic server. Stops when dropped.
pub struct MockLlm {
    addr: SocketAddr,
    state: SharedState,
    task: JoinHandle<()>,
}

impl MockLlm {
    /// Starts on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// When no port can be bound on 127.0.0.1 (a broken test machine); use
    /// [`MockLlm::try_start`] to handle that.
    pub async fn start() -> MockLlm {
        match MockLlm::try_start(0).await {
            Ok(m) => m,
            Err(e) => panic!("the mock model server could not bind 127.0.0.1: {e}"),
        }
    }

    /// Starts on `port` of 127.0.0.1 (0 picks a free one).
    pub async fn try_start(port: u16) -> std::io::Result<MockLlm> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state: SharedState = Arc::default();
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("hermes-testkit: mock model server stopped: {e}");
            }
        });
        Ok(MockLlm { addr, state, task })
    }

    /// `http://127.0.0.1:PORT` (Anthropic clients use this as their base URL).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1` (the base URL for OpenAI clients).
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Appends a reply to the script.
    pub fn push(&self, reply: Reply) {
        lock(&self.state).script.push_back(reply);
    }

    /// Appends several replies.
    pub fn push_all(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.state).script.extend(replies);
    }

    /// Replies still waiting in the script.
    pub fn pending(&self) -> usize {
        lock(&self.state).script.len()
    }

    /// Answers model requests without this key (`Authorization: Bearer` or `x-api-key`)
    /// with 401, without consuming the script.
    pub fn require_api_key(&self, key: impl Into<String>) {
        lock(&self.state).required_key = Some(key.into());
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// Waits until at least `n` requests arrived (or `timeout` passed) and returns all of
    /// them.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let reqs = self.requests();
            if reqs.len() >= n || tokio::time::Instant::now() >= deadline {
                return reqs;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(state): State<SharedState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let json_body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    let mut recorded_headers = BTreeMap::new();
    for (name, value) in &headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        recorded_headers
            .entry(name.as_str().to_string())
            .and_modify(|old: &mut String| {
                old.push_str(", ");
                old.push_str(&v);
            })
            .or_insert(v);
    }

    let protocol = if method == Method::POST && path == "/v1/chat/completions" {
        Some(Protocol::OpenAi)
    } else if method == Method::POST && path == "/v1/messages" {
        Some(Protocol::Anthropic)
    } else {
        None
    };

    let (seq, reply, key_ok) = {
        let mut s = lock(&state);
        s.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            headers: recorded_headers,
            body: json_body.clone(),
        });
        let seq = s.requests.len() as u64;
        let key_ok = match &s.required_key {
            None => true,
            Some(k) => {
                let bearer = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                let x_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
                bearer == Some(k.as_str()) || x_key == Some(k.as_str())
            }
        };
        let reply = match protocol {
            Some(_) if key_ok => Some(s.script.pop_front().unwrap_or(Reply::Echo)),
            _ => None,
        };
        (seq, reply, key_ok)
    };

    let Some(protocol) = protocol else {
        if method == Method::GET && path == "/v1/models" {
            return axum::Json(json!({
                "object": "list",
                "data": [{"id": "mock-model", "object": "model", "created": 0, "owned_by": "hermes-testkit"}]
            }))
            .into_response();
        }
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": {"message": format!("no route for {method} {path}"), "type": "not_found"}})),
        )
            .into_response();
    };
    if !key_ok {
        return respond(Plan::Json {
            status: 401,
            body: render::error_body(protocol, 401),
            headers: Vec::new(),
        });
    }
    let reply = reply.unwrap_or(Reply::Echo);
    let mut delay = Duration::ZERO;
    let mut inner = &reply;
    while let Reply::Delayed { delay_ms, reply } = inner {
        delay += Duration::from_millis(*delay_ms);
        inner = reply;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let ctx = Ctx {
        protocol,
        request: &json_body,
        request_len: body.len(),
        seq,
    };
    respond(render::render(inner, &ctx))
}

fn respond(plan: Plan) -> Response {
    match plan {
        Plan::Json {
            status,
            body,
            headers,
        } => {
            let mut resp = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                axum::Json(body),
            )
                .into_response();
            for (k, v) in headers {
                if let (Ok(name), Ok(value)) = (
                    header::HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(&v),
                ) {
                    resp.headers_mut().insert(name, value);
                }
            }
            resp
        }
        Plan::Raw {
            status,
            content_type,
            body,
        } => {
            let mut resp =
                (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                resp.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            resp
        }
        Plan::Sse { chunks, hold_open } => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
            tokio::spawn(async move {
                for c in chunks {
                    if tx.send(Bytes::from(c.text)).await.is_err() {
                        return;
                    }
                    // Separate writes, so clients see the answer arrive in pieces.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                if hold_open {
                    // Silent until the client goes away.
                    tx.closed().await;
                }
            });
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<Bytes, std::io::Error>(b), rx))
            });
            let mut resp = Response::new(Body::from_stream(stream));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            resp
        }
        Plan::Hang => {
            let stream = futures::stream::pending::<Result<Bytes, std::io::Error>>();
            // Headers are sent, but the JSON body never comes.
            let mut resp = Response::new(Body::from_stream(stream));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
    }
}
