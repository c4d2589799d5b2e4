//! The trace viewer in a real browser (headless Chromium over WebDriver): what a person
//! sees after an agent ran. Screenshots land in `target/viewer-screenshots/`.
//!
//! Needs the `chromium` and `chromium-driver` packages: see `tests/browser/mod.rs`.
#![allow(clippy::print_stderr)]

mod browser;
mod common;

use browser::{run, Browser};
use fantoccini::key::Key;
use serde::Serialize;
use serde_json::json;
use staso::Kind;
use staso_collector::{Collector, CollectorConfig};
use std::sync::Mutex;
use std::time::Duration;

const KEY: &str = common::KEY;
const WAIT: Duration = Duration::from_secs(20);

// ---- the quickstart's agent (examples/quickstart.rs), as a test can run it ----

#[derive(Debug, Serialize)]
struct Order {
    id: u64,
    status: &'static str,
}

#[derive(Debug)]
struct NotFound(u64);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "order {} not found", self.0)
    }
}

impl std::error::Error for NotFound {}

#[staso::tool]
async fn lookup_order(order_id: u64) -> Result<Order, NotFound> {
    tokio::time::sleep(Duration::from_millis(15)).await;
    match order_id {
        42 => Ok(Order {
            id: 42,
            status: "shipped",
        }),
        other => Err(NotFound(other)),
    }
}

#[staso::tool(name = "refund.issue")]
fn issue_refund(order_id: u64, amount_cents: u32) -> Result<String, NotFound> {
    Err(NotFound(order_id)).map(|()| format!("refunded {amount_cents}"))
}

#[staso::trace(kind = "retriever", tags = ["kb"])]
fn search_policies(query: &str) -> Vec<&'static str> {
    let _ = query;
    vec!["Refunds within 30 days.", "Shipping takes 3-5 days."]
}

static QUICKSTART_TRACE: Mutex<Option<String>> = Mutex::new(None);

#[staso::agent(name = "support-bot", metadata(team = "cx"))]
async fn answer(question: String) -> String {
    if let Some(id) = staso::current_span().trace_id() {
        *QUICKSTART_TRACE.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.to_string());
    }
    let docs = search_policies(&question);
    let order = lookup_order(42).await;
    let _ = issue_refund(7, 1999);
    let mut llm = staso::span("chat.completions", Kind::Llm);
    llm.set_model("gpt-4o-mini").set_provider("openai");
    llm.set_input(&json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": format!("You answer support questions. Policies: {}", docs.join(" "))},
            {"role": "user", "content": question},
        ],
    }));
    let reply = match order {
        Ok(o) => format!("Your order {} is {}.", o.id, o.status),
        Err(e) => format!("Sorry: {e}"),
    };
    llm.set_output(&json!({"role": "assistant", "content": reply}))
        .set_usage(182, 24);
    drop(llm);
    reply
}

fn collector() -> Collector {
    Collector::start_blocking(CollectorConfig {
        api_key: KEY.into(),
        ..Default::default()
    })
    .expect("collector")
}

fn sdk(c: &Collector, agent: &str) -> staso::Client {
    staso::init(
        staso::Options::new()
            .api_key(KEY)
            .agent_name(agent)
            .base_url(c.url())
            .flush_interval(Duration::from_millis(50)),
    )
    .expect("init")
}

/// Runs the quickstart's agent against `c`; returns its trace id.
async fn run_quickstart(c: &Collector) -> String {
    let client = sdk(c, "support-bot");
    staso::conversation("conv-quickstart")
        .user_id("user-alice")
        .scope(answer("Where is my order 42?".into()))
        .await;
    let report = client.shutdown(Duration::from_secs(5));
    assert!(report.ok(), "{report:?}");
    QUICKSTART_TRACE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .expect("trace id")
}

