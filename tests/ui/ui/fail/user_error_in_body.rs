// A mistake in the body is reported by rustc at the user's own token, not at the macro.
#[staso::tool]
fn f(x: u8) -> u8 {
    let s: String = x;
    s.len() as u8
}

#[derive(Debug)]
struct MyError;

#[staso::trace]
async fn g() -> Result<u8, MyError> {
    let n: u8 = "x".parse::<u8>()?;
    Ok(n)
}

fn main() {}
