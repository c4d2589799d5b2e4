// The error names the allowed keys, and the function is still emitted: `main` can call it
// without a second error.
#[staso::tool(nme = "lookup")]
fn lookup(id: u64) -> u64 {
    id
}

fn main() {
    lookup(1);
}
