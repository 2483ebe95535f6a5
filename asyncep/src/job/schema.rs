//! The OpenAPI schemas of the job document's own value types (feature
//! `openapi`); the document's structs derive theirs.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

use super::{JobId, RawJson, Timestamp};

impl PartialSchema for JobId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("uuid".into())))
            .description(Some("A job's id: a UUID."))
            .into()
    }
}

impl ToSchema for JobId {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("JobId")
    }
}

impl PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("A time, in RFC 3339 and UTC."))
            .into()
    }
}

impl ToSchema for Timestamp {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Timestamp")
    }
}

impl PartialSchema for RawJson {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some("Any JSON value, as the handler produced it."))
            .into()
    }
}

impl ToSchema for RawJson {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("JsonValue")
    }
}
