//! The store conformance suite against a real Redis server.

asyncep_tests::store_conformance!(asyncep_tests::services::redis_dyn());
