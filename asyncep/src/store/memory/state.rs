//! What the memory store holds behind its lock: the records and the indexes
//! that order them. Every change of a job goes through
//! [`Lifecycle::apply`]; this module only moves the job between indexes.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::clock::Mono;
use super::listing::Listing;
use super::record::{JOB_OVERHEAD, Keys, Record, attempt_weight};
use crate::job::{
    Applied, End, Event, Job, JobId, JobInput, Lifecycle, Placement, RawJson, Timestamp,
};
use crate::store::repeat::{self, Decision, Found};
use crate::store::{ClaimId, ClaimedJob, JobPage, Lease, ListQuery, NewJob, Retention};

/// foldhash (randomly seeded per process): much cheaper than SipHash on the
/// submit path, and client-chosen ids cannot aim at its collisions.
type Hasher = foldhash::fast::RandomState;

#[derive(Debug, Default)]
pub(super) struct State {
    /// Each record boxed: a table of 1,000,000 jobs has 2,097,152 slots,
    /// and slots that held the 168-byte record itself cost 388 bytes a job
    /// (now 52, and the box 176).
    pub(super) jobs: HashMap<JobId, Box<Record>, Hasher>,
    keys: HashMap<String, JobId, Hasher>,
    /// Runnable jobs per name, each with the sequence number that orders
    /// jobs across names and when it joined the queue.
    ready: HashMap<Cow<'static, str>, VecDeque<(u64, Mono, JobId)>, Hasher>,
    /// Jobs waiting for a retry, per name, earliest first. A due retry joins
    /// the end of its ready queue when a claim for its name finds it due (as
    /// on Redis).
    scheduled: HashMap<Cow<'static, str>, BinaryHeap<Reverse<Retry>>, Hasher>,
    /// Leased jobs: when the lease ends, and the claim that took it.
    running: HashMap<JobId, Running, Hasher>,
    /// No lease ends before this (a lower bound, so a claim looks for
    /// expired leases only when one may have expired).
    earliest_expiry: Option<Mono>,
    /// Finished jobs by the end of their retention, each with when it
    /// ended: a job an operator ran again (and that may have ended again
    /// since) is not dropped by its earlier end's entry.
    completed: VecDeque<(Mono, JobId, Timestamp)>,
    failed: VecDeque<(Mono, JobId, Timestamp)>,
    /// Every job by name, in the order they were created.
    listing: Listing,
    sequence: u64,
    tokens: u64,
    /// About how many bytes the records hold (see [`Record::weight`]).
    pub(super) bytes: usize,
    /// The input a completion just let go of, freed by the caller once the
    /// lock is released (freeing a large body under the lock would hold up
    /// every other worker).
    pub(super) spent: Option<Arc<JobInput>>,
}

/// The most jobs one listing page looks at.
const LIST_SCAN: usize = 10_000;

/// A scheduled retry: when it is due, the order it was scheduled in, the job.
type Retry = (Mono, u64, JobId);

#[derive(Clone, Copy, Debug)]
struct Running {
    deadline: Mono,
    claim: ClaimId,
}

/// The answer of [`State::create`].
pub(super) enum Admission {
    New(Job),
    Existing(Job),
    Conflict(JobId),
    Taken,
    Full,
    OverBudget,
}

impl State {
    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// Puts `id` at the end of its name's ready queue; returns the entry's
    /// sequence number, which the record keeps.
    fn enqueue(&mut self, name: Cow<'static, str>, id: JobId, now: Mono) -> u64 {
        let sequence = self.next_sequence();
        self.ready
            .entry(name)
            .or_default()
            .push_back((sequence, now, id));
        sequence
    }