/// The waterfall rows in the DOM: (depth, name, has a bar, status).
async fn rows(b: &Browser) -> Vec<(u64, String, bool, String)> {
    let v = b
        .js(
            "return [...document.querySelectorAll('.wf-row')].map(r => [Number(r.dataset.depth), \
             r.querySelector('.wf-label').textContent, !!r.querySelector('.wf-bar'), r.dataset.status])",
            vec![],
        )
        .await;
    v.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r[0].as_u64().expect("depth"),
                r[1].as_str().expect("name").to_owned(),
                r[2].as_bool().expect("bar"),
                r[3].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

async fn click_row(b: &Browser, name: &str) -> String {
    let id = b
        .js(
            "const r = [...document.querySelectorAll('.wf-row')].find(r => r.querySelector('.wf-label').textContent === arguments[0]); \
             return r ? r.dataset.spanId : null",
            vec![json!(name)],
        )
        .await;
    let id = id
        .as_str()
        .unwrap_or_else(|| panic!("no row {name}"))
        .to_owned();
    b.css(&format!(".wf-row[data-span-id=\"{id}\"] .wf-label"))
        .await
        .click()
        .await
        .expect("click");
    b.until(
        &format!("the detail of {name}"),
        WAIT,
        &format!("const p = document.querySelector('.detail-pane'); return p && p.dataset.spanId === {id:?} && p.dataset.ready === '1'"),
    )
    .await;
    id
}

#[test]
fn the_quickstart_trace_shows_its_waterfall_failing_tool_and_llm_transcript() {
    run(async {
        let c = collector();
        let trace = run_quickstart(&c).await;
        let Some(b) = Browser::start(false).await else {
            return;
        };
        b.goto(&format!("{}/traces/{trace}", c.url())).await;
        b.ready("trace").await;

        // A bar per span, children under their parent in start order.
        let r = rows(&b).await;
        let shape: Vec<(u64, &str)> = r.iter().map(|(d, n, _, _)| (*d, n.as_str())).collect();
        assert_eq!(
            shape,
            [
                (0, "support-bot"),
                (1, "search_policies"),
                (1, "lookup_order"),
                (1, "refund.issue"),
                (1, "chat.completions"),
            ]
        );
        assert!(r.iter().all(|(_, _, bar, _)| *bar), "every span has a bar");
        assert_eq!(r[3].3, "error");
        let failed_marks = b
            .js(
                "return document.querySelectorAll('.wf-row.failed .wf-err').length",
                vec![],
            )
            .await;
        assert_eq!(failed_marks, 1, "only the failing tool is marked");
        let head = b.text(".trace-head").await;
        assert!(
            head.contains("support-bot") && head.contains("conv-quickstart"),
            "{head}"
        );
        assert!(head.contains("206"), "total tokens in the header: {head}");

        // The failing tool: its error, its type, its input.
        let refund = click_row(&b, "refund.issue").await;
        let error = b.text(".detail-pane .error-box").await;
        assert!(error.contains("order 7 not found"), "{error}");
        assert!(error.contains("NotFound"), "exception.type: {error}");
        let input = b.text(".detail-pane [data-section=input]").await;
        assert!(
            input.contains("\"order_id\": 7") && input.contains("1999"),
            "{input}"
        );
        let code = b.text(".detail-pane [data-section=code]").await;
        assert!(code.contains("viewer_browser.rs:"), "{code}");
        let url = b.client.current_url().await.expect("url");
        assert_eq!(url.query(), Some(format!("span={refund}").as_str()));
        b.screenshot("trace-failing-tool").await;

        // The LLM call: transcript, model, tokens, time to first token.
        let llm = click_row(&b, "chat.completions").await;
        let roles = b
            .js("return [...document.querySelectorAll('.detail-pane .msg')].map(m => m.dataset.role)", vec![])
            .await;
        assert_eq!(roles, json!(["system", "user", "assistant"]));
        let transcript = b.text(".detail-pane .transcript").await;
        assert!(
            transcript.contains("Refunds within 30 days."),
            "{transcript}"
        );
        assert!(transcript.contains("Where is my order 42?"), "{transcript}");
        assert!(
            transcript.contains("Your order 42 is shipped."),
            "{transcript}"
        );
        let facts = b.text(".detail-pane .llm-box").await;
        assert!(
            facts.contains("gpt-4o-mini") && facts.contains("openai"),
            "{facts}"
        );
        assert!(facts.contains("182 in · 24 out · 206 total"), "{facts}");
        b.screenshot("trace-llm-transcript").await;

        // Tags and metadata where they were sent.
        click_row(&b, "search_policies").await;
        let tags = b.text(".detail-pane [data-section=tags]").await;
        assert!(tags.contains("kb"), "{tags}");
        click_row(&b, "support-bot").await;
        let meta = b.text(".detail-pane [data-section=metadata]").await;
        assert!(meta.contains("\"team\"") && meta.contains("cx"), "{meta}");

        // Keyboard: arrows move the selection (and the address), Enter opens the detail.
        let tree = b.css(".wf-viewport").await;
        tree.send_keys(&Key::End.to_string()).await.expect("End");
        b.until(
            "End selects the last span",
            WAIT,
            &format!("return document.querySelector('.detail-pane').dataset.spanId === {llm:?}"),
        )
        .await;
        tree.send_keys(&Key::Up.to_string()).await.expect("Up");
        b.until("ArrowUp selects the failing tool", WAIT, &format!(
            "return location.search === '?span={refund}' && document.querySelector('.wf-row.selected').dataset.spanId === {refund:?}"))
            .await;
        tree.send_keys(&Key::Left.to_string()).await.expect("Left");
        tree.send_keys(&Key::Left.to_string()).await.expect("Left");
        b.until("ArrowLeft goes to the parent, then folds it", WAIT,
            "return document.querySelectorAll('.wf-row').length === 1 && document.querySelector('.wf-row').getAttribute('aria-expanded') === 'false'")
            .await;
        tree.send_keys(&Key::Right.to_string())
            .await
            .expect("Right");
        tree.send_keys(&Key::Enter.to_string())
            .await
            .expect("Enter");
        b.until("Enter moves focus to the detail", WAIT,
            "return document.activeElement === document.querySelector('.detail-pane') && document.querySelectorAll('.wf-row').length === 5")
            .await;

        // A shared link opens on its span.
        b.goto(&format!("{}/traces/{trace}?span={llm}", c.url()))
            .await;
        b.ready("trace").await;
        b.until("the linked span's transcript", WAIT,
            "return document.querySelector('.detail-pane .transcript') && document.querySelector('.wf-row.selected .wf-label').textContent === 'chat.completions'")
            .await;
        b.close().await;
    });
}

#[staso::agent(name = "live-bot", skip(release))]
async fn slow_agent(release: tokio::sync::oneshot::Receiver<()>) -> String {
    let _ = release.await;
    lookup_order(42)
        .await
        .map_or_else(|e| e.to_string(), |o| o.status.to_owned())
}

#[test]
fn a_live_run_appears_in_the_list_running_then_finished_without_reload() {
    run(async {
        let c = collector();
        // Something older in the list first.
        run_quickstart(&c).await;
        let Some(b) = Browser::start(false).await else {
            return;
        };
        b.goto(&format!("{}/", c.url())).await;
        b.ready("list").await;
        assert_eq!(
            b.js(
                "return document.querySelectorAll('tr[data-trace-id]').length",
                vec![]
            )
            .await,
            1
        );
        b.js("window.__sameDocument = true", vec![]).await;

        let client = sdk(&c, "live-bot");
        let (release, rx) = tokio::sync::oneshot::channel();
        let run = tokio::spawn(staso::conversation("conv-live").scope(slow_agent(rx)));

        // The provisional root arrives while the agent is still running.
        let running = b
            .until("a running trace in the list", WAIT,
                "const r = document.querySelector('tr[data-status=running]'); return r && r.dataset.traceId")
            .await;
        let running = running.as_str().expect("id").to_owned();
        let first = b
            .js(
                "return document.querySelector('tbody tr').dataset.traceId",
                vec![],
            )
            .await;
        assert_eq!(first, json!(running), "newest first");
        let row = b.text(&format!("tr[data-trace-id=\"{running}\"]")).await;
        assert!(row.contains("live-bot") && row.contains("running"), "{row}");
        b.screenshot("list-live-running").await;

        let _ = release.send(());
        assert_eq!(run.await.expect("agent"), "shipped");
        let report = client.shutdown(Duration::from_secs(5));
        assert!(report.ok(), "{report:?}");
        b.until("the run turning final", WAIT, &format!(
            "const r = document.querySelector('tr[data-trace-id=\"{running}\"]'); return r && r.dataset.status === 'ok'"))
            .await;
        let row = b.text(&format!("tr[data-trace-id=\"{running}\"]")).await;
        assert!(row.contains(" ms") && !row.contains("running"), "{row}");
        let spans = b
            .text(&format!("tr[data-trace-id=\"{running}\"] td:nth-child(6)"))
            .await;
        assert_eq!(spans, "2", "the agent and its tool");
        assert_eq!(
            b.js("return window.__sameDocument === true", vec![]).await,
            true,
            "no reload"
        );
        b.screenshot("list").await;

        // Keyboard: the first row takes focus, ArrowDown moves, Enter opens.
        let first_row = b.css("tbody tr[tabindex=\"0\"]").await;
        first_row
            .send_keys(&Key::Down.to_string())
            .await
            .expect("Down");
        let focused = b
            .js("return document.activeElement.dataset.traceId", vec![])
            .await;
        assert_ne!(focused, json!(running), "focus moved to the second row");
        let second = b.client.active_element().await.expect("active");
        second.send_keys(&Key::Up.to_string()).await.expect("Up");
        let focused = b
            .js("return document.activeElement.dataset.traceId", vec![])
            .await;
        assert_eq!(focused, json!(running));
        let active = b.client.active_element().await.expect("active");
        active
            .send_keys(&Key::Enter.to_string())
            .await
            .expect("Enter");
        b.ready("trace").await;
        let path = b.client.current_url().await.expect("url");
        assert_eq!(path.path(), format!("/traces/{running}"));

        // Filters: status and text.
        b.goto(&format!("{}/?status=error", c.url())).await;
        b.ready("list").await;
        let shown = b.js("return [...document.querySelectorAll('tr[data-trace-id]')].map(r => r.dataset.status)", vec![]).await;
        assert_eq!(
            shown,
            json!(["error"]),
            "the quickstart's failing tool marks its trace"
        );

        // A running trace's own page fills in and turns final as it arrives, too.
        b.goto(&format!("{}/", c.url())).await;
        b.ready("list").await;
        b.js("window.__sameDocument = true", vec![]).await;
        let client = sdk(&c, "live-bot");
        let (release, rx) = tokio::sync::oneshot::channel();
        let run = tokio::spawn(staso::conversation("conv-live").scope(slow_agent(rx)));
        b.until("the second run in the list", WAIT,
            "const r = document.querySelector('tr[data-status=running]'); return r && r.dataset.traceId")
            .await;
        b.css("tr[data-status=running] .root-link")
            .await
            .click()
            .await
            .expect("open");
        b.ready("trace").await;
        let badge = b.text(".trace-head .badge").await;
        assert_eq!(badge, "running");
        assert_eq!(
            b.js(
                "return document.querySelectorAll('.wf-bar.running').length",
                vec![]
            )
            .await,
            1
        );
        b.screenshot("trace-running").await;
        let _ = release.send(());
        run.await.expect("agent");
        assert!(client.shutdown(Duration::from_secs(5)).ok());
        b.until("the trace page turning final", WAIT,
            "return document.querySelector('.trace-head .badge').textContent === 'ok' && \
             document.querySelectorAll('.wf-row').length === 2 && !document.querySelector('.wf-bar.running')")
            .await;
        assert_eq!(
            b.js("return window.__sameDocument === true", vec![]).await,
            true,
            "no reload"
        );
        b.close().await;
    });
}

/// An Anthropic-shaped call (system, tool_use, tool_result, thinking) sent as the
/// Python SDK sends it, shown in dark mode; and the conversation view.
#[test]
fn an_anthropic_call_reads_as_a_transcript_in_dark_mode() {
    run(async {
        let c = collector();
        let (t, t2, llm) = tokio::task::block_in_place(|| {
            let http = common::client();
            let t = common::trace_id();
            let root = common::span_id();
            let llm = common::span_id();
            let mut a = common::span(&root, None, "weather-agent", "agent", 1);
            a["session_id"] = json!("conv-weather");
            a["duration_ms"] = json!(900.0);
            a["attributes"] = json!(json!({
                "vcs.commit.sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                "vcs.branch": "main", "vcs.repo_url": "https://example.com/acme/agents",
                "vcs.is_dirty": true
            })
            .to_string());
            let mut l = common::span(&llm, Some(&root), "chat:reply", "llm", 1);
            l["session_id"] = json!("conv-weather");
            l["model"] = json!("claude-sonnet-4");
            l["provider"] = json!("anthropic");
            l["requested_model"] = json!("claude-sonnet-4");
            l["input"] = json!(json!({
                "model": "claude-sonnet-4",
                "system": "You are a weather assistant. Be brief.",
                "tools": [{"name": "get_weather", "description": "Current weather", "input_schema": {"type": "object"}}],
                "messages": [
                    {"role": "user", "content": "Weather in Paris?"},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "Let me check."},
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
                    ]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C, cloudy"}]}
                ]
            }).to_string());
            l["output"] = json!(json!({"content": [
                {"type": "thinking", "thinking": "The tool said 18°C.", "signature": "sig"},
                {"type": "text", "text": "It is 18°C and cloudy in Paris.", "citations": null}
            ]})
            .to_string());
            l["attributes"] = json!(json!({"provider": "anthropic", "time_to_first_token": 159.7, "stop_reason": "end_turn"}).to_string());
            let body = json!({"traces": [common::trace(&t, vec![a, l])]});
            let (status, ack) =
                common::status_json(common::post(&http, &c.url(), &body).expect("send"));
            assert_eq!(status, 200, "{ack}");
            // A second, later trace of the same conversation.
            let t2 = common::trace_id();
            let mut b2 = common::span(&common::span_id(), None, "weather-agent", "agent", 30);
            b2["session_id"] = json!("conv-weather");
            common::post(
                &http,
                &c.url(),
                &json!({"traces": [common::trace(&t2, vec![b2])]}),
            )
            .expect("send");
            (t, t2, llm)
        });
        let Some(b) = Browser::start(true).await else {
            return;
        };
        b.goto(&format!("{}/traces/{t}?span={llm}", c.url())).await;
        b.ready("trace").await;
        assert_eq!(
            b.js(
                "return matchMedia('(prefers-color-scheme: dark)').matches",
                vec![]
            )
            .await,
            true
        );
        b.until(
            "the transcript",
            WAIT,
            "return document.querySelector('.detail-pane .transcript')",
        )
        .await;
        let roles = b
            .js("return [...document.querySelectorAll('.detail-pane .msg')].map(m => m.dataset.role)", vec![])
            .await;
        assert_eq!(
            roles,
            json!(["system", "user", "assistant", "user", "assistant"])
        );
        let call = b.text(".detail-pane .msg-tool-call").await;
        assert!(
            call.contains("get_weather") && call.contains("Paris"),
            "{call}"
        );
        let result = b.text(".detail-pane .msg-tool-result").await;
        assert!(result.contains("18°C, cloudy"), "{result}");
        let last = b.text(".detail-pane .msg:last-child").await;
        assert!(last.contains("It is 18°C and cloudy in Paris."), "{last}");
        assert!(b
            .text(".detail-pane .tools-offered")
            .await
            .contains("get_weather"));
        assert!(b.text(".detail-pane .llm-box").await.contains("159.7 ms"));
        let bg = b
            .js(
                "return getComputedStyle(document.body).backgroundColor",
                vec![],
            )
            .await;
        assert_eq!(bg, json!("rgb(20, 21, 26)"), "the dark palette");
        b.screenshot("trace-anthropic-dark").await;

        // Git context on the root, in its detail and in the trace's header.
        click_row(&b, "weather-agent").await;
        let git = b.text(".detail-pane [data-section=git]").await;
        assert!(
            git.contains("9fceb02d0ae598e95dc970b74767f19372d61af8") && git.contains("main"),
            "{git}"
        );
        assert!(
            git.contains("https://example.com/acme/agents") && git.contains("true"),
            "{git}"
        );
        assert!(b.text(".trace-head").await.contains("9fceb02d0ae5 (main)"));

        b.goto(&format!("{}/conversations/conv-weather", c.url()))
            .await;
        b.ready("conversation").await;
        let order = b
            .js(
                "return [...document.querySelectorAll('.conv-item')].map(i => i.dataset.traceId)",
                vec![],
            )
            .await;
        assert_eq!(order, json!([t, t2]), "oldest first");
        b.screenshot("conversation-dark").await;
        b.close().await;
    });
}
