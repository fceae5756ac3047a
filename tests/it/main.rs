//! End-to-end tests of the `cclab` binary.

mod serve;
