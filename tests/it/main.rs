//! End-to-end tests of the `cclab` binary.

mod erlang;
mod scenarios;
mod serve;
mod simulate;
