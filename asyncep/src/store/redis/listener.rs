//! The pub/sub listener that wakes idle workers: started by the store's
//! `start` (or by the first wait), stopped by its `shutdown` or when the
//! store is dropped, restarted if its task ended (say, with the Tokio
//! runtime that ran it).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::RedisError;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

#[derive(Debug)]
pub(super) struct Listener {
    client: redis::Client,
    channel: String,
    connect_timeout: Duration,
    work: Arc<Notify>,
    subscribed: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Listener {
    pub(super) fn new(client: redis::Client, channel: String, connect_timeout: Duration) -> Self {
        Self {
            client,
            channel,
            connect_timeout,
            work: Arc::new(Notify::new()),
            subscribed: watch::Sender::new(false),
            task: Mutex::new(None),
        }
    }

    /// The signal the listener forwards wake-ups to.
    pub(super) fn work(&self) -> &Notify {
        &self.work
    }

    /// Starts the listener task unless it runs.
    pub(super) fn ensure(&self) {
        let mut task = self.task.lock().unwrap_or_else(|p| p.into_inner());
        if task.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        self.subscribed.send_replace(false);
        *task = Some(tokio::spawn(listen(
            self.client.clone(),
            self.channel.clone(),
            self.connect_timeout,
            self.work.clone(),
            self.subscribed.clone(),
        )));
    }

    /// Waits until the listener is subscribed, up to `timeout`.
    pub(super) async fn subscribed(&self, timeout: Duration) -> bool {
        let mut subscribed = self.subscribed.subscribe();
        tokio::time::timeout(timeout, subscribed.wait_for(|on| *on))
            .await
            .is_ok_and(|done| done.is_ok())
    }

    /// Stops the listener task.
    pub(super) fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        self.subscribed.send_replace(false);
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Forwards `wake` messages to idle workers; reconnects with backoff.
async fn listen(
    client: redis::Client,
    channel: String,
    connect_timeout: Duration,
    work: Arc<Notify>,
    subscribed: watch::Sender<bool>,
) {
    let mut failures = 0_u32;
    loop {
        let subscription = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, RedisError>(pubsub)
        };
        match tokio::time::timeout(connect_timeout, subscription).await {
            Ok(Ok(mut pubsub)) => {
                failures = 0;
                debug!(%channel, "listening for new work");
                subscribed.send_replace(true);
                // Work may have arrived while no one listened.
                work.notify_waiters();
                let mut messages = pubsub.on_message();
                while messages.next().await.is_some() {
                    work.notify_one();
                }
                subscribed.send_replace(false);
                warn!(%channel, "lost the Redis subscription; reconnecting");
            }
            Ok(Err(error)) => warn!(%error, "cannot subscribe to Redis; retrying"),
            Err(_) => warn!("timed out subscribing to Redis; retrying"),
        }
        failures += 1;
        let pause =
            Duration::from_millis(100 * 2_u64.pow(failures.min(5))).min(Duration::from_secs(3));
        tokio::time::sleep(pause).await;
    }
}
