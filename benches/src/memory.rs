//! Memory per stored job: RSS growth of a process that stores N jobs with a
//! 100-byte payload, against a plain HashMap holding the same payloads.

use std::borrow::Cow;
use std::collections::HashMap;

use asyncep::job::{JobId, JobInput};
use asyncep::store::{JobStore, MemoryStore, NewJob};

use crate::load::BODY;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// Bytes of RSS per job for `kind` (`asyncep` or `hashmap`).
pub async fn probe(kind: &str, jobs: usize) -> f64 {
    let before = rss_bytes();
    let bytes = match kind {
        "asyncep" => {
            // No byte budget: the probe measures what a job costs, and a
            // million of them exceed the default budget of 512 MiB.
            let store = MemoryStore::with_capacity(jobs + 1).byte_budget(usize::MAX);
            for n in 0..jobs {
                let input = JobInput {
                    body: Some(BODY.into()),
                    route_params: vec![("id".to_owned(), n.to_string())],
                    ..JobInput::default()
                };
                store
                    .create(NewJob {
                        id: JobId::new(),
                        name: Cow::Borrowed("bench-submit"),
                        max_retries: 3,
                        input,
                        idempotency: None,
                        caller: None,
                    })
                    .await
                    .unwrap();
            }
            let grown = rss_bytes() - before;
            assert_eq!(store.len(), jobs);
            grown
        }
        "hashmap" => {
            struct Stored {
                _payload: Box<str>,
                _route: Box<str>,
                _created: u64,
            }
            let mut map = HashMap::new();
            for n in 0..jobs {
                let stored = Stored {
                    _payload: BODY.into(),
                    _route: n.to_string().into(),
                    _created: n as u64,
                };
                map.insert(uuid::Uuid::new_v4(), stored);
            }
            let grown = rss_bytes() - before;
            assert_eq!(map.len(), jobs);
            grown
        }
        other => panic!("unknown memory probe {other}"),
    };
    bytes as f64 / jobs as f64
}
