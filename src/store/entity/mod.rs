//! sea-orm entities, one per table of `migrations/`; no behaviour beyond the column mapping.

pub mod audit;
pub mod finding;
pub mod lease;
pub mod oauth_refresh_token;
pub mod outbox;
pub mod poll_cursor;
pub mod ticket_link;
