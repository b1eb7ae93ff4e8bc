//! The outbox: the only path by which snowsync changes anything in ServiceNow.
//!
//! Rows are enqueued by `store::findings::record` in the transaction of the finding
//! change; workers here claim them several at a time under one lease, renew it while
//! delivering, pass every write through it, send the rows' ticket writes together in Batch
//! API calls (`batch`), and ack with fencing.

mod batch;
pub mod deliver;
mod enrich;
pub mod lease;
pub mod notify;
pub mod outage;
pub mod retry;
pub mod worker;

pub use worker::{Deliver, Delivery, WorkerPool, dispatch_once};
