//! Integration tests of cclab-sim: the engine driving a small model, checked against theory.

mod model;
mod shifts;
mod staffing;
mod theory;
