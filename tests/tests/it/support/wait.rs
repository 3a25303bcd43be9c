//! Waiting until something holds, for tests against servers and processes that answer in their
//! own time: poll, and fail naming what never came.

use std::time::{Duration, Instant};

/// Polls `check` every `every` until it gives something; fails after `within`, naming `what`.
pub async fn poll<T>(
    within: Duration,
    every: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(every).await;
    }
}

/// Polls `check` every 100 ms until it gives something, or fails after `within`.
pub async fn until<T>(within: Duration, what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    poll(within, Duration::from_millis(100), what, check).await
}

/// Polls `check` every 100 ms until it holds or `within` has passed.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within {within:?}");
}
