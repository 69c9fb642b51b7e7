//! The profile snapshot's level scan: POC, value area, nearest HVNs, strength.
//!
//! A port of `_profile_kernel.c`, which `profile_scan.scan_levels` (the Python reference)
//! defines; the definitions are in that module's docstring. It works on ascending level
//! arrays with their volumes, so the next levels on each side are found by index, and every
//! comparison is exact integer arithmetic (`i128`; the strength's products in 256 bits).

use crate::exact::{ratio, U256};

/// What a scan finds, in levels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    pub poc: i64,
    pub peak: i128,
    pub lo: i64,
    pub hi: i64,
    pub support: Vec<i64>,
    pub resistance: Vec<i64>,
}

struct Levels<'a> {
    keys: &'a [i64],
    vals: &'a [i128],
    total: i128,
}

impl Levels<'_> {
    fn n(&self) -> usize {
        self.keys.len()
    }

    /// Volume at keys[i] + delta (|delta| <= 2): distinct keys put it within two places of i.
    fn near(&self, i: usize, delta: i64) -> Option<usize> {
        let want = self.keys[i] as i128 + delta as i128;
        let from = i.saturating_sub(2);
        let to = (i + 2).min(self.n() - 1);
        (from..=to).find(|&j| self.keys[j] as i128 == want)
    }

    fn volume_near(&self, i: usize, delta: i64) -> i128 {
        self.near(i, delta).map_or(0, |j| self.vals[j])
    }

    /// At least the mean volume and no less than each of the +-2 neighbours.
    fn is_peak(&self, i: usize) -> bool {
        let v = self.vals[i];
        v > 0
            && v * self.n() as i128 >= self.total
            && v >= self.volume_near(i, -2)
            && v >= self.volume_near(i, -1)
            && v >= self.volume_near(i, 1)
            && v >= self.volume_near(i, 2)
    }

    /// A peak that does not continue a plateau of equal peaks one or two levels below.
    fn is_hvn(&self, i: usize) -> bool {
        if !self.is_peak(i) {
            return false;
        }
        let v = self.vals[i];
        ![-1, -2].iter().any(|&d| match self.near(i, d) {
            Some(j) => self.vals[j] == v && self.is_peak(j),
            None => false,
        })
    }

    /// HVNs walking from `start` by `step` (-1: support, +1: resistance), at most `max`.
    fn nodes(&self, start: isize, step: isize, max: usize) -> Vec<i64> {
        let mut out = Vec::new();
        if max == 0 {
            return out;
        }
        let mut i = start;
        while i >= 0 && (i as usize) < self.n() {
            let u = i as usize;
            if self.vals[u] * self.n() as i128 >= self.total && self.is_hvn(u) {
                out.push(self.keys[u]);
                if out.len() == max {
                    break;
                }
            }
            i += step;
        }
        out
    }
}

