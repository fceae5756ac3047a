//! cclab-server: the reference contact-center API (case intake and tracking).
//!
//! It is both a real service and the load generator's default target. It knows nothing of
//! scenarios, the simulator or the load generator.