    /// Stores `new`, or finds the job it repeats. Expired jobs are dropped
    /// first, so a repeat never finds a job that already reads as `404`.
    pub(super) fn create(
        &mut self,
        new: NewJob,
        now: Timestamp,
        mono: Mono,
        capacity: usize,
        budget: usize,
    ) -> Admission {
        self.purge(mono);
        let fingerprint = new.idempotency.as_ref().map(|i| i.fingerprint);
        let key = new
            .idempotency
            .as_ref()
            .and_then(|i| i.key.as_deref())
            .map(|key| repeat::scoped_key(new.caller.as_ref(), key));
        let found = Found {
            by_key: key
                .as_ref()
                .and_then(|key| self.keys.get(key))
                .map(|id| (*id, self.jobs[id].fingerprint())),
            by_id: self
                .jobs
                .get(&new.id)
                .map(|record| (record.fingerprint(), record.caller == new.caller)),
        };
        match repeat::decide(new.id, fingerprint, found) {
            Decision::Conflict { job } => Admission::Conflict(job),
            Decision::Taken => Admission::Taken,
            Decision::Existing { job, record_key } => {
                if let (true, Some(key)) = (record_key, key) {
                    self.keys.insert(key.clone(), job);
                    if let Some(keys) = self.jobs.get_mut(&job).and_then(|r| r.idempotency.as_mut())
                    {
                        keys.keys.push(key);
                    }
                }
                Admission::Existing(self.jobs[&job].job(job))
            }
            Decision::Create if self.jobs.len() >= capacity => Admission::Full,
            Decision::Create if self.bytes + JOB_OVERHEAD + new.input.stored_size() > budget => {
                Admission::OverBudget
            }
            Decision::Create => {
                let weight = JOB_OVERHEAD
                    + new.input.stored_size()
                    + new.name.len()
                    + key.as_ref().map_or(0, String::len);
                let idempotency = new.idempotency.map(|i| {
                    if let Some(key) = &key {
                        self.keys.insert(key.clone(), new.id);
                    }
                    Box::new(Keys {
                        fingerprint: i.fingerprint,
                        keys: key.into_iter().collect(),
                    })
                });
                let queued = self.enqueue(new.name.clone(), new.id, mono);
                self.listing.add(&new.name, now, new.id);

                self.bytes += weight;
                let record = Record {
                    name: new.name,
                    life: Lifecycle::queued(new.max_retries, now),
                    input: Some(Arc::new(new.input)),
                    caller: new.caller,
                    history: None,
                    idempotency,
                    weight,
                    queued,
                };
                let job = record.job(new.id);
                self.jobs.insert(new.id, Box::new(record));
                Admission::New(job)
            }
        }
    }

    /// Drops finished jobs whose retention has passed; returns how many.
    pub(super) fn purge(&mut self, now: Mono) -> u64 {
        let mut purged = 0;
        for failed in [false, true] {
            loop {
                let queue = if failed {
                    &mut self.failed
                } else {
                    &mut self.completed
                };
                let Some(&(_, id, ended)) = queue.front().filter(|(at, ..)| *at <= now) else {
                    break;
                };
                queue.pop_front();
                let current = self
                    .jobs
                    .get(&id)
                    .is_some_and(|record| record.life.completed_at == Some(ended));
                if current && self.drop_record(id) {
                    purged += 1;
                }
            }
        }
        purged
    }

    /// Lets go of a job: its record, its keys, its place in the listing.
    fn drop_record(&mut self, id: JobId) -> bool {
        let Some(record) = self.jobs.remove(&id) else {
            return false;
        };
        for key in record.idempotency.iter().flat_map(|i| &i.keys) {
            self.keys.remove(key);
        }
        self.bytes -= record.weight;
        let jobs = &self.jobs;
        self.listing.removed(&record.name, |(created_at, id)| {
            jobs.get(id)
                .is_some_and(|record| record.life.created_at == *created_at)
        });
        true
    }

