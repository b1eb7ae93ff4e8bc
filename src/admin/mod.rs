//! What an operator does to a running snowsync, shared by the command line, the `/v1`
//! admin endpoints and the console: revive dead outbox rows (`retry`), show what a finding
//! would become (`dry_run`), and sum up the state of the service (`overview`).
//!
//! No HTTP and no terminal here: each caller words the outcome its own way.

pub mod dry_run;
pub mod mappings;
pub mod overview;
pub mod retry;
