#[staso::tool]
struct Lookup;

fn main() {}
