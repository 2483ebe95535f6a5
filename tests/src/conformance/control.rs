//! Job control on every store: cancel, progress, the cancel a renewal
//! reports, and the announcements of a watched job's changes.

use std::sync::Arc;
use std::time::Duration;

use asyncep::job::{AttemptStatus, ErrorInfo, JobId, JobStatus, Next, RawJson};
use asyncep::store::{JobStore, StoreError};

use super::{LEASE, claim, claim_for, create, finish, names, new_job, unique};
use crate::wait_until;

/// How long an announcement may take to arrive: generous, for slow CI.
const HEARING: Duration = Duration::from_secs(10);

/// A `Queued` job ends `Canceled` at once, with the canceled error, and no
/// claim ever takes it; asking again changes nothing; an unknown id is
/// `None`.
pub async fn a_cancel_ends_a_waiting_job_at_once(store: Arc<dyn JobStore>) {
    let name = unique("cancel-queued");
    let id = create(&*store, new_job(&name)).await;
    let canceled = store.cancel(id).await.unwrap().expect("the job");
    assert!(canceled.ended, "this cancel ended it");
    let job = canceled.job;
    assert_eq!(job.status, JobStatus::Canceled);
    assert_eq!(job.error.as_ref().unwrap().code, ErrorInfo::CANCELED);
    assert!(job.completed_at.is_some());
    assert!(job.attempts.is_empty(), "it never ran");
    assert!(claim(&*store, &names(&[&name])).await.is_none());
    let again = store.cancel(id).await.unwrap().unwrap();
    assert!(!again.ended, "a repeat ends nothing");
    let again = again.job;
    assert_eq!(
        (again.status, again.last_updated_at),
        (JobStatus::Canceled, job.last_updated_at),
        "a second cancel changes nothing"
    );
    assert!(store.cancel(JobId::new()).await.unwrap().is_none());
}

/// A job waiting for its retry ends `Canceled` and is never due again.
pub async fn a_cancel_ends_a_scheduled_job(store: Arc<dyn JobStore>) {
    let name = unique("cancel-scheduled");
    let id = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let job = claim(&*store, &names).await.unwrap();
    let soon = Next::Retry {
        after: Duration::from_millis(50),
    };
    finish(&*store, &job, AttemptStatus::Failed, soon).await;
    let canceled = store.cancel(id).await.unwrap().unwrap();
    assert!(canceled.ended);
    let canceled = canceled.job;
    assert_eq!(canceled.status, JobStatus::Canceled);
    assert_eq!(canceled.next_attempt_at, None);
    assert_eq!(canceled.attempts.len(), 1);
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(claim(&*store, &names).await.is_none(), "never due again");
}

/// A running job is marked, its renewal says so, and whatever its worker
/// asks next (a requeue here) it ends `Canceled` with the attempt recorded.
pub async fn a_running_job_is_marked_and_its_renewal_says_so(store: Arc<dyn JobStore>) {
    let name = unique("cancel-running");
    let id = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let job = claim(&*store, &names).await.unwrap();
    assert!(
        !store
            .renew(&job.lease, LEASE)
            .await
            .unwrap()
            .cancel_requested
    );
    let marked = store.cancel(id).await.unwrap().unwrap();
    assert!(!marked.ended, "a running job is only marked");
    let marked = marked.job;
    assert_eq!(marked.status, JobStatus::InProgress);
    assert!(marked.cancel_requested);
    assert!(
        store
            .renew(&job.lease, LEASE)
            .await
            .unwrap()
            .cancel_requested
    );
    let repeat = store.cancel(id).await.unwrap().unwrap();
    assert!(!repeat.ended);
    assert_eq!(repeat.job.last_updated_at, marked.last_updated_at);
    finish(&*store, &job, AttemptStatus::Interrupted, Next::Requeue).await;
    let ended = store.get(id).await.unwrap().unwrap();
    assert_eq!(ended.status, JobStatus::Canceled);
    assert_eq!(ended.error.unwrap().code, ErrorInfo::CANCELED);
    assert_eq!(ended.attempts.len(), 1);
    assert!(claim(&*store, &names).await.is_none(), "never runs again");
}

/// `Completed` and `Failed` jobs are returned as they are.
pub async fn a_finished_job_is_left_alone_by_a_cancel(store: Arc<dyn JobStore>) {
    let name = unique("cancel-finished");
    let names = names(&[&name]);
    for (status, next, end) in [
        (
            AttemptStatus::Succeeded,
            Next::Complete,
            JobStatus::Completed,
        ),
        (AttemptStatus::Failed, Next::Fail, JobStatus::Failed),
    ] {
        let id = create(&*store, new_job(&name)).await;
        let job = claim(&*store, &names).await.unwrap();
        finish(&*store, &job, status, next).await;
        let before = store.get(id).await.unwrap().unwrap();
        let after = store.cancel(id).await.unwrap().unwrap();
        assert!(!after.ended);
        let after = after.job;
        assert_eq!(after.status, end);
        assert_eq!(after, before, "nothing changed");
    }
}

