//! The memory store's listing index: per job name, its jobs in the order
//! they were created, for an operator's newest-first pages.
//!
//! An entry is 24 bytes and an append; a job the store drops leaves its
//! entry behind, counted, and the deque is compacted once the dead entries
//! are half of it (so the index never holds more than twice the live jobs).

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

use crate::job::{JobId, Timestamp};
use crate::store::ListCursor;

/// The entries of one name, sorted by (created at, id).
#[derive(Debug, Default)]
struct Entries {
    entries: VecDeque<(Timestamp, JobId)>,
    /// Entries whose job is gone.
    dead: usize,
}

/// Every name's entries.
#[derive(Debug, Default)]
pub(super) struct Listing {
    names: HashMap<Cow<'static, str>, Entries, foldhash::fast::RandomState>,
}

/// Below this many dead entries a name is never compacted.
const COMPACT_AT_LEAST: usize = 64;

impl Listing {
    /// Files a new job.
    // The `Cow` itself: a new name is cloned as it is (a static one stays
    // borrowed).
    #[allow(clippy::ptr_arg)]
    pub(super) fn add(&mut self, name: &Cow<'static, str>, created_at: Timestamp, id: JobId) {
        let entries = match self.names.get_mut(name.as_ref()) {
            Some(entries) => entries,
            None => self.names.entry(name.clone()).or_default(),
        };
        let entry = (created_at, id);
        // The clock may step back: then the entry goes where it sorts.
        if entries.entries.back().is_none_or(|last| *last < entry) {
            entries.entries.push_back(entry);
        } else {
            let at = entries.entries.partition_point(|e| *e < entry);
            entries.entries.insert(at, entry);
        }
    }

    /// Notes that a job of `name` is gone; compacts the name's entries when
    /// half of them are dead, keeping those `alive` says are.
    pub(super) fn removed(&mut self, name: &str, alive: impl Fn(&(Timestamp, JobId)) -> bool) {
        let Some(entries) = self.names.get_mut(name) else {
            return;
        };
        entries.dead += 1;
        if entries.dead >= COMPACT_AT_LEAST && entries.dead * 2 >= entries.entries.len() {
            entries.entries.retain(|entry| alive(entry));
            entries.dead = 0;
        }
    }

    /// Walks `name`'s entries older than `after` (all when `None`), newest
    /// first, handing each to `visit` until it says stop; returns the place
    /// of the last entry visited if older ones remain.
    pub(super) fn walk(
        &self,
        name: &str,
        after: Option<ListCursor>,
        mut visit: impl FnMut(Timestamp, JobId) -> bool,
    ) -> Option<ListCursor> {
        let entries = &self.names.get(name)?.entries;
        let end = match after {
            Some(cursor) => entries.partition_point(|e| *e < (cursor.created_at, cursor.id)),
            None => entries.len(),
        };
        for index in (0..end).rev() {
            let (created_at, id) = entries[index];
            if !visit(created_at, id) {
                return (index > 0).then_some(ListCursor { created_at, id });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> JobId {
        JobId::from(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn pages_go_newest_first_and_resume_after_their_cursor() {
        let mut listing = Listing::default();
        let name: Cow<'static, str> = "x".into();
        for n in 1..=5u64 {
            listing.add(&name, Timestamp::from_micros(n * 10), id(n.into()));
        }
        // A clock that stepped back still sorts.
        listing.add(&name, Timestamp::from_micros(25), id(9));
        let mut seen = Vec::new();
        let next = listing.walk("x", None, |_, job| {
            seen.push(job);
            seen.len() < 3
        });
        assert_eq!(seen, [id(5), id(4), id(3)]);
        let next = next.expect("older entries remain");
        let mut rest = Vec::new();
        assert_eq!(
            listing.walk("x", Some(next), |_, job| {
                rest.push(job);
                true
            }),
            None
        );
        assert_eq!(rest, [id(9), id(2), id(1)]);
    }

    #[test]
    fn dead_entries_are_compacted_once_they_are_half() {
        let mut listing = Listing::default();
        let name: Cow<'static, str> = "x".into();
        for n in 0..200u64 {
            listing.add(&name, Timestamp::from_micros(n + 1), id(n.into()));
        }
        for _ in 0..100 {
            listing.removed("x", |(at, _)| at.as_micros() > 100);
        }
        let entries = &listing.names["x"];
        assert_eq!((entries.entries.len(), entries.dead), (100, 0));
    }
}
