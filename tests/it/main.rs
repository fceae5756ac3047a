//! End-to-end tests of the `cclab` binary.

mod browser;
mod erlang;
mod loadgen;
mod report;
mod scenarios;
mod serve;
mod simulate;
mod staff;
