//! Thin PyO3 bindings over `volume_core`.
use pyo3::prelude::*;

mod engine;
mod partition;
mod replies;
mod ticks;
mod write_filter;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__doc__", "The volume engine's native core (Rust).")?;
    engine::register(m)?;
    partition::register(m)?;
    replies::register(m)?;
    ticks::register(m)?;
    write_filter::register(m)?;
    Ok(())
}
