//! snowsync: security findings in, ServiceNow tickets out, ticket state back.
//!
//! Modules by role, in the order a finding travels through them.

// Edges: where requests and commands come in.
pub mod api;
pub mod cli;
pub mod ui;

// The pipeline: parse, map and render, record, deliver, and read ticket state back.
pub mod domain;
pub mod ingest;
pub mod mapping;
pub mod template;
pub mod pipeline;
pub mod intake;
pub mod operation;
pub mod store;
pub mod outbox;
pub mod poller;

// Operating it: the actions the command line, the admin API and the console share.
pub mod admin;

// ServiceNow: the client of a real instance, and the built-in emulator.
pub mod servicenow;
pub mod sim;

// Support: configuration, the running service, and what every part shares.
pub mod config;
pub mod metrics;
pub mod redact;
pub mod reload;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod starter;
pub mod telemetry;
