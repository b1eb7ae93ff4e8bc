//! The ServiceNow emulator over real HTTP on 127.0.0.1, one module per area of the API
//! document: every behaviour it claims is exercised here as a client would meet it.

mod support;

mod auth;
mod batch;
mod catalogue;
mod cli;
mod faults;
mod incident;
mod pagination;
mod query;
mod recorded;
mod request;
mod security_incident;
mod stats;
mod table;
