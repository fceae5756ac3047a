//! Integration tests of cclab-loadgen: one binary, one module per behaviour. Network tests use
//! a tiny hyper server on 127.0.0.1:0 (see `support`), never the reference server (the crate
//! does not depend on it; the end-to-end tests of the binary cover that pairing).

mod coordinated_omission;
mod dispatch;
mod merge;
mod plan;
mod profile;
mod support;
