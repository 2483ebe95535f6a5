//! The pub/sub listener that wakes idle workers and announces the changes
//! of watched jobs (and every cancel) in this process: started by the
//! store's `start` (or by the first wait or watch), stopped by its
//! `shutdown` or when the store is dropped, restarted if its task ended
//! (say, with the Tokio runtime that ran it).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::RedisError;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::store::Changes;

#[derive(Debug)]
pub(super) struct Listener {
    client: redis::Client,
    /// The wake-up channel, then the changes channel.
    channels: [String; 2],
    connect_timeout: Duration,
    work: Arc<Notify>,
    changes: Arc<Changes>,
    subscribed: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Listener {
    pub(super) fn new(
        client: redis::Client,
        channels: [String; 2],
        connect_timeout: Duration,
    ) -> Self {
        Self {
            client,
            channels,
            connect_timeout,
            work: Arc::new(Notify::new()),
            changes: Changes::new(),
            subscribed: watch::Sender::new(false),
            task: Mutex::new(None),
        }
    }

    /// The signal the listener forwards wake-ups to.
    pub(super) fn work(&self) -> &Notify {
        &self.work
    }

    /// Where the listener announces job changes.
    pub(super) fn changes(&self) -> &Arc<Changes> {
        &self.changes
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
            self.channels.clone(),
            self.connect_timeout,
            self.work.clone(),
            self.changes.clone(),
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

/// Forwards wake-ups to idle workers and changes to their listeners;
/// reconnects with backoff.
async fn listen(
    client: redis::Client,
    channels: [String; 2],
    connect_timeout: Duration,
    work: Arc<Notify>,
    changes: Arc<Changes>,
    subscribed: watch::Sender<bool>,
) {
    let [wake, changed] = &channels;
    let mut failures = 0_u32;
    loop {
        let subscription = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channels).await?;
            Ok::<_, RedisError>(pubsub)
        };
        match tokio::time::timeout(connect_timeout, subscription).await {
            Ok(Ok(mut pubsub)) => {
                failures = 0;
                debug!(%wake, %changed, "listening for new work and job changes");
                subscribed.send_replace(true);
                // Work may have arrived, and jobs changed, while no one
                // listened: let everyone look again.
                work.notify_waiters();
                changes.announce_all();
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    if message.get_channel_name() == wake.as_str() {
                        work.notify_one();
                    } else {
                        let payload = String::from_utf8_lossy(message.get_payload_bytes());
                        if !changes.announce_message(&payload) {
                            debug!(%payload, "ignored a changes message that names no job");
                        }
                    }
                }
                subscribed.send_replace(false);
                warn!(%wake, "lost the Redis subscription; reconnecting");
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
