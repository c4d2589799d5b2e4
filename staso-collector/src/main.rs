//! `staso-collector`: run the local Staso ingest server and trace viewer, or show the
//! traces it stored.
//!
//! Printing to the terminal is the point of this binary, hence the local allows.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use staso_collector::{
    BadAck, Collector, CollectorConfig, Count, CountBadAck, CountMs, CountRetry, CountStatus,
    FaultPlan, RandomFaults, StoreMode,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const DEFAULT_PORT: u16 = 8787;
/// The key expected when neither `--api-key` nor `STASO_API_KEY` gives one: a local
/// server needs no secret, and this one is printed so the SDK can be pointed at it.
const DEFAULT_KEY: &str = "local-dev-key";

/// Where traces are stored unless `--db` or `--memory` says otherwise: the platform's
/// data directory (`~/.local/share/staso/collector.db` on Linux,
/// `~/Library/Application Support/staso/collector.db` on macOS,
/// `%APPDATA%\staso\collector.db` on Windows), else `./staso-collector.db`.
fn default_db() -> PathBuf {
    dirs::data_dir().map_or_else(
        || PathBuf::from("staso-collector.db"),
        |d| d.join("staso").join("collector.db"),
    )
}

const USAGE: &str = "\
staso-collector: a local ingest server and trace viewer for the Staso SDKs

USAGE:
  staso-collector [serve] [OPTIONS]      run the server and the viewer (Ctrl-C to stop)
  staso-collector show [--last N] [--db PATH]
                                         print stored traces as trees
  staso-collector help

The viewer is at http://127.0.0.1:PORT/ (same port as ingest). Point an SDK at the
server with STASO_BASE_URL=http://127.0.0.1:PORT and the same STASO_API_KEY.

SERVE OPTIONS:
  --port N                 port on 127.0.0.1 (default 8787; 0 = any free port)
  --api-key KEY            key clients must send as X-API-Key
                           (default: $STASO_API_KEY, else local-dev-key)
  --db PATH                SQLite file (default: the platform data directory,
                           e.g. ~/.local/share/staso/collector.db)
  --memory                 keep everything in memory instead
  --count-only             validate, dedupe and count spans, store and print nothing
                           (for load tests)
  --quiet                  do not print received traces
  --tls                    serve HTTPS with a generated certificate
  --ca-out PATH            with --tls: write the CA certificate PEM there
  --fail-next N:STATUS     answer the next N ingest requests with STATUS
  --rate-limit-next N[:S]  answer 429 (with Retry-After: S when given) N times
  --delay-next N:MS        delay the next N answers by MS milliseconds
  --delay-all MS           delay every answer by MS milliseconds
  --hang-next N            never answer the next N requests
  --stall-next N:MS        wait MS, then close without answering, N times
  --drop-next N            close the connection without answering, N times
  --bad-ack-next N:KIND    send a bad ack N times; KIND: wrong_receipt_id,
                           missing_receipt_id, accepted_as_bool, wrong_accepted_count,
                           non_zero_rejected, non_zero_spans_dropped, not_json,
                           not_an_object
  --random SEED:FRAC[:MS]  fail FRAC of requests at random (500, 429 + Retry-After 1,
                           dropped connection, stall of MS ms, default 11000)
  --max-body BYTES         answer 413 to bigger bodies
  --down-for MS            start refusing connections for MS ms
  --faults JSON            a fault plan, as taken by POST /_staso/faults
  --guard TOOL=RULE        answer guard checks of TOOL (* = any other tool) with RULE:
                           allow, block[:REASON], audit[:REASON], unavailable:KIND,
                           status:CODE, not_json, wrong_decision_id, modify;
                           a trailing @MS answers MS milliseconds late (repeatable)

CONTROL ENDPOINT (needs X-API-Key):
  curl -X POST http://127.0.0.1:8787/_staso/faults -H 'X-API-Key: KEY' \\
       -d '{\"fail_next\": {\"count\": 2, \"status\": 503}}'
