//! Token and cost accounting: session totals for the main loop and the per-model,
//! per-task split in `session_model_usage`, the way Hermes' `update_token_counts` records
//! a CLI call (delta mode).

use rusqlite::params;
use serde::Serialize;

use hermes_core::CallRecord;
use hermes_core::pricing::CostStatus;

use crate::error::{DbContext, StoreError};
use crate::store::Store;

/// Usage of one model (for one task) within a session, or summed over all sessions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelUsage {
    pub model: String,
    pub billing_provider: String,
    pub billing_base_url: String,
    pub billing_mode: String,
    /// `""` is the main agent loop; otherwise `compression`, `title_generation`, …
    pub task: String,
    pub api_call_count: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub estimated_cost_usd: f64,
    pub actual_cost_usd: f64,
    pub cost_status: Option<String>,
    pub cost_source: Option<String>,
    pub first_seen: Option<f64>,
    pub last_seen: Option<f64>,
    /// How many sessions the row sums (1 for a single session).
    pub sessions: i64,
}

/// How a call's cost was obtained, with the `cost_source` / `pricing_version` Hermes
/// records alongside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostInfo {
    pub status: &'static str,
    pub source: &'static str,
    pub pricing_version: Option<&'static str>,
}

/// Hermes' cost columns for a call, from the status the agent computed.
pub fn cost_info(call: &CallRecord) -> CostInfo {
    let status = call.cost_status;
    CostInfo {
        status: status.as_str(),
        source: status.source(),
        pricing_version: (status == CostStatus::Included).then_some("included-route"),
    }
}