    /// A page of an operator's listing. With a status, a page stops after
    /// looking at `LIST_SCAN` jobs, so that a rare status costs a bounded
    /// time under the lock.
    pub(super) fn list(&self, query: &ListQuery) -> JobPage {
        let mut jobs = Vec::new();
        let mut looked = 0;
        let next = self
            .listing
            .walk(&query.name, query.after, |created_at, id| {
                looked += 1;
                let record = self
                    .jobs
                    .get(&id)
                    .filter(|record| record.life.created_at == created_at);
                if let Some(record) = record {
                    if query
                        .status
                        .is_none_or(|status| status == record.life.status)
                    {
                        jobs.push(record.job(id));
                    }
                }
                jobs.len() < query.limit && looked < LIST_SCAN
            });
        JobPage { jobs, next }
    }

    /// Deletes those of `ids` that have finished.
    pub(super) fn delete_finished(&mut self, ids: &[JobId]) -> Vec<JobId> {
        ids.iter()
            .copied()
            .filter(|id| {
                self.jobs
                    .get(id)
                    .is_some_and(|record| record.life.status.is_terminal())
                    && self.drop_record(*id)
            })
            .collect()
    }

    /// Moves the due retries of `names` to their ready queues, earliest due
    /// first across the names; returns how long until the next of theirs is
    /// due.
    fn promote_due(&mut self, names: &crate::store::JobNames, now: Mono) -> Option<Duration> {
        let mut next_due: Option<Mono> = None;
        let mut due = Vec::new();
        for name in names.iter() {
            let Some(heap) = self.scheduled.get_mut(name) else {
                continue;
            };
            while let Some(&Reverse(retry)) = heap.peek() {
                if retry.0 > now {
                    next_due = Some(next_due.map_or(retry.0, |next| next.min(retry.0)));
                    break;
                }
                heap.pop();
                due.push(retry);
            }
        }
        due.sort_unstable();
        for (_, sequence, id) in due {
            let Some(record) = self.jobs.get(&id).filter(|r| r.queued == sequence) else {
                continue;
            };
            let name = record.name.clone();
            let queued = self.enqueue(name, id, now);
            if let Some(record) = self.jobs.get_mut(&id) {
                record.queued = queued;
            }
        }
        next_due.map(|at| at.since(now))
    }

    /// The id of the oldest ready job among `names`, and when it joined
    /// the queue.
    fn pop_oldest(&mut self, names: &crate::store::JobNames) -> Option<(u64, JobId, Mono)> {
        let name = names
            .iter()
            .filter_map(|name| Some((self.ready.get(name)?.front()?.0, name)))
            .min()
            .map(|(_, name)| name)?;
        self.ready
            .get_mut(name)?
            .pop_front()
            .map(|(sequence, since, id)| (sequence, id, since))
    }

    /// How the queue of `name` stands: its ready jobs, and its retries
    /// that fell due (counted from the heap of that name's retries alone).
    pub(super) fn queue_depth(&self, name: &str, now: Mono) -> crate::store::QueueDepth {
        let ready = self.ready.get(name);
        let due = self.scheduled.get(name).map_or((0, None), |heap| {
            heap.iter().filter(|Reverse(retry)| retry.0 <= now).fold(
                (0_u64, None::<Mono>),
                |(count, earliest), Reverse(retry)| {
                    (
                        count + 1,
                        Some(earliest.map_or(retry.0, |e| e.min(retry.0))),
                    )
                },
            )
        });
        let since = ready
            .and_then(|queue| queue.front())
            .map(|&(_, since, _)| since)
            .into_iter()
            .chain(due.1)
            .min();
        crate::store::QueueDepth {
            runnable: ready.map_or(0, |queue| queue.len() as u64) + due.0,
            oldest: since.map(|since| now.since(since)),
        }
    }

    /// The jobs the claim `claim` took that still run under it, oldest
    /// claim first (a scan of the running jobs: only a repeated claim asks).
    pub(super) fn reclaim(&self, claim: ClaimId, now: Mono) -> Vec<ClaimedJob> {
        let mut jobs: Vec<ClaimedJob> = self
            .running
            .iter()
            // Only leases that still hold: an expired one belongs to recovery.
            .filter(|(_, running)| running.claim == claim && running.deadline > now)
            .map(|(id, running)| {
                self.jobs[id].claimed(*id, running.deadline.since(now), Duration::ZERO)
            })
            .collect();
        jobs.sort_by_key(|job| job.lease.token);
        jobs
    }

