//! The store conformance suite and the model-based test against the memory
//! store.

fn memory() -> Option<std::sync::Arc<dyn asyncep::store::JobStore>> {
    Some(std::sync::Arc::new(asyncep::store::MemoryStore::new()))
}

asyncep_tests::store_conformance!(memory());
asyncep_tests::store_model!(memory());
