//! cclab-scenarios: the scenario format, its validation, and the arrival generator.
