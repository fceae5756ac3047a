//! cclab-loadgen: the open-loop load generator.
//!
//! It sits after `cclab-scenarios` in the flow scenario -> arrivals -> load replay: it compiles a
//! scenario's contact stream, compressed in time and scaled in volume, into timed HTTP requests
//! against a live contact-center API and measures latency from the intended send time.
