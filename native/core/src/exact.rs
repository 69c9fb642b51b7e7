//! Correctly rounded integer ratios as `f64`, the way Python's `int / int` rounds them.
//!
//! Python divides two ints exactly and rounds once (to nearest, ties to even). Converting both
//! to `f64` first rounds three times, which differs once the integers pass 2**53 (huge volumes,
//! a strength with many levels). `ratio` takes the quotient to 57+ significant bits with a
//! sticky bit for the remainder, so the single conversion to `f64` rounds like Python does.

/// An unsigned 256-bit integer: enough for every product the profile strength forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct U256 {
    hi: u128,
    lo: u128,
}

impl U256 {
    pub const ZERO: U256 = U256 { hi: 0, lo: 0 };

    pub fn from_u128(v: u128) -> U256 {
        U256 { hi: 0, lo: v }
    }

    /// The full product of two u128s.
    pub fn mul_u128(a: u128, b: u128) -> U256 {
        let (a1, a0) = (a >> 64, a & u64::MAX as u128);
        let (b1, b0) = (b >> 64, b & u64::MAX as u128);
        let p00 = a0 * b0;
        let p01 = a0 * b1;
        let p10 = a1 * b0;
        let p11 = a1 * b1;
        let mid = (p00 >> 64) + (p01 & u64::MAX as u128) + (p10 & u64::MAX as u128);
        let lo = (p00 & u64::MAX as u128) | (mid << 64);
        let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
        U256 { hi, lo }
    }

    /// `self * k` for a small factor; the caller keeps the product below 2**256.
    pub fn mul_small(self, k: u128) -> U256 {
        let low = U256::mul_u128(self.lo, k);
        U256 {
            hi: low.hi.wrapping_add(self.hi.wrapping_mul(k)),
            lo: low.lo,
        }
    }

    pub fn plus(self, o: U256) -> U256 {
        let (lo, carry) = self.lo.overflowing_add(o.lo);
        U256 {
            hi: self.hi.wrapping_add(o.hi).wrapping_add(carry as u128),
            lo,
        }
    }

    /// `self - o`, for `self >= o`.
    pub fn minus(self, o: U256) -> U256 {
        let (lo, borrow) = self.lo.overflowing_sub(o.lo);
        U256 {
            hi: self.hi.wrapping_sub(o.hi).wrapping_sub(borrow as u128),
            lo,
        }
    }

    pub fn bits(self) -> u32 {
        if self.hi != 0 {
            256 - self.hi.leading_zeros()
        } else {
            128 - self.lo.leading_zeros()
        }
    }

    pub fn shifted(self, n: u32) -> U256 {
        match n {
            0 => self,
            1..=127 => U256 {
                hi: (self.hi << n) | (self.lo >> (128 - n)),
                lo: self.lo << n,
            },
            128..=255 => U256 {
                hi: self.lo << (n - 128),
                lo: 0,
            },
            _ => U256::ZERO,
        }
    }

    pub fn is_zero(self) -> bool {
        self.hi == 0 && self.lo == 0
    }
}

/// `a / b` correctly rounded (ties to even), as Python's true division of two ints.
pub fn ratio(a: U256, b: U256) -> f64 {
    assert!(!b.is_zero(), "division by zero");
    if a.is_zero() {
        return 0.0;
    }
    const EXACT: u128 = 1 << 53;
    if a.hi == 0 && b.hi == 0 && a.lo < EXACT && b.lo < EXACT {
        return a.lo as f64 / b.lo as f64; // both exact: IEEE division rounds once
    }
    // Align so the quotient has 57 or 58 bits: q = floor(a * 2**s / b), value = q * 2**-s.
    let s: i32 = 57 - (a.bits() as i32 - b.bits() as i32);
    let (mut num, den) = if s >= 0 {
        (a.shifted(s as u32), b)
    } else {
        (a, b.shifted((-s) as u32))
    };
    let mut q: u64 = 0;
    for i in (0..=59u32).rev() {
        if den.bits() + i > 256 {
            continue;
        }
        let shifted = den.shifted(i);
        if shifted <= num {
            num = num.minus(shifted);
            q |= 1 << i;
        }
    }
    let sticky = !num.is_zero() as u64;
    let value = (q | sticky) as f64; // q >= 2**56: the sticky bit sits below the rounding bit
    scale2(value, -s)
}

