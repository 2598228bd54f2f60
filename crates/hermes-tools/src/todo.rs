//! The `todo` tool: the per-session task list the model plans with.
//!
//! Hermes' classic shape: call with no arguments to read the list, with `todos` to replace
//! it (or, with `merge: true`, to update items by id and append new ones). Every call
//! answers `{"todos": [...], "summary": {...}}`. The list lives in memory, one per session
//! id, and is bounded: at most [`MAX_TODO_ITEMS`] items of at most
//! [`MAX_TODO_CONTENT_CHARS`] characters each.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use hermes_core::{Tool, ToolContext, ToolError, ToolSpec};
use serde::Serialize;
use serde_json::{Value, json};

use crate::util::py_type;

/// Longest item content kept; longer content is cut and marked.
pub const MAX_TODO_CONTENT_CHARS: usize = 4000;
/// Most items a list holds; the head (highest priority) is kept.
pub const MAX_TODO_ITEMS: usize = 256;
/// Appended to content cut at [`MAX_TODO_CONTENT_CHARS`].
const TRUNCATION_MARKER: &str = "… [truncated]";

const DESCRIPTION: &str = "Manage your task list for the current session. Use for complex tasks \
with 3+ steps or when the user provides multiple tasks. Call with no parameters to read the \
current list.\n\nWriting:\n- Provide 'todos' array to create/update items\n- merge=false \
(default): replace the entire list with a fresh plan\n- merge=true: update existing items by \
id, add any new ones\n\nEach item: {id: string, content: string, status: \
pending|in_progress|completed|cancelled}\nList order is priority. Only ONE item in_progress at \
a time.\nMark items completed immediately when done. If something fails, cancel it and add a \
revised item.\n\nAlways returns the full current list.";

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TodoStatus {
    Pending,
    InProgress,
    Completed,
    Cancelled,
}

impl TodoStatus {
    /// Parses a status the way Hermes does: trimmed, case-insensitive.
    pub fn parse(s: &str) -> Option<TodoStatus> {
        match s.trim().to_lowercase().as_str() {
            "pending" => Some(TodoStatus::Pending),
            "in_progress" => Some(TodoStatus::InProgress),
            "completed" => Some(TodoStatus::Completed),
            "cancelled" => Some(TodoStatus::Cancelled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TodoStatus::Pending => "pending",
            TodoStatus::InProgress => "in_progress",
            TodoStatus::Completed => "completed",
            TodoStatus::Cancelled => "cancelled",
        }
    }

    fn marker(self) -> &'static str {
        match self {
            TodoStatus::Completed => "[x]",
            TodoStatus::InProgress => "[>]",
            TodoStatus::Pending => "[ ]",
            TodoStatus::Cancelled => "[~]",
        }
    }
}

/// One task. List position is priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TodoItem {
    pub id: String,
    pub content: String,
    pub status: TodoStatus,
}

/// Counts per status, as reported in every result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TodoSummary {
    pub total: usize,
    pub pending: usize,
    pub in_progress: usize,
    pub completed: usize,
    pub cancelled: usize,
}

impl TodoSummary {
    pub fn of(items: &[TodoItem]) -> TodoSummary {
        let count = |s| items.iter().filter(|i| i.status == s).count();
        TodoSummary {
            total: items.len(),
            pending: count(TodoStatus::Pending),
            in_progress: count(TodoStatus::InProgress),
            completed: count(TodoStatus::Completed),
            cancelled: count(TodoStatus::Cancelled),
        }
    }
}

#[derive(Serialize)]
struct TodoResult<'a> {
    todos: &'a [TodoItem],
    summary: TodoSummary,
}

/// Task lists by session id, kept in memory.
#[derive(Debug, Default)]
pub struct TodoStore {
    lists: Mutex<HashMap<String, Vec<TodoItem>>>,
}

impl TodoStore {
    pub fn new() -> TodoStore {
        TodoStore::default()
    }

    fn lists(&self) -> MutexGuard<'_, HashMap<String, Vec<TodoItem>>> {
        // A panic while holding the lock cannot leave a list half-written (every write
        // replaces the whole vector), so a poisoned lock is still safe to use.
        self.lists.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current list of `session` (empty when it has none).
    pub fn read(&self, session: &str) -> Vec<TodoItem> {
        self.lists().get(session).cloned().unwrap_or_default()
    }

