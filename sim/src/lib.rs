//! cclab-sim: the discrete-event contact-center simulator and the staffing methods built on it.
//!
//! It sits after `cclab-scenarios` in the flow scenario -> arrivals -> simulation: it consumes a
//! validated `Scenario` and its contact stream, runs them against a staffing plan and reports what
//! citizens experience. It does no I/O and reads no wall clock.

pub mod engine;
pub mod staffing;
