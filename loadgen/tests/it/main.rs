//! Integration tests of cclab-loadgen: one binary, one module per behaviour.
