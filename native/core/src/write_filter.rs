//! Write less within the contract: leave out what Redis already holds from this owner's writes.
//!
//! The Rust twin of `store/write_filter.py`, whose docstring states the rule; both cores leave
//! out exactly the same writes. In short: per hash key, what the last committed flush wrote to
//! it (per field, a digest of its value, or ABSENT for a field it deleted); a drain's write
//! keeps only the fields whose value differs from that (overlaid with the same drain's earlier
//! writes of the key) and is dropped when nothing is left. What a drain leaves becomes known on
//! `commit`, once Redis confirmed the flush; `forget` makes its keys unknown (the outcome is not
//! known); at most `max_keys` keys are remembered, the least recently written forgotten first
//! (one drain's keys count as written in key order: the cores drain in different orders).
//!
//! Keys are compared exactly; field names and values by a keyed 64-bit digest (std's
//! SipHash-1-3, keyed at random per filter, so tick data cannot craft a collision): a
//! collision (2^-64 a comparison) would keep a stale value until the field changes again.
//! Per key: its text (shared by the map and the recency queue) and 16 bytes a field.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::Arc;

use crate::codec::{HashWrite, Name};

/// The digest of a deleted field; a value's digest is never this.
const ABSENT: u64 = 0;

/// (field name digest, value digest or ABSENT).
type Digests = Vec<(u64, u64)>;

struct Known {
    /// When the key was last written (its place in `order`).
    seq: u64,
    fields: Box<[(u64, u64)]>,
}

/// One owner's knowledge of what it last wrote, and the drain waiting for its commit.
pub struct WriteFilter {
    max_keys: usize,
    hasher: RandomState,
    known: HashMap<Arc<str>, Known>,
    /// Keys by last write, oldest first; an entry whose seq is not its key's is stale.
    order: VecDeque<(u64, Arc<str>)>,
    seq: u64,
    /// The drain not yet committed: its keys in order of first write, and what they will hold.
    pending: Vec<(Arc<str>, Digests)>,
    pending_index: HashMap<Arc<str>, usize>,
    /// Fields (set or deleted) this drain left out so far.
    left_out: usize,
}

fn find(fields: &[(u64, u64)], name: u64, hint: usize) -> Option<u64> {
    // Writes of a key mostly name the same fields in the same order: try the position first.
    if let Some(&(n, d)) = fields.get(hint) {
        if n == name {
            return Some(d);
        }
    }
    fields.iter().find(|(n, _)| *n == name).map(|&(_, d)| d)
}

fn set(update: &mut Digests, name: u64, digest: u64) {
    match update.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = digest,
        None => update.push((name, digest)),
    }
}

impl WriteFilter {
    /// A filter remembering at most `max_keys` keys (at least 1).
    pub fn new(max_keys: usize) -> WriteFilter {
        assert!(max_keys >= 1, "max_keys must be at least 1");
        WriteFilter {
            max_keys,
            hasher: RandomState::new(),
            known: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
            pending: Vec::new(),
            pending_index: HashMap::new(),
            left_out: 0,
        }
    }

    /// Keys known.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// Fields (set or deleted) the drain under way left out: Redis held them already.
    pub fn left_out(&self) -> usize {
        self.left_out
    }

