//! What the server shows of itself, kept apart from the work that produces it: the workers
//! write here, `AppState::observability` holds it, the console, `/metrics` and the CLI's status commands read
//! it. Nothing here imports a worker.
//!
//! - [`lifecycle`]: the lifecycle worker's progress, status file and metrics.
//! - [`health`]: what the scrubber and the disk watcher last saw.
//! - [`usage`]: what the usage worker last saw (storage, the cost estimate).
//! - [`replication`]: the replication backlog and outcomes (metrics, status file).
//! - [`alarm`]: the budget alarm (what fired, what is still to be sent to the webhook).

pub mod alarm;
pub mod health;
pub mod lifecycle;
pub mod replication;
pub mod usage;
