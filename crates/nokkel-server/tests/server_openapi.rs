#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The OpenAPI document at `/api/v1/openapi.json` cannot drift from the server: it is
//! served and is OpenAPI 3.1; its paths and methods are exactly the router's `/api/v1`
//! routes (probed on the real router, including which ones demand a request proof); and
//! every example in it satisfies its own schema and deserializes into the wire type the
//! handlers use, round-tripping to the same JSON.

mod support;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use nokkel_core::wire::{
    ApiError, ApproveRequest, ChallengeOutcomeResponse, ContactDetails, DenyRequest,
    DeviceListResponse, FinishEnrolmentRequest, FinishEnrolmentResponse, HistoryResponse,
    PendingChallengeResponse, ProtocolVersion, PushStatusResponse, RevokeDeviceResponse,
    SetPushRequest, StartEnrolmentRequest, StartEnrolmentResponse, UpdateContactRequest,
};
use nokkel_core::wire::{
    ApproveTransferRequest, LookupTransferRequest, StartTransferRequest, StartTransferResponse,
    TransferDeviceRequest, TransferOfferResponse, TransferStatusResponse,
};
use nokkel_server::http::api::device::AccountResponse;
use nokkel_server::http::api::{OrderReceipt, OrderRequest, OPENAPI_DOCUMENT};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use support::*;
use tower::ServiceExt;

/// Every route under `/api/v1`, read off `api::routes()` and `api::device::routes()`, with
/// whether its handler takes an `AuthenticatedDevice` (a `Nokkel-Proof`).
const ROUTES: &[(&str, &str, bool)] = &[
    ("get", "/api/v1/openapi.json", false),
    ("post", "/api/v1/orders", false),
    ("post", "/api/v1/enrolments", false),
    ("post", "/api/v1/enrolments/{id}/finish", false),
    ("get", "/api/v1/challenges/pending", true),
    ("post", "/api/v1/challenges/{id}/approve", true),
    ("post", "/api/v1/challenges/{id}/deny", true),
    ("get", "/api/v1/devices", true),
    ("delete", "/api/v1/devices/{id}", true),
    ("get", "/api/v1/history", true),
    ("get", "/api/v1/account", true),
    ("post", "/api/v1/account/resume", true),
    ("get", "/api/v1/contact", true),
    ("put", "/api/v1/contact", true),
    ("put", "/api/v1/push", true),
    ("delete", "/api/v1/push", true),
    ("post", "/api/v1/transfers", false),
    ("post", "/api/v1/transfers/lookup", true),
    ("get", "/api/v1/transfers/{id}", false),
    ("post", "/api/v1/transfers/{id}/device", false),
    ("post", "/api/v1/transfers/{id}/approve", true),
    ("post", "/api/v1/transfers/{id}/refuse", true),
];

/// The handler sources whose `.route(..)` calls define the API.
const ROUTE_SOURCES: &[&str] = &[
    include_str!("../src/http/api/mod.rs"),
    include_str!("../src/http/api/device.rs"),
    include_str!("../src/http/api/transfer.rs"),
];

/// `(method, path)` of every `.route("/api/...", get(..).post(..))` call in the sources,
/// so a route added to the code but not to `ROUTES` (and so the document) is noticed.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for source in ROUTE_SOURCES {
        for (start, _) in source.match_indices(".route(\"") {
            let rest = &source[start + ".route(\"".len()..];
            let (path, after) = rest.split_once('"').unwrap();
            // The method router runs to the `)` that closes `.route(`.
            let mut depth = 1;
            let mut end = after.len();
            for (i, c) in after.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let methods = &after[..end];
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = methods.match_indices(&format!("{method}(")).any(|(i, _)| {
                    !methods[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if called {
                    found.insert((method.to_owned(), path.to_owned()));
                }
            }
        }
    }
    found
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(OPENAPI_DOCUMENT).expect("static/openapi.json is JSON")
}

