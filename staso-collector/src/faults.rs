//! Fault injection: scripted failures for the next N requests of an endpoint, a
//! persistent delay, a seeded random mode for soak tests, a body size limit, and "server
//! down" (which is the whole server's).
//!
//! Each SDK endpoint (ingest, annotations, guard) has its own faults; the handle of
//! [`crate::Collector::faults`] targets ingest, [`Faults::on`] another endpoint. A request
//! answered by a fault is never stored (a plain [`Fault::Delay`] is not a failure: the
//! request is then handled as usual).

use crate::record::Endpoint;
use serde::Deserialize;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// One way to answer (or not answer) a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and a JSON error body (500, 502, 401, 402, 403, 413, …).
    Status(u16),
    /// Answer 429, with `Retry-After: <seconds>` when given.
    RateLimited {
        /// The `Retry-After` value in seconds; `None` sends no such header.
        retry_after: Option<u64>,
    },
    /// Wait this long, then handle the request normally (stored and acked).
    Delay(Duration),
    /// Never answer: hold the connection open until the client gives up or the collector
    /// stops. Not stored.
    Hang,
    /// Wait this long, then close the connection without answering. Not stored.
    Stall(Duration),
    /// Close the connection without answering, right after reading the request. Not stored.
    Drop,
    /// Answer 200 with an ingest acknowledgement the client must refuse (on any endpoint:
    /// for guard-specific wrong answers see [`crate::GuardRule`]). Not stored.
    BadAck(BadAck),
}

/// The kinds of wrong acknowledgement [`Fault::BadAck`] can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadAck {
    /// `receipt_id` is a different UUID than the request's Idempotency-Key.
    WrongReceiptId,
    /// `receipt_id` is missing.
    MissingReceiptId,
    /// `accepted` is `true` instead of a number.
    AcceptedAsBool,
    /// `accepted` is the number of traces plus one.
    WrongAcceptedCount,
    /// `rejected` is 1.
    NonZeroRejected,
    /// `spans_dropped` is 1.
    NonZeroSpansDropped,
    /// The body is not JSON.
    NotJson,
    /// The body is a JSON array, not an object.
    NotAnObject,
}

/// The seeded random fault mode, for soak tests.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RandomFaults {
    /// Seed of the generator: the same seed gives the same sequence of decisions.
    pub seed: u64,
    /// Fraction of requests that fail, 0.0..=1.0.
    pub fraction: f64,
    /// How long a "delay past a timeout" failure waits before closing the connection
    /// without an answer; pick it longer than the client's request timeout.
    #[serde(default = "default_stall_ms", rename = "stall_ms", with = "millis")]
    pub stall: Duration,
}

fn default_stall_ms() -> Duration {
    Duration::from_millis(11_000)
}

mod millis {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

impl RandomFaults {
    /// A random mode failing `fraction` of the requests, stalling 11 s on timeouts.
    pub fn new(seed: u64, fraction: f64) -> Self {
        Self {
            seed,
            fraction,
            stall: default_stall_ms(),
        }
    }
}

/// A set of fault settings in the JSON form taken by `POST /_staso/faults` (and built by
/// the binary's flags), for one endpoint (`"endpoint"`: `ingest`, the default,
/// `annotations` or `guard`). Every member is optional; they are applied in the order
/// listed.
///
/// ```json
/// {"endpoint": "ingest",
///  "clear": true,
///  "fail_next": {"count": 2, "status": 500},
///  "rate_limit_next": {"count": 1, "retry_after": 1},
///  "delay_next": {"count": 1, "ms": 2000},
///  "hang_next": {"count": 1},
///  "stall_next": {"count": 1, "ms": 11000},
///  "drop_next": {"count": 1},
///  "bad_ack_next": {"count": 1, "kind": "wrong_receipt_id"},
///  "delay_all_ms": 250,
///  "random": {"seed": 7, "fraction": 0.2, "stall_ms": 11000},
///  "max_body_bytes": 1048576,
///  "down_for_ms": 3000}
/// ```
/// `delay_all_ms`, `random` and `max_body_bytes` take `null` to switch them off.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// The endpoint the plan is for (`down_for_ms` is the whole server's).
    #[serde(default)]
    pub endpoint: Endpoint,
    /// Forget every fault of the endpoint first (scripted, delay, random, body limit).
    #[serde(default)]
    pub clear: bool,
    /// `{"count", "status"}`: answer the next `count` requests with `status`.
    pub fail_next: Option<CountStatus>,
    /// `{"count", "retry_after"?}`: answer 429 to the next `count` requests.
    pub rate_limit_next: Option<CountRetry>,
    /// `{"count", "ms"}`: delay the next `count` answers.
    pub delay_next: Option<CountMs>,
    /// `{"count"}`: never answer the next `count` requests.
    pub hang_next: Option<Count>,
    /// `{"count", "ms"}`: wait `ms`, then close without answering, `count` times.
    pub stall_next: Option<CountMs>,
    /// `{"count"}`: close the connection without answering, `count` times.
    pub drop_next: Option<Count>,
    /// `{"count", "kind"}`: answer 200 with a bad acknowledgement, `count` times.
    pub bad_ack_next: Option<CountBadAck>,
    /// Delay every answer by this many milliseconds (`null`: no delay).
    #[serde(default, deserialize_with = "some_nullable")]
    pub delay_all_ms: Option<Option<u64>>,
    /// Random failures (`null`: off).
    #[serde(default, deserialize_with = "some_nullable")]
    pub random: Option<Option<RandomFaults>>,
    /// Answer 413 to bodies larger than this (`null`: no limit).
    #[serde(default, deserialize_with = "some_nullable")]
    pub max_body_bytes: Option<Option<usize>>,
    /// Stop listening for this many milliseconds, then listen again on the same port.
    pub down_for_ms: Option<u64>,
}

