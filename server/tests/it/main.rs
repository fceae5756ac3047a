//! Integration tests of cclab-server over real HTTP on 127.0.0.1:0, one module per behaviour.

mod cases;
mod concurrency;
mod contacts;
mod errors;
mod fuzz;
mod group_commit;
mod idempotency;
mod observability;
mod openapi;
mod operator;
mod shutdown;
mod support;
