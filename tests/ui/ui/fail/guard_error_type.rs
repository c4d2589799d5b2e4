// The error type must be able to carry a `staso::GuardBlocked`: the error points at the
// return type and says what to implement.
#[derive(Debug)]
pub enum ToolError {
    NotFound,
}

#[staso::tool(guard)]
fn read_file(path: &str) -> Result<String, ToolError> {
    let _ = path;
    Err(ToolError::NotFound)
}

fn main() {}
