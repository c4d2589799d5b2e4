//! Attribute macros of the Staso Rust SDK: `#[staso::agent]`, `#[staso::tool]`,
//! `#[staso::trace]` and `#[staso::main]`. Use them through the `staso` crate.
//!
//! Every call of an instrumented function becomes a span: its place in the trace tree,
//! its timing, its arguments and result (as JSON when they are `serde::Serialize`, as
//! their `Debug` text otherwise, a placeholder when neither), and its error or panic.
//!
//! Without the `enable` feature (which `staso`'s default feature turns on), every attribute
//! still checks its arguments, so a mistake is an error in both modes, and then returns
//! the function exactly as it was written: nothing is added to the program.

mod args;
mod attribute;
mod check;
mod expand;
mod git;
mod item;
mod main_attr;
mod return_type;
#[cfg(test)]
mod snapshots;

use args::SpanAttr;
use proc_macro::TokenStream;

const ENABLED: bool = cfg!(feature = "enable");

/// Makes every call of the function an **agent** span, and the agent of every span
/// started inside it.
///
/// The span's input is `{"agent_name": <name>, <argument>: <value>, ..}`; its output is
/// `{"result": <return value>}`. An `Err` return marks the span as failed (with the
/// error's message and type) and still reaches the caller; so does a panic.
///
/// Keys, all optional:
/// - `name = "billing-agent"`: the agent's (and span's) name; the function's name by
///   default.
/// - `tags = ["v2", "beta"]`: tags of the span.
/// - `metadata(team = "billing", tier = 2)`: attributes of the span; any expression
///   whose value is `Serialize` or `Debug`.
/// - `capture_input = false`, `capture_output = false`: leave out the arguments or the
///   result of this function.
/// - `skip(client, password)`: leave out single arguments (`self` is never captured).
///
/// Works on `fn`, `async fn`, methods (`self`, `&self`, `&mut self`), generic functions,
/// functions returning `impl Future`, and inside `#[async_trait]` impls.
///
/// ```
/// #[staso::agent(name = "billing-agent", tags = ["v2"], metadata(team = "billing", tier = 2))]
/// async fn handle(ticket: u64, text: String) -> Result<String, std::io::Error> {
///     Ok(format!("refunded ticket {ticket}: {text}"))
/// }
/// ```
#[proc_macro_attribute]
pub fn agent(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::span_attr(SpanAttr::Agent, args.into(), item.into(), ENABLED).into()
}

/// Makes every call of the function a **tool** span, with the attribute `tool_name`.
///
/// The span's input is `{<argument>: <value>, ..}` and its output
/// `{"result": <return value>}`; an `Err` or a panic marks it as failed and still reaches
/// the caller.
///
/// Keys, all optional: `name = "stripe.refund"` (the tool's name; the function's name by
/// default), `tags = [..]`, `metadata(key = value, ..)`, `capture_input = false`,
/// `capture_output = false`, `skip(arg, ..)`; see [`macro@agent`] for what each does.
/// And `guard`: the call (the tool's name and the arguments the span captures) is checked
/// by Staso's guard before the body runs; a blocked call does not run and returns
/// `Err(staso::GuardBlocked.into())`, so the function must return a `Result` whose error
/// type can be made from a `GuardBlocked` (not on functions returning `impl Future`).
///
/// ```
/// #[staso::tool(name = "stripe.refund", skip(api_key))]
/// fn refund(api_key: &str, charge: &str, cents: u64) -> Result<u64, String> {
///     if cents == 0 {
///         return Err("nothing to refund".into());
///     }
///     Ok(cents)
/// }
/// ```
#[proc_macro_attribute]
pub fn tool(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::span_attr(SpanAttr::Tool, args.into(), item.into(), ENABLED).into()
}

/// Makes every call of the function a span of kind `chain`, or of the kind given.
///
/// Keys, all optional: `kind = ".."` (a `staso::Kind` by its name, e.g. `"retriever"`
/// or `"llm"`; `chain` by default), `name = ".."`, `tags = [..]`,
/// `metadata(key = value, ..)`, `capture_input = false`, `capture_output = false`,
/// `skip(arg, ..)`; see [`macro@agent`] for what each does.
///
/// ```
/// #[staso::trace(kind = "retriever", metadata(index = "faq"))]
/// async fn search(query: &str, top_k: usize) -> Vec<String> {
///     vec![format!("{query}: first of {top_k}")]
/// }
/// ```
#[proc_macro_attribute]
pub fn trace(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::span_attr(SpanAttr::Trace, args.into(), item.into(), ENABLED).into()
}

/// Initialises Staso before `main`'s body runs and shuts it down (waiting at most
/// `shutdown_timeout` for delivery) when `main` returns, returns an `Err` or panics.
///
/// Any option listed in `staso::OPTIONS` (with its type and environment variable) may be
/// given, as a literal: a string for text and paths, an integer for counts, seconds as an
/// integer or a decimal for durations (`flush_interval = 0.5`), `true`/`false` for flags,
/// a number from 0.0 to 1.0 for fractions. The ones left out come from their environment
/// variables (`STASO_API_KEY`, `STASO_AGENT_NAME`, ...). An unknown option or a value out
/// of range is a compile error that lists what is allowed.
///
/// The commit, branch, dirty flag and origin URL of the checkout the binary is built
/// from are baked in (the crate is rebuilt when HEAD moves), so a deployed binary reports
/// its commit; `capture_git = false` leaves them out.
///
/// A configuration error is printed and the process exits with status 1.
///
/// On `async fn main` alone it runs the body on a multi-thread tokio runtime; with
/// `#[tokio::main]` (in either order) tokio runs it. Compiled out (without the `enable`
/// feature) `main` is left as written, so an `async fn main` then needs its own
/// `#[tokio::main]`; the attribute says so.
///
/// ```no_run
/// #[staso::main(agent_name = "support-bot", flush_interval = 0.5)]
/// fn main() {
///     // every span started here is delivered before the process exits
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    main_attr::main_attr(args.into(), item.into(), ENABLED).into()
}
