//! snowsync: security findings in, ServiceNow tickets out, ticket state back.
//!
//! Modules in reading order, following the data flow:
//! configuration, the finding model and its input formats, mappings and templates,
//! the store, the HTTP API, and the command line that wires them.

pub mod admin;
pub mod api;
pub mod bench;
pub mod check;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod ingest;
pub mod intake;
pub mod jsonl;
pub mod mapping;
pub mod metrics;
pub mod outbox;
pub mod redact;
pub mod server;
pub mod service;
pub mod servicenow;
pub mod shutdown;
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod template;