fn some_nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `{"count": N}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Count {
    /// How many requests.
    pub count: u32,
}

/// `{"count": N, "status": S}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountStatus {
    /// How many requests.
    pub count: u32,
    /// The HTTP status to answer.
    pub status: u16,
}

/// `{"count": N, "retry_after": S}` (`retry_after` optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountRetry {
    /// How many requests.
    pub count: u32,
    /// The `Retry-After` value in seconds, if any.
    pub retry_after: Option<u64>,
}

/// `{"count": N, "ms": M}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountMs {
    /// How many requests.
    pub count: u32,
    /// Milliseconds.
    pub ms: u64,
}

/// `{"count": N, "kind": "wrong_receipt_id"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountBadAck {
    /// How many requests.
    pub count: u32,
    /// Which bad acknowledgement.
    pub kind: BadAck,
}

/// Whether the collector listens, as asked through [`Faults::go_down`] and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listen {
    Up,
    Down { until: Option<Instant> },
}

#[derive(Debug, Default)]
struct State {
    script: VecDeque<(Fault, u32)>,
    delay_all: Option<Duration>,
    random: Option<(RandomFaults, u64)>,
    max_body: Option<usize>,
}

/// The listener's report of the last listen command it applied.
#[derive(Debug, Default)]
struct ListenAck {
    applied: u64,
    error: Option<String>,
}

#[derive(Debug, Default)]
struct AckCell {
    ack: Mutex<ListenAck>,
    cv: Condvar,
    notify: tokio::sync::Notify,
}

