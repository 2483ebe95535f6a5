//! The store conformance suite and the model-based test against a real
//! PostgreSQL server.

asyncep_tests::store_conformance!(asyncep_tests::services::postgres_dyn());
asyncep_tests::store_model!(asyncep_tests::services::postgres_dyn());
