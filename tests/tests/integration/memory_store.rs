//! The store conformance suite against the memory store.

asyncep_tests::store_conformance!(Some(::std::sync::Arc::new(
    ::asyncep::store::MemoryStore::new()
)));
