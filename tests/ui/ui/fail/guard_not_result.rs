// `guard` needs a `Result` to return a blocked call in.
#[staso::tool(guard)]
fn lookup(order_id: u64) -> u64 {
    order_id
}

#[staso::tool(guard)]
fn notify(user: &str) {
    let _ = user;
}

fn main() {}
