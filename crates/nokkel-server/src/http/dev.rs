//! The developer inbox, only in `--demo` mode: letters and text messages the server would
//! have sent, readable as HTML and JSON. Outside demo mode none of these routes exist.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::http::AppState;
use crate::http::{render, ErrorPage, Page};
use crate::services::inbox;
use crate::store::{LetterRecord, LetterState, PersonRecord};

/// The `/dev/*` routes when `demo` is on; no routes otherwise.
pub fn routes(demo: bool) -> Router<AppState> {
    if !demo {
        return Router::new();
    }
    Router::new()
        .route("/dev/letters", get(letters))
        .route("/dev/letters/{id}", get(letter))
        .route("/dev/sms", get(sms))
        .route("/static/letter.css", get(letter_css))
}

/// `?format=json` for the JSON list; `?limit=` (1–1000, default 200) and `?offset=` page
/// through it, newest first. A full page carries a `Link: <…>; rel="next"` header.
#[derive(Deserialize)]
struct Format {
    format: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

impl Format {
    fn json(&self) -> bool {
        self.format.as_deref() == Some("json")
    }

    fn page(&self) -> inbox::Page {
        inbox::Page::new(self.limit, self.offset)
    }
}

/// The JSON list with a `Link` to the next page when this one is full.
fn json_page<T: Serialize>(path: &str, page: inbox::Page, items: Vec<T>) -> Response {
    let next = page.next(items.len());
    let mut response = Json(items).into_response();
    if let Some(next) = next {
        let link = format!(
            "<{path}?format=json&limit={}&offset={}>; rel=\"next\"",
            next.limit, next.offset
        );
        if let Ok(value) = header::HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// A letter as the demo inbox shows it (with the code in clear: demo data only).
#[derive(Serialize)]
struct InboxLetter {
    id: String,
    pid: String,
    name: String,
    code: String,
    state: LetterState,
    created_at: String,
    expires_at: String,
    delivered_by: String,
    abroad: bool,
    #[serde(skip)]
    created: String,
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn full_name(person: Option<&PersonRecord>) -> String {
    person
        .map(|p| format!("{} {}", p.given_name, p.family_name))
        .unwrap_or_default()
}

async fn inbox_letter(state: &AppState, letter: LetterRecord) -> InboxLetter {
    let code = state
        .secrets
        .open(&letter.code_sealed)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let person = inbox::addressee(state, &letter.pid).await.ok().flatten();
    InboxLetter {
        name: full_name(person.as_ref()),
        created: rfc3339(letter.created_at).replace('T', " "),
        created_at: rfc3339(letter.created_at),
        expires_at: rfc3339(letter.expires_at),
        id: letter.id,
        pid: letter.pid,
        code,
        state: letter.state,
        delivered_by: letter.delivered_by,
        abroad: letter.abroad,
    }
}

#[derive(Template)]
#[template(path = "dev_letters.html")]
struct LettersPage {
    page: Page,
    letters: Vec<InboxLetter>,
}

async fn letters(
    State(state): State<AppState>,
    page: Page,
    Query(format): Query<Format>,
) -> Response {
    let window = format.page();
    let records = match inbox::letters(&state, window).await {
        Ok(records) => records,
        Err(err) => {
            tracing::error!(error = %err, "letters outbox unreadable");
            return ErrorPage::Internal.into_response();
        }
    };
    let mut letters = Vec::with_capacity(records.len());
    for record in records {
        letters.push(inbox_letter(&state, record).await);
    }
    if format.json() {
        return json_page("/dev/letters", window, letters);
    }
    render(&LettersPage { page, letters }).into_response()
}

#[derive(Template)]
#[template(path = "letter.html")]
struct LetterPage {
    date: String,
    name: String,
    address: Vec<String>,
    code: String,
    qr_svg: String,
    valid_until: String,
    register_url: String,
}

async fn letter(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let record = match inbox::letter(&state, &id).await {
        Ok(Some(record)) => record,
        Ok(None) => return ErrorPage::NotFound.into_response(),
        Err(err) => {
            tracing::error!(error = %err, "letter unreadable");
            return ErrorPage::Internal.into_response();
        }
    };
    let person = inbox::addressee(&state, &record.pid).await.ok().flatten();
    let expires = record.expires_at;
    let created = record.created_at;
    let inbox = inbox_letter(&state, record).await;
    let lang = crate::i18n::Lang::Nb;
    let date_of = |unix: i64| {
        OffsetDateTime::from_unix_timestamp(unix)
            .map(|t| lang.date(nokkel_core::calendar::oslo_date(t)))
            .unwrap_or_default()
    };
    let page = LetterPage {
        date: date_of(created),
        name: inbox.name.clone(),
        address: person.as_ref().map(address_lines).unwrap_or_default(),
        qr_svg: crate::letter::qr_svg(&inbox.code),
        code: inbox.code,
        valid_until: date_of(expires),
        register_url: format!("{}/register", state.issuer()),
    };
    render(&page).into_response()
}

/// The postal address lines of a person, as the printed letter has them (without the
/// name, which the page shows above them).
pub fn address_lines(person: &PersonRecord) -> Vec<String> {
    crate::letter::envelope::recipient_lines(person)
        .into_iter()
        .skip(1)
        .collect()
}

#[derive(Serialize)]
struct InboxSms {
    to: String,
    body: String,
    purpose: String,
    created_at: String,
    #[serde(skip)]
    created: String,
}

#[derive(Template)]
#[template(path = "dev_sms.html")]
struct SmsPage {
    page: Page,
    messages: Vec<InboxSms>,
}

async fn sms(State(state): State<AppState>, page: Page, Query(format): Query<Format>) -> Response {
    let window = format.page();
    let records = match inbox::text_messages(&state, window).await {
        Ok(records) => records,
        Err(err) => {
            tracing::error!(error = %err, "SMS outbox unreadable");
            return ErrorPage::Internal.into_response();
        }
    };
    let messages: Vec<InboxSms> = records
        .into_iter()
        .map(|m| InboxSms {
            body: state
                .secrets
                .open(&m.body_sealed)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default(),
            created: rfc3339(m.created_at).replace('T', " "),
            created_at: rfc3339(m.created_at),
            to: m.recipient,
            purpose: m.purpose,
        })
        .collect();
    if format.json() {
        return json_page("/dev/sms", window, messages);
    }
    render(&SmsPage { page, messages }).into_response()
}

async fn letter_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../static/letter.css"),
    )
}
