//! The viewer's JSON API and page, over HTTP against an in-process collector: what a
//! script (or the page) reads back after SDK traffic was stored.

mod common;

use common::*;
use serde_json::{json, Value};
use staso_collector::{Collector, CollectorConfig, StoreMode};
use std::collections::HashSet;

fn get(url: &str) -> (u16, Value) {
    status_json(client().get(url).send().expect("GET"))
}

/// A root with its identity and git context, plus `children` tool spans (the first
/// failing when `fail`) and one llm span with tokens.
fn agent_trace(
    agent: &str,
    session: &str,
    second: u32,
    children: usize,
    fail: bool,
) -> (String, Value) {
    let t = trace_id();
    let root = span_id();
    let mut r = span(&root, None, &format!("{agent}.run"), "agent", second);
    r["agent_name"] = json!(agent);
    r["session_id"] = json!(session);
    r["user_id"] = json!("alice");
    r["duration_ms"] = json!(250.0);
    r["attributes"] = json!(json!({
        "code.function": "run", "vcs.commit.sha": "0123456789abcdef0123456789abcdef01234567",
        "vcs.branch": "main"
    })
    .to_string());
    let mut spans = vec![r];
    for i in 0..children {
        let mut c = span(
            &span_id(),
            Some(&root),
            &format!("tool_{i}"),
            "tool",
            second,
        );
        c["agent_name"] = json!(agent);
        if fail && i == 0 {
            c["status"] = json!("error");
            c["error_message"] = json!("order 7 not found");
        }
        spans.push(c);
    }
    let mut llm = span(&span_id(), Some(&root), "chat", "llm", second);
    llm["agent_name"] = json!(agent);
    llm["input_tokens"] = json!(100);
    llm["output_tokens"] = json!(20);
    llm["total_tokens"] = json!(120);
    spans.push(llm);
    (t.clone(), json!({"traces": [trace(&t, spans)]}))
}

fn send(c: &Collector, body: &Value) {
    let (status, ack) = status_json(post(&client(), &c.url(), body).expect("send"));
    assert_eq!(status, 200, "{ack}");
}

#[test]
fn list_shows_each_trace_newest_first_with_its_summary() {
    let c = start();
    let (old, b1) = agent_trace("support-bot", "conv-1", 1, 2, true);
    let (new, b2) = agent_trace("billing-bot", "conv-2", 9, 1, false);
    send(&c, &b1);
    send(&c, &b2);
    let (status, page) = get(&format!("{}/api/traces", c.url()));
    assert_eq!(status, 200, "{page}");
    let traces = page["traces"].as_array().expect("traces");
    let ids: Vec<&str> = traces
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids, [new.as_str(), old.as_str()]);
    assert_eq!(page["total"], 2);
    assert_eq!(page["next_cursor"], Value::Null);
    let t = &traces[1];
    assert_eq!(t["agent_name"], "support-bot");
    assert_eq!(t["root_name"], "support-bot.run");
    assert_eq!(t["root_kind"], "agent");
    assert_eq!(t["status"], "error", "a failing tool marks the trace");
    assert_eq!(t["root_status"], "ok");
    assert_eq!(t["error_count"], 1);
    assert_eq!(t["first_error"], "order 7 not found");
    assert_eq!(t["duration_ms"], 250.0);
    assert_eq!(t["span_count"], 4);
    assert_eq!(t["total_tokens"], 120);
    assert_eq!(t["input_tokens"], 100);
    assert_eq!(t["environment"], "default");
    assert_eq!(t["session_id"], "conv-1");
    assert_eq!(t["user_id"], "alice");
    assert_eq!(t["git_commit"], "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(t["git_branch"], "main");
    assert_eq!(traces[0]["status"], "ok");

    let (_, facets) = get(&format!("{}/api/facets", c.url()));
    assert_eq!(facets["agents"], json!(["billing-bot", "support-bot"]));
}

