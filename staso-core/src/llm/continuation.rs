//! Tool-call continuation: the call that carries a tool's result becomes a child of the
//! LLM span that proposed the call (§4 of the LLM contract). A process-wide map from
//! tool-call id to the proposing span, bounded (the oldest entries go first), each id
//! used once.

use staso_types::{SpanId, TraceId};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Entries kept at most (the Python SDK's bound).
pub(crate) const MAX_ENTRIES: usize = 2000;

/// The span that proposed a tool call: its trace, its id, and its trace's clock offset
/// (a continuation's times must be read on the same clock as its parent's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parent {
    pub trace: TraceId,
    pub span: SpanId,
    pub offset: i64,
}

/// Where a proposed call came from. `scope` separates test captures from each other and
/// from the client (0), so parallel tests that reuse ids do not stitch across.
#[derive(Debug, Clone, Copy)]
struct Proposer {
    parent: Parent,
    scope: usize,
    seq: u64,
}

#[derive(Default)]
struct Map {
    by_id: HashMap<String, Proposer>,
    /// Insertion order, for dropping the oldest: (id, seq); stale pairs are skipped.
    order: VecDeque<(String, u64)>,
    seq: u64,
}

static MAP: Mutex<Option<Map>> = Mutex::new(None);

fn with_map<R>(f: impl FnOnce(&mut Map) -> R) -> R {
    let mut g = match MAP.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    f(g.get_or_insert_with(Map::default))
}

/// Remembers that `parent` proposed the tool calls `ids`.
pub(crate) fn record<'a>(ids: impl IntoIterator<Item = &'a str>, parent: Parent, scope: usize) {
    with_map(|m| {
        for id in ids {
            m.seq += 1;
            let seq = m.seq;
            m.by_id
                .insert(id.to_string(), Proposer { parent, scope, seq });
            m.order.push_back((id.to_string(), seq));
        }
        while m.by_id.len() > MAX_ENTRIES {
            let Some((id, seq)) = m.order.pop_front() else {
                break;
            };
            if m.by_id.get(&id).is_some_and(|p| p.seq == seq) {
                m.by_id.remove(&id);
            }
        }
        // Stale order entries (ids recorded again) are bounded too.
        if m.order.len() > 2 * MAX_ENTRIES {
            let by_id = &m.by_id;
            m.order
                .retain(|(id, seq)| by_id.get(id).is_some_and(|p| p.seq == *seq));
        }
    });
}

/// The proposer of the first known id among `ids` (the parent of the call that carries
/// their results); every known id of `ids` is forgotten.
pub(crate) fn take<'a>(ids: impl IntoIterator<Item = &'a str>, scope: usize) -> Option<Parent> {
    with_map(|m| {
        let mut parent = None;
        for id in ids {
            if m.by_id.get(id).is_some_and(|p| p.scope == scope) {
                if let Some(p) = m.by_id.remove(id) {
                    parent.get_or_insert(p.parent);
                }
            }
        }
        parent
    })
}

/// How many ids are remembered (tests of the bound).
#[cfg(test)]
pub(crate) fn len() -> usize {
    with_map(|m| m.by_id.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent(n: u64) -> Parent {
        Parent {
            trace: TraceId::from_u128(n as u128 + 1).expect("non-zero"),
            span: SpanId::from_u64(n + 1).expect("non-zero"),
            offset: 7,
        }
    }

    #[test]
    fn an_id_is_used_once_and_the_map_stays_bounded() {
        let scope = 0xC0FFEE;
        let p = parent(1);
        record(["cont-a", "cont-b"], p, scope);
        assert_eq!(take(["cont-x", "cont-b"], scope), Some(p));
        assert_eq!(take(["cont-b"], scope), None, "used once");
        assert_eq!(take(["cont-a"], scope + 1), None, "other scope");
        assert_eq!(take(["cont-a"], scope), Some(p));

        let many: Vec<String> = (0..MAX_ENTRIES + 500)
            .map(|i| format!("bulk-{i}"))
            .collect();
        for id in &many {
            record([id.as_str()], p, scope);
        }
        assert!(len() <= MAX_ENTRIES, "{}", len());
        assert_eq!(take(["bulk-0"], scope), None, "oldest dropped");
        assert!(take([many[many.len() - 1].as_str()], scope).is_some());
    }
}
