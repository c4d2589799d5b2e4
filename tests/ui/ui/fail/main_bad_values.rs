mod a {
    #[staso::main(batch_size = 0)]
    fn main() {}
}
mod b {
    #[staso::main(flush_interval = "1s")]
    fn main() {}
}
mod c {
    #[staso::main(debug = 1)]
    fn main() {}
}
mod d {
    #[staso::main(agent_name = bot)]
    fn main() {}
}
mod e {
    #[staso::main(flush_interval = 0)]
    fn main() {}
}

fn main() {}