/// A cheap, cloneable handle to the running collector's faults for one endpoint (ingest
/// unless made with [`Faults::on`]). Changes apply to the next request.
///
/// ```no_run
/// use staso_collector::{Collector, Endpoint};
/// let c = Collector::start_blocking(Default::default())?;
/// c.faults().fail_next(2, 503);                      // the next two requests
/// c.faults().on(Endpoint::Guard).hang_next(1);       // the next guard request
/// # Ok::<(), staso_collector::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Faults {
    states: Arc<[Mutex<State>; 3]>,
    target: Endpoint,
    listen_tx: Arc<watch::Sender<(u64, Listen)>>,
    ack: Arc<AckCell>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Faults {
    pub(crate) fn new() -> (Self, watch::Receiver<(u64, Listen)>) {
        let (tx, rx) = watch::channel((0, Listen::Up));
        let faults = Self {
            states: Arc::default(),
            target: Endpoint::Ingest,
            listen_tx: Arc::new(tx),
            ack: Arc::default(),
        };
        (faults, rx)
    }

    /// The same faults' handle for another endpoint.
    pub fn on(&self, endpoint: Endpoint) -> Faults {
        Faults {
            target: endpoint,
            ..self.clone()
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.states[self.target as usize])
    }

    /// Called by the listener once it applied listen command `version`.
    pub(crate) fn ack_listen(&self, version: u64, error: Option<String>) {
        {
            let mut a = lock(&self.ack.ack);
            a.applied = a.applied.max(version);
            a.error = error;
        }
        self.ack.cv.notify_all();
        self.ack.notify.notify_waiters();
    }

    /// Asks the listener to go up or down; returns the command's version.
    pub(crate) fn request_listen(&self, listen: Listen) -> u64 {
        let mut version = 0;
        self.listen_tx.send_modify(|(v, l)| {
            *v += 1;
            version = *v;
            *l = listen;
        });
        version
    }

    /// Waits (asynchronously, at most `timeout`) until listen command `version` is applied.
    pub(crate) async fn listen_applied(&self, version: u64, timeout: Duration) {
        let wait = async {
            loop {
                let notified = self.ack.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if lock(&self.ack.ack).applied >= version {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
    }

    /// Adds `fault` for the next `count` requests, after those already scripted.
    pub fn push(&self, fault: Fault, count: u32) {
        if count > 0 {
            self.state().script.push_back((fault, count));
        }
    }

    /// Answers the next `count` requests with `status` (and a JSON error body).
    pub fn fail_next(&self, count: u32, status: u16) {
        self.push(Fault::Status(status), count);
    }

    /// Answers the next `count` requests with 429 and `Retry-After: <secs>`
    /// (no header when `None`).
    pub fn rate_limit_next(&self, count: u32, retry_after_secs: Option<u64>) {
        self.push(
            Fault::RateLimited {
                retry_after: retry_after_secs,
            },
            count,
        );
    }

    /// Delays the next `count` answers by `delay`; the requests are then handled normally.
    pub fn delay_next(&self, count: u32, delay: Duration) {
        self.push(Fault::Delay(delay), count);
    }

    /// Never answers the next `count` requests.
    pub fn hang_next(&self, count: u32) {
        self.push(Fault::Hang, count);
    }

    /// Waits `delay`, then closes the connection without answering, for the next `count`.
    pub fn stall_next(&self, count: u32, delay: Duration) {
        self.push(Fault::Stall(delay), count);
    }

    /// Closes the connection without answering the next `count` requests.
    pub fn drop_next(&self, count: u32) {
        self.push(Fault::Drop, count);
    }

    /// Answers the next `count` requests with a bad acknowledgement of `kind`.
    pub fn bad_ack_next(&self, count: u32, kind: BadAck) {
        self.push(Fault::BadAck(kind), count);
    }

    /// Delays every answer by `delay` (`None`: no delay).
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.state().delay_all = delay;
    }

    /// Switches the random mode on (`Some`) or off (`None`).
    pub fn set_random(&self, random: Option<RandomFaults>) {
        self.state().random = random.map(|r| {
            let seed = r.seed;
            (r, seed)
        });
    }

    /// Answers 413 to bodies larger than `max` bytes (`None`: no limit).
    pub fn set_max_body_bytes(&self, max: Option<usize>) {
        self.state().max_body = max;
    }

    /// Forgets every fault of this endpoint (scripted, delay, random, body limit); does
    /// not change listening.
    pub fn clear(&self) {
        *self.state() = State::default();
    }

    /// How many scripted faults are still waiting for a request to this endpoint.
    pub fn pending(&self) -> u64 {
        self.state().script.iter().map(|(_, n)| u64::from(*n)).sum()
    }

    /// Stops listening: new connections are refused and open ones are closed. Returns once
    /// the port is closed (or after 5 s).
    pub fn go_down(&self) {
        let _ = self.set_listen(Listen::Down { until: None });
    }

    /// Stops listening for `duration`, then listens again on the same port by itself.
    /// Returns once the port is closed.
    pub fn go_down_for(&self, duration: Duration) {
        let _ = self.set_listen(Listen::Down {
            until: Some(Instant::now() + duration),
        });
    }

    /// Listens again, on the same port as before. Returns once accepting, or the error
    /// met binding the port again.
    pub fn come_up(&self) -> std::io::Result<()> {
        self.set_listen(Listen::Up)
    }

    fn set_listen(&self, listen: Listen) -> std::io::Result<()> {
        let version = self.request_listen(listen);
        self.wait_listen(version)
    }

    fn wait_listen(&self, version: u64) -> std::io::Result<()> {
        let guard = lock(&self.ack.ack);
        let (guard, _) = self
            .ack
            .cv
            .wait_timeout_while(guard, Duration::from_secs(5), |a| a.applied < version)
            .unwrap_or_else(|e| e.into_inner());
        match &guard.error {
            Some(e) if guard.applied == version => Err(std::io::Error::other(e.clone())),
            _ if guard.applied < version => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the listener did not answer within 5 s",
            )),
            _ => Ok(()),
        }
    }

    /// Applies a [`FaultPlan`] (the control endpoint's JSON body) to its endpoint, whatever
    /// endpoint this handle is for. With `down_for_ms`, returns once the port is closed.
    pub fn apply(&self, plan: &FaultPlan) {
        if let Some(version) = self.apply_nowait(plan) {
            let _ = self.wait_listen(version);
        }
    }

    /// Applies a plan without waiting for the listener; returns the listen command's
    /// version when the plan takes the server down.
    pub(crate) fn apply_nowait(&self, plan: &FaultPlan) -> Option<u64> {
        let this = self.on(plan.endpoint);
        this.apply_here(plan);
        plan.down_for_ms.map(|ms| {
            self.request_listen(Listen::Down {
                until: Some(Instant::now() + Duration::from_millis(ms)),
            })
        })
    }

    fn apply_here(&self, plan: &FaultPlan) {
        if plan.clear {
            self.clear();
        }
        if let Some(p) = &plan.fail_next {
            self.fail_next(p.count, p.status);
        }
        if let Some(p) = &plan.rate_limit_next {
            self.rate_limit_next(p.count, p.retry_after);
        }
        if let Some(p) = &plan.delay_next {
            self.delay_next(p.count, Duration::from_millis(p.ms));
        }
        if let Some(p) = &plan.hang_next {
            self.hang_next(p.count);
        }
        if let Some(p) = &plan.stall_next {
            self.stall_next(p.count, Duration::from_millis(p.ms));
        }
        if let Some(p) = &plan.drop_next {
            self.drop_next(p.count);
        }
        if let Some(p) = &plan.bad_ack_next {
            self.bad_ack_next(p.count, p.kind);
        }
        if let Some(d) = plan.delay_all_ms {
            self.set_delay(d.map(Duration::from_millis));
        }
        if let Some(r) = &plan.random {
            self.set_random(r.clone());
        }
        if let Some(m) = plan.max_body_bytes {
            self.set_max_body_bytes(m);
        }
    }

    /// The body size limit in force for `endpoint`.
    pub(crate) fn max_body(&self, endpoint: Endpoint) -> Option<usize> {
        self.on(endpoint).state().max_body
    }

    /// Decides how to treat the next request to `endpoint`: the persistent delay, and the
    /// scripted fault if any, else the random mode's pick.
    pub(crate) fn next(&self, endpoint: Endpoint) -> (Option<Duration>, Option<Fault>) {
        let this = self.on(endpoint);
        let mut st = this.state();
        let delay = st.delay_all;
        if let Some((fault, n)) = st.script.front_mut() {
            let fault = fault.clone();
            *n -= 1;
            if *n == 0 {
                st.script.pop_front();
            }
            return (delay, Some(fault));
        }
        if let Some((cfg, rng)) = &mut st.random {
            let roll = next_f64(rng);
            if roll < cfg.fraction {
                let fault = match next_u64(rng) % 4 {
                    0 => Fault::Status(500),
                    1 => Fault::RateLimited {
                        retry_after: Some(1),
                    },
                    2 => Fault::Drop,
                    _ => Fault::Stall(cfg.stall),
                };
                return (delay, Some(fault));
            }
        }
        (delay, None)
    }
}