    /// Writes `todos` (raw JSON items, as the model sent them) and returns the new list.
    ///
    /// Replace mode (`merge == false`): the list becomes `todos`, each item normalised
    /// (missing id → `"?"`, empty content → `"(no description)"`, unknown status →
    /// `pending`); of items sharing an id the last one wins, in its own position.
    /// Merge mode: items without an id are skipped; a known id gets only the fields that
    /// were given (non-empty content, valid status); an unknown id is appended.
    pub fn write(&self, session: &str, todos: &[Value], merge: bool) -> Vec<TodoItem> {
        let mut lists = self.lists();
        let current = lists.get(session).cloned().unwrap_or_default();
        let mut items = if merge {
            merge_items(current, todos)
        } else {
            dedupe_by_id(todos).into_iter().map(normalize).collect()
        };
        items.truncate(MAX_TODO_ITEMS);
        lists.insert(session.to_string(), items.clone());
        items
    }

    /// Drops the list of `session` (e.g. when the session ends).
    pub fn forget(&self, session: &str) {
        self.lists().remove(session);
    }

    /// The message Hermes appends after context compression so the model keeps its plan:
    /// only pending and in-progress items. `None` when there is nothing active.
    pub fn format_for_injection(&self, session: &str) -> Option<String> {
        let items = self.read(session);
        let active: Vec<&TodoItem> = items
            .iter()
            .filter(|i| matches!(i.status, TodoStatus::Pending | TodoStatus::InProgress))
            .collect();
        if active.is_empty() {
            return None;
        }
        let mut lines =
            vec!["[Your active task list was preserved across context compression]".to_string()];
        for i in active {
            lines.push(format!(
                "- {} {}. {} ({})",
                i.status.marker(),
                i.id,
                i.content,
                i.status.as_str()
            ));
        }
        Some(lines.join("\n"))
    }
}

/// A JSON value as Python's `str()` would show it, for ids and content sent with the
/// wrong type. `null` counts as absent.
fn text_of(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "True".into(),
        Some(Value::Bool(false)) => "False".into(),
        Some(other) => other.to_string(),
    }
}

fn cap_content(content: &str) -> String {
    if content.chars().count() <= MAX_TODO_CONTENT_CHARS {
        return content.to_string();
    }
    let keep = MAX_TODO_CONTENT_CHARS - TRUNCATION_MARKER.chars().count();
    let mut s: String = content.chars().take(keep).collect();
    s.push_str(TRUNCATION_MARKER);
    s
}

fn item_id(v: &Value) -> String {
    text_of(v.get("id")).trim().to_string()
}

/// Normalises one raw item into a valid [`TodoItem`].
fn normalize(v: &Value) -> TodoItem {
    if !v.is_object() {
        return TodoItem {
            id: "?".into(),
            content: "(invalid item)".into(),
            status: TodoStatus::Pending,
        };
    }
    let id = item_id(v);
    let content = text_of(v.get("content")).trim().to_string();
    let status = match v.get("status") {
        None | Some(Value::Null) => TodoStatus::Pending,
        s => TodoStatus::parse(&text_of(s)).unwrap_or(TodoStatus::Pending),
    };
    TodoItem {
        id: if id.is_empty() { "?".into() } else { id },
        content: if content.is_empty() {
            "(no description)".into()
        } else {
            cap_content(&content)
        },
        status,
    }
}

/// Keeps, of items sharing an id, the last one, in its own position. Items without an
/// id (and non-objects) cannot collide and are all kept.
fn dedupe_by_id(todos: &[Value]) -> Vec<&Value> {
    let mut last: HashMap<String, usize> = HashMap::new();
    for (i, t) in todos.iter().enumerate() {
        if t.is_object() {
            let id = item_id(t);
            if !id.is_empty() {
                last.insert(id, i);
            }
        }
    }
    todos
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            !t.is_object() || {
                let id = item_id(t);
                id.is_empty() || last.get(&id) == Some(i)
            }
        })
        .map(|(_, t)| t)
        .collect()
}