    fn name(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    fn value(&self, value: &str) -> u64 {
        match self.hasher.hash_one(value) {
            ABSENT => 1,
            d => d,
        }
    }

    /// Start a drain. A drain still waiting for its commit may or may not have landed: its
    /// keys are forgotten first, so this one writes them in full.
    pub fn begin(&mut self) {
        if !self.pending.is_empty() {
            self.forget();
        }
        self.left_out = 0;
    }

    /// The part of `w` Redis does not hold yet, None when it holds all of it.
    pub fn filter(&mut self, w: HashWrite) -> Option<HashWrite> {
        let names: Vec<u64> = w.fields.iter().map(|(f, _)| self.name(f)).collect();
        let values: Vec<u64> = w.fields.iter().map(|(_, v)| self.value(v)).collect();
        let absent: Vec<u64> = w.absent.iter().map(|a| self.name(a)).collect();
        let stored = self.known.get(w.key.as_str()).map(|k| &k.fields[..]);
        let keep_field: Vec<bool>;
        let keep_absent: Vec<bool>;
        if let Some(&at) = self.pending_index.get(w.key.as_str()) {
            // The key's second write in this drain: the first one's values count.
            let update = &mut self.pending[at].1;
            let current = |update: &Digests, name: u64| {
                find(update, name, usize::MAX).or_else(|| stored.and_then(|s| find(s, name, 0)))
            };
            keep_field = names
                .iter()
                .zip(&values)
                .map(|(&n, &v)| current(update, n) != Some(v))
                .collect();
            keep_absent = absent
                .iter()
                .map(|&a| names.contains(&a) || current(update, a) != Some(ABSENT))
                .collect();
            for (&n, &v) in names.iter().zip(&values) {
                set(update, n, v);
            }
            for &a in &absent {
                set(update, a, ABSENT);
            }
        } else {
            let mut update: Digests = Vec::with_capacity(names.len() + absent.len());
            for (&n, &v) in names.iter().zip(&values) {
                set(&mut update, n, v);
            }
            for &a in &absent {
                set(&mut update, a, ABSENT);
            }
            match stored {
                None => {
                    keep_field = vec![true; names.len()];
                    keep_absent = vec![true; absent.len()];
                }
                Some(s) => {
                    keep_field = names
                        .iter()
                        .zip(&values)
                        .enumerate()
                        .map(|(i, (&n, &v))| find(s, n, i) != Some(v))
                        .collect();
                    keep_absent = absent
                        .iter()
                        .enumerate()
                        .map(|(i, &a)| {
                            names.contains(&a) || find(s, a, names.len() + i) != Some(ABSENT)
                        })
                        .collect();
                }
            }
            let key = match self.known.get_key_value(w.key.as_str()) {
                Some((k, _)) => k.clone(),
                None => Arc::from(w.key.as_str()),
            };
            self.pending_index.insert(key.clone(), self.pending.len());
            self.pending.push((key, update));
        }
        let kept = keep_field
            .iter()
            .chain(&keep_absent)
            .filter(|&&k| k)
            .count();
        let dropped = keep_field.len() + keep_absent.len() - kept;
        if dropped == 0 {
            return Some(w);
        }
        self.left_out += dropped;
        if kept == 0 {
            return None;
        }
        let fields: Vec<(Name, String)> = w
            .fields
            .into_iter()
            .zip(keep_field)
            .filter_map(|(f, k)| k.then_some(f))
            .collect();
        let absent: Vec<Name> = w
            .absent
            .into_iter()
            .zip(keep_absent)
            .filter_map(|(a, k)| k.then_some(a))
            .collect();
        Some(HashWrite {
            key: w.key,
            family: w.family,
            fields,
            absent,
        })
    }

    /// Redis holds the drain's writes now: know what they left.
    pub fn commit(&mut self) {
        self.pending_index.clear();
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, update) in pending {
            self.seq += 1;
            let seq = self.seq;
            self.order.push_back((seq, key.clone()));
            // Replaces: what the last write did not mention is forgotten.
            self.known.insert(
                key,
                Known {
                    seq,
                    fields: update.into_boxed_slice(),
                },
            );
        }
        while self.known.len() > self.max_keys {
            let Some((seq, key)) = self.order.pop_front() else {
                break;
            };
            if self.known.get(&key).is_some_and(|k| k.seq == seq) {
                self.known.remove(&key);
            }
        }
        if self.order.len() > 2 * self.known.len() + 1024 {
            let known = &self.known;
            self.order
                .retain(|(seq, key)| known.get(key).is_some_and(|k| k.seq == *seq));
        }
    }