";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("staso-collector: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let first = std::env::args_os()
        .nth(1)
        .map(|a| a.to_string_lossy().into_owned());
    let rest = |skip| lexopt::Parser::from_args(std::env::args_os().skip(skip));
    match first.as_deref() {
        Some("show") => show(rest(2)),
        Some("serve") => serve(rest(2)),
        Some("help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) if !other.starts_with('-') => {
            Err(format!("unknown command {other:?}\n\n{USAGE}"))
        }
        _ => serve(rest(1)),
    }
}

fn show(mut p: lexopt::Parser) -> Result<(), String> {
    use lexopt::prelude::*;
    let mut db = default_db();
    let mut last = None;
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("db") => db = p.value().map_err(|e| e.to_string())?.into(),
            Long("last") | Short('n') => last = Some(parse::<usize>(&mut p)?),
            Long("help") | Short('h') => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    let traces = staso_collector::stored_traces(&db, last).map_err(|e| e.to_string())?;
    if traces.is_empty() {
        println!("no traces stored in {}", db.display());
    } else {
        print!("{}", staso_collector::render_traces(&traces));
    }
    Ok(())
}

fn parse<T: std::str::FromStr>(p: &mut lexopt::Parser) -> Result<T, String> {
    let v = p.value().map_err(|e| e.to_string())?;
    let s = v.to_string_lossy();
    s.parse().map_err(|_| format!("cannot parse {s:?}"))
}

/// Splits `A:B[:C]` into numbers.
fn parts(p: &mut lexopt::Parser, min: usize, max: usize) -> Result<Vec<String>, String> {
    let v = p.value().map_err(|e| e.to_string())?;
    let s = v.to_string_lossy().into_owned();
    let parts: Vec<String> = s.split(':').map(str::to_owned).collect();
    if parts.len() < min || parts.len() > max {
        return Err(format!("cannot parse {s:?}: see `staso-collector help`"));
    }
    Ok(parts)
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("cannot parse {s:?}"))
}

