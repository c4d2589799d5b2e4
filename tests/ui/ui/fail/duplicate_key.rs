#[staso::trace(name = "a", name = "b")]
fn f() {}

#[staso::trace(metadata(team = "a", team = "b"))]
fn g() {}

#[staso::trace(skip(a, a))]
fn h(a: u8) {
    let _ = a;
}

fn main() {}
