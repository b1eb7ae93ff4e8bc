//! The OpenAPI 3.1 document of the API, generated from the handlers' `#[utoipa::path]`
//! attributes and their body types, served at `GET /openapi.json`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "snowsync",
        description = "Security findings in, ServiceNow tickets out, ticket state back. \
            Keys have a role: ingest keys (`http.api_keys`) send and read findings; \
            admin keys (`admin.api_keys`) may also use the outbox and mapping endpoints.",
    ),
    paths(
        super::ingest::generic,
        super::ingest::oort,
        super::ingest::approval,
        super::ingest::event_by_key,
        super::ingest::event_by_id,
        super::findings::list,
        super::findings::show,
        super::outbox::list,
        super::outbox::show,
        super::outbox::retry_one,
        super::outbox::retry_dead,
        super::mappings::show,
        super::mappings::render,
        super::hints::servicenow_event,
        super::healthz,
        super::readyz,
        super::metrics,
        super::openapi_json,
    ),
    modifiers(&SecuritySchemes, &EmptyQueryValues),
    tags(
        (name = "ingest", description = "Findings and source events in (ingest or admin key)"),
        (name = "findings", description = "Findings with their tickets (ingest or admin key)"),
        (name = "outbox", description = "The delivery queue: list, show, retry dead rows (admin key)"),
        (name = "mappings", description = "Rules, profiles and the dry run (admin key)"),
        (name = "reverse sync", description = "Push hints from the instance (signed)"),
        (name = "operations", description = "Health, readiness, metrics and this document (no key)"),
    )
)]
pub struct ApiDoc;

/// The three ways a request proves itself: an API key in either header, or the signature
/// of a push hint.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-client-token",
                "An API key, as Oort's webhooks send it",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key as a bearer token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "push_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-snowsync-signature",
                "HMAC-SHA256 with poller.push_secret, beside x-snowsync-timestamp",
            ))),
        );
    }
}

/// Every query parameter may also be given empty, which counts as not given (as an HTML
/// form sends an empty field): `params::query_pairs` reads them so, for every endpoint.
struct EmptyQueryValues;

impl Modify for EmptyQueryValues {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if parameter.parameter_in != ParameterIn::Query {
                        continue;
                    }
                    let Some(schema) = parameter.schema.take() else {
                        continue;
                    };
                    let empty = ObjectBuilder::new()
                        .schema_type(Type::String)
                        .max_length(Some(0))
                        .description(Some("empty: the same as not given"));
                    parameter.schema = Some(
                        Schema::AnyOf(AnyOfBuilder::new().item(schema).item(empty).build()).into(),
                    );
                }
            }
        }
    }
}

/// The document as served.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
