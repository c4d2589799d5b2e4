//! What tests read of the accepted spans: a cheap [`Counts`] to wait on, and the
//! [`Spans`] snapshot (stored rows, and every span's copy counts in every mode).

use crate::store::{SpanCopies, StoredSpan};

/// Counts of what the collector received, cheap to read (see
/// [`crate::Collector::counts`] and [`crate::Collector::wait_until`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Distinct spans stored (a span stored only by its provisional root copy counts).
    pub spans: usize,
    /// Distinct spans whose stored copy is final (provisional roots replaced).
    pub final_spans: usize,
    /// Spans that received more than one final copy (0 when each was delivered once).
    pub duplicated: usize,
    /// Requests received, of any kind and outcome.
    pub requests: usize,
}

/// The accepted spans at one moment (see [`crate::Collector::spans`]).
///
/// It derefs to the stored rows, by trace (first stored first) then start time; in
/// [`crate::StoreMode::CountOnly`] no row is kept, so the slice is empty while
/// [`Spans::copies`] and the counts still cover every span.
///
/// ```no_run
/// # let c = staso_collector::Collector::start_blocking(Default::default())?;
/// let spans = c.spans();
/// let refund = spans.named("refund").expect("a refund span");
/// assert_eq!((refund.kind.as_str(), refund.final_copies_received), ("tool", 1));
/// assert_eq!(spans.finals().count(), spans.len());
/// assert_eq!(spans.duplicated(), 0);
/// # Ok::<(), staso_collector::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Spans {
    rows: Vec<StoredSpan>,
    copies: Vec<SpanCopies>,
}

impl Spans {
    pub(crate) fn new(rows: Vec<StoredSpan>, copies: Vec<SpanCopies>) -> Self {
        Self { rows, copies }
    }

    /// The first stored span (in start order) with this name.
    pub fn named(&self, name: &str) -> Option<&StoredSpan> {
        self.rows.iter().find(|s| s.name == name)
    }

    /// The stored spans whose stored copy is final (not a provisional root copy).
    pub fn finals(&self) -> impl Iterator<Item = &StoredSpan> {
        self.rows.iter().filter(|s| !s.provisional)
    }

    /// Every span's copy counts, in no particular order: in every mode, and much cheaper
    /// than rows for large runs. Ids are numbers: see [`crate::id_key`].
    pub fn copies(&self) -> &[SpanCopies] {
        &self.copies
    }

    /// The copy counts of the span with this id (of its first trace, should the id be
    /// used in several).
    pub fn copies_of(&self, span_id: &str) -> Option<SpanCopies> {
        let id = crate::id_key(span_id)?;
        self.copies.iter().find(|c| c.span_id == id).copied()
    }

    /// Distinct spans received, in every mode.
    pub fn count(&self) -> usize {
        self.copies.len()
    }

    /// Distinct spans whose stored copy is final, in every mode.
    pub fn final_count(&self) -> usize {
        self.copies.iter().filter(|c| !c.provisional).count()
    }

    /// Spans that received more than one final copy, in every mode.
    pub fn duplicated(&self) -> usize {
        self.copies.iter().filter(|c| c.final_copies > 1).count()
    }
}

impl std::ops::Deref for Spans {
    type Target = [StoredSpan];
    fn deref(&self) -> &[StoredSpan] {
        &self.rows
    }
}

impl IntoIterator for Spans {
    type Item = StoredSpan;
    type IntoIter = std::vec::IntoIter<StoredSpan>;
    fn into_iter(self) -> Self::IntoIter {
        self.rows.into_iter()
    }
}

impl<'a> IntoIterator for &'a Spans {
    type Item = &'a StoredSpan;
    type IntoIter = std::slice::Iter<'a, StoredSpan>;
    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}