/// Scan ascending `keys` (distinct) with their `vals` (all > 0, summing to `total`).
/// `num / den` is the value-area fraction (0 < num <= den), `reference` the level support and
/// resistance are measured from (None: the POC).
pub fn scan(
    keys: &[i64],
    vals: &[i128],
    total: i128,
    num: i128,
    den: i128,
    reference: Option<i64>,
    max_levels: usize,
) -> Scan {
    assert!(
        !keys.is_empty() && keys.len() == vals.len(),
        "keys and vals: non-empty, equal length"
    );
    let p = Levels { keys, vals, total };
    let n = keys.len();
    let (low, high) = (keys[0], keys[n - 1]);

    // POC: most volume, then nearest the middle (|2*level - (low+high)|), then lowest.
    let peak = *vals.iter().max().expect("non-empty");
    let span = low as i128 + high as i128;
    let mut ip = usize::MAX;
    let mut best: i128 = 0;
    for i in 0..n {
        if vals[i] != peak {
            continue;
        }
        let dist = (2 * keys[i] as i128 - span).abs();
        if ip == usize::MAX || dist < best {
            ip = i;
            best = dist;
        }
    }
    let poc = keys[ip];

    // Value area: `iu` is the first index above hi, `id` the last below lo.
    let (mut lo, mut hi) = (poc, poc);
    let (mut iu, mut id) = (ip as isize + 1, ip as isize - 1);
    let mut area = peak;
    let target = total * num;
    let (mut n_up, mut n_dn): (i64, i64) = (-1, -1);
    let (mut up, mut dn): (i128, i128) = (0, 0);
    let ni = n as isize;
    while area * den < target {
        if n_up < 0 {
            n_up = high - hi;
            up = 0;
            if n_up >= 2 {
                n_up = 2;
                let mut j = iu;
                while j < ni && j < iu + 2 {
                    if keys[j as usize] <= hi + 2 {
                        up += vals[j as usize];
                    }
                    j += 1;
                }
            } else if n_up == 1 && iu < ni && keys[iu as usize] == hi + 1 {
                up = vals[iu as usize];
            }
        }
        if n_dn < 0 {
            n_dn = lo - low;
            dn = 0;
            if n_dn >= 2 {
                n_dn = 2;
                let mut j = id;
                while j >= 0 && j > id - 2 {
                    if keys[j as usize] >= lo - 2 {
                        dn += vals[j as usize];
                    }
                    j -= 1;
                }
            } else if n_dn == 1 && id >= 0 && keys[id as usize] == lo - 1 {
                dn = vals[id as usize];
            }
        }
        if n_up != 0 && (n_dn == 0 || up >= dn) {
            if up != 0 {
                hi += n_up;
                area += up;
                while iu < ni && keys[iu as usize] <= hi {
                    iu += 1;
                }
            } else {
                // Two empty levels above: jump the empty pairs to the one holding keys[iu].
                hi += 2 * ((keys[iu as usize] - hi - 1) / 2);
            }
            n_up = -1;
        } else if n_dn != 0 {
            if dn != 0 {
                lo -= n_dn;
                area += dn;
                while id >= 0 && keys[id as usize] >= lo {
                    id -= 1;
                }
            } else {
                lo -= 2 * ((lo - keys[id as usize] - 1) / 2);
            }
            n_dn = -1;
        } else {
            break; // whole range included; unreachable while num/den <= 1
        }
    }

    let reference = reference.unwrap_or(poc);
    let below = keys.partition_point(|&k| k < reference) as isize - 1;
    let above = keys.partition_point(|&k| k <= reference) as isize;
    Scan {
        poc,
        peak,
        lo,
        hi,
        support: p.nodes(below, -1, max_levels),
        resistance: p.nodes(above, 1, max_levels),
    }
}

/// The normalised Herfindahl index `(L*sum(v^2) - T^2) / (T^2 * (L-1))`, clamped to [0, 1],
/// with one rounding (the final division), as `profile_scan.strength` computes it.
pub fn strength(vals: &[i128], total: i128) -> f64 {
    let count = vals.len();
    if count == 1 {
        return 1.0;
    }
    let mut sum_sq = U256::ZERO;
    for &v in vals {
        let v = v.unsigned_abs();
        sum_sq = sum_sq.plus(U256::mul_u128(v, v));
    }
    let t2 = U256::mul_u128(total.unsigned_abs(), total.unsigned_abs());
    let lhs = sum_sq.mul_small(count as u128);
    let den = t2.mul_small(count as u128 - 1);
    if lhs <= t2 {
        return 0.0; // Cauchy-Schwarz: only equality (an even spread) reaches here
    }
    ratio(lhs.minus(t2), den).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(keys: &[i64], vals: &[i128], reference: Option<i64>) -> Scan {
        scan(keys, vals, vals.iter().sum(), 7, 10, reference, 3)
    }

    #[test]
    fn single_peak_profile() {
        let s = run(&[10, 11, 12, 13, 14], &[1, 2, 10, 2, 1], None);
        assert_eq!((s.poc, s.peak, s.lo, s.hi), (12, 10, 12, 14));
        assert_eq!(s.support, Vec::<i64>::new());
        assert_eq!(s.resistance, Vec::<i64>::new());
        let s = run(&[10, 11, 12, 13, 14], &[1, 2, 10, 2, 1], Some(20));
        assert_eq!(s.support, vec![12]);
    }

    #[test]
    fn poc_tie_goes_to_the_middle_then_lower() {
        let s = run(&[1, 2, 3, 4, 5], &[5, 1, 1, 5, 1], None);
        assert_eq!(s.poc, 4); // |8-6| = 2 beats |2-6| = 4
        assert_eq!((s.lo, s.hi, s.support.clone()), (1, 4, vec![1]));
        let s = run(&[1, 3], &[5, 5], None);
        assert_eq!(s.poc, 1); // equal distance: the lower
    }

    #[test]
    fn sparse_ranges_jump_empty_pairs() {
        let s = run(&[0, 1000], &[10, 9], None);
        assert_eq!((s.poc, s.lo, s.hi), (0, 0, 1000));
    }

    #[test]
    fn strength_bounds() {
        assert_eq!(strength(&[7], 7), 1.0);
        assert_eq!(strength(&[3, 3, 3], 9), 0.0);
        let v = strength(&[1, 3], 4);
        assert_eq!(v, (2.0 * 10.0 - 16.0) / 16.0);
        let huge = 1i128 << 61;
        assert!(strength(&[huge, huge, 1], 2 * huge + 1) > 0.0);
    }
}