/// A marked job whose worker died ends `Canceled` at recovery, not queued.
pub async fn a_canceled_job_whose_worker_died_ends_canceled(store: Arc<dyn JobStore>) {
    let name = unique("cancel-dead");
    let id = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    claim_for(&*store, &names, Duration::from_millis(50))
        .await
        .unwrap();
    store.cancel(id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        wait_until(HEARING, async || {
            store.maintain().await.unwrap();
            store.get(id).await.unwrap().unwrap().status == JobStatus::Canceled
        })
        .await
    );
    let job = store.get(id).await.unwrap().unwrap();
    assert_eq!(job.attempts[0].status, AttemptStatus::Interrupted);
    assert!(claim(&*store, &names).await.is_none());
}

/// The latest progress is kept and shown; a lease that is no longer the
/// job's cannot write it.
pub async fn progress_is_kept_under_the_lease_only(store: Arc<dyn JobStore>) {
    let name = unique("progress");
    let id = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let job = claim_for(&*store, &names, Duration::from_millis(50))
        .await
        .unwrap();
    let before = store.get(id).await.unwrap().unwrap();
    assert_eq!(before.progress, None);
    for step in 1..=3 {
        let value = RawJson::from_text(format!("{{\"step\":{step}}}")).unwrap();
        store.progress(&job.lease, value).await.unwrap();
    }
    let shown = store.get(id).await.unwrap().unwrap();
    assert_eq!(shown.progress.unwrap().get(), "{\"step\":3}");
    assert!(shown.last_updated_at >= before.last_updated_at);
    // The lease runs out and the job goes to the next claim.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        wait_until(HEARING, async || {
            store.maintain().await.unwrap().recovered.contains(&id)
        })
        .await
    );
    let zombie = store
        .progress(&job.lease, RawJson::from_text("{\"step\":9}").unwrap())
        .await;
    assert!(
        matches!(zombie, Err(StoreError::LeaseLost { .. })),
        "{zombie:?}"
    );
    let next = claim(&*store, &names).await.unwrap();
    finish(&*store, &next, AttemptStatus::Succeeded, Next::Complete).await;
    let done = store.get(id).await.unwrap().unwrap();
    assert_eq!(
        done.progress.unwrap().get(),
        "{\"step\":3}",
        "kept to the end"
    );
}

/// A listener hears each change of the job it watches (a claim, progress,
/// a cancel, the end), and a cancel as a cancel.
pub async fn changes_of_a_watched_job_are_announced(store: Arc<dyn JobStore>) {
    let name = unique("watched");
    let id = create(&*store, new_job(&name)).await;
    let mut listener = store.changes().listen(id);
    store.watch(id, Duration::from_secs(60)).await.unwrap();
    let heard = async |listener: &mut asyncep::store::ChangeListener, what: &str| {
        tokio::time::timeout(HEARING, listener.changed())
            .await
            .unwrap_or_else(|_| panic!("no announcement of {what}"));
    };
    let job = claim(&*store, &names(&[&name])).await.unwrap();
    heard(&mut listener, "the claim").await;
    store
        .progress(&job.lease, RawJson::from_text("1").unwrap())
        .await
        .unwrap();
    heard(&mut listener, "the progress").await;
    let mut cancels = store.changes().listen(id);
    store.cancel(id).await.unwrap();
    tokio::time::timeout(HEARING, cancels.cancel_announced())
        .await
        .expect("no announcement of the cancel");
    finish(&*store, &job, AttemptStatus::Canceled, Next::Cancel).await;
    // The cancel and the end may be heard as one.
    heard(&mut listener, "the cancel or the end").await;
    assert!(
        wait_until(HEARING, async || {
            store.get(id).await.unwrap().unwrap().status == JobStatus::Canceled
        })
        .await
    );
}

/// An operator's retry queues a `Failed` job again with its full budget:
/// its error and end dropped, its attempts kept, its next run numbered
/// after them; it is claimed, and survives the retention its failure had.
/// Any other job is left as it is.
pub async fn a_failed_job_is_run_again_by_a_retry(store: Arc<dyn JobStore>) {
    let name = unique("retry-failed");
    let names = names(&[&name]);
    let id = create(&*store, new_job(&name)).await;
    let job = claim(&*store, &names).await.unwrap();
    finish(&*store, &job, AttemptStatus::Failed, Next::Fail).await;
    let retried = store.retry(id).await.unwrap().expect("the job");
    assert!(retried.queued);
    let queued = retried.job;
    assert_eq!(queued.status, JobStatus::Queued);
    assert_eq!((queued.error, queued.completed_at), (None, None));
    assert_eq!(queued.retry_count, 0);
    assert_eq!(queued.attempts.len(), 1, "the first run is kept");
    let again = claim(&*store, &names).await.expect("claimed again");
    assert_eq!((again.id, again.attempt), (id, 2));
    assert!(again.lease.token > job.lease.token);
    // A running job, and then a completed one, are left as they are.
    let running = store.retry(id).await.unwrap().unwrap();
    assert!(!running.queued);
    assert_eq!(running.job.status, JobStatus::InProgress);
    finish(&*store, &again, AttemptStatus::Succeeded, Next::Complete).await;
    let completed = store.retry(id).await.unwrap().unwrap();
    assert!(!completed.queued);
    assert_eq!(completed.job.status, JobStatus::Completed);
    assert_eq!(completed.job.attempts.len(), 2);
    assert!(store.retry(JobId::new()).await.unwrap().is_none());
}
