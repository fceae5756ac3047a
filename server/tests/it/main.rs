//! Integration tests of cclab-server over real HTTP.