#[test]
fn filters_and_keyset_pages_reach_every_trace_once() {
    let c = start();
    let mut all = Vec::new();
    for i in 0..60u32 {
        let agent = if i % 3 == 0 { "a-bot" } else { "b-bot" };
        let session = format!("conv-{}", i % 4);
        let (t, body) = agent_trace(agent, &session, i, 1, i % 5 == 0);
        send(&c, &body);
        all.push(t);
    }
    // Pages of 25: 25 + 25 + 10, each trace once, newest first throughout.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{}/api/traces?limit=25", c.url());
        if let Some(cur) = &cursor {
            url.push_str(&format!("&cursor={cur}"));
        }
        let (status, page) = get(&url);
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], 60);
        pages += 1;
        for t in page["traces"].as_array().expect("traces") {
            seen.push((
                t["start_ns"]
                    .as_str()
                    .expect("start")
                    .parse::<i128>()
                    .expect("ns"),
                t["trace_id"].as_str().expect("id").to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 60);
    let unique: HashSet<&String> = seen.iter().map(|(_, id)| id).collect();
    assert_eq!(unique.len(), 60);
    assert!(seen.windows(2).all(|w| w[0] >= w[1]), "newest first");

    let count = |q: &str| {
        let (status, page) = get(&format!("{}/api/traces?limit=500&{q}", c.url()));
        assert_eq!(status, 200, "{q}: {page}");
        let n = page["traces"].as_array().expect("traces").len();
        assert_eq!(page["total"], n, "{q}");
        (n, page)
    };
    assert_eq!(count("agent=a-bot").0, 20);
    assert_eq!(count("status=error").0, 12);
    assert_eq!(count("status=ok").0, 48);
    assert_eq!(count("agent=a-bot&status=error").0, 4);
    assert_eq!(count("q=A-BOT.RUN").0, 20, "text search ignores case");
    assert_eq!(
        count("q=order%207%20not").0,
        12,
        "text search reads error messages"
    );
    assert_eq!(count(&format!("q={}", &all[7][..13])).0, 1, "and trace ids");
    let (n, page) = count("session=conv-1&order=asc");
    assert_eq!(n, 15);
    let starts: Vec<i128> = page["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .map(|t| t["start_ns"].as_str().expect("s").parse().expect("ns"))
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "a conversation reads oldest first"
    );

    let (_, convs) = get(&format!("{}/api/conversations", c.url()));
    let convs = convs["conversations"].as_array().expect("conversations");
    assert_eq!(convs.len(), 4);
    assert!(convs.iter().all(|v| v["trace_count"] == 15));
}

#[test]
fn a_provisional_root_shows_running_then_final() {
    let c = start();
    let t = trace_id();
    let root = span_id();
    let open = provisional(span(&root, None, "agent_run", "agent", 1));
    send(&c, &json!({"traces": [trace(&t, vec![open])]}));
    let (_, page) = get(&format!("{}/api/traces", c.url()));
    assert_eq!(page["traces"][0]["status"], "running");
    assert_eq!(page["traces"][0]["duration_ms"], 0.0);

    // A child ends first: the running trace reaches as far as its spans.
    let child = span(&span_id(), Some(&root), "search", "tool", 3);
    send(&c, &json!({"traces": [trace(&t, vec![child])]}));
    let (_, page) = get(&format!("{}/api/traces", c.url()));
    assert_eq!(page["traces"][0]["status"], "running");
    assert_eq!(page["traces"][0]["span_count"], 2);
    assert!(page["traces"][0]["duration_ms"].as_f64().expect("ms") > 2000.0);

    let mut done = span(&root, None, "agent_run", "agent", 1);
    done["duration_ms"] = json!(2500.0);
    send(&c, &json!({"traces": [trace(&t, vec![done])]}));
    let (_, page) = get(&format!("{}/api/traces?status=running", c.url()));
    assert_eq!(page["total"], 0);
    let (_, page) = get(&format!("{}/api/traces", c.url()));
    assert_eq!(page["traces"][0]["status"], "ok");
    assert_eq!(page["traces"][0]["duration_ms"], 2500.0);
    assert_eq!(page["traces"][0]["span_count"], 2);
}

#[test]
fn a_trace_and_one_span_in_full() {
    let c = start();
    let (t, mut body) = agent_trace("support-bot", "conv-1", 5, 2, true);
    body["traces"][0]["spans"][3]["input"] = json!(
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
            .to_string()
    );
    body["traces"][0]["spans"][3]["output"] =
        json!(json!({"role": "assistant", "content": "hello"}).to_string());
    let llm_id = body["traces"][0]["spans"][3]["span_id"]
        .as_str()
        .expect("id")
        .to_owned();
    send(&c, &body);

    let (status, v) = get(&format!("{}/api/traces/{t}", c.url()));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["trace"]["trace_id"], t.as_str());
    let spans = v["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 4);
    assert_eq!(spans[0]["parent_span_id"], Value::Null);
    assert_eq!(spans[0]["offset_ms"], 0.0);
    let failing = spans
        .iter()
        .find(|s| s["name"] == "tool_0")
        .expect("tool_0");
    assert_eq!(failing["status"], "error");
    assert_eq!(failing["error_message"], "order 7 not found");
    let llm = spans.iter().find(|s| s["kind"] == "llm").expect("llm");
    assert_eq!(
        (llm["model"].clone(), llm["total_tokens"].clone()),
        (json!("gpt-x"), json!(120))
    );

    let (status, s) = get(&format!("{}/api/traces/{t}/spans/{llm_id}", c.url()));
    assert_eq!(status, 200, "{s}");
    assert_eq!(
        s["input"]["messages"][0]["content"], "hi",
        "input is parsed JSON"
    );
    assert_eq!(s["output"]["content"], "hello");
    assert_eq!(s["attributes"]["code.function"], "f");
    assert_eq!(s["trace_id"], t.as_str());
    assert_eq!(s["copies_received"], 1);

    let (status, _) = get(&format!("{}/api/traces/{}", c.url(), trace_id()));
    assert_eq!(status, 404);
    let (status, _) = get(&format!("{}/api/traces/{t}/spans/{}", c.url(), span_id()));
    assert_eq!(status, 404);
}

#[test]
fn bad_queries_name_the_parameter() {
    let c = start();
    for (q, field) in [
        ("limit=0", "query.limit"),
        ("limit=501", "query.limit"),
        ("limit=ten", "query.limit"),
        ("status=broken", "query.status"),
        ("cursor=nope", "query.cursor"),
        ("order=sideways", "query.order"),
    ] {
        let (status, body) = get(&format!("{}/api/traces?{q}", c.url()));
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some(field)),
            "{q}: {body}"
        );
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let (status, _) = get(&format!("{}/api/nope", c.url()));
    assert_eq!(status, 404);
    let r = client()
        .post(format!("{}/api/traces", c.url()))
        .send()
        .expect("POST");
    assert_eq!(r.status().as_u16(), 405);
}

