//! Non-negative volumes per integer key (price levels, session minutes), kept small.
//!
//! Most symbols hold a few hundred keys with modest volumes, so a count is a small slot: dense
//! over `[offset, offset + len)` while the keys are close together (a profile's range, a
//! session's minutes), sorted pairs once a stray key far away would make the dense range
//! mostly empty. Slots start at 16 bits and widen to 32 (all of a map's slots at once) when a
//! count needs it; a count that outgrows 32 bits moves to a side table of `i128`s (its slot
//! holds a marker), so Python's unbounded ints are matched without every slot paying for the
//! rare huge one.

const WIDE: u32 = u32::MAX;

/// The slots of one map: 16 bits each until a value needs 32.
#[derive(Clone, Debug, PartialEq)]
enum Slots {
    Narrow(Vec<u16>),
    Normal(Vec<u32>),
}

impl Slots {
    fn len(&self) -> usize {
        match self {
            Slots::Narrow(v) => v.len(),
            Slots::Normal(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> u32 {
        match self {
            Slots::Narrow(v) => v[i] as u32,
            Slots::Normal(v) => v[i],
        }
    }

    fn widen(&mut self) {
        if let Slots::Narrow(v) = self {
            let mut wide = Vec::with_capacity(v.len() + v.len() / 8 + 1);
            wide.extend(v.iter().map(|&x| x as u32));
            *self = Slots::Normal(wide);
        }
    }

    fn set(&mut self, i: usize, value: u32) {
        if value > u16::MAX as u32 {
            self.widen();
        }
        match self {
            Slots::Narrow(v) => v[i] = value as u16,
            Slots::Normal(v) => v[i] = value,
        }
    }

    fn insert(&mut self, i: usize, value: u32) {
        if value > u16::MAX as u32 {
            self.widen();
        }
        match self {
            Slots::Narrow(v) => v.insert(i, value as u16),
            Slots::Normal(v) => v.insert(i, value),
        }
    }

    /// `n` empty slots in front.
    fn prepend_zeros(&mut self, n: usize) {
        match self {
            Slots::Narrow(v) => drop(v.splice(0..0, std::iter::repeat_n(0, n))),
            Slots::Normal(v) => drop(v.splice(0..0, std::iter::repeat_n(0, n))),
        }
    }

    /// Grow to `want` slots with a little slack, not doubling: a session's minutes arrive one
    /// by one and a quiet symbol's state should stay near its size.
    fn grow_to(&mut self, want: usize) {
        fn grow<T: Clone + Default>(v: &mut Vec<T>, want: usize) {
            if want > v.capacity() {
                v.reserve_exact((want - v.len()).max(v.len() / 8 + 4));
            }
            v.resize(want, T::default());
        }
        match self {
            Slots::Narrow(v) => grow(v, want),
            Slots::Normal(v) => grow(v, want),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Slots::Narrow(v) => v.capacity() * 2,
            Slots::Normal(v) => v.capacity() * 4,
        }
    }

    fn shrink_to_fit(&mut self) {
        match self {
            Slots::Narrow(v) => v.shrink_to_fit(),
            Slots::Normal(v) => v.shrink_to_fit(),
        }
    }

    fn empty_like(&self, capacity: usize) -> Slots {
        match self {
            Slots::Narrow(_) => Slots::Narrow(Vec::with_capacity(capacity)),
            Slots::Normal(_) => Slots::Normal(Vec::with_capacity(capacity)),
        }
    }

    fn push(&mut self, value: u32) {
        let at = self.len();
        self.insert(at, value);
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    Dense { offset: i64, vals: Slots },
    Sparse { keys: Vec<i64>, vals: Slots },
}

/// key -> volume; only keys with volume count (`len`), absent keys read as 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Counts {
    repr: Repr,
    wide: Vec<(i64, i128)>, // sorted by key
    len: u32,
}

impl Default for Counts {
    fn default() -> Self {
        Counts::new()
    }
}

impl Counts {
    pub fn new() -> Counts {
        Counts {
            repr: Repr::Dense {
                offset: 0,
                vals: Slots::Narrow(Vec::new()),
            },
            wide: Vec::new(),
            len: 0,
        }
    }

    /// Keys with volume.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn wide_get(&self, key: i64) -> i128 {
        match self.wide.binary_search_by_key(&key, |&(k, _)| k) {
            Ok(i) => self.wide[i].1,
            Err(_) => 0,
        }
    }

    fn slot_value(&self, key: i64, slot: u32) -> i128 {
        if slot == WIDE {
            self.wide_get(key)
        } else {
            slot as i128
        }
    }

    /// The slot index of a key, if it has one.
    fn index(&self, key: i64) -> Option<usize> {
        match &self.repr {
            Repr::Dense { offset, vals } => {
                let i = key.checked_sub(*offset)?;
                (key >= *offset && i < vals.len() as i64).then_some(i as usize)
            }
            Repr::Sparse { keys, .. } => keys.binary_search(&key).ok(),
        }
    }

    fn slots(&self) -> &Slots {
        match &self.repr {
            Repr::Dense { vals, .. } | Repr::Sparse { vals, .. } => vals,
        }
    }

    fn slots_mut(&mut self) -> &mut Slots {
        match &mut self.repr {
            Repr::Dense { vals, .. } | Repr::Sparse { vals, .. } => vals,
        }
    }

    pub fn get(&self, key: i64) -> i128 {
        match self.index(key) {
            Some(i) => self.slot_value(key, self.slots().get(i)),
            None => 0,
        }
    }

    /// Add `v` (> 0) at `key`.
    pub fn add(&mut self, key: i64, v: i128) {
        debug_assert!(v > 0);
        if self.get(key) == 0 {
            self.make_room(key);
            self.len += 1;
        }
        let i = self.index(key).expect("room made");
        let slot = self.slots().get(i);
        if slot == WIDE {
            let w = self
                .wide
                .binary_search_by_key(&key, |&(k, _)| k)
                .expect("wide entry");
            self.wide[w].1 += v;
            return;
        }
        let sum = slot as i128 + v;
        if sum < WIDE as i128 {
            self.slots_mut().set(i, sum as u32);
        } else {
            self.slots_mut().set(i, WIDE);
            let w = self
                .wide
                .binary_search_by_key(&key, |&(k, _)| k)
                .unwrap_or_else(|e| e);
            self.wide.insert(w, (key, sum));
        }
    }

    /// Make a slot for a key that has no volume yet, switching layout when that is smaller.
    fn make_room(&mut self, key: i64) {
        let count = self.len as i64 + 1;
        match &mut self.repr {
            Repr::Dense { offset, vals } => {
                if vals.len() == 0 {
                    *offset = key;
                    vals.push(0);
                    return;
                }
                let hi = *offset + vals.len() as i64 - 1;
                if key >= *offset && key <= hi {
                    return;
                }
                let (lo2, hi2) = (key.min(*offset), key.max(hi));
                if hi2 as i128 - lo2 as i128 + 1 > dense_limit(count) {
                    self.make_sparse();
                    return self.make_room(key);
                }
                if key < *offset {
                    vals.prepend_zeros((*offset - key) as usize);
                    *offset = key;
                } else {
                    vals.grow_to((key - *offset + 1) as usize);
                }
            }
            Repr::Sparse { keys, vals } => {
                let i = keys.binary_search(&key).unwrap_or_else(|e| e);
                keys.insert(i, key);
                vals.insert(i, 0);
                let span = keys[keys.len() - 1] as i128 - keys[0] as i128 + 1;
                if span <= dense_limit(count) / 2 {
                    self.make_dense();
                }
            }
        }
    }

    fn make_sparse(&mut self) {
        if let Repr::Dense { offset, vals } = &self.repr {
            let mut keys = Vec::with_capacity(self.len as usize + 1);
            let mut out = vals.empty_like(self.len as usize + 1);
            for i in 0..vals.len() {
                let v = vals.get(i);
                if v != 0 {
                    keys.push(*offset + i as i64);
                    out.push(v);
                }
            }
            self.repr = Repr::Sparse { keys, vals: out };
        }
    }

    fn make_dense(&mut self) {
        if let Repr::Sparse { keys, vals } = &self.repr {
            let offset = keys[0];
            let span = (keys[keys.len() - 1] - offset + 1) as usize;
            let mut dense = vals.empty_like(span);
            dense.grow_to(span);
            for (i, &k) in keys.iter().enumerate() {
                dense.set((k - offset) as usize, vals.get(i));
            }
            self.repr = Repr::Dense {
                offset,
                vals: dense,
            };
        }
    }

    /// (key, volume) of the keys with volume, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (i64, i128)> + '_ {
        let slots = self.slots();
        (0..slots.len()).filter_map(move |i| {
            let v = slots.get(i);
            if v == 0 {
                return None;
            }
            let key = match &self.repr {
                Repr::Dense { offset, .. } => *offset + i as i64,
                Repr::Sparse { keys, .. } => keys[i],
            };
            Some((key, self.slot_value(key, v)))
        })
    }

    /// Sum of the volumes at keys `from..=to`.
    pub fn sum_range(&self, from: i64, to: i64) -> i128 {
        (from..=to).map(|k| self.get(k)).sum()
    }

    /// Bytes held on the heap (for the memory budget).
    pub fn heap_bytes(&self) -> usize {
        let keys = match &self.repr {
            Repr::Dense { .. } => 0,
            Repr::Sparse { keys, .. } => keys.capacity() * 8,
        };
        keys + self.slots().heap_bytes() + self.wide.capacity() * std::mem::size_of::<(i64, i128)>()
    }

    pub fn shrink_to_fit(&mut self) {
        if let Repr::Sparse { keys, .. } = &mut self.repr {
            keys.shrink_to_fit();
        }
        self.slots_mut().shrink_to_fit();
        self.wide.shrink_to_fit();
    }
}

/// Widest dense range worth keeping for `count` keys: dense slots cost 2-4 bytes, sparse 10-12.
fn dense_limit(count: i64) -> i128 {
    3 * count as i128 + 32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn check(counts: &Counts, model: &BTreeMap<i64, i128>) {
        let got: Vec<_> = counts.iter().collect();
        let want: Vec<_> = model.iter().map(|(&k, &v)| (k, v)).collect();
        assert_eq!(got, want);
        assert_eq!(counts.len(), model.len());
        for (&k, &v) in model {
            assert_eq!(counts.get(k), v);
        }
    }

    #[test]
    fn dense_sparse_and_wide_agree_with_a_map() {
        for big_every in [7, 500, 100_000] {
            let mut counts = Counts::new();
            let mut model = BTreeMap::new();
            let mut seed: u64 = 7;
            for step in 0..5000 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let key = if step % 97 == 0 {
                    (seed >> 20) as i64 % 100_000 - 50_000
                } else {
                    (seed >> 40) as i64 % 60
                };
                let v: i128 = if step % big_every == 0 {
                    1 << 62
                } else {
                    ((seed >> 8) % 50) as i128 + 1
                };
                counts.add(key, v);
                *model.entry(key).or_insert(0) += v;
                if step % 250 == 0 {
                    check(&counts, &model);
                }
            }
            check(&counts, &model);
            assert_eq!(counts.get(1_000_000), 0);
            let want: i128 = (0..=4).map(|k| model.get(&k).copied().unwrap_or(0)).sum();
            assert_eq!(counts.sum_range(0, 4), want);
        }
    }

    #[test]
    fn slots_widen_then_move_to_the_wide_table() {
        let mut counts = Counts::new();
        counts.add(5, 65_535);
        assert!(counts.heap_bytes() <= 8); // u16 slots
        counts.add(5, 1);
        assert_eq!(counts.get(5), 65_536);
        counts.add(5, u32::MAX as i128 - 65_536 - 2);
        assert_eq!(counts.get(5), u32::MAX as i128 - 2);
        counts.add(5, 1);
        assert_eq!(counts.get(5), u32::MAX as i128 - 1);
        counts.add(5, 10);
        assert_eq!(counts.get(5), u32::MAX as i128 + 9);
        counts.add(-3, 1);
        assert_eq!(
            counts.iter().collect::<Vec<_>>(),
            vec![(-3, 1), (5, u32::MAX as i128 + 9)]
        );
    }
}
