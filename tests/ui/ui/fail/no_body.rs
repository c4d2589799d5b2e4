trait Tools {
    #[staso::tool]
    fn lookup(&self, id: u64) -> u64;
}

fn main() {}
