/// Filled one span at a time up to the bound, `unsent` ends with exactly the bound's
/// slots, not the next power of two.
#[test]
fn unsent_grows_to_the_bound_and_no_further() {
    for max in [1, 100, 10_000] {
        let mut unsent = std::collections::VecDeque::new();
        for i in 0..max {
            if unsent.len() == unsent.capacity() {
                super::grow_within(&mut unsent, max);
            }
            unsent.push_back(i);
        }
        assert_eq!(unsent.capacity(), max, "{max}");
    }
}
