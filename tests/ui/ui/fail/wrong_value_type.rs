#[staso::tool(name = 5)]
fn a() {}

#[staso::tool(capture_input = "no")]
fn b() {}

#[staso::tool(tags = "v2")]
fn c() {}

#[staso::tool(tags = ["v2", 3])]
fn d() {}

#[staso::tool(skip = "x")]
fn e(x: u8) {
    let _ = x;
}

#[staso::tool(name = "")]
fn f() {}

#[staso::agent(metadata = "x")]
fn g() {}

#[staso::agent(name)]
fn h() {}

fn main() {}