/// `value * 2**exp`, exact while the result stays normal.
fn scale2(mut value: f64, mut exp: i32) -> f64 {
    while exp > 1000 {
        value *= f64::from_bits(((1023 + 1000) as u64) << 52);
        exp -= 1000;
    }
    while exp < -1000 {
        value *= f64::from_bits(((1023 - 1000) as u64) << 52);
        exp += 1000;
    }
    value * f64::from_bits(((1023 + exp) as u64) << 52)
}

/// A signed i128 over a positive i128, as Python's `int / int`.
pub fn ratio_i128(n: i128, d: i128) -> f64 {
    assert!(d > 0, "denominator must be > 0");
    let v = ratio(
        U256::from_u128(n.unsigned_abs()),
        U256::from_u128(d as u128),
    );
    if n < 0 {
        -v
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_ratios_are_plain_division() {
        assert_eq!(ratio_i128(1, 3), 1.0 / 3.0);
        assert_eq!(ratio_i128(-7, 2), -3.5);
        assert_eq!(ratio_i128(0, 5), 0.0);
    }

    #[test]
    fn large_ratios_round_once() {
        // (2**53 + 1) / 1 rounds to even: 2**53.
        assert_eq!(ratio_i128((1 << 53) + 1, 1), 9007199254740992.0);
        // (2**53 + 3) rounds up to 2**53 + 4.
        assert_eq!(ratio_i128((1 << 53) + 3, 1), 9007199254740996.0);
        // A value just above a tie after division: 5 * (2**53 + 1) + 1 over 5.
        let n: i128 = 5 * ((1 << 53) + 1) + 1;
        assert_eq!(ratio_i128(n, 5), 9007199254740994.0);
        // 10**30 / 10**12 == 10**18 exactly.
        assert_eq!(ratio_i128(10i128.pow(30), 10i128.pow(12)), 1e18);
        assert_eq!(ratio_i128(1, 10i128.pow(20)), 1e-20);
    }

    #[test]
    fn wide_products() {
        let a = U256::mul_u128(u128::MAX, u128::MAX);
        assert_eq!(a.bits(), 256);
        let b = U256::mul_u128(u128::MAX, 1);
        // (2**128 - 1)**2 / (2**128 - 1) = 2**128 - 1 ~ 3.402823669209385e38
        assert_eq!(ratio(a, b), u128::MAX as f64);
        assert_eq!(U256::from_u128(3).mul_small(5), U256::from_u128(15));
        assert_eq!(a.minus(a), U256::ZERO);
    }
}

/// The digits and exponent of Python's `repr(x)` (finite x): |x| ~ digits * 10**exp, the
/// shortest digits that read back as x. Rust's shortest digits are the same except on an exact
/// tie between two shortest candidates (e.g. 562949953421312.25: ".2" or ".3"), where Rust
/// rounds half up and Python (and orjson) half to even; that case is detected exactly and
/// resolved to the even digit.
pub fn shortest(x: f64) -> (u64, i32) {
    let a = x.abs();
    if a == 0.0 {
        return (0, 0);
    }
    if let Some(found) = few_decimals(a) {
        return found;
    }
    shortest_by_text(a)
}

/// Prices mostly have a few decimals: the fewest k <= 6 such that round(a * 10**k) / 10**k
/// reads back as a. Below 1e9, a * 10**k < 1e15 < 2**53, so m is exact, at most one integer
/// m can read back for a given k (the float's spacing is below 10**-k), the product's rounding
/// cannot move m to a neighbour, and `m / 10**k` is the correctly rounded value of the decimal
/// m * 10**-k, the float that decimal reads as. The fewest decimals is the fewest digits, so m
/// is repr's shortest (no ties at 15 digits or fewer: the slow path's tie never arises).
fn few_decimals(a: f64) -> Option<(u64, i32)> {
    if a.is_nan() || a >= 1e9 {
        return None;
    }
    let mut scale = 1.0f64;
    for k in 0..=6 {
        let m = (a * scale).round();
        if m / scale == a {
            let (mut digits, mut exp) = (m as u64, -k);
            if k == 0 {
                while digits != 0 && digits.is_multiple_of(10) {
                    digits /= 10;
                    exp += 1;
                }
            }
            return Some((digits, exp));
        }
        scale *= 10.0;
    }
    None
}

/// `shortest` through Rust's own shortest formatting: any finite a > 0.
fn shortest_by_text(a: f64) -> (u64, i32) {
    let text = format!("{a:e}");
    let (mant, exp) = text.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("exponent");
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut digits: u64 = format!("{int}{frac}").parse().expect("digits");
    let mut exp = exp - frac.len() as i32;
    if let Some(other) = tie_partner(a, digits, exp) {
        // Both must read back as x (not so at a power of two, where the gap below is half).
        let reads_back = format!("{other}e{exp}").parse::<f64>() == Ok(a);
        if digits % 2 == 1 && reads_back {
            digits = other;
            while digits.is_multiple_of(10) {
                digits /= 10;
                exp += 1;
            }
        }
    }
    (digits, exp)
}

/// When a (positive, finite) equals (digits -+ 1/2) * 10**exp exactly, the other candidate.
fn tie_partner(a: f64, digits: u64, exp: i32) -> Option<u64> {
    let bits = a.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    if raw_exp == 0 || exp > 0 {
        return None; // subnormal, or an integer beyond 2**53: no ties there
    }
    let mut m = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let mut q = raw_exp - 1075; // a = m * 2**q
    let tz = m.trailing_zeros() as i32;
    m >>= tz;
    q += tz;
    if !(-100..0).contains(&q) {
        return None;
    }
    // a == (10*digits + s) * 10**(exp - 1)  <=>  (10*digits + s) * 2**-q == m * 10**(1 - exp)
    let rhs = (m as i128).checked_mul(10i128.checked_pow((1 - exp) as u32)?)?;
    let pow2 = 1i128.checked_shl((-q) as u32).filter(|&p| p > 0)?;
    for (s, other) in [(-5i128, digits.wrapping_sub(1)), (5, digits + 1)] {
        let t = (10 * digits as i128 + s).checked_mul(pow2)?;
        if t == rhs {
            return Some(other);
        }
    }
    None
}

#[cfg(test)]
mod shortest_tests {
    use super::shortest;

    #[test]
    fn ties_go_to_the_even_digit() {
        let base = (1u64 << 49) as f64; // ulp 1/8: x.25 and x.75 are exact ties at 16 digits
        assert_eq!(shortest(base + 0.25), (5629499534213122, -1));
        assert_eq!(shortest(base + 0.75), (5629499534213128, -1));
        assert_eq!(shortest(612.35), (61235, -2));
        assert_eq!(shortest(1e16), (1, 16));
        assert_eq!(shortest(0.1), (1, -1));
        // 2**-24 = ...0625: "...062" would read back as the float below
        assert_eq!(shortest(5.960464477539063e-08), (5960464477539063, -23));
        assert_eq!(shortest(1200.0), (12, 2));
        assert_eq!(shortest(0.05), (5, -2));
    }

    /// The few-decimals path agrees with the formatting one wherever it answers.
    #[test]
    fn few_decimals_is_the_text_path() {
        let mut next = crate::xorshift(0x9e37_79b9_7f4a_7c15u64);
        let mut answered = 0;
        for i in 0..400_000u64 {
            let r = next();
            let a = match i % 4 {
                // tick-grid prices and quantities, as the engine writes them
                0 => (r % 100_000_000) as f64 * 0.05,
                1 => (r % 1_000_000_000) as f64 / 10f64.powi((r >> 40) as i32 % 7),
                2 => f64::from_bits(r >> 2), // any positive float
                _ => (r % 1_000_000_000_000) as f64 / 1e6 + (r >> 50) as f64 * 1e-9,
            };
            if !a.is_finite() || a == 0.0 {
                continue;
            }
            if let Some(found) = super::few_decimals(a) {
                answered += 1;
                assert_eq!(found, super::shortest_by_text(a), "{a:e}");
            }
        }
        assert!(answered > 150_000, "{answered}");
    }
}