/// splitmix64: small, seedable, good enough to pick faults.
fn next_u64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn next_f64(state: &mut u64) -> f64 {
    (next_u64(state) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_consumed_in_order() {
        let (f, _rx) = Faults::new();
        f.fail_next(2, 500);
        f.drop_next(1);
        assert_eq!(f.pending(), 3);
        assert_eq!(f.next(Endpoint::Ingest).1, Some(Fault::Status(500)));
        assert_eq!(f.next(Endpoint::Ingest).1, Some(Fault::Status(500)));
        assert_eq!(f.next(Endpoint::Ingest).1, Some(Fault::Drop));
        assert_eq!(f.next(Endpoint::Ingest).1, None);
    }

    #[test]
    fn random_is_seeded() {
        let run = || {
            let (f, _rx) = Faults::new();
            f.set_random(Some(RandomFaults::new(42, 0.5)));
            (0..100)
                .map(|_| f.next(Endpoint::Ingest).1)
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let failures = a.iter().filter(|x| x.is_some()).count();
        assert!((30..=70).contains(&failures), "{failures}");
    }

    #[test]
    fn plan_parses() {
        let plan: FaultPlan = serde_json::from_str(
            r#"{"fail_next":{"count":2,"status":502},"delay_all_ms":null,
                "random":{"seed":1,"fraction":0.1},"bad_ack_next":{"count":1,"kind":"accepted_as_bool"}}"#,
        )
        .expect("plan");
        assert_eq!(plan.delay_all_ms, Some(None));
        assert!(plan.max_body_bytes.is_none());
        let (f, _rx) = Faults::new();
        f.apply(&plan);
        assert_eq!(f.pending(), 3);
    }
}