/// Our task names mapped to Hermes': the main loop is `""`.
pub fn hermes_task(task: &str) -> &str {
    match task {
        "" | "main" => "",
        "title" => "title_generation",
        other => other,
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Records one model call: main-loop calls add to the session totals; every call is
    /// added to its `(model, provider, base_url, mode, task)` row in `session_model_usage`.
    /// A session row that does not exist yet is created as a placeholder (`source =
    /// 'unknown'`), as Hermes does.
    pub fn record_call(&self, session_id: &str, call: &CallRecord) -> Result<(), StoreError> {
        let info = cost_info(call);
        let task = hermes_task(&call.task);
        let u = &call.usage;
        let now = hermes_core::ids::now_ts();
        self.write("recording usage", |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO sessions (id, source, started_at) VALUES (?1, 'unknown', ?2)",
                params![session_id, now],
            )
            .ctx("recording usage")?;
            if task.is_empty() {
                tx.execute(
                    "UPDATE sessions SET
                        input_tokens = COALESCE(input_tokens, 0) + ?2,
                        output_tokens = COALESCE(output_tokens, 0) + ?3,
                        cache_read_tokens = COALESCE(cache_read_tokens, 0) + ?4,
                        cache_write_tokens = COALESCE(cache_write_tokens, 0) + ?5,
                        reasoning_tokens = COALESCE(reasoning_tokens, 0) + ?6,
                        estimated_cost_usd = COALESCE(estimated_cost_usd, 0) + COALESCE(?7, 0),
                        cost_status = COALESCE(?8, cost_status),
                        cost_source = COALESCE(?9, cost_source),
                        pricing_version = COALESCE(?10, pricing_version),
                        model = CASE WHEN COALESCE(api_call_count, 0) = 0
                                     THEN COALESCE(?11, model) ELSE COALESCE(model, ?11) END,
                        billing_provider = CASE WHEN COALESCE(api_call_count, 0) = 0
                                     THEN COALESCE(?12, billing_provider)
                                     ELSE COALESCE(billing_provider, ?12) END,
                        billing_base_url = CASE WHEN COALESCE(api_call_count, 0) = 0
                                     THEN COALESCE(?13, billing_base_url)
                                     ELSE COALESCE(billing_base_url, ?13) END,
                        api_call_count = COALESCE(api_call_count, 0) + 1
                     WHERE id = ?1",
                    params![
                        session_id,
                        clamp(u.input_tokens),
                        clamp(u.output_tokens),
                        clamp(u.cache_read_tokens),
                        clamp(u.cache_write_tokens),
                        clamp(u.reasoning_tokens),
                        call.cost_usd,
                        info.status,
                        info.source,
                        info.pricing_version,
                        (!call.model.is_empty()).then_some(call.model.as_str()),
                        (!call.provider.is_empty()).then_some(call.provider.as_str()),
                        (!call.base_url.is_empty()).then_some(call.base_url.as_str()),
                    ],
                )
                .ctx("updating session totals")?;
            }
            let model = if call.model.is_empty() {
                "unknown"
            } else {
                call.model.as_str()
            };
            // The call carries no billing mode; like Hermes, take the session's (a Hermes
            // session records e.g. 'unknown'), so our calls add to Hermes' row for it.
            let billing_mode: String = tx
                .query_row(
                    "SELECT COALESCE(billing_mode, '') FROM sessions WHERE id = ?1",
                    [session_id],
                    |r| r.get(0),
                )
                .ctx("reading the session's billing mode")?;
            let key = params![
                session_id,
                model,
                call.provider,
                call.base_url,
                billing_mode,
                task
            ];
            let updated = tx
                .execute(
                    "UPDATE session_model_usage SET
                        api_call_count = api_call_count + 1,
                        input_tokens = input_tokens + ?7,
                        output_tokens = output_tokens + ?8,
                        cache_read_tokens = cache_read_tokens + ?9,
                        cache_write_tokens = cache_write_tokens + ?10,
                        reasoning_tokens = reasoning_tokens + ?11,
                        estimated_cost_usd = estimated_cost_usd + COALESCE(?12, 0),
                        cost_status = COALESCE(?13, cost_status),
                        cost_source = COALESCE(?14, cost_source),
                        last_seen = ?15
                     WHERE session_id = ?1 AND model = ?2 AND billing_provider = ?3
                       AND billing_base_url = ?4 AND billing_mode = ?5 AND task = ?6",
                    params![
                        key[0], key[1], key[2], key[3], key[4], key[5],
                        clamp(u.input_tokens),
                        clamp(u.output_tokens),
                        clamp(u.cache_read_tokens),
                        clamp(u.cache_write_tokens),
                        clamp(u.reasoning_tokens),
                        call.cost_usd,
                        info.status,
                        info.source,
                        now,
                    ],
                )
                .ctx("updating per-model usage")?;
            if updated == 0 {
                tx.execute(
                    "INSERT INTO session_model_usage (session_id, model, billing_provider,
                        billing_base_url, billing_mode, task, api_call_count, input_tokens,
                        output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
                        estimated_cost_usd, actual_cost_usd, cost_status, cost_source,
                        first_seen, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9, ?10, ?11,
                        COALESCE(?12, 0), 0, ?13, ?14, ?15, ?15)",
                    params![
                        key[0], key[1], key[2], key[3], key[4], key[5],
                        clamp(u.input_tokens),
                        clamp(u.output_tokens),
                        clamp(u.cache_read_tokens),
                        clamp(u.cache_write_tokens),
                        clamp(u.reasoning_tokens),
                        call.cost_usd,
                        info.status,
                        info.source,
                        now,
                    ],
                )
                .ctx("inserting per-model usage")?;
            }
            Ok(())
        })
    }

    /// Per-model usage of one session, or summed over every session, largest spend first.
    pub fn usage_by_model(&self, session_id: Option<&str>) -> Result<Vec<ModelUsage>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT model, billing_provider, billing_base_url, billing_mode, task,
                        SUM(api_call_count), SUM(input_tokens), SUM(output_tokens),
                        SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens),
                        SUM(estimated_cost_usd), SUM(actual_cost_usd),
                        MAX(cost_status), MAX(cost_source), MIN(first_seen), MAX(last_seen),
                        COUNT(DISTINCT session_id)
                     FROM session_model_usage
                     WHERE ?1 IS NULL OR session_id = ?1
                     GROUP BY model, billing_provider, billing_base_url, billing_mode, task
                     ORDER BY SUM(estimated_cost_usd) DESC, SUM(input_tokens) DESC, model, task",
                )
                .ctx("reading usage")?;
            let rows = stmt
                .query_map([session_id], |r| {
                    Ok(ModelUsage {
                        model: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                        billing_provider: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        billing_base_url: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        billing_mode: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                        task: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                        api_call_count: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                        input_tokens: r.get::<_, Option<i64>>(6)?.unwrap_or(0),
                        output_tokens: r.get::<_, Option<i64>>(7)?.unwrap_or(0),
                        cache_read_tokens: r.get::<_, Option<i64>>(8)?.unwrap_or(0),
                        cache_write_tokens: r.get::<_, Option<i64>>(9)?.unwrap_or(0),
                        reasoning_tokens: r.get::<_, Option<i64>>(10)?.unwrap_or(0),
                        estimated_cost_usd: r.get::<_, Option<f64>>(11)?.unwrap_or(0.0),
                        actual_cost_usd: r.get::<_, Option<f64>>(12)?.unwrap_or(0.0),
                        cost_status: r.get(13)?,
                        cost_source: r.get(14)?,
                        first_seen: r.get(15)?,
                        last_seen: r.get(16)?,
                        sessions: r.get::<_, Option<i64>>(17)?.unwrap_or(0),
                    })
                })
                .ctx("reading usage")?;
            rows.collect::<Result<Vec<_>, _>>().ctx("reading usage")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_status_follows_the_call() {
        let mut c = CallRecord::default();
        assert_eq!(cost_info(&c).status, "unknown");
        c.cost_status = CostStatus::Estimated;
        assert_eq!(cost_info(&c).source, "official_docs_snapshot");
        c.cost_status = CostStatus::UserPrice;
        assert_eq!(
            (cost_info(&c).status, cost_info(&c).source),
            ("estimated", "user_override")
        );
        c.cost_status = CostStatus::Included;
        assert_eq!(cost_info(&c).pricing_version, Some("included-route"));
        assert_eq!(hermes_task("main"), "");
        assert_eq!(hermes_task("compression"), "compression");
    }
}