/// `/a/{enrolment_id}/b` and `/a/{id}/b` name the same route.
fn normalise(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

async fn send(server: &TestServer, method: &str, path: &str) -> Answer {
    let request = Request::builder()
        .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let res = server.app.clone().oneshot(request).await.unwrap();
    let status = res.status();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        content_type,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

#[tokio::test]
async fn document_is_served_as_openapi_3_1_json() {
    let server = TestServer::demo(sqlite().await).await;
    let res = send(&server, "get", "/api/v1/openapi.json").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.content_type, "application/json");
    let served: Value = serde_json::from_str(&res.body).expect("served document is JSON");
    assert_eq!(served, document());
    let version = served["openapi"].as_str().expect("openapi member");
    assert!(version.starts_with("3.1."), "openapi {version}");
    let scheme = &served["components"]["securitySchemes"]["NokkelProof"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["in"], "header");
    assert_eq!(scheme["name"], nokkel_core::wire::REQUEST_PROOF_HEADER);
}

#[tokio::test]
async fn paths_are_exactly_the_routers_api_routes() {
    let doc = document();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let security = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no explicit security"));
            let proof = security.iter().any(|s| s.get("NokkelProof").is_some());
            documented.insert((method.clone(), normalise(path), proof));
        }
    }
    let listed: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        routes_in_source(),
        listed,
        "the routes in src/api differ from ROUTES: update ROUTES and static/openapi.json"
    );
    let routed: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p, proof)| ((*m).to_owned(), normalise(p), *proof))
        .collect();
    assert_eq!(
        documented, routed,
        "the document's (method, path, needs proof) differ from the router's"
    );

    // The list above is checked against the real router: each route answers from its
    // handler (JSON, not the HTML 404 fallback), proof routes refuse a call without a
    // proof and the others do not ask for one, and every other method is 405.
    let server = TestServer::demo(sqlite().await).await;
    for (method, path, proof) in ROUTES {
        let concrete = path.replace("{id}", "x");
        let res = send(&server, method, &concrete).await;
        assert!(
            res.content_type.starts_with("application/json"),
            "{method} {path}: {} {} {}",
            res.status,
            res.content_type,
            res.body
        );
        if *proof {
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            let error: ApiError = serde_json::from_str(&res.body).unwrap();
            assert_eq!(error.code, "unauthenticated");
        } else {
            assert_ne!(res.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        }
        let allowed: Vec<&str> = ROUTES
            .iter()
            .filter(|(_, p, _)| p == path)
            .map(|(m, _, _)| *m)
            .collect();
        for other in ["get", "post", "put", "patch", "delete"] {
            if allowed.contains(&other) {
                continue;
            }
            let res = send(&server, other, &concrete).await;
            assert_eq!(
                res.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{other} {path} is not documented, so it must not be routed"
            );
        }
    }
}

/// Resolves a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local reference");
            let target = doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
            resolve(doc, target)
        }
        None => node,
    }
}

fn json_type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("unknown JSON type {other}"),
    }
}

