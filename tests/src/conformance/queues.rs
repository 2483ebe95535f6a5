//! What the metrics read from every store: how long a claimed job waited,
//! and how each name's queue stands.

use std::sync::Arc;
use std::time::Duration;

use asyncep::job::{AttemptStatus, Next};
use asyncep::store::{JobStore, QueueDepth};

use super::{claim, create, finish, names, new_job, unique};

/// A claim tells how long its job waited since it became runnable: at least
/// the pause before the claim, and not much more than the whole test.
pub async fn a_claim_tells_how_long_its_job_waited(store: Arc<dyn JobStore>) {
    let name = unique("waited");
    let names = names(&[&name]);
    let started = std::time::Instant::now();
    create(&*store, new_job(&name)).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    let job = claim(&*store, &names).await.unwrap();
    // Store clocks may be a little coarser than ours: a few ms of slack.
    assert!(
        job.waited >= Duration::from_millis(50),
        "waited {:?}",
        job.waited
    );
    assert!(
        job.waited <= started.elapsed() + Duration::from_millis(50),
        "waited {:?}, the test ran {:?}",
        job.waited,
        started.elapsed()
    );
    // A requeued job waits anew from its requeue.
    finish(&*store, &job, AttemptStatus::Interrupted, Next::Requeue).await;
    let again = claim(&*store, &names).await.unwrap();
    assert!(
        again.waited < job.waited + Duration::from_secs(5),
        "{:?}",
        again.waited
    );
}

/// The depth counts ready jobs and due retries, not running, scheduled or
/// finished ones; the age is the oldest runnable job's, and `None` for an
/// empty queue. Answers come in the order of the names asked.
pub async fn queue_depths_count_runnable_jobs_only(store: Arc<dyn JobStore>) {
    let (busy, empty) = (unique("depth"), unique("depth-empty"));
    let both = names(&[&busy, &empty]);
    let first = create(&*store, new_job(&busy)).await;
    for _ in 0..3 {
        create(&*store, new_job(&busy)).await;
    }
    tokio::time::sleep(Duration::from_millis(40)).await;
    let depths = store.queue_depths(&both).await.unwrap();
    let (at_busy, at_empty) = ordered(&both, &busy, depths);
    assert_eq!(at_busy.runnable, 4);
    let oldest = at_busy.oldest.expect("an age");
    assert!(oldest >= Duration::from_millis(30), "{oldest:?}");
    assert_eq!(at_empty, QueueDepth::default());

    // One running, one waiting for a retry far off, one finished: one left.
    let only = names(&[&busy]);
    let running = claim(&*store, &only).await.unwrap();
    assert_eq!(running.id, first);
    let later = claim(&*store, &only).await.unwrap();
    let far = Next::Retry {
        after: Duration::from_secs(3600),
    };
    finish(&*store, &later, AttemptStatus::Failed, far).await;
    let done = claim(&*store, &only).await.unwrap();
    finish(&*store, &done, AttemptStatus::Succeeded, Next::Complete).await;
    let depth = store.queue_depths(&only).await.unwrap()[0];
    assert_eq!(depth.runnable, 1, "{depth:?}");

    // A retry that fell due counts before any claim moves it.
    let due = Next::Retry {
        after: Duration::from_millis(10),
    };
    finish(&*store, &running, AttemptStatus::Failed, due).await;
    tokio::time::sleep(Duration::from_millis(40)).await;
    let depth = store.queue_depths(&only).await.unwrap()[0];
    assert_eq!(depth.runnable, 2, "{depth:?}");
}

/// The depths of `busy` and the other name, whatever order `names` keeps.
fn ordered(
    names: &asyncep::store::JobNames,
    busy: &str,
    depths: Vec<QueueDepth>,
) -> (QueueDepth, QueueDepth) {
    assert_eq!(depths.len(), 2);
    if names.iter().next() == Some(busy) {
        (depths[0], depths[1])
    } else {
        (depths[1], depths[0])
    }
}
