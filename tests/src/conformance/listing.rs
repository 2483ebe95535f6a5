//! The operator's listing and purge on every store: a name's jobs newest
//! first, a page at a time, by status; deletes of finished jobs only.

use std::sync::Arc;

use asyncep::job::{AttemptStatus, JobId, JobStatus, Next};
use asyncep::store::{JobStore, ListCursor, ListQuery};

use super::{claim, create, finish, keyed, names, new_job, unique};

/// Every job of `name` (and `status`), page by page of `limit`, checking
/// that each page is newest first and stays on its name.
async fn every_page(
    store: &dyn JobStore,
    name: &str,
    status: Option<JobStatus>,
    limit: usize,
) -> Vec<JobId> {
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let page = store
            .list(&ListQuery {
                name: name.to_owned(),
                status,
                after,
                limit,
            })
            .await
            .unwrap();
        assert!(page.jobs.len() <= limit);
        for job in &page.jobs {
            assert_eq!(job.name, name);
            assert!(status.is_none_or(|status| job.status == status));
            if let Some(after) = after {
                assert!(ListCursor::of(job) < after, "older than the cursor");
            }
        }
        let places: Vec<ListCursor> = page.jobs.iter().map(ListCursor::of).collect();
        assert!(places.windows(2).all(|w| w[0] > w[1]), "newest first");
        seen.extend(page.jobs.iter().map(|job| job.id));
        match page.next {
            Some(next) => after = Some(next),
            None => return seen,
        }
    }
    panic!("the listing never ended");
}

/// Jobs of a name, newest first, in pages that resume where the last one
/// stopped; a status picks its jobs only; other names never show.
pub async fn a_listing_pages_through_a_names_jobs_newest_first(store: Arc<dyn JobStore>) {
    let name = unique("list");
    let other = unique("list-other");
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(create(&*store, new_job(&name)).await);
        // Distinct creation times, whatever the store's clock resolution.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    create(&*store, new_job(&other)).await;
    let newest_first: Vec<JobId> = ids.iter().rev().copied().collect();
    assert_eq!(every_page(&*store, &name, None, 3).await, newest_first);
    assert_eq!(every_page(&*store, &name, None, 50).await, newest_first);
    // Fail the oldest two: they are the Failed ones, the rest Queued.
    let names = names(&[&name]);
    for _ in 0..2 {
        let job = claim(&*store, &names).await.unwrap();
        finish(&*store, &job, AttemptStatus::Failed, Next::Fail).await;
    }
    assert_eq!(
        every_page(&*store, &name, Some(JobStatus::Failed), 1).await,
        [ids[1], ids[0]]
    );
    assert_eq!(
        every_page(&*store, &name, Some(JobStatus::Queued), 2).await,
        newest_first[..5]
    );
    assert!(
        every_page(&*store, &name, Some(JobStatus::Completed), 5)
            .await
            .is_empty()
    );
    assert!(
        every_page(&*store, &unique("list-none"), None, 5)
            .await
            .is_empty()
    );
}

/// A delete takes finished jobs only, with their keys: the job reads as
/// gone, leaves the listing, and its idempotency key makes a new job.
pub async fn only_finished_jobs_are_deleted(store: Arc<dyn JobStore>) {
    let name = unique("delete");
    let names = names(&[&name]);
    let key = unique("delete-key");
    let done = create(&*store, keyed(&name, &key, "{}")).await;
    let job = claim(&*store, &names).await.unwrap();
    finish(&*store, &job, AttemptStatus::Succeeded, Next::Complete).await;
    let waiting = create(&*store, new_job(&name)).await;
    let deleted = store
        .delete_finished(&[done, waiting, JobId::new()])
        .await
        .unwrap();
    assert_eq!(deleted, [done]);
    assert!(store.get(done).await.unwrap().is_none());
    assert_eq!(
        store.get(waiting).await.unwrap().unwrap().status,
        JobStatus::Queued
    );
    assert_eq!(every_page(&*store, &name, None, 10).await, [waiting]);
    assert!(store.delete_finished(&[]).await.unwrap().is_empty());
    let again = create(&*store, keyed(&name, &key, "{}")).await;
    assert_ne!(again, done, "the deleted job's key is free again");
    assert!(store.delete_finished(&[again]).await.unwrap().is_empty());
    assert_eq!(every_page(&*store, &name, None, 10).await, [again, waiting]);
    // The listing's index is tidied without harm.
    store.tidy_listing(&names).await.unwrap();
    assert_eq!(every_page(&*store, &name, None, 10).await, [again, waiting]);
}

/// A job canceled while it waited, deleted, and made again under its id
/// (a client-chosen id) under another name: a claim for the old name finds
/// nothing, and the new job is claimed once, under its own name. Before
/// the fix the memory store's queue kept the canceled job's place, and a
/// claim for the old name took the new job.
pub async fn a_deleted_jobs_id_made_again_is_claimed_once_under_its_name(store: Arc<dyn JobStore>) {
    let (old, new) = (unique("reuse-old"), unique("reuse-new"));
    let id = JobId::new();
    let mut first = new_job(&old);
    first.id = id;
    create(&*store, first).await;
    assert!(store.cancel(id).await.unwrap().unwrap().ended);
    assert_eq!(store.delete_finished(&[id]).await.unwrap(), [id]);
    let mut again = new_job(&new);
    again.id = id;
    assert_eq!(create(&*store, again).await, id);
    assert!(
        claim(&*store, &names(&[&old])).await.is_none(),
        "the old name has no job"
    );
    let claimed = claim(&*store, &names(&[&new])).await.expect("the new job");
    assert_eq!(claimed.id, id);
    assert_eq!(claimed.name, new);
    assert!(claim(&*store, &names(&[&old, &new])).await.is_none());
}