fn serve(mut p: lexopt::Parser) -> Result<(), String> {
    use lexopt::prelude::*;
    let mut config = CollectorConfig {
        api_key: std::env::var("STASO_API_KEY").unwrap_or_default(),
        port: DEFAULT_PORT,
        db_path: Some(default_db()),
        print_trees: true,
        // Nothing reads recorded bodies here.
        record_bodies: false,
        ..Default::default()
    };
    let mut ca_out: Option<PathBuf> = None;
    let mut plans: Vec<FaultPlan> = Vec::new();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        let mut plan = FaultPlan::default();
        match arg {
            Long("port") => config.port = parse(&mut p)?,
            Long("api-key") => {
                config.api_key = p
                    .value()
                    .map_err(|e| e.to_string())?
                    .to_string_lossy()
                    .into()
            }
            Long("db") => config.db_path = Some(p.value().map_err(|e| e.to_string())?.into()),
            Long("memory") => config.db_path = None,
            Long("count-only") => config.store = StoreMode::CountOnly,
            Long("quiet") | Short('q') => config.print_trees = false,
            Long("tls") => config.tls = true,
            Long("ca-out") => ca_out = Some(p.value().map_err(|e| e.to_string())?.into()),
            Long("fail-next") => {
                let v = parts(&mut p, 2, 2)?;
                plan.fail_next = Some(CountStatus {
                    count: num(&v[0])?,
                    status: num(&v[1])?,
                });
            }
            Long("rate-limit-next") => {
                let v = parts(&mut p, 1, 2)?;
                plan.rate_limit_next = Some(CountRetry {
                    count: num(&v[0])?,
                    retry_after: v.get(1).map(|s| num(s)).transpose()?,
                });
            }
            Long("delay-next") => {
                let v = parts(&mut p, 2, 2)?;
                plan.delay_next = Some(CountMs {
                    count: num(&v[0])?,
                    ms: num(&v[1])?,
                });
            }
            Long("delay-all") => plan.delay_all_ms = Some(Some(parse(&mut p)?)),
            Long("hang-next") => {
                plan.hang_next = Some(Count {
                    count: parse(&mut p)?,
                })
            }
            Long("stall-next") => {
                let v = parts(&mut p, 2, 2)?;
                plan.stall_next = Some(CountMs {
                    count: num(&v[0])?,
                    ms: num(&v[1])?,
                });
            }
            Long("drop-next") => {
                plan.drop_next = Some(Count {
                    count: parse(&mut p)?,
                })
            }
            Long("bad-ack-next") => {
                let v = parts(&mut p, 2, 2)?;
                let kind: BadAck = serde_json::from_value(serde_json::Value::String(v[1].clone()))
                    .map_err(|_| format!("unknown bad ack kind {:?}", v[1]))?;
                plan.bad_ack_next = Some(CountBadAck {
                    count: num(&v[0])?,
                    kind,
                });
            }
            Long("random") => {
                let v = parts(&mut p, 2, 3)?;
                let mut r = RandomFaults::new(num(&v[0])?, num(&v[1])?);
                if let Some(ms) = v.get(2) {
                    r.stall = Duration::from_millis(num(ms)?);
                }
                plan.random = Some(Some(r));
            }
            Long("max-body") => plan.max_body_bytes = Some(Some(parse(&mut p)?)),
            Long("down-for") => plan.down_for_ms = Some(parse(&mut p)?),
            Long("faults") => {
                let v = p.value().map_err(|e| e.to_string())?;
                plan = serde_json::from_str(&v.to_string_lossy())
                    .map_err(|e| format!("bad --faults JSON: {e}"))?;
            }
            Long("guard") => {
                let v = p.value().map_err(|e| e.to_string())?;
                let v = v.to_string_lossy();
                let (tool, rule) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--guard takes TOOL=RULE, got {v:?}"))?;
                config.guard_rules.insert(tool.into(), rule.parse()?);
            }
            Long("help") | Short('h') => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err(other.unexpected().to_string()),
        }
        plans.push(plan);
    }
    let default_key = config.api_key.trim().is_empty();
    if default_key {
        config.api_key = DEFAULT_KEY.into();
    }
    if let (Some(db), StoreMode::Sqlite) = (&config.db_path, config.store) {
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("creating {} for the database: {e}", dir.display()))?;
        }
    }
    let collector = Collector::start_blocking(config.clone()).map_err(|e| e.to_string())?;
    for plan in &plans {
        collector.faults().apply(plan);
    }
    if let (Some(path), Some(pem)) = (&ca_out, collector.ca_pem()) {
        std::fs::write(path, pem).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    println!("staso-collector listening on {}", collector.url());
    println!("trace viewer: {}/", collector.url());
    match (&config.db_path, config.store) {
        (_, StoreMode::CountOnly) => println!("counting spans only: nothing is stored"),
        (Some(db), _) => println!("storing traces in {}", db.display()),
        (None, _) => println!("storing traces in memory"),
    }
    if let Some(path) = &ca_out {
        println!("CA certificate written to {}", path.display());
    }
    if default_key {
        println!(
            "point an SDK here: STASO_BASE_URL={} STASO_API_KEY={DEFAULT_KEY}",
            collector.url()
        );
    } else {
        println!(
            "point an SDK here: STASO_BASE_URL={} with the same STASO_API_KEY",
            collector.url()
        );
    }
    println!(
        "fault control: POST {}/_staso/faults (see `staso-collector help`)",
        collector.url()
    );
    wait_for_signal().map_err(|e| e.to_string())?;
    println!("staso-collector stopping");
    drop(collector);
    Ok(())
}

fn wait_for_signal() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r,
                _ = term.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await
        }
    })
}
