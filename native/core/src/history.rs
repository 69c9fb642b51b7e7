//! A symbol's recorded session totals, packed: (day, total) pairs as varints in one byte
//! buffer, about 6 bytes a session instead of 16.
//!
//! They are read and changed once a session (a session open hands them to the baseline, a
//! closed session adds its total), so every change decodes and re-encodes the few pairs; what
//! matters is the resident size of twenty sessions times a hundred thousand symbols.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DailyTotals {
    bytes: Vec<u8>,
}

fn put(out: &mut Vec<u8>, value: i128) {
    let mut z = ((value << 1) ^ (value >> 127)) as u128; // zigzag
    loop {
        let b = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn take(bytes: &[u8], at: &mut usize) -> i128 {
    let mut z: u128 = 0;
    let mut shift = 0;
    loop {
        let b = bytes[*at];
        *at += 1;
        z |= ((b & 0x7f) as u128) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    ((z >> 1) as i128) ^ -((z & 1) as i128)
}

impl DailyTotals {
    /// From (day, total) pairs in any order; a repeated day keeps its last total.
    pub fn from_pairs(pairs: &[(i32, i128)]) -> DailyTotals {
        let mut sorted: Vec<(i32, i128)> = Vec::with_capacity(pairs.len());
        for &(d, t) in pairs {
            match sorted.binary_search_by_key(&d, |p| p.0) {
                Ok(i) => sorted[i].1 = t,
                Err(i) => sorted.insert(i, (d, t)),
            }
        }
        let mut out = DailyTotals::default();
        out.encode(&sorted);
        out
    }

    fn encode(&mut self, sorted: &[(i32, i128)]) {
        self.bytes.clear();
        let mut prev = 0i128;
        for &(d, t) in sorted {
            put(&mut self.bytes, d as i128 - prev);
            put(&mut self.bytes, t);
            prev = d as i128;
        }
        self.bytes.shrink_to_fit();
    }

    /// (day, total) ascending by day.
    pub fn pairs(&self) -> Vec<(i32, i128)> {
        let mut out = Vec::new();
        let (mut at, mut day) = (0usize, 0i128);
        while at < self.bytes.len() {
            day += take(&self.bytes, &mut at);
            out.push((day as i32, take(&self.bytes, &mut at)));
        }
        out
    }

    pub fn len(&self) -> usize {
        self.pairs().len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Record (or replace) one day's total.
    pub fn set(&mut self, day: i32, total: i128) {
        let mut pairs = self.pairs();
        match pairs.binary_search_by_key(&day, |p| p.0) {
            Ok(i) => pairs[i].1 = total,
            Err(i) => pairs.insert(i, (day, total)),
        }
        self.encode(&pairs);
    }

    /// Keep what a baseline from `day` on can use (`engine_core._keep_recent`).
    pub fn keep_recent(&mut self, day: i32, lookback: usize) {
        let pairs = self.pairs();
        if pairs.len() <= lookback + 1 {
            return;
        }
        let before = pairs.iter().filter(|p| p.0 < day).count();
        if before > lookback {
            self.encode(&pairs[before - lookback..]);
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_trims() {
        let big = (1i128 << 100) + 3;
        let mut t =
            DailyTotals::from_pairs(&[(20_100, 5), (20_000, big), (20_050, 0), (20_100, 7)]);
        assert_eq!(t.pairs(), vec![(20_000, big), (20_050, 0), (20_100, 7)]);
        t.set(19_000, -4);
        t.set(20_050, 9);
        assert_eq!(
            t.pairs(),
            vec![(19_000, -4), (20_000, big), (20_050, 9), (20_100, 7)]
        );
        t.keep_recent(20_101, 2);
        assert_eq!(t.pairs(), vec![(20_050, 9), (20_100, 7)]);
        let twenty = DailyTotals::from_pairs(
            &(0..20)
                .map(|i| (20_000 + i, 50_000_000))
                .collect::<Vec<_>>(),
        );
        assert!(twenty.heap_bytes() <= 20 * 6 + 2, "{}", twenty.heap_bytes());
    }
}
