//! A source's webhook receiver on loopback: records every notification it is sent, and
//! answers 500 to the first `failures` of them.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One notification as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub timestamp: Option<i64>,
    pub signature: Option<String>,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON notification")
    }

    /// Whether the signature is the HMAC of its timestamp and body under `secret`.
    pub fn verifies(&self, secret: &str) -> bool {
        let (Some(ts), Some(sig)) = (self.timestamp, &self.signature) else {
            return false;
        };
        snowsync::outbox::notify::verify(
            secret.as_bytes(),
            ts,
            &self.body,
            sig,
            chrono::Utc::now().timestamp(),
            std::time::Duration::from_secs(300),
        )
    }
}

#[derive(Clone, Default)]
struct Seen {
    received: Arc<Mutex<Vec<Received>>>,
    failures: Arc<AtomicUsize>,
}

pub struct Receiver {
    pub url: url::Url,
    seen: Seen,
}

impl Receiver {
    pub async fn start(failures: usize) -> Self {
        let seen = Seen::default();
        seen.failures.store(failures, Ordering::SeqCst);
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/hook").parse().expect("url"),
            seen,
        }
    }

    /// Every notification received, in order, including refused ones.
    pub fn received(&self) -> Vec<Received> {
        self.seen.received.lock().expect("lock").clone()
    }
}

async fn receive(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    seen.received.lock().expect("lock").push(Received {
        timestamp: header("x-snowsync-timestamp").and_then(|t| t.parse().ok()),
        signature: header("x-snowsync-signature"),
        body,
    });
    let refuse = seen
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if refuse {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}
