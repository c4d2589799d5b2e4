//! Crates that forbid unsafe code can use the attributes.
#![forbid(unsafe_code)]
#![deny(warnings)]

#[staso::tool]
fn f(x: u8) -> u8 {
    x
}

#[staso::trace]
async fn g(x: u8) -> u8 {
    x
}

fn main() {
    assert_eq!(f(1), 1);
    let _ = g(1);
}
