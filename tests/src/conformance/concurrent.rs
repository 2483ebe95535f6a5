//! Writes at the same time: a store may commit them together (PostgreSQL
//! groups concurrent creates and finishes into one statement), but each
//! caller still gets the answer of its own write.

use std::sync::Arc;

use asyncep::job::{AttemptStatus, Fingerprint, JobId, JobStatus, Next};
use asyncep::store::{Created, JobStore, Lease, Outcome, StoreError};

use super::{LEASE, attempt, create, keyed, names, new_job, request, unique, with_id};

/// What one of the concurrent creates below is, and so what it must get.
#[derive(Clone, Copy, Debug)]
enum Expect {
    New,
    Repeat,
    Conflict,
}

/// New jobs, repeats of a stored key and conflicts with it, sent at once:
/// each gets its own answer, and only the new ones are queued.
pub async fn concurrent_creates_each_get_their_own_answer(store: Arc<dyn JobStore>) {
    let name = unique("mixed-creates");
    let key = format!("mixed-{}", JobId::new());
    let first = create(&*store, keyed(&name, &key, "{\"n\":1}")).await;
    let plan: Vec<Expect> = (0..60)
        .map(|i| match i % 6 {
            1 => Expect::Repeat,
            4 => Expect::Conflict,
            _ => Expect::New,
        })
        .collect();
    let tasks: Vec<_> = plan
        .iter()
        .map(|&expect| {
            let (store, name, key) = (store.clone(), name.clone(), key.clone());
            tokio::spawn(async move {
                let job = match expect {
                    Expect::New => new_job(&name),
                    Expect::Repeat => keyed(&name, &key, "{\"n\":1}"),
                    Expect::Conflict => keyed(&name, &key, "{\"n\":2}"),
                };
                let id = job.id;
                (expect, id, store.create(job).await)
            })
        })
        .collect();
    let mut made = Vec::new();
    for task in tasks {
        let (expect, id, answer) = task.await.unwrap();
        match (expect, answer) {
            (Expect::New, Ok(Created::New(job))) => {
                assert_eq!(job.id, id);
                made.push(id);
            }
            (Expect::Repeat, Ok(Created::Existing(job))) => assert_eq!(job.id, first),
            (Expect::Conflict, Err(StoreError::IdempotencyConflict { existing })) => {
                assert_eq!(existing, first);
            }
            (expect, answer) => panic!("{expect:?} got {answer:?}"),
        }
    }
    assert_eq!(made.len(), 40);
    let names = names(&[&name]);
    let claimed = store.claim(&request(&names, LEASE, 100)).await.unwrap();
    let mut queued: Vec<JobId> = claimed.jobs.iter().map(|job| job.id).collect();
    made.push(first);
    queued.sort();
    made.sort();
    assert_eq!(queued, made, "each new job queued once, nothing else");
}

/// A job id sent again with another request, among new jobs sent at once:
/// it alone conflicts.
pub async fn a_reused_id_among_concurrent_creates_conflicts_alone(store: Arc<dyn JobStore>) {
    let name = unique("taken-among");
    let id = JobId::new();
    create(&*store, with_id(id, &name, None, Fingerprint([1; 16]))).await;
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let (store, name) = (store.clone(), name.clone());
            tokio::spawn(async move {
                let job = if i == 15 {
                    with_id(id, &name, None, Fingerprint([2; 16]))
                } else {
                    new_job(&name)
                };
                (i, store.create(job).await)
            })
        })
        .collect();
    for task in tasks {
        match task.await.unwrap() {
            (15, answer) => assert!(
                matches!(answer, Err(StoreError::IdempotencyConflict { existing }) if existing == id),
                "{answer:?}"
            ),
            (_, answer) => assert!(matches!(answer, Ok(Created::New(_))), "{answer:?}"),
        }
    }
}

/// Many workers finishing at once, and zombies among them: every owner's
/// outcome is recorded once, every zombie is told its lease is lost.
pub async fn concurrent_finishes_each_get_their_own_answer(store: Arc<dyn JobStore>) {
    let name = unique("mixed-finishes");
    for _ in 0..40 {
        create(&*store, new_job(&name)).await;
    }
    let names = names(&[&name]);
    let claimed = store.claim(&request(&names, LEASE, 40)).await.unwrap().jobs;
    assert_eq!(claimed.len(), 40);
    let mut tasks = Vec::new();
    for (i, job) in claimed.iter().enumerate() {
        let (status, next) = if i % 2 == 0 {
            (AttemptStatus::Succeeded, Next::Complete)
        } else {
            (AttemptStatus::Failed, Next::Fail)
        };
        let outcome = Outcome {
            attempt: attempt(job, status),
            next,
        };
        let (owner, lease) = (store.clone(), job.lease.clone());
        tasks.push(tokio::spawn(async move {
            (true, owner.finish(&lease, outcome).await)
        }));
        if i % 5 == 0 {
            let zombie = Lease {
                token: job.lease.token + 1_000_000,
                ..job.lease.clone()
            };
            let outcome = Outcome {
                attempt: attempt(job, AttemptStatus::Succeeded),
                next: Next::Complete,
            };
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                (false, store.finish(&zombie, outcome).await)
            }));
        }
    }
    for task in tasks {
        match task.await.unwrap() {
            (true, answer) => answer.expect("the owner's finish"),
            (false, answer) => assert!(
                matches!(answer, Err(StoreError::LeaseLost { .. })),
                "a zombie got {answer:?}"
            ),
        }
    }
    for (i, job) in claimed.iter().enumerate() {
        let stored = store.get(job.id).await.unwrap().unwrap();
        let expected = if i % 2 == 0 {
            JobStatus::Completed
        } else {
            JobStatus::Failed
        };
        assert_eq!(stored.status, expected, "job {i}");
        assert_eq!(stored.attempts.len(), 1, "job {i}");
    }
}
