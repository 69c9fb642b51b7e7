//! Expected volume inputs the engine evaluates per snapshot: the time-of-day curve, the
//! baseline Python hands in at each session open, and the option moneyness factor (the one
//! F&O factor that moves within a session), as `baseline_service` computes them.

/// The recorded-sessions baseline of one session (computed by Python, `compute_baseline`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Baseline {
    pub sessions: i64,
    pub baseline_1min: f64,
    pub avg_volume_20d: f64,
}

/// W(k) at each minute boundary k = 0..minutes (`TimeOfDayCurve.points`).
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    pub points: Vec<f64>,
}

impl Curve {
    pub fn new(points: Vec<f64>) -> Result<Curve, String> {
        if points.len() < 2 {
            return Err(format!(
                "a curve needs at least 2 points, got {}",
                points.len()
            ));
        }
        Ok(Curve { points })
    }

    pub fn minutes(&self) -> usize {
        self.points.len() - 1
    }

    /// W(t): linear inside a minute, 0 before the open, `minutes` from the close on.
    pub fn cumulative(&self, minutes_elapsed: f64) -> f64 {
        if minutes_elapsed.is_nan() || minutes_elapsed <= 0.0 {
            return 0.0;
        }
        let minutes = self.minutes() as f64;
        if minutes_elapsed >= minutes {
            return minutes;
        }
        let k = minutes_elapsed as usize; // trunc, as int() of a positive float
        let lo = self.points[k];
        lo + (self.points[k + 1] - lo) * (minutes_elapsed - k as f64)
    }

    /// The share of minute `minute` in minutes (1.0 = a flat minute); 0 outside the session.
    pub fn weight(&self, minute: i64) -> f64 {
        if minute < 0 || minute >= self.minutes() as i64 {
            return 0.0;
        }
        let m = minute as usize;
        self.points[m + 1] - self.points[m]
    }
}

/// Step table lookup: the multiplier of the first band whose inclusive bound covers x.
fn lookup(table: &[(f64, f64)], x: f64, eps: f64) -> f64 {
    match table.last() {
        None => 1.0,
        Some(&(_, last)) => table
            .iter()
            .find(|&&(bound, _)| x <= bound + eps)
            .map_or(last, |b| b.1),
    }
}

/// `FnoMultipliers.moneyness_factor`: 1.0 when strike or spot is unknown.
pub fn moneyness_factor(bands: &[(f64, f64)], strike: Option<f64>, underlying: Option<f64>) -> f64 {
    match (strike, underlying) {
        (Some(strike), Some(spot)) if spot > 0.0 => {
            let pct = (strike - spot).abs() * 100.0 / spot;
            lookup(bands, pct, 1e-9)
        }
        _ => 1.0,
    }
}

pub fn expected_volume(baseline_1min: f64, fno_adjustment: f64, w: f64) -> f64 {
    baseline_1min * fno_adjustment * w
}

/// actual / expected; None when it cannot be computed (never inf, nan or a fake 0).
pub fn relative_volume(actual: f64, expected: f64) -> Option<f64> {
    if expected.is_nan() || expected <= 0.0 {
        return None;
    }
    let r = actual / expected;
    r.is_finite().then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_curve() {
        let c = Curve::new((0..=375).map(|k| k as f64).collect()).unwrap();
        assert_eq!(c.cumulative(60.5), 60.5);
        assert_eq!(c.cumulative(-1.0), 0.0);
        assert_eq!(c.cumulative(f64::NAN), 0.0);
        assert_eq!(c.cumulative(400.0), 375.0);
        assert_eq!(c.weight(0), 1.0);
        assert_eq!(c.weight(375), 0.0);
    }

    #[test]
    fn moneyness_bands() {
        let bands = [(1.0, 1.3), (2.5, 1.1), (5.0, 1.0)];
        assert_eq!(moneyness_factor(&bands, Some(25000.0), Some(25000.0)), 1.3);
        assert_eq!(moneyness_factor(&bands, Some(26000.0), Some(25000.0)), 1.0); // 4%
        assert_eq!(moneyness_factor(&bands, Some(30000.0), Some(25000.0)), 1.0); // beyond: last
        assert_eq!(moneyness_factor(&bands, None, Some(25000.0)), 1.0);
        assert_eq!(moneyness_factor(&bands, Some(1.0), Some(0.0)), 1.0);
        assert_eq!(moneyness_factor(&[], Some(1.0), Some(2.0)), 1.0);
        // 5% of 24850.5 is inclusive despite float rounding
        assert_eq!(
            moneyness_factor(
                &[(5.0, 2.0), (9.0, 3.0)],
                Some(24850.5 * 1.05),
                Some(24850.5)
            ),
            2.0
        );
    }
}