fn merge_items(mut items: Vec<TodoItem>, todos: &[Value]) -> Vec<TodoItem> {
    for t in dedupe_by_id(todos) {
        if !t.is_object() {
            continue;
        }
        let id = item_id(t);
        if id.is_empty() {
            continue;
        }
        match items.iter_mut().find(|i| i.id == id) {
            Some(existing) => {
                let content = text_of(t.get("content")).trim().to_string();
                if !content.is_empty() {
                    existing.content = cap_content(&content);
                }
                if let Some(s) = t
                    .get("status")
                    .and_then(|s| TodoStatus::parse(&text_of(Some(s))))
                {
                    existing.status = s;
                }
            }
            None => items.push(normalize(t)),
        }
    }
    // An id appears once: a list written in replace mode may hold several "?" items, and
    // Hermes collapses them on the next merge. Keep the first position of each id.
    let mut seen = HashSet::new();
    items.retain(|i| seen.insert(i.id.clone()));
    items
}

fn error_json(msg: &str) -> String {
    json!({ "error": msg }).to_string()
}

/// The `todo` tool over a shared [`TodoStore`].
pub struct TodoTool {
    spec: ToolSpec,
    store: Arc<TodoStore>,
}

impl TodoTool {
    pub fn new(store: Arc<TodoStore>) -> TodoTool {
        TodoTool {
            spec: ToolSpec {
                name: "todo".into(),
                description: DESCRIPTION.into(),
                parameters: json!({
                    "type": "object",
                    "properties": {
                        "todos": {
                            "type": "array",
                            "description": "Task items to write. Omit to read current list.",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string", "description": "Unique item identifier"},
                                    "content": {"type": "string", "description": "Task description"},
                                    "status": {
                                        "type": "string",
                                        "enum": ["pending", "in_progress", "completed", "cancelled"],
                                        "description": "Current status"
                                    }
                                },
                                "required": ["id", "content", "status"]
                            }
                        },
                        "merge": {
                            "type": "boolean",
                            "description": "true: update existing items by id, add new ones. false (default): replace the entire list.",
                            "default": false
                        }
                    },
                    "required": []
                }),
            },
            store,
        }
    }

    /// The store this tool writes to (shared with whoever re-injects the list).
    pub fn store(&self) -> &Arc<TodoStore> {
        &self.store
    }

    /// Runs one call; the result is the JSON text the model sees.
    pub fn run(&self, args: &Value, session: &str) -> String {
        let items = match args.get("todos") {
            None | Some(Value::Null) => self.store.read(session),
            Some(todos) => {
                let parsed;
                let list = match todos {
                    Value::Array(list) => list,
                    // Models sometimes send the array as a JSON string.
                    Value::String(s) => match serde_json::from_str::<Value>(s) {
                        Ok(Value::Array(list)) => {
                            parsed = list;
                            &parsed
                        }
                        Ok(other) => {
                            return error_json(&format!(
                                "todos must be a list, got {}",
                                py_type(&other)
                            ));
                        }
                        Err(_) => {
                            return error_json(
                                "todos must be a list of objects, got unparseable string",
                            );
                        }
                    },
                    other => {
                        return error_json(&format!(
                            "todos must be a list, got {}",
                            py_type(other)
                        ));
                    }
                };
                let merge = args.get("merge").and_then(Value::as_bool).unwrap_or(false);
                self.store.write(session, list, merge)
            }
        };
        let result = TodoResult {
            summary: TodoSummary::of(&items),
            todos: &items,
        };
        serde_json::to_string(&result).unwrap_or_else(|e| error_json(&e.to_string()))
    }
}

