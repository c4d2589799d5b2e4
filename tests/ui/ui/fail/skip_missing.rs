#[staso::tool(skip(pasword))]
fn login(user: &str, password: &str) -> bool {
    user.len() == password.len()
}

#[staso::tool(skip(x))]
fn none() {}

fn main() {}
