//! Non-negative volumes per integer key (price levels, session minutes), kept small.
//!
//! Most symbols hold a few hundred keys with volumes that fit in 32 bits, so a count is a
//! `u32` slot: dense over `[offset, offset + len)` while the keys are close together (a
//! profile's range, a session's minutes), sorted pairs once a stray key far away would make
//! the dense range mostly empty. A count that outgrows 32 bits moves to a side table of
//! `i128`s (its slot holds a marker), so Python's unbounded ints are matched without every
//! slot paying for the rare huge one.

const WIDE: u32 = u32::MAX;

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    Dense { offset: i64, vals: Vec<u32> },
    Sparse { keys: Vec<i64>, vals: Vec<u32> },
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
                vals: Vec::new(),
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

    pub fn get(&self, key: i64) -> i128 {
        match &self.repr {
            Repr::Dense { offset, vals } => {
                let i = key.wrapping_sub(*offset);
                if key < *offset || i >= vals.len() as i64 {
                    0
                } else {
                    self.slot_value(key, vals[i as usize])
                }
            }
            Repr::Sparse { keys, vals } => match keys.binary_search(&key) {
                Ok(i) => self.slot_value(key, vals[i]),
                Err(_) => 0,
            },
        }
    }

    /// Add `v` (> 0) at `key`.
    pub fn add(&mut self, key: i64, v: i128) {
        debug_assert!(v > 0);
        if self.get(key) == 0 {
            self.make_room(key);
            self.len += 1;
        }
        let slot = self.slot_mut(key);
        if *slot == WIDE {
            let i = self
                .wide
                .binary_search_by_key(&key, |&(k, _)| k)
                .expect("wide entry");
            self.wide[i].1 += v;
            return;
        }
        let sum = *slot as i128 + v;
        if sum < WIDE as i128 {
            *slot = sum as u32;
        } else {
            *slot = WIDE;
            let i = self
                .wide
                .binary_search_by_key(&key, |&(k, _)| k)
                .unwrap_or_else(|e| e);
            self.wide.insert(i, (key, sum));
        }
    }

    fn slot_mut(&mut self, key: i64) -> &mut u32 {
        match &mut self.repr {
            Repr::Dense { offset, vals } => &mut vals[(key - *offset) as usize],
            Repr::Sparse { keys, vals } => {
                let i = keys.binary_search(&key).expect("room made");
                &mut vals[i]
            }
        }
    }

    /// Make a slot for a key that has no volume yet, switching layout when that is smaller.
    fn make_room(&mut self, key: i64) {
        let count = self.len as i64 + 1;
        match &mut self.repr {
            Repr::Dense { offset, vals } => {
                if vals.is_empty() {
                    *offset = key;
                    vals.push(0);
                    return;
                }
                let hi = *offset + vals.len() as i64 - 1;
                if key >= *offset && key <= hi {
                    return;
                }
                let (lo2, hi2) = (key.min(*offset), key.max(hi));
                let span = hi2 as i128 - lo2 as i128 + 1;
                if span > dense_limit(count) {
                    self.make_sparse();
                    return self.make_room(key);
                }
                if key < *offset {
                    let grow = (*offset - key) as usize;
                    vals.splice(0..0, std::iter::repeat_n(0, grow));
                    *offset = key;
                } else {
                    let want = (key - *offset + 1) as usize;
                    if want > vals.capacity() {
                        // A little slack, not doubling: a session's minutes arrive one by one
                        // and a quiet symbol's state should stay near its size.
                        vals.reserve_exact((want - vals.len()).max(vals.len() / 8 + 4));
                    }
                    vals.resize(want, 0);
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
            let mut out = Vec::with_capacity(self.len as usize + 1);
            for (i, &v) in vals.iter().enumerate() {
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
            let mut dense = vec![0u32; (keys[keys.len() - 1] - offset + 1) as usize];
            for (&k, &v) in keys.iter().zip(vals) {
                dense[(k - offset) as usize] = v;
            }
            self.repr = Repr::Dense {
                offset,
                vals: dense,
            };
        }
    }

    /// (key, volume) of the keys with volume, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (i64, i128)> + '_ {
        let (dense, sparse) = match &self.repr {
            Repr::Dense { offset, vals } => (Some((*offset, vals)), None),
            Repr::Sparse { keys, vals } => (None, Some((keys, vals))),
        };
        let a = dense.into_iter().flat_map(|(offset, vals)| {
            vals.iter()
                .enumerate()
                .filter(|(_, &v)| v != 0)
                .map(move |(i, &v)| (offset + i as i64, v))
        });
        let b = sparse.into_iter().flat_map(|(keys, vals)| {
            keys.iter()
                .copied()
                .zip(vals.iter().copied())
                .filter(|&(_, v)| v != 0)
        });
        a.chain(b).map(move |(k, v)| (k, self.slot_value(k, v)))
    }

    /// Sum of the volumes at keys `from..=to`.
    pub fn sum_range(&self, from: i64, to: i64) -> i128 {
        (from..=to).map(|k| self.get(k)).sum()
    }

    /// Bytes held on the heap (for the memory budget).
    pub fn heap_bytes(&self) -> usize {
        let repr = match &self.repr {
            Repr::Dense { vals, .. } => vals.capacity() * 4,
            Repr::Sparse { keys, vals } => keys.capacity() * 8 + vals.capacity() * 4,
        };
        repr + self.wide.capacity() * std::mem::size_of::<(i64, i128)>()
    }

    pub fn shrink_to_fit(&mut self) {
        match &mut self.repr {
            Repr::Dense { vals, .. } => vals.shrink_to_fit(),
            Repr::Sparse { keys, vals } => {
                keys.shrink_to_fit();
                vals.shrink_to_fit();
            }
        }
        self.wide.shrink_to_fit();
    }
}

/// Widest dense range worth keeping for `count` keys: dense slots cost 4 bytes, sparse 12.
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
            let v: i128 = if step % 500 == 0 {
                1 << 62
            } else {
                ((seed >> 8) % 5000) as i128 + 1
            };
            counts.add(key, v);
            *model.entry(key).or_insert(0) += v;
            if step % 250 == 0 {
                check(&counts, &model);
            }
        }
        check(&counts, &model);
        assert_eq!(counts.get(1_000_000), 0);
        assert_eq!(
            counts.sum_range(0, 4),
            (0..=4)
                .map(|k| model.get(&k).copied().unwrap_or(0))
                .sum::<i128>()
        );
    }

    #[test]
    fn crossing_u32_moves_to_the_wide_table() {
        let mut counts = Counts::new();
        counts.add(5, u32::MAX as i128 - 2);
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
