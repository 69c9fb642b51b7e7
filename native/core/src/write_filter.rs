//! Write less within the contract: leave out what Redis already holds from this owner's writes.
//!
//! The Rust twin of `store/write_filter.py`, whose docstring states the rule; both cores leave
//! out exactly the same writes. In short: per hash key, what the last committed flush wrote to
//! it (per field, a digest of its value, or ABSENT for a field it deleted); a drain's write
//! keeps only the fields whose value differs from that (overlaid with the same drain's earlier
//! writes of the key) and is dropped when nothing is left. What a drain leaves becomes known on
//! `commit`, once Redis confirmed the flush; `forget` makes its keys unknown (the outcome is not
//! known). Past `max_keys` keys, the least recently written are forgotten (by commit, then in
//! key order, since the cores drain in different orders) down to 7/8 of `max_keys`.
//!
//! Keys, field names and values are compared by a keyed 64-bit digest (std's SipHash-1-3,
//! keyed at random per filter, so tick data cannot craft a collision): a collision (2^-64 a
//! comparison) would keep a stale value until the field changes again. A key's text is kept
//! for the eviction order only. Per key: a slot, an index bucket, 16 bytes a field.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use crate::codec::{HashWrite, Name};

/// The digest of a deleted field; a value's digest is never this.
const ABSENT: u64 = 0;

/// (field name digest, value digest or ABSENT).
type Digests = Vec<(u64, u64)>;

/// The index is keyed by keyed digests already: used as they are.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Slots of the static names' digest cache (a power of two): the engine names a few dozen.
const NAME_SLOTS: usize = 1024;

/// A static name's slot in the cache, by its address and length (not input: a multiply mix).
fn name_slot(address: usize, len: usize) -> usize {
    let mixed = (address as u64 ^ (len as u64).rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> (64 - NAME_SLOTS.trailing_zeros())) as usize
}

#[derive(Default)]
struct Entry {
    /// The key's digest (its place in the index); its text orders evictions only.
    digest: u64,
    key: Box<str>,
    /// The commit that last wrote the key.
    seq: u64,
    /// What the last committed write left; None while unknown.
    fields: Option<Box<[(u64, u64)]>>,
    /// What this drain's writes will leave, once committed.
    pending: Option<Digests>,
}

/// One owner's knowledge of what it last wrote, and the drain waiting for its commit.
pub struct WriteFilter {
    max_keys: usize,
    hasher: RandomState,
    /// Key digest -> slot. The hot path touches the index, the slot and its digests, never
    /// the key's text: a drain's writes miss the cache a few times each, not once per pointer.
    index: HashMap<u64, u32, BuildHasherDefault<Identity>>,
    slots: Vec<Entry>,
    free: Vec<u32>,
    /// Keys whose `fields` are known.
    known: usize,
    commits: u64,
    /// The slots the drain not yet committed wrote.
    touched: Vec<u32>,
    /// Fields (set or deleted) this drain left out so far.
    left_out: usize,
    /// Digests of the static field names (`Name::Borrowed`): (address, length, digest) in a
    /// direct-mapped table, a compare a field instead of a hash-map lookup. Two names that
    /// share a slot take turns in it.
    names: Box<[(usize, usize, u64)]>,
    digests: Digests,
    keep: Vec<bool>,
}