    /// Recovers expired leases, then takes up to `limit` runnable jobs among
    /// `names`; returns them, how long until a retry falls due when none was
    /// runnable, and the expired leases it recovered.
    pub(super) fn claim(
        &mut self,
        request: &crate::store::ClaimRequest,
        now: Timestamp,
        mono: Mono,
        retention: Retention,
    ) -> (Vec<ClaimedJob>, Option<Duration>, Vec<JobId>) {
        let recovered = self.recover(now, mono, retention, None);
        let next_due = self.promote_due(&request.names, mono);
        let deadline = mono + request.lease;
        let mut jobs = Vec::new();
        while jobs.len() < request.limit {
            let Some((sequence, id, since)) = self.pop_oldest(&request.names) else {
                break;
            };
            let Some(record) = self.jobs.get_mut(&id).filter(|r| r.queued == sequence) else {
                continue;
            };
            self.tokens += 1;
            let token = self.tokens;
            if record.life.apply(Event::Claim { token }, now).is_err() {
                continue;
            }
            jobs.push(record.claimed(id, request.lease, mono.since(since)));
            self.running.insert(
                id,
                Running {
                    deadline,
                    claim: request.id,
                },
            );
        }
        if !jobs.is_empty() {
            self.earliest_expiry = Some(self.earliest_expiry.map_or(deadline, |e| e.min(deadline)));
        }
        let next_due = if jobs.is_empty() { next_due } else { None };
        (jobs, next_due, recovered)
    }

    /// The job running under `lease`, if the lease is still its.
    fn leased(&mut self, lease: &Lease) -> Option<&mut Record> {
        self.jobs
            .get_mut(&lease.job_id)
            .map(|record| &mut **record)
            .filter(|record| {
                record.life.token == lease.token
                    && record.life.status == crate::job::JobStatus::InProgress
            })
    }

    /// Extends a lease; `None` if it is no longer the job's, else whether a
    /// cancel was asked.
    pub(super) fn renew(&mut self, lease: &Lease, deadline: Mono) -> Option<bool> {
        let cancel_requested = self.leased(lease)?.life.cancel_requested;
        let running = self.running.get_mut(&lease.job_id)?;
        running.deadline = deadline;
        // A renewal may shorten a lease: keep the bound a bound.
        self.earliest_expiry = Some(self.earliest_expiry.map_or(deadline, |e| e.min(deadline)));
        Some(cancel_requested)
    }

    /// Keeps the latest progress of the job running under `lease`; false if
    /// the lease is no longer the job's.
    pub(super) fn progress(&mut self, lease: &Lease, progress: RawJson, now: Timestamp) -> bool {
        let Some(record) = self.leased(lease) else {
            return false;
        };
        let history = record.history.get_or_insert_default();
        let (added, freed) = (
            progress.get().len(),
            history.progress.as_ref().map_or(0, |p| p.get().len()),
        );
        history.progress = Some(progress);
        record.weight = record.weight + added - freed;
        record.life.last_updated_at = now;
        self.bytes = self.bytes + added - freed;
        true
    }