/// Checks `value` against the subset of JSON Schema this document uses; returns the
/// problems found.
fn shape_problems(doc: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
    let mut problems = Vec::new();
    if let Some(variants) = schema.get("oneOf").and_then(Value::as_array) {
        let fitting = variants
            .iter()
            .filter(|v| shape_problems(doc, v, value, at).is_empty())
            .count();
        if fitting != 1 {
            problems.push(format!("{at}: fits {fitting} of the oneOf variants"));
        }
        return problems;
    }
    if let Some(expected) = schema.get("const") {
        if expected != value {
            problems.push(format!("{at}: {value} is not the constant {expected}"));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            problems.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| json_type_matches(t, value)) {
        problems.push(format!("{at}: {value} is not of type {types:?}"));
        return problems;
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        // The document's patterns are all of the form ^[class]{n}$ or ^[class]+$.
        if let Some(text) = value.as_str() {
            if !simple_pattern_matches(pattern, text) {
                problems.push(format!("{at}: {text:?} does not match {pattern}"));
            }
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if schema["additionalProperties"] == Value::Bool(false) {
            for key in object.keys() {
                if !properties.contains_key(key) {
                    problems.push(format!("{at}: member {key} is not in the schema"));
                }
            }
        }
        for required in schema["required"].as_array().into_iter().flatten() {
            let key = required.as_str().unwrap();
            if !object.contains_key(key) {
                problems.push(format!("{at}: required member {key} missing"));
            }
        }
        for (key, member) in object {
            if let Some(sub) = properties.get(key) {
                problems.extend(shape_problems(doc, sub, member, &format!("{at}.{key}")));
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (n, item) in array.iter().enumerate() {
            problems.extend(shape_problems(doc, items, item, &format!("{at}[{n}]")));
        }
    }
    problems
}

fn simple_pattern_matches(pattern: &str, text: &str) -> bool {
    let inner = pattern
        .strip_prefix("^[")
        .and_then(|p| p.strip_suffix('$'))
        .unwrap_or_else(|| panic!("pattern {pattern} is not ^[class]..$"));
    let (class, count) = inner.split_once(']').unwrap();
    let in_class = |c: char| match class {
        "A-Za-z0-9_-" => c.is_ascii_alphanumeric() || c == '_' || c == '-',
        "a-z0-9_" => c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
        other => panic!("character class [{other}] not handled"),
    };
    let length_ok = match count {
        "+" => !text.is_empty(),
        braces => {
            let n: usize = braces
                .trim_start_matches('{')
                .trim_end_matches('}')
                .parse()
                .unwrap();
            text.chars().count() == n
        }
    };
    length_ok && text.chars().all(in_class)
}

/// Deserializes with serde (as the receiving side does) and serializes back (as the
/// sending side does): both must reproduce the example exactly.
fn round_trip<T: DeserializeOwned + Serialize>(example: &Value) -> Result<(), String> {
    let parsed: T = serde_json::from_value(example.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&parsed).map_err(|e| e.to_string())?;
    if &back == example {
        Ok(())
    } else {
        Err(format!("serializes back as {back}"))
    }
}

/// Server types that are only serialized: build one from the example and compare.
fn serialized_as(value: impl Serialize, example: &Value) -> Result<(), String> {
    let produced = serde_json::to_value(value).map_err(|e| e.to_string())?;
    if &produced == example {
        Ok(())
    } else {
        Err(format!("the server would send {produced}"))
    }
}

fn text(example: &Value, key: &str) -> String {
    example[key].as_str().unwrap_or_default().to_owned()
}

fn check_against_wire_type(schema_name: &str, example: &Value) -> Result<(), String> {
    match schema_name {
        "ApiError" => round_trip::<ApiError>(example),
        "OrderRequest" => serde_json::from_value::<OrderRequest>(example.clone())
            .map(|_| ())
            .map_err(|e| e.to_string()),
        "OrderReceipt" => serialized_as(
            OrderReceipt {
                v: ProtocolVersion,
                status: "received",
                domestic_delivery_by: text(example, "domestic_delivery_by"),
                abroad_delivery_by: text(example, "abroad_delivery_by"),
                contact_support_from: text(example, "contact_support_from"),
            },
            example,
        ),
        "StartEnrolmentRequest" => round_trip::<StartEnrolmentRequest>(example),
        "StartEnrolmentResponse" => round_trip::<StartEnrolmentResponse>(example),
        "FinishEnrolmentRequest" => round_trip::<FinishEnrolmentRequest>(example),
        "FinishEnrolmentResponse" => round_trip::<FinishEnrolmentResponse>(example),
        "PendingChallengeResponse" => round_trip::<PendingChallengeResponse>(example),
        "ApproveRequest" => round_trip::<ApproveRequest>(example),
        "DenyRequest" => round_trip::<DenyRequest>(example),
        "ChallengeOutcomeResponse" => round_trip::<ChallengeOutcomeResponse>(example),
        "DeviceListResponse" => round_trip::<DeviceListResponse>(example),
        "RevokeDeviceResponse" => round_trip::<RevokeDeviceResponse>(example),
        "HistoryResponse" => round_trip::<HistoryResponse>(example),
        "AccountResponse" => serialized_as(
            AccountResponse {
                v: ProtocolVersion,
                app_login_blocked: example["app_login_blocked"].as_bool().unwrap_or(false),
            },
            example,
        ),
        "ContactDetails" => round_trip::<ContactDetails>(example),
        "UpdateContactRequest" => round_trip::<UpdateContactRequest>(example),
        "SetPushRequest" => round_trip::<SetPushRequest>(example),
        "PushStatusResponse" => round_trip::<PushStatusResponse>(example),
        "StartTransferRequest" => round_trip::<StartTransferRequest>(example),
        "StartTransferResponse" => round_trip::<StartTransferResponse>(example),
        "TransferDeviceRequest" => round_trip::<TransferDeviceRequest>(example),
        "TransferStatusResponse" => round_trip::<TransferStatusResponse>(example),
        "LookupTransferRequest" => round_trip::<LookupTransferRequest>(example),
        "TransferOfferResponse" => round_trip::<TransferOfferResponse>(example),
        "ApproveTransferRequest" => round_trip::<ApproveTransferRequest>(example),
        other => Err(format!("no wire type is known for schema {other}")),
    }
}

#[test]
fn every_example_fits_its_schema_and_its_wire_type() {
    let doc = document();
    let mut checked = 0;
    let mut problems = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let mut media = Vec::new();
            if let Some(body) = operation.get("requestBody") {
                let body = resolve(&doc, body);
                for (kind, m) in body["content"].as_object().unwrap() {
                    media.push((format!("{method} {path} request {kind}"), m, None));
                }
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                let response = resolve(&doc, response);
                let description = response["description"].as_str().unwrap_or_default();
                for (kind, m) in response["content"].as_object().into_iter().flatten() {
                    media.push((
                        format!("{method} {path} {status} {kind}"),
                        m,
                        Some(description),
                    ));
                }
            }
            for (at, m, description) in media {
                let Some(reference) = m["schema"].get("$ref").and_then(Value::as_str) else {
                    // Inline schemas: the document itself and the framework's plain-text
                    // query rejection; neither is a wire type.
                    assert!(
                        path == "/api/v1/openapi.json" || at.ends_with("text/plain"),
                        "{at}: every JSON body must name a component schema"
                    );
                    continue;
                };
                let name = reference.rsplit('/').next().unwrap();
                let examples = m["examples"].as_object().cloned().unwrap_or_default();
                assert!(!examples.is_empty(), "{at}: no examples");
                for (label, example) in examples {
                    let value = &example["value"];
                    for problem in shape_problems(&doc, &m["schema"], value, &at) {
                        problems.push(format!("{at} example {label}: {problem}"));
                    }
                    if let Err(problem) = check_against_wire_type(name, value) {
                        problems.push(format!("{at} example {label} as {name}: {problem}"));
                    }
                    if name == "ApiError" {
                        // The description must name the code its example shows.
                        let code = value["code"].as_str().unwrap_or_default();
                        if !description
                            .unwrap_or_default()
                            .contains(&format!("`{code}`"))
                        {
                            problems.push(format!("{at}: description does not name `{code}`"));
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 40, "only {checked} examples checked");
}

#[test]
fn the_checks_catch_drift() {
    // A member the wire type does not have, and a missing one, are both caught.
    let doc = document();
    let mut extra = serde_json::json!({"v": 1, "app_login_blocked": true});
    assert!(check_against_wire_type("AccountResponse", &extra).is_ok());
    extra["paused_since"] = Value::from(1);
    assert!(check_against_wire_type("AccountResponse", &extra).is_err());
    let missing = serde_json::json!({"v": 1, "device_id": "cZeB74v2kUBUnWb0QmZA3kWN8j-qQF1WsH9rnPhUvyU", "name": "x", "platform": "android", "enrolled_at": 1, "this_device": true});
    let schema = serde_json::json!({"$ref": "#/components/schemas/DeviceSummary"});
    assert!(!shape_problems(&doc, &schema, &missing, "t").is_empty());
    let wrapped = serde_json::json!({"v": 1, "devices": [missing]});
    assert!(check_against_wire_type("DeviceListResponse", &wrapped).is_err());
    let bad_id = serde_json::json!({"v": 1, "device_id": "short"});
    let schema = serde_json::json!({"$ref": "#/components/schemas/RevokeDeviceResponse"});
    assert!(!shape_problems(&doc, &schema, &bad_id, "t").is_empty());
    assert!(check_against_wire_type("RevokeDeviceResponse", &bad_id).is_err());
}