    /// The drain may or may not have landed: know nothing about the keys it touched.
    pub fn forget(&mut self) {
        self.pending_index.clear();
        for (key, _) in std::mem::take(&mut self.pending) {
            self.known.remove(&key);
        }
    }

    /// Forget everything (the state in Redis may have changed behind this owner's back).
    pub fn clear(&mut self) {
        self.pending.clear();
        self.pending_index.clear();
        self.known.clear();
        self.order.clear();
    }

    /// Heap bytes held (an estimate: the memory figure's breakdown).
    pub fn heap_bytes(&self) -> usize {
        let per_key = std::mem::size_of::<(Arc<str>, Known)>() + 8 + 40; // + the table, the queue
        self.known
            .iter()
            .map(|(k, v)| per_key + k.len() + 16 + v.fields.len() * 16)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Family;
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    fn write(key: &str, fields: &[(&str, &str)], absent: &[&str]) -> HashWrite {
        HashWrite {
            key: key.to_string(),
            family: Family::Unified,
            fields: fields
                .iter()
                .map(|(f, v)| (Cow::Owned(f.to_string()), v.to_string()))
                .collect(),
            absent: absent.iter().map(|a| Cow::Owned(a.to_string())).collect(),
        }
    }

    fn session(fields: &[(&str, &str)], absent: &[&str]) -> HashWrite {
        write("vol:session:SBIN:2025-01-06", fields, absent)
    }

    fn flush(f: &mut WriteFilter, writes: Vec<HashWrite>) -> Vec<HashWrite> {
        f.begin();
        let out = writes.into_iter().filter_map(|w| f.filter(w)).collect();
        f.commit();
        out
    }

    type Store = BTreeMap<String, BTreeMap<String, String>>;

    fn apply(store: &mut Store, writes: &[HashWrite]) {
        for w in writes {
            let h = store.entry(w.key.clone()).or_default();
            for (f, v) in &w.fields {
                h.insert(f.to_string(), v.clone());
            }
            for a in &w.absent {
                h.remove(a.as_ref());
            }
            if h.is_empty() {
                store.remove(&w.key);
            }
        }
    }

    #[test]
    fn a_new_owner_writes_everything_once() {
        let mut f = WriteFilter::new(100);
        let first = vec![
            session(&[("a", "1"), ("b", "2")], &["rvol"]),
            write("ind:SBIN", &[("volume", "1")], &[]),
        ];
        assert_eq!(flush(&mut f, first.clone()), first);
        assert_eq!(flush(&mut f, first.clone()), vec![]);
        assert_eq!(flush(&mut WriteFilter::new(100), first.clone()), first);
    }

    #[test]
    fn keeps_only_what_changed() {
        let mut f = WriteFilter::new(100);
        flush(
            &mut f,
            vec![session(&[("a", "1"), ("b", "2"), ("c", "3")], &["rvol"])],
        );
        let out = flush(
            &mut f,
            vec![session(&[("a", "1"), ("b", "20"), ("c", "3")], &["rvol"])],
        );
        assert_eq!(out, vec![session(&[("b", "20")], &[])]);
        assert_eq!(f.left_out(), 3);
        // a field deleted earlier and set again is written; one set earlier and now absent too
        let out = flush(
            &mut f,
            vec![session(&[("rvol", "1.5"), ("a", "1")], &["c"])],
        );
        assert_eq!(out, vec![session(&[("rvol", "1.5")], &["c"])]);
        assert_eq!(
            flush(&mut f, vec![session(&[("rvol", "1.5")], &["c"])]),
            vec![]
        );
    }

    #[test]
    fn a_key_is_known_only_as_far_as_its_last_write() {
        let mut f = WriteFilter::new(100);
        flush(&mut f, vec![session(&[("a", "1"), ("b", "1")], &[])]);
        flush(&mut f, vec![session(&[("a", "2")], &[])]);
        // b was not in the last write: unknown now, so written again
        let out = flush(&mut f, vec![session(&[("a", "2"), ("b", "1")], &[])]);
        assert_eq!(out, vec![session(&[("b", "1")], &[])]);
    }

    #[test]
    fn an_uncommitted_drain_is_forgotten_at_the_next() {
        let mut f = WriteFilter::new(100);
        flush(&mut f, vec![session(&[("a", "1")], &[])]);
        f.begin();
        assert_eq!(
            f.filter(session(&[("a", "2")], &[])),
            Some(session(&[("a", "2")], &[]))
        );
        // not committed: may or may not have landed, so the key is unknown to the next drain
        let again = vec![session(&[("a", "1")], &[])];
        assert_eq!(flush(&mut f, again.clone()), again);
        assert_eq!(flush(&mut f, again), vec![]);
    }

    #[test]
    fn the_same_key_twice_in_one_drain() {
        let mut f = WriteFilter::new(100);
        flush(&mut f, vec![session(&[("a", "1"), ("b", "1")], &["c"])]);
        let out = flush(
            &mut f,
            vec![
                session(&[("a", "2"), ("b", "1")], &["c"]),
                session(&[("a", "2"), ("c", "3")], &["b"]),
                session(&[("b", "1")], &[]),
            ],
        );
        assert_eq!(
            out,
            vec![
                session(&[("a", "2")], &[]),
                session(&[("c", "3")], &["b"]),
                session(&[("b", "1")], &[]),
            ]
        );
        assert_eq!(
            flush(
                &mut f,
                vec![session(&[("a", "2"), ("b", "1"), ("c", "3")], &[])]
            ),
            vec![]
        );
    }

    #[test]
    fn bounded_least_recently_written_first() {
        let mut f = WriteFilter::new(2);
        let w = |k: &str| write(k, &[("v", "1")], &[]);
        flush(&mut f, vec![w("a"), w("b")]);
        flush(&mut f, vec![w("a")]); // a is the most recent now
        flush(&mut f, vec![w("c")]); // b goes
        assert_eq!(f.len(), 2);
        assert_eq!(flush(&mut f, vec![w("a"), w("b"), w("c")]), vec![w("b")]);
        for _ in 0..3000 {
            flush(&mut f, vec![w("a")]);
        }
        assert!(
            f.order.len() <= 2 * f.len() + 1024,
            "the recency queue is compacted"
        );
    }

    #[test]
    fn forget_and_clear() {
        let mut f = WriteFilter::new(100);
        let w = vec![session(&[("a", "1")], &[])];
        flush(&mut f, w.clone());
        f.begin();
        assert_eq!(f.filter(w[0].clone()), None);
        f.forget();
        assert_eq!(flush(&mut f, w.clone()), w);
        f.clear();
        assert!(f.is_empty());
        assert_eq!(flush(&mut f, w.clone()), w);
    }

    #[test]
    fn the_end_state_is_the_one_writing_everything_gives() {
        // A small deterministic generator: every drain's filtered writes, applied, leave Redis
        // as the unfiltered writes would, whether drains are committed or not.
        let mut state: u64 = 7;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let mut f = WriteFilter::new(3);
        let (mut full, mut filtered) = (Store::new(), Store::new());
        let keys = ["k1", "k2", "k3", "k4"];
        let names = ["a", "b", "c"];
        for _ in 0..2000 {
            let mut writes = Vec::new();
            for _ in 0..next(4) {
                let key = keys[next(4) as usize];
                let mut fields = Vec::new();
                let mut absent = Vec::new();
                for n in names {
                    match next(3) {
                        0 => fields.push((n, ["1", "2"][next(2) as usize])),
                        1 => absent.push(n),
                        _ => {}
                    }
                }
                if !fields.is_empty() || !absent.is_empty() {
                    writes.push(write(key, &fields, &absent));
                }
            }
            apply(&mut full, &writes);
            f.begin();
            let kept: Vec<HashWrite> = writes.into_iter().filter_map(|w| f.filter(w)).collect();
            apply(&mut filtered, &kept);
            if next(5) > 0 {
                f.commit();
            }
            assert_eq!(filtered, full);
        }
    }
}