    /// Applies `event` to the job and moves it between the indexes.
    /// `Ok(false)`: the same finish was applied before.
    pub(super) fn apply(
        &mut self,
        id: JobId,
        event: Event,
        now: Timestamp,
        mono: Mono,
        retention: Retention,
    ) -> Result<bool, crate::job::Refusal> {
        let record = self
            .jobs
            .get_mut(&id)
            .ok_or(crate::job::Refusal::LeaseLost)?;
        let step = match record.life.apply(event, now)? {
            Applied::Moved(step) => step,
            Applied::AlreadyApplied => return Ok(false),
        };
        let before = record.weight;
        let history = record.history.get_or_insert_default();
        if let Some(attempt) = step.attempt {
            record.weight += attempt_weight(&attempt);
            history.attempts.push(attempt);
        }
        if step.reopened {
            if let Some(error) = history.error.take() {
                record.weight -= error.code.len() + error.message.len();
            }
        }
        match step.end {
            Some(End::Completed(result)) => {
                // The result is the last attempt's, shared: no new bytes.
                history.result = result;
                if let Some(input) = record.input.take() {
                    record.weight -= input.stored_size();
                    self.spent = Some(input);
                }
            }
            Some(End::Failed(error) | End::Canceled(error)) => {
                record.weight += error.code.len() + error.message.len();
                history.error = Some(error);
            }
            None => {}
        }
        self.bytes = self.bytes + record.weight - before;
        let status = record.life.status;
        let ended = record.life.completed_at.unwrap_or(now);
        let name = record.name.clone();
        if step.placement != Placement::Running {
            self.running.remove(&id);
        }
        match step.placement {
            Placement::Running => {}
            Placement::Ready => {
                let queued = self.enqueue(name, id, mono);
                self.requeued(id, queued);
            }
            Placement::Scheduled { after } => {
                let sequence = self.next_sequence();
                self.scheduled
                    .entry(name)
                    .or_default()
                    .push(Reverse((mono + after, sequence, id)));
                self.requeued(id, sequence);
            }
            Placement::Finished if status == crate::job::JobStatus::Completed => {
                self.completed
                    .push_back((mono + retention.completed, id, ended));
            }
            Placement::Finished => self.failed.push_back((mono + retention.failed, id, ended)),
        }
        Ok(true)
    }

    /// Notes the sequence number of `id`'s new queue entry.
    fn requeued(&mut self, id: JobId, sequence: u64) {
        if let Some(record) = self.jobs.get_mut(&id) {
            record.queued = sequence;
        }
    }

    /// Applies an event a client or an operator asked for (`Cancel`,
    /// `Retry`) to `id`: returns the job as it is after, and whether it
    /// moved; `None` if there is no such job.
    pub(super) fn apply_asked(
        &mut self,
        id: JobId,
        event: Event,
        now: Timestamp,
        mono: Mono,
        retention: Retention,
    ) -> Option<(Job, bool)> {
        self.purge(mono);
        self.jobs.get(&id)?;
        // A refusal (a cancel of an ended job, a retry of one that did not
        // fail) is an answer here, not an error: nothing moved.
        let moved = self.apply(id, event, now, mono, retention).unwrap_or(false);
        Some((self.jobs[&id].job(id), moved))
    }

    /// Hands back every job whose lease expired (or only `limit` of them);
    /// returns their ids.
    pub(super) fn recover(
        &mut self,
        now: Timestamp,
        mono: Mono,
        retention: Retention,
        limit: Option<usize>,
    ) -> Vec<JobId> {
        if self.earliest_expiry.is_none_or(|earliest| earliest > mono) {
            return Vec::new();
        }
        let mut expired: Vec<(Mono, JobId)> = self
            .running
            .iter()
            .filter(|(_, running)| running.deadline <= mono)
            .map(|(id, running)| (running.deadline, *id))
            .collect();
        // Earliest lease first (ties by id), as Redis' sorted set orders them.
        expired.sort_unstable();
        expired.truncate(limit.unwrap_or(usize::MAX));
        let expired: Vec<JobId> = expired.into_iter().map(|(_, id)| id).collect();
        for &id in &expired {
            // Only running jobs have a lease, and a running job always
            // accepts `LeaseExpired`.
            let _ = self.apply(id, Event::LeaseExpired, now, mono, retention);
        }
        self.earliest_expiry = self.running.values().map(|r| r.deadline).min();
        expired
    }
}
