//! cclab-sim: the discrete-event contact-center simulator and the staffing methods built on it.
//!
//! It sits after `cclab-scenarios` in the flow scenario -> arrivals -> simulation: it consumes a
//! validated `Scenario` and its contact stream, runs them against a staffing [`plan::Plan`] and
//! reports what citizens experience ([`replicate::Summary`]). It does no I/O and reads no wall
//! clock: given a validated scenario, a valid plan and a seed it cannot fail.

pub mod dist;
pub mod engine;
pub mod model;
pub mod plan;
pub mod replicate;
pub mod staffing;
pub mod stats;
pub mod yardstick;

pub use hdrhistogram::Histogram;

pub use plan::{Plan, PlanError};
pub use replicate::{RunConfig, Summary, simulate, simulate_with_progress};
