//! Flow control towards one instance: a concurrency limit, a requests-per-second pace, and the
//! shared pause after a 429 that holds back every caller until `Retry-After` has passed.
//!
//! It only waits; it never retries and never decides whether a failure is transient.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Shared by every clone of one client, so the limits hold across all workers.
#[derive(Debug)]
pub(crate) struct Flow {
    permits: Semaphore,
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The earliest start of the next request, for the pace.
    next_slot: Instant,
    /// No request starts before this instant (set by a 429).
    paused_until: Option<Instant>,
}

/// A granted request slot: the request may be sent while this is held.
pub(crate) struct Slot<'a> {
    _permit: SemaphorePermit<'a>,
}

impl Flow {
    pub(crate) fn new(max_concurrency: usize, requests_per_second: f64) -> Self {
        let interval = if requests_per_second.is_finite() && requests_per_second > 0.0 {
            Duration::from_secs_f64(1.0 / requests_per_second)
        } else {
            Duration::ZERO
        };
        Self {
            permits: Semaphore::new(max_concurrency.max(1)),
            interval,
            state: Mutex::new(State {
                next_slot: Instant::now(),
                paused_until: None,
            }),
        }
    }

    /// Waits for a concurrency permit, the next paced start, and the end of any pause.
    pub(crate) async fn acquire(&self) -> Slot<'_> {
        // Invariant: the semaphore is owned here and never closed.
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the flow semaphore is never closed");
        let slot = {
            let mut s = self.lock();
            let now = Instant::now();
            let slot = s.next_slot.max(now);
            s.next_slot = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
        // A pause may begin or grow while this caller waits, so look again after each wait.
        while let Some(until) = self.paused_until() {
            tokio::time::sleep_until(until).await;
        }
        Slot { _permit: permit }
    }

    /// Holds back every request until `after` from now (extending, never shortening, a pause).
    pub(crate) fn pause(&self, after: Duration) {
        let until = Instant::now() + after;
        let mut s = self.lock();
        if s.paused_until.is_none_or(|u| u < until) {
            s.paused_until = Some(until);
        }
    }

    /// The end of the current pause, if one is still running.
    pub(crate) fn paused_until(&self) -> Option<Instant> {
        let mut s = self.lock();
        match s.paused_until {
            Some(u) if u > Instant::now() => Some(u),
            Some(_) => {
                s.paused_until = None;
                None
            }
            None => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave State inconsistent (two plain fields).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_back_every_caller_until_it_ends() {
        let flow = Arc::new(Flow::new(4, 1000.0));
        flow.pause(Duration::from_secs(5));
        let started = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let (flow, started) = (flow.clone(), started.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = flow.acquire().await;
                started.fetch_add(1, Ordering::SeqCst);
            }));
        }
        tokio::time::sleep(Duration::from_millis(4900)).await;
        assert_eq!(started.load(Ordering::SeqCst), 0);
        tokio::time::sleep(Duration::from_millis(200)).await;
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(started.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_pause_extends_and_an_earlier_one_does_not_shorten() {
        let flow = Flow::new(1, 1000.0);
        flow.pause(Duration::from_secs(10));
        flow.pause(Duration::from_secs(2));
        let start = Instant::now();
        drop(flow.acquire().await);
        assert!(start.elapsed() >= Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_are_paced_to_the_configured_rate() {
        let flow = Flow::new(8, 4.0);
        let start = Instant::now();
        for _ in 0..9 {
            drop(flow.acquire().await);
        }
        // Nine starts at 4 per second: the ninth starts two seconds after the first.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_limited_to_the_permits() {
        let flow = Arc::new(Flow::new(2, 1000.0));
        let a = flow.acquire().await;
        let _b = flow.acquire().await;
        let flow2 = flow.clone();
        let third = tokio::spawn(async move {
            drop(flow2.acquire().await);
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!third.is_finished());
        drop(a);
        third.await.unwrap();
    }
}