#[async_trait]
impl Tool for TodoTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn is_mutating(&self, args: &Value) -> bool {
        args.get("todos").is_some_and(|t| !t.is_null())
    }

    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<String, ToolError> {
        Ok(self.run(&args, &ctx.lineage_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(items: &[TodoItem]) -> Vec<&str> {
        items.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn normalisation_fills_gaps() {
        let store = TodoStore::new();
        let items = store.write(
            "s",
            &[
                json!({"content": "  a  ", "status": " In_Progress "}),
                json!({"id": "2", "content": "   ", "status": "bogus"}),
                json!({"id": 7, "content": "num id"}),
                json!("not an object"),
            ],
            false,
        );
        assert_eq!(
            items[0],
            TodoItem {
                id: "?".into(),
                content: "a".into(),
                status: TodoStatus::InProgress
            }
        );
        assert_eq!(items[1].content, "(no description)");
        assert_eq!(items[1].status, TodoStatus::Pending);
        assert_eq!(items[2].id, "7");
        assert_eq!(items[3].content, "(invalid item)");
    }

    #[test]
    fn replace_dedupes_keeping_last_in_its_position() {
        let store = TodoStore::new();
        let items = store.write(
            "s",
            &[
                json!({"id": "a", "content": "first a", "status": "pending"}),
                json!({"id": "b", "content": "b", "status": "pending"}),
                json!({"id": "a", "content": "second a", "status": "completed"}),
                json!({"content": "no id 1"}),
                json!({"content": "no id 2"}),
            ],
            false,
        );
        assert_eq!(ids(&items), ["b", "a", "?", "?"]);
        assert_eq!(items[1].content, "second a");
    }

    #[test]
    fn merge_updates_given_fields_and_appends() {
        let store = TodoStore::new();
        store.write(
            "s",
            &[
                json!({"id": "1", "content": "one", "status": "pending"}),
                json!({"id": "2", "content": "two", "status": "pending"}),
            ],
            false,
        );
        let items = store.write(
            "s",
            &[
                json!({"id": "2", "status": "completed"}),
                json!({"id": "1", "content": "ONE", "status": "nonsense"}),
                json!({"content": "skipped, no id"}),
                json!({"id": "3", "content": "three"}),
            ],
            true,
        );
        assert_eq!(ids(&items), ["1", "2", "3"]);
        assert_eq!(items[0].content, "ONE");
        assert_eq!(items[0].status, TodoStatus::Pending);
        assert_eq!(items[1].content, "two");
        assert_eq!(items[1].status, TodoStatus::Completed);
        assert_eq!(items[2].status, TodoStatus::Pending);
    }

    #[test]
    fn caps_content_and_count() {
        let store = TodoStore::new();
        let long = "é".repeat(5000);
        let mut todos = vec![json!({"id": "long", "content": long, "status": "pending"})];
        for i in 0..300 {
            todos.push(json!({"id": i.to_string(), "content": "x", "status": "pending"}));
        }
        let items = store.write("s", &todos, false);
        assert_eq!(items.len(), MAX_TODO_ITEMS);
        assert_eq!(items[0].content.chars().count(), MAX_TODO_CONTENT_CHARS);
        assert!(items[0].content.ends_with("… [truncated]"));
    }

    #[test]
    fn sessions_are_separate() {
        let store = TodoStore::new();
        store.write("a", &[json!({"id": "1", "content": "x"})], false);
        assert!(store.read("b").is_empty());
        assert_eq!(store.read("a").len(), 1);
        store.forget("a");
        assert!(store.read("a").is_empty());
    }

    #[test]
    fn injection_lists_only_active_items() {
        let store = TodoStore::new();
        assert_eq!(store.format_for_injection("s"), None);
        store.write(
            "s",
            &[
                json!({"id": "1", "content": "Plan", "status": "completed"}),
                json!({"id": "2", "content": "Write tests", "status": "in_progress"}),
                json!({"id": "3", "content": "Docs", "status": "pending"}),
                json!({"id": "4", "content": "Old", "status": "cancelled"}),
            ],
            false,
        );
        assert_eq!(
            store.format_for_injection("s").as_deref(),
            Some(
                "[Your active task list was preserved across context compression]\n\
                 - [>] 2. Write tests (in_progress)\n- [ ] 3. Docs (pending)"
            )
        );
    }

    #[test]
    fn string_todos_are_parsed_and_bad_types_rejected() {
        let tool = TodoTool::new(Arc::new(TodoStore::new()));
        let out: Value = serde_json::from_str(&tool.run(
            &json!({"todos": "[{\"id\":\"1\",\"content\":\"x\",\"status\":\"pending\"}]"}),
            "s",
        ))
        .unwrap();
        assert_eq!(out["summary"]["total"], 1);
        assert_eq!(
            tool.run(&json!({"todos": "[oops"}), "s"),
            r#"{"error":"todos must be a list of objects, got unparseable string"}"#
        );
        assert_eq!(
            tool.run(&json!({"todos": {"id": "1"}}), "s"),
            r#"{"error":"todos must be a list, got dict"}"#
        );
        assert_eq!(
            tool.run(&json!({"todos": 3}), "s"),
            r#"{"error":"todos must be a list, got int"}"#
        );
    }

    #[test]
    fn reading_is_not_mutating() {
        let tool = TodoTool::new(Arc::new(TodoStore::new()));
        assert!(!tool.is_mutating(&json!({})));
        assert!(!tool.is_mutating(&json!({"todos": null})));
        assert!(tool.is_mutating(&json!({"todos": []})));
    }
}
