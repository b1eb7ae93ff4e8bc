//! snowsync: security findings in, ServiceNow tickets out, ticket state back.
//!
//! Modules in reading order, following the data flow:
//! configuration, the store, the HTTP API, and the command line that wires them.

pub mod cli;
pub mod config;
pub mod redact;
pub mod server;
pub mod servicenow;
pub mod shutdown;
pub mod sim;
pub mod store;
pub mod telemetry;
