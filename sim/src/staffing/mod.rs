//! Staffing: how many agents a queue needs. `erlang` holds the exact stationary formulas
//! (Erlang B, C and A) used per interval and as the oracle the simulator is checked against;
//! `varying` sizes every interval of a scenario by four methods, the iterative one driven by
//! the simulator; `shifts` turns a per-interval requirement into shifts at least cost (set
//! covering).

pub mod erlang;
pub mod shifts;
pub mod varying;
