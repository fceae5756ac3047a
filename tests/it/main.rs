//! End-to-end tests of the `cclab` binary.

mod erlang;
mod loadgen;
mod scenarios;
mod serve;
mod simulate;
mod staff;
