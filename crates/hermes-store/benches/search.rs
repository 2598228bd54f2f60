//! Search and insert benchmark over a state.db with 1,000,000 messages.
//!
//! `cargo bench -p hermes-store --bench search`
//!
//! The database is built once (batched inserts through the public API) and cached under
//! `target/bench-data/`; later runs reuse it. Prints numbers only; asserts nothing.
//! `HERMES_BENCH_MESSAGES` overrides the size (the cache file name includes it);
//! `HERMES_BENCH_QUICK=1` (as CI sets) uses 20,000 messages. Run
//! without `--bench` (as `cargo test --all-targets` does) it only smoke-tests itself on
//! 2,000 messages.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hermes_core::{Message, NewSession};
use hermes_store::{SearchOptions, SessionFilter, Store};

const PER_SESSION: usize = 100;
const BENCH_META_KEY: &str = "hermes_rs_bench_complete";

/// A small deterministic generator (xorshift64*), so every build has the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Skewed towards small indexes, like word frequencies.
    fn zipfish(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u * u) * n as f64) as usize % n
    }
}

const COMMON: &[&str] = &[
    "the",
    "a",
    "to",
    "and",
    "of",
    "in",
    "is",
    "it",
    "that",
    "for",
    "on",
    "with",
    "we",
    "this",
    "can",
    "file",
    "run",
    "test",
    "error",
    "fix",
    "build",
    "config",
    "server",
    "database",
    "migration",
    "deploy",
    "docker",
    "python",
    "rust",
    "function",
    "query",
    "index",
    "update",
    "user",
    "session",
    "token",
    "cache",
    "request",
    "response",
    "branch",
    "commit",
    "review",
];
const RARE: &[&str] = &[
    "kubernetes",
    "flamingo",
    "postgresql",
    "websocket",
    "terraform",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ner", "sta", "vo", "pri", "dex", "tor", "gan", "bel", "qua", "zi", "mon",
    "ter", "ul", "fra", "sen", "do", "rix",
];
const CJK: &[&str] = &[
    "我们今天讨论数据库迁移的问题",
    "请检查服务器配置文件",
    "部署脚本已经更新",
    "测试用例全部通过了",
    "这个函数需要重构",
    "缓存命中率很低",
    "日志里有一个错误",
    "用户会话超时",
];

fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = COMMON.iter().map(|w| w.to_string()).collect();
    for a in SYLLABLES {
        for b in SYLLABLES {
            for c in ["", "n", "s", "ta"] {
                words.push(format!("{a}{b}{c}"));
            }
        }
    }
    words
}

fn message(rng: &mut Rng, vocab: &[String], i: usize) -> Message {
    let text = if rng.below(20) == 0 {
        let a = CJK[rng.below(CJK.len())];
        let b = CJK[rng.below(CJK.len())];
        format!("{a}，{b}。")
    } else {
        let n = 8 + rng.below(22);
        let mut words: Vec<&str> = (0..n)
            .map(|_| vocab[rng.zipfish(vocab.len())].as_str())
            .collect();
        if rng.below(2000) == 0 {
            words.push(RARE[rng.below(RARE.len())]);
        }
        words.join(" ")
    };
    match i % 4 {
        0 | 2 => Message::user(text),
        1 => Message::assistant(text),
        _ => Message::tool_result(format!("call_{i}"), "terminal", text),
    }
}

fn session(id: String) -> NewSession {
    NewSession {
        id,
        source: "cli".into(),
        model: "gpt-4o".into(),
        provider: "openai".into(),
        base_url: "https://api.openai.com/v1".into(),
        system_prompt: Some("You are a benchmark agent.".into()),
        ..NewSession::default()
    }
}

