//! One symbol's session volume state, updated per tick as `session_tracker.SessionTracker`
//! does, and its flow rates.
//!
//! A day-cumulative volume is authoritative (it adds its rise over the total seen; a fall adds
//! nothing); otherwise the tick's own quantity adds itself. Volume goes to the bucket of the
//! tick's own minute even when late; price and time only move forward. A tick dated after the
//! session opens a new one (the old is handed back), one dated before it is stale.

use crate::clock::iso_date;
use crate::counts::Counts;
use crate::exact::ratio_i128;

#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// Days since 1970-01-01.
    pub day: i32,
    pub cumulative_volume: i128,
    pub tick_count: i64,
    pub last_price: f64,
    pub last_ts_ms: i64,
    pub last_minute: i64,
    /// minute of session -> volume (minutes with volume only; may be < 0 or past the close).
    pub minute_volumes: Counts,
}

impl Session {
    pub fn new(day: i32) -> Session {
        Session {
            day,
            cumulative_volume: 0,
            tick_count: 0,
            last_price: 0.0,
            last_ts_ms: 0,
            last_minute: 0,
            minute_volumes: Counts::new(),
        }
    }

    /// Volume per minute over buckets [last_minute - w + 1, last_minute], divided by w.
    pub fn flow_rate(&self, window_minutes: i64) -> f64 {
        assert!(window_minutes >= 1, "window_minutes must be >= 1");
        let end = self.last_minute;
        let total = self.minute_volumes.sum_range(end - window_minutes + 1, end);
        ratio_i128(total, window_minutes as i128)
    }
}

/// The text of Python's `StaleSessionError` for this tick.
pub fn stale_message(symbol: &str, day: i32, current: i32) -> String {
    format!(
        "{symbol}: tick dated {} is before the current session {}",
        iso_date(day as i64),
        iso_date(current as i64)
    )
}

/// What one tick did: the volume it added and the session it closed.
pub struct Update {
    pub increment: i128,
    pub closed: Option<Session>,
}

/// The tick's fields the session needs.
#[derive(Clone, Copy, Debug)]
pub struct SessionTick {
    pub day: i32,
    pub ts_ms: i64,
    pub minute: i64,
    pub price: f64,
    pub volume: Option<i64>,
    pub cumulative: Option<i64>,
}

/// Apply one tick to the symbol's session slot. Err(stale message) changes nothing.
pub fn update(slot: &mut Option<Session>, symbol: &str, t: &SessionTick) -> Result<Update, String> {
    let mut closed = None;
    match slot {
        None => *slot = Some(Session::new(t.day)),
        Some(state) if state.day != t.day => {
            if t.day < state.day {
                return Err(stale_message(symbol, t.day, state.day));
            }
            closed = slot.replace(Session::new(t.day));
        }
        Some(_) => {}
    }
    let state = slot.as_mut().expect("set above");
    let increment: i128 = if let Some(cumulative) = t.cumulative {
        let inc = cumulative as i128 - state.cumulative_volume;
        if inc > 0 {
            state.cumulative_volume = cumulative as i128;
            inc
        } else {
            0
        }
    } else {
        match t.volume {
            Some(v) if v != 0 => {
                state.cumulative_volume += v as i128;
                v as i128
            }
            _ => 0,
        }
    };
    if increment != 0 {
        state.minute_volumes.add(t.minute, increment);
    }
    state.tick_count += 1;
    if t.ts_ms >= state.last_ts_ms {
        state.last_ts_ms = t.ts_ms;
        state.last_price = t.price;
        state.last_minute = t.minute;
    }
    Ok(Update { increment, closed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(day: i32, minute: i64, volume: Option<i64>, cumulative: Option<i64>) -> SessionTick {
        SessionTick {
            day,
            ts_ms: minute * 60_000,
            minute,
            price: 10.0,
            volume,
            cumulative,
        }
    }

    #[test]
    fn cumulative_adds_its_rise_and_per_tick_adds_itself() {
        let mut slot = None;
        let incs: Vec<i128> = [
            tick(1, 0, None, Some(1000)),
            tick(1, 1, None, Some(1500)),
            tick(1, 2, None, Some(1200)),
            tick(1, 3, Some(50), None),
            tick(1, 4, None, Some(1600)),
        ]
        .iter()
        .map(|t| update(&mut slot, "X", t).unwrap().increment)
        .collect();
        assert_eq!(incs, vec![1000, 500, 0, 50, 50]);
        let s = slot.unwrap();
        assert_eq!(s.cumulative_volume, 1600);
        assert_eq!(s.tick_count, 5);
        assert_eq!(
            s.minute_volumes.iter().collect::<Vec<_>>(),
            vec![(0, 1000), (1, 500), (3, 50), (4, 50)]
        );
        assert_eq!(s.flow_rate(1), 50.0);
        assert_eq!(s.flow_rate(5), 320.0);
    }

    #[test]
    fn a_new_date_closes_and_an_old_one_is_stale() {
        let mut slot = None;
        update(&mut slot, "X", &tick(20_000, 5, Some(3), None)).unwrap();
        let up = update(&mut slot, "X", &tick(20_001, 1, Some(4), None)).unwrap();
        assert_eq!(up.closed.unwrap().cumulative_volume, 3);
        let err = update(&mut slot, "X", &tick(20_000, 1, Some(4), None))
            .err()
            .unwrap();
        assert_eq!(
            err,
            "X: tick dated 2024-10-04 is before the current session 2024-10-05"
        );
        assert_eq!(slot.unwrap().cumulative_volume, 4);
    }

    #[test]
    fn late_ticks_do_not_roll_price_back() {
        let mut slot = None;
        let mut t = tick(1, 5, Some(1), None);
        update(&mut slot, "X", &t).unwrap();
        t.ts_ms -= 1;
        t.minute = 4;
        t.price = 9.0;
        update(&mut slot, "X", &t).unwrap();
        let s = slot.unwrap();
        assert_eq!((s.last_price, s.last_minute), (10.0, 5));
        assert_eq!(s.minute_volumes.get(4), 1);
    }
}