#[test]
fn changes_answers_when_a_batch_is_stored() {
    let c = start();
    let (_, first) = get(&format!("{}/api/changes", c.url()));
    let seq = first["seq"].as_u64().expect("seq");
    let url = format!("{}/api/changes?after={seq}", c.url());
    let waiter = std::thread::spawn(move || get(&url));
    // The waiter is parked until something is stored (unchanged, it would answer the
    // same seq after 25 s, failing the assertion below).
    let (_, body) = three_span_body();
    send(&c, &body);
    let (status, changed) = waiter.join().expect("waiter");
    assert_eq!(status, 200);
    assert!(changed["seq"].as_u64().expect("seq") > seq, "{changed}");
    // Already changed: answers at once.
    let (_, again) = get(&format!("{}/api/changes?after={seq}", c.url()));
    assert_eq!(again["seq"], changed["seq"]);
}

#[test]
fn the_page_and_its_files_are_served_from_the_binary() {
    let c = start();
    let http = client();
    for path in [
        "/",
        "/traces/abc",
        "/traces/abc?span=x",
        "/conversations",
        "/conversations/s-1",
    ] {
        let r = http.get(format!("{}{path}", c.url())).send().expect("GET");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .to_owned();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        let html = r.text().expect("html");
        assert!(
            html.contains("<script type=\"module\" src=\"/assets/app.js\">"),
            "{path}"
        );
    }
    // Every file the page loads is served, and none of them points anywhere else.
    let mut files = vec![
        "/assets/viewer.css".to_owned(),
        "/assets/app.js".to_owned(),
        "/favicon.svg".to_owned(),
    ];
    let mut i = 0;
    while i < files.len() {
        let r = http
            .get(format!("{}{}", c.url(), files[i]))
            .send()
            .expect("GET");
        assert_eq!(r.status().as_u16(), 200, "{}", files[i]);
        let text = r.text().expect("text");
        if !files[i].ends_with(".svg") {
            let outside = text.contains("https://") || text.contains("http://");
            assert!(!outside, "{} refers outside", files[i]);
        }
        for imported in text.split("from \"./").skip(1) {
            let name = imported.split('"').next().expect("name");
            let path = format!("/assets/{name}");
            if !files.contains(&path) {
                files.push(path);
            }
        }
        i += 1;
    }
    assert!(files.len() >= 8, "{files:?}");
    let (status, _) = get(&format!("{}/assets/nope.js", c.url()));
    assert_eq!(status, 404);
}

#[test]
fn requests_for_another_host_are_refused() {
    let c = start();
    let r = client()
        .get(format!("{}/api/traces", c.url()))
        .header("Host", "attacker.example")
        .send()
        .expect("GET");
    assert_eq!(r.status().as_u16(), 403);
    let r = client()
        .get(format!("{}/api/traces", c.url()))
        .header("Host", c.url().replace("http://127.0.0.1", "localhost"))
        .send()
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn a_store_written_earlier_is_read_again() {
    let db = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("viewer-reopen-{}.db", uuid::Uuid::new_v4()));
    let config = CollectorConfig {
        api_key: KEY.into(),
        db_path: Some(db.clone()),
        ..Default::default()
    };
    let (t, body) = agent_trace("support-bot", "conv-9", 4, 1, false);
    {
        let c = Collector::start_blocking(config.clone()).expect("start");
        send(&c, &body);
    }
    // As a collector from before the viewer left it: no summaries yet.
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch("DROP TABLE trace_summaries; DROP TABLE viewer_meta;")
            .expect("drop");
    }
    let c = Collector::start_blocking(config).expect("restart");
    let (_, page) = get(&format!("{}/api/traces", c.url()));
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["traces"][0]["trace_id"], t.as_str());
    assert_eq!(page["traces"][0]["agent_name"], "support-bot");
    drop(c);
    let _ = std::fs::remove_file(&db);
}

#[test]
fn count_only_mode_lists_nothing_and_says_why() {
    let c = Collector::start_blocking(CollectorConfig {
        api_key: KEY.into(),
        store: StoreMode::CountOnly,
        ..Default::default()
    })
    .expect("start");
    let (_, body) = three_span_body();
    send(&c, &body);
    let (status, page) = get(&format!("{}/api/traces", c.url()));
    assert_eq!((status, page["total"].clone()), (200, json!(0)));
    let (_, changes) = get(&format!("{}/api/changes", c.url()));
    assert_eq!(changes["store"], "count-only");
}
