//! The outbox: the only path by which snowsync changes anything in ServiceNow.
//!
//! Rows are enqueued by `store::findings::record` in the transaction of the finding
//! change; workers here claim them under a lease, renew it while delivering, pass every
//! write through it, and ack with fencing.

pub mod deliver;
pub mod lease;
pub mod notify;
pub mod outage;
pub mod retry;
pub mod worker;

pub use worker::{Deliver, Delivery, WorkerPool, dispatch_once};
