// A `GuardResult` enforces nothing by itself: a check whose result is dropped unread is a
// check that blocks nothing, so the result is `#[must_use]` (an error under this lint).
#![deny(unused_must_use)]

fn main() {
    staso::guard_blocking("delete_file", "/etc/passwd");
    staso::guard_blocking_with("delete_file", "/etc/passwd", staso::GuardOptions::new());
    let _future = async {
        staso::guard("delete_file", "/etc/passwd").await;
    };
}
