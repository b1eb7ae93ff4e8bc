//! The write fence: a check the client makes right before it sends a write, after the
//! concurrency limit, the pace, the shared 429 pause and the token, so that a caller who
//! has lost the right to write while it waited sends nothing.
//!
//! The client only asks; what the right is (an outbox worker's lease) belongs to the caller.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The answer of a fence: how long from now the right to write is confirmed, or why the
/// write may not start.
pub type FenceFuture<'a> = Pin<Box<dyn Future<Output = Result<Duration, String>> + Send + 'a>>;

/// Decides whether a write that may last at least `lasting` (the request timeout) may start
/// now. An admitted write may last as long as the answer, and no longer: the client cuts a
/// longer call (a Batch API call of many items) to it.
pub trait WriteFence: Send + Sync {
    fn admit(&self, lasting: Duration) -> FenceFuture<'_>;
}

/// A fence shared by a caller and the client it writes through.
pub type Fence = Arc<dyn WriteFence>;
