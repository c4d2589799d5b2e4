//! An instrumented function and its plain twin (in the `plain/` crate, so the compiler
//! cannot merge the two) with identical bodies: with staso's `enable` feature off they
//! must compile to the same instructions.

/// Sums the slice, instrumented (a no-op in this build).
#[staso::tool(name = "sum", tags = ["math"], metadata(unit = "count"), skip(v))]
#[no_mangle]
pub fn instrumented_sum(v: &[u64]) -> u64 {
    v.iter()
        .fold(0u64, |acc, x| acc.wrapping_mul(31).wrapping_add(*x))
}

pub use staso_disabled_plain::plain_sum;

/// An instrumented async function and its twin.
#[staso::agent(name = "lib-agent")]
pub async fn instrumented_async(x: u64) -> Result<u64, String> {
    if x == 0 {
        return Err("zero".into());
    }
    Ok(x * 2)
}

/// The same body without the attribute.
pub async fn plain_async(x: u64) -> Result<u64, String> {
    if x == 0 {
        return Err("zero".into());
    }
    Ok(x * 2)
}
