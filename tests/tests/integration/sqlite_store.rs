//! The store conformance suite and the model-based test on an SQLite file.

asyncep_tests::store_conformance!(asyncep_tests::services::sqlite_dyn());
asyncep_tests::store_model!(asyncep_tests::services::sqlite_dyn());