fn data_path(total: usize) -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().map(PathBuf::from).unwrap_or(tmp);
    target.join("bench-data").join(format!("state-{total}.db"))
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn build(path: &Path, total: usize) -> Result<Store, Box<dyn std::error::Error>> {
    let store = Store::open(path)?;
    let complete = rusqlite::Connection::open(path)?
        .query_row(
            "SELECT value FROM state_meta WHERE key = ?1",
            [BENCH_META_KEY],
            |r| r.get::<_, String>(0),
        )
        .ok();
    if complete.as_deref() == Some(&total.to_string()) {
        println!("reusing {} ({total} messages)", path.display());
        return Ok(store);
    }
    drop(store);
    remove_db(path);
    let store = Store::open(path)?;
    println!("building {} with {total} messages …", path.display());
    let vocab = vocabulary();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    let sessions = total.div_ceil(PER_SESSION);
    let mut written = 0usize;
    for s in 0..sessions {
        let id = format!("20260101_000000_{s:06x}");
        store.create_session(&session(id.clone()))?;
        let n = PER_SESSION.min(total - written);
        let batch: Vec<Message> = (0..n)
            .map(|i| message(&mut rng, &vocab, written + i))
            .collect();
        store.append_messages(&id, &batch)?;
        written += n;
        if s % 1000 == 999 {
            let secs = started.elapsed().as_secs_f64();
            println!("  {written} messages, {:.0} msg/s", written as f64 / secs);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "built {written} messages in {secs:.1} s: {:.0} messages/s (batches of {PER_SESSION}, one transaction each)",
        written as f64 / secs
    );
    rusqlite::Connection::open(path)?.execute(
        "INSERT OR REPLACE INTO state_meta (key, value) VALUES (?1, ?2)",
        rusqlite::params![BENCH_META_KEY, total.to_string()],
    )?;
    Ok(store)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn bench_search(store: &Store, label: &str, query: &str, runs: usize, opts: &SearchOptions) {
    let mut times = Vec::with_capacity(runs);
    let mut hits = 0;
    let mut route = None;
    for _ in 0..runs {
        let t = Instant::now();
        match store.search(query, opts) {
            Ok(h) => {
                hits = h.len();
                route = h.first().map(|x| x.route);
            }
            Err(e) => {
                println!("{label}: error {e}");
                return;
            }
        }
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{label:<34} {query:<22} runs {runs:>3}  median {:>8.2} ms  p95 {:>8.2} ms  hits {hits:>3}  via {}",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        route.map_or("-".to_string(), |r| format!("{r:?}")),
    );
}

fn bench_list(store: &Store) {
    let runs = 20;
    let mut times = Vec::with_capacity(runs);
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        n = store
            .list_sessions(&SessionFilter::default())
            .map(|v| v.len())
            .unwrap_or(0);
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{:<57} runs {runs:>3}  median {:>8.2} ms  p95 {:>8.2} ms  rows {n:>3}",
        "list_sessions (20 newest of all sessions)",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
    );
}

fn bench_inserts(store: &Store) -> Result<(), Box<dyn std::error::Error>> {
    let vocab = vocabulary();
    let mut rng = Rng(42);
    let id = "bench_inserts".to_string();
    let _ = store.delete_session(&id);
    store.create_session(&session(id.clone()))?;
    let n = 2000;
    let t = Instant::now();
    for i in 0..n {
        store.append_message(&id, &message(&mut rng, &vocab, i))?;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "insert, one transaction per message: {n} in {:.2} s = {:.0} messages/s ({:.3} ms each)",
        secs,
        n as f64 / secs,
        secs * 1000.0 / n as f64
    );
    let batches = 20;
    let t = Instant::now();
    for b in 0..batches {
        let batch: Vec<Message> = (0..PER_SESSION)
            .map(|i| message(&mut rng, &vocab, b * PER_SESSION + i))
            .collect();
        store.append_messages(&id, &batch)?;
    }
    let secs = t.elapsed().as_secs_f64();
    let total = batches * PER_SESSION;
    println!(
        "insert, batches of {PER_SESSION}: {total} in {:.2} s = {:.0} messages/s",
        secs,
        total as f64 / secs
    );
    store.delete_session(&id)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--list") {
        // `cargo test --benches` asks for a listing; there is nothing to list.
        return Ok(());
    }
    // `cargo bench` passes `--bench`; without it (`cargo test --all-targets`) this is a
    // quick smoke run on a small database, so test runs stay fast.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let total: usize = if smoke {
        2_000
    } else {
        std::env::var("HERMES_BENCH_MESSAGES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if std::env::var_os("HERMES_BENCH_QUICK").is_some() {
                20_000
            } else {
                1_000_000
            })
    };
    let path = data_path(total);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let store = build(&path, total)?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("database size: {:.0} MiB", size as f64 / (1024.0 * 1024.0));

    let top10 = SearchOptions {
        limit: 10,
        ..SearchOptions::default()
    };
    let top300 = SearchOptions {
        limit: 300,
        roles: vec!["user".into(), "assistant".into()],
        ..SearchOptions::default()
    };
    bench_search(&store, "word, common (top 10)", "database", 20, &top10);
    bench_search(&store, "word, rare (top 10)", "kubernetes", 20, &top10);
    bench_search(
        &store,
        "two words AND (top 10)",
        "deploy migration",
        20,
        &top10,
    );
    bench_search(&store, "phrase (top 10)", "\"run the test\"", 20, &top10);
    bench_search(
        &store,
        "word, session_search scan (300)",
        "flamingo",
        20,
        &top300,
    );
    bench_search(
        &store,
        "CJK substring, trigram (top 10)",
        "数据库",
        20,
        &top10,
    );
    bench_search(
        &store,
        "CJK 5 chars, trigram (top 10)",
        "服务器配置",
        20,
        &top10,
    );
    bench_search(&store, "English substring, trigram", "ubernete", 10, &top10);
    bench_search(&store, "CJK 2 chars, LIKE scan (top 10)", "迁移", 5, &top10);
    bench_list(&store);
    bench_inserts(&store)?;
    Ok(())
}
