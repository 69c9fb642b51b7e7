//! The volume engine's hot path: the Rust twin of the pure-Python core.
//!
//! Pure: no I/O, no clock, no Python. The bindings crate (`../python`) wraps it in one stateful
//! object per partition; the Python core stays the reference these modules are tested against.

pub mod baseline;
pub mod clock;
pub mod codec;
pub mod counts;
pub mod engine;
pub mod exact;
pub mod history;
pub mod profile;
pub mod reply;
pub mod resp;
pub mod restore;
pub mod scan;
pub mod session;
pub mod ticks;
pub mod write_filter;

/// A seeded xorshift64 stream for the property-style tests (no crate for it).
#[cfg(test)]
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
