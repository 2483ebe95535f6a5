//! A worker's turn: the finish of its job and its next claim together
//! (`JobStore::finish_and_claim`), on every store.

use std::sync::Arc;

use asyncep::job::{AttemptStatus, JobStatus, Next};
use asyncep::store::{JobStore, Lease, Outcome, StoreError};

use super::{LEASE, attempt, claim, create, names, new_job, request, unique};

/// The finish is recorded and the claim takes the next job; a repeat of
/// the claim after a lost reply (same id) gets the same job.
pub async fn a_turn_records_the_finish_and_claims_the_next_job(store: Arc<dyn JobStore>) {
    let name = unique("turn");
    let first = create(&*store, new_job(&name)).await;
    let second = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let running = claim(&*store, &names).await.unwrap();
    assert_eq!(running.id, first);
    let next = request(&names, LEASE, 1);
    let outcome = Outcome {
        attempt: attempt(&running, AttemptStatus::Succeeded),
        next: Next::Complete,
    };
    let turn = store.finish_and_claim(&running.lease, outcome, &next).await;
    turn.finished.expect("the finish");
    let claimed = turn.claimed.expect("a claim was made").expect("the claim");
    let taken: Vec<_> = claimed.jobs.iter().map(|job| job.id).collect();
    assert_eq!(taken, [second]);
    assert_eq!(
        store.get(first).await.unwrap().unwrap().status,
        JobStatus::Completed
    );
    let again = store
        .claim(&asyncep::store::ClaimRequest {
            repeat: true,
            ..next
        })
        .await
        .unwrap();
    let repeated: Vec<_> = again.jobs.iter().map(|job| job.id).collect();
    assert_eq!(repeated, [second], "a repeated claim finds what it took");
}

/// A zombie's turn: its finish is refused, and its claim is made all the
/// same (the worker is free for the next job).
pub async fn a_zombies_turn_is_refused_the_finish_but_claims(store: Arc<dyn JobStore>) {
    let name = unique("zombie-turn");
    let first = create(&*store, new_job(&name)).await;
    let second = create(&*store, new_job(&name)).await;
    let names = names(&[&name]);
    let running = claim(&*store, &names).await.unwrap();
    let zombie = Lease {
        token: running.lease.token + 1_000_000,
        ..running.lease.clone()
    };
    let outcome = Outcome {
        attempt: attempt(&running, AttemptStatus::Succeeded),
        next: Next::Complete,
    };
    let turn = store
        .finish_and_claim(&zombie, outcome, &request(&names, LEASE, 1))
        .await;
    assert!(
        matches!(turn.finished, Err(StoreError::LeaseLost { id }) if id == first),
        "{:?}",
        turn.finished
    );
    let claimed = turn.claimed.expect("a claim was made").expect("the claim");
    assert_eq!(claimed.jobs.len(), 1);
    assert_eq!(claimed.jobs[0].id, second);
    assert_eq!(
        store.get(first).await.unwrap().unwrap().status,
        JobStatus::InProgress,
        "the owner's job is left alone"
    );
}
