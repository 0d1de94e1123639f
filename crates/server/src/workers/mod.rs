//! Background work: each worker here implements [`Worker`] and runs under the
//! [`Supervisor`](crate::supervisor::Supervisor) (`supervisor.rs`), which restarts it after a
//! panic and stops it at shutdown.
//!
//! Today's workers: the master-key rotation watcher ([`rotation`]), the backup watcher
//! ([`backup`]), the scrubber and disk watcher ([`health`]), the lifecycle ([`lifecycle`]),
//! access-log delivery ([`log_delivery`]), replication ([`replication`]) and usage accounting
//! ([`usage`]); the event
//! subscribers' consumers are in `crate::events`. A new one implements [`Worker`], holds only
//! the parts of [`Core`](crate::state::Core) and [`Observability`](crate::state::Observability)
//! it uses (given in `server::spawn_workers`), takes time from the store's clock, and returns
//! when [`Stop::stopped`] fires.

pub mod backup;
pub mod health;
pub mod lifecycle;
pub mod log_delivery;
pub mod replication;
pub mod rotation;
pub mod tls_reload;
pub mod usage;

pub use crate::supervisor::{Stop, Worker};