/// The keyed digest of a text: its bytes in one write (`hash_one` of a str writes a
/// terminator too, a second pass through SipHash's buffering for every field).
fn keyed_digest(hasher: &RandomState, text: &str) -> u64 {
    let mut h = hasher.build_hasher();
    h.write(text.as_bytes());
    h.finish()
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
            index: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            known: 0,
            commits: 0,
            touched: Vec::new(),
            left_out: 0,
            names: vec![(0, 0, 0); NAME_SLOTS].into_boxed_slice(),
            digests: Vec::new(),
            keep: Vec::new(),
        }
    }

    /// Keys known.
    pub fn len(&self) -> usize {
        self.known
    }

    pub fn is_empty(&self) -> bool {
        self.known == 0
    }

    /// Fields (set or deleted) the drain under way left out: Redis held them already.
    pub fn left_out(&self) -> usize {
        self.left_out
    }

    fn name(&mut self, name: &Name) -> u64 {
        match name {
            // The engine's own field names: hashed once.
            Name::Borrowed(text) => {
                let (address, len) = (text.as_ptr() as usize, text.len());
                let slot = &mut self.names[name_slot(address, len)];
                if slot.0 != address || slot.1 != len {
                    *slot = (address, len, keyed_digest(&self.hasher, text));
                }
                slot.2
            }
            Name::Owned(text) => keyed_digest(&self.hasher, text),
        }
    }

    fn value(&self, value: &str) -> u64 {
        match keyed_digest(&self.hasher, value) {
            ABSENT => 1,
            d => d,
        }
    }

    /// The slot of `key`, made (unknown) when it has none.
    fn slot(&mut self, key: &str) -> u32 {
        let digest = keyed_digest(&self.hasher, key);
        if let Some(&slot) = self.index.get(&digest) {
            return slot;
        }
        let entry = Entry {
            digest,
            key: key.into(),
            ..Entry::default()
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = entry;
                slot
            }
            None => {
                self.slots.push(entry);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(digest, slot);
        slot
    }

    fn release(&mut self, slot: u32) {
        let entry = std::mem::take(&mut self.slots[slot as usize]);
        self.index.remove(&entry.digest);
        if entry.fields.is_some() {
            self.known -= 1;
        }
        self.free.push(slot);
    }

    /// Start a drain. A drain still waiting for its commit may or may not have landed: its
    /// keys are forgotten first, so this one writes them in full.
    pub fn begin(&mut self) {
        if !self.touched.is_empty() {
            self.forget();
        }
        self.left_out = 0;
    }

    /// Trim `w` to the part Redis does not hold yet; false when it holds all of it.
    pub fn filter(&mut self, w: &mut HashWrite) -> bool {
        // (name, value) digests of the write's fields, then (name, ABSENT) of its deletions,
        // and whether each is kept: buffers reused from write to write.
        let mut digests = std::mem::take(&mut self.digests);
        let mut keep = std::mem::take(&mut self.keep);
        digests.clear();
        keep.clear();
        for (f, v) in w.fields.iter() {
            let name = self.name(f);
            digests.push((name, self.value(v)));
        }
        for a in &w.absent {
            let name = self.name(a);
            digests.push((name, ABSENT));
        }
        let n = w.fields.len();
        let set_too = |name: u64| digests[..n].iter().any(|d| d.0 == name);
        let slot = self.slot(&w.key);
        let entry = &mut self.slots[slot as usize];
        let stored = entry.fields.as_deref();
        match &mut entry.pending {
            Some(update) => {
                // The key's second write in this drain: the first one's values count.
                for (i, &(name, digest)) in digests.iter().enumerate() {
                    let current = find(update, name, usize::MAX)
                        .or_else(|| stored.and_then(|s| find(s, name, 0)));
                    keep.push((i >= n && set_too(name)) || current != Some(digest));
                }
                for &(name, digest) in &digests {
                    set(update, name, digest);
                }
            }
            None => {
                match stored {
                    None => keep.resize(digests.len(), true),
                    Some(s) => {
                        for (i, &(name, digest)) in digests.iter().enumerate() {
                            keep.push(
                                (i >= n && set_too(name)) || find(s, name, i) != Some(digest),
                            );
                        }
                    }
                }
                let mut update: Digests = Vec::with_capacity(digests.len());
                update.extend_from_slice(&digests[..n]); // a write names each field once
                for &(name, digest) in &digests[n..] {
                    set(&mut update, name, digest); // a deletion after the set wins
                }
                entry.pending = Some(update);
                self.touched.push(slot);
            }
        }
        let kept = keep.iter().filter(|&&k| k).count();
        let dropped = keep.len() - kept;
        self.left_out += dropped;
        let out = dropped == 0 || kept > 0; // an empty write passes as it came
        if dropped > 0 && kept > 0 {
            w.fields.retain_flags(&keep[..n]);
            let mut flags = keep[n..].iter();
            w.absent.retain(|_| flags.next() == Some(&true));
        }
        self.digests = digests;
        self.keep = keep;
        out
    }

    /// Redis holds the drain's writes now: know what they left.
    pub fn commit(&mut self) {
        self.commits += 1;
        for slot in std::mem::take(&mut self.touched) {
            let entry = &mut self.slots[slot as usize];
            if entry.fields.is_none() {
                self.known += 1;
            }
            // Replaces: what the last write did not mention is forgotten.
            entry.fields = entry.pending.take().map(Vec::into_boxed_slice);
            entry.seq = self.commits;
        }
        if self.known > self.max_keys {
            self.evict();
        }
    }

    /// Forget the least recently written keys (by commit, then key) down to 7/8 of max_keys.
    fn evict(&mut self) {
        let keep = self.max_keys - self.max_keys / 8;
        let mut by_age: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, e)| e.fields.is_some())
            .map(|(slot, e)| (e.seq, slot as u32))
            .collect();
        let excess = by_age.len() - keep;
        // By commit first (integers); key texts are compared only among the keys of the
        // commit the cut falls in, where a commit's many keys would make most comparisons
        // string comparisons.
        by_age.select_nth_unstable_by_key(excess - 1, |&(seq, _)| seq);
        let cut = by_age[excess - 1].0;
        let mut evicted: Vec<u32> = Vec::with_capacity(excess);
        let mut at_cut: Vec<(&str, u32)> = Vec::new();
        for &(seq, slot) in &by_age {
            if seq < cut {
                evicted.push(slot);
            } else if seq == cut {
                at_cut.push((&self.slots[slot as usize].key, slot));
            }
        }
        let rest = excess - evicted.len();
        if rest < at_cut.len() {
            at_cut.select_nth_unstable(rest);
        }
        evicted.extend(at_cut[..rest].iter().map(|&(_, slot)| slot));
        for slot in evicted {
            self.release(slot);
        }
    }

    /// The drain may or may not have landed: know nothing about the keys it touched.
    pub fn forget(&mut self) {
        for slot in std::mem::take(&mut self.touched) {
            self.release(slot);
        }
    }

    /// Forget everything (the state in Redis may have changed behind this owner's back).
    pub fn clear(&mut self) {
        self.touched.clear();
        self.index.clear();
        self.slots.clear();
        self.free.clear();
        self.known = 0;
    }

    /// Heap bytes held (an estimate: the memory figure's breakdown).
    pub fn heap_bytes(&self) -> usize {
        let per_slot = std::mem::size_of::<Entry>() + 16 + 4; // + the index's bucket
        let names = self.names.len() * std::mem::size_of::<(usize, usize, u64)>();
        names
            + self
                .slots
                .iter()
                .map(|e| per_slot + e.key.len() + e.fields.as_ref().map_or(0, |f| f.len() * 16))
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Family, Fields};
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    fn write(key: &str, fields: &[(&str, &str)], absent: &[&str]) -> HashWrite {
        HashWrite {
            key: key.to_string(),
            family: Family::Unified,
            fields: Fields::from_pairs(fields.iter().map(|(f, v)| (f.to_string(), *v))),
            absent: absent.iter().map(|a| Cow::Owned(a.to_string())).collect(),
        }
    }

    /// `filter` as the drain uses it: what is left of the write, if anything.
    fn kept(f: &mut WriteFilter, mut w: HashWrite) -> Option<HashWrite> {
        f.filter(&mut w).then_some(w)
    }

    fn session(fields: &[(&str, &str)], absent: &[&str]) -> HashWrite {
        write("vol:session:SBIN:2025-01-06", fields, absent)
    }

    fn flush(f: &mut WriteFilter, writes: Vec<HashWrite>) -> Vec<HashWrite> {
        f.begin();
        let out = writes.into_iter().filter_map(|w| kept(f, w)).collect();
        f.commit();
        out
    }

    type Store = BTreeMap<String, BTreeMap<String, String>>;

    fn apply(store: &mut Store, writes: &[HashWrite]) {
        for w in writes {
            let h = store.entry(w.key.clone()).or_default();
            for (f, v) in w.fields.iter() {
                h.insert(f.to_string(), v.to_string());
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
    fn an_empty_write_passes_as_it_came() {
        let mut f = WriteFilter::new(10);
        f.begin();
        assert_eq!(
            kept(&mut f, write("k", &[], &[])),
            Some(write("k", &[], &[]))
        );
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
            kept(&mut f, session(&[("a", "2")], &[])),
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
        let mut f = WriteFilter::new(8); // past 8 keys, down to 7: the oldest commit's in key order
        flush(&mut f, ["h", "g", "f", "e"].map(w).to_vec());
        flush(&mut f, ["d", "c", "b", "a", "i"].map(w).to_vec());
        assert_eq!(f.len(), 7);
        let all: Vec<HashWrite> = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
            .map(w)
            .to_vec();
        assert_eq!(flush(&mut f, all), vec![w("e"), w("f")]);
        // The cut in a later commit: every key of the older one goes, then that commit's
        // in key order.
        let mut f = WriteFilter::new(8);
        flush(&mut f, ["y", "x"].map(w).to_vec());
        flush(&mut f, ["d", "c", "b", "a"].map(w).to_vec());
        flush(&mut f, ["t", "s", "r", "q", "p"].map(w).to_vec());
        assert_eq!(f.len(), 7);
        let all: Vec<HashWrite> = ["a", "b", "c", "d", "p", "q", "r", "s", "t", "x", "y"]
            .map(w)
            .to_vec();
        assert_eq!(flush(&mut f, all), ["a", "b", "x", "y"].map(w).to_vec());
    }

    #[test]
    fn forget_and_clear() {
        let mut f = WriteFilter::new(100);
        let w = vec![session(&[("a", "1")], &[])];
        flush(&mut f, w.clone());
        f.begin();
        assert_eq!(kept(&mut f, w[0].clone()), None);
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
            let sent: Vec<HashWrite> = writes.into_iter().filter_map(|w| kept(&mut f, w)).collect();
            apply(&mut filtered, &sent);
            if next(5) > 0 {
                f.commit();
            }
            assert_eq!(filtered, full);
        }
    }
}
