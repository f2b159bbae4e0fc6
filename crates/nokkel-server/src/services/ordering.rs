//! Ordering an activation letter: the decision comes from `nokkel_core::ordering`; this
//! service gathers the facts, records the order, and writes the letter to the outbox.
//!
//! Whatever the decision, the caller gets the same [`Receipt`], so the answer reveals
//! nothing about the person. Only malformed input and the per-client rate limit produce
//! errors, and neither depends on who the number belongs to.

use nokkel_core::activation_code::ActivationCode;
use nokkel_core::calendar::{contact_support_from, expected_delivery, oslo_date, Destination};
use nokkel_core::id_number::IdNumber;
use nokkel_core::ordering::{decide_order, OrderDecision, OrderFacts, Refusal, RegisteredAddress};
use nokkel_core::random::RandomRng;
use serde_json::json;
use time::{Date, Duration};

use super::notices::{self, Notice};
use super::{audit, random_id, rate_limit, ServiceError};
use crate::i18n::Lang;
use crate::letter::envelope::recipient_lines;
use crate::services::outbound::LetterMessage;
use crate::services::Deps;
use crate::store::{AddressKind, LetterRecord, LetterState, NewOrder, PersonRecord, PersonStatus};

/// Orders per client address per hour before the form refuses (a busy office NAT stays
/// well under this; a script enumerating numbers does not).
pub const ORDERS_PER_IP_PER_HOUR: i64 = 30;
/// Orders naming one person per day; more are recorded but send nothing.
pub const ORDERS_PER_PERSON_PER_DAY: i64 = 3;

/// What the receipt page states: the same for every order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The day the order was made (Norwegian date).
    pub ordered_on: Date,
    /// Latest expected delivery to a Norwegian address.
    pub domestic_by: Date,
    /// Latest expected delivery abroad.
    pub abroad_by: Date,
    /// From this day a person without a letter should contact support.
    pub contact_support_from: Date,
}

impl Receipt {
    fn for_day(ordered_on: Date) -> Self {
        Self {
            ordered_on,
            domestic_by: expected_delivery(ordered_on, Destination::Domestic),
            abroad_by: expected_delivery(ordered_on, Destination::Abroad),
            contact_support_from: contact_support_from(ordered_on),
        }
    }
}

/// Checks step 1 of the order form. Only the number's own validity is checked, never the
/// register, so this step reveals nothing about anyone.
pub fn check_id_number(deps: &Deps, input: &str) -> Result<IdNumber, ServiceError> {
    Ok(IdNumber::parse(input, deps.synthetic_policy())?)
}

/// Places an order for a letter. No mobile number is taken: whoever orders may be a
/// stranger, so the number the registration code goes to is typed at registration.
pub async fn order_letter(
    deps: &Deps,
    pid_input: &str,
    client_ip: &str,
    lang: Lang,
) -> Result<Receipt, ServiceError> {
    let pid = check_id_number(deps, pid_input)?;
    let now = deps.clock.now();
    let today = oslo_date(now);
    let receipt = Receipt::for_day(today);

    if let Err(err) = rate_limit(
        deps,
        &format!("order-ip:{client_ip}"),
        3600,
        ORDERS_PER_IP_PER_HOUR,
    )
    .await
    {
        audit(
            deps,
            "order_rate_limited_ip",
            None,
            Some(client_ip),
            json!({}),
        )
        .await;
        return Err(err);
    }

    // The letter is prepared whatever the decision, so that refusing takes about as long
    // as sending (no timing difference that would tell the two apart).
    let code = ActivationCode::generate(&mut RandomRng::new(deps.random.as_ref()));
    let code_hash = deps.secrets.code_hash(code.expose_secret());
    let code_sealed = deps
        .secrets
        .seal(code.grouped().as_bytes(), deps.random.as_ref());

    let decision = match rate_limit(
        deps,
        &format!("order-pid:{pid}"),
        86_400,
        ORDERS_PER_PERSON_PER_DAY,
    )
    .await
    {
        Err(ServiceError::RateLimited) => (OrderDecision::Refuse(Refusal::RateLimited), None),
        Err(other) => return Err(other),
        Ok(()) => decide(deps, &pid, today, now.unix_timestamp()).await?,
    };

    let outcome = match decision {
        (
            OrderDecision::SendLetter {
                destination,
                replaces_outstanding,
                recovery,
            },
            Some(person),
        ) => {
            if replaces_outstanding {
                deps.store.revoke_letters_for(pid.as_str()).await?;
            }
            let validity = Duration::days(i64::from(deps.config.letter_validity_days));
            let letter = LetterRecord {
                id: random_id(deps),
                pid: pid.as_str().to_owned(),
                code_hash,
                code_sealed,
                recovery,
                state: LetterState::Pending,
                failed_attempts: 0,
                created_at: now.unix_timestamp(),
                expires_at: (now + validity).unix_timestamp(),
                delivered_by: expected_delivery(today, destination).to_string(),
                abroad: destination == Destination::Abroad,
                used_at: None,
            };
            deps.store.insert_letter(&letter).await?;
            let valid_until = oslo_date(now + validity);
            deps.outbound
                .send_letter(LetterMessage {
                    letter_id: letter.id.clone(),
                    lang,
                    recipient: recipient_lines(&person),
                    country: person.country.clone().unwrap_or_else(|| "NO".to_owned()),
                    abroad: letter.abroad,
                    code_grouped: code.grouped(),
                    letter_date: today.to_string(),
                    valid_until: valid_until.to_string(),
                })
                .await?;
            audit(
                deps,
                "letter_created",
                Some(pid.as_str()),
                Some(client_ip),
                json!({ "letter_id": letter.id, "abroad": letter.abroad, "replaces": replaces_outstanding, "recovery": recovery }),
            )
            .await;
            if recovery {
                // Whoever holds the old phone or password learns that a letter is coming,
                // which matters most when they did not order it.
                notices::notify(deps, pid.as_str(), Notice::RecoveryLetterOrdered).await?;
            }
            "letter_sent"
        }
        (other, _) => refusal_code(other),
    };
    deps.store
        .insert_order(&NewOrder {
            pid: Some(pid.as_str().to_owned()),
            client_ip: client_ip.to_owned(),
            created_at: now.unix_timestamp(),
            outcome: outcome.to_owned(),
        })
        .await?;
    audit(
        deps,
        "letter_ordered",
        Some(pid.as_str()),
        Some(client_ip),
        json!({ "outcome": outcome }),
    )
    .await;
    Ok(receipt)
}

/// The audit code of a refused order (or of a decision to send that found no person,
/// which `decide` never makes).
fn refusal_code(decision: OrderDecision) -> &'static str {
    match decision {
        OrderDecision::Refuse(refusal) => refusal.code(),
        OrderDecision::SendLetter { .. } => Refusal::NotInRegister.code(),
    }
}

/// The decision, and the person the letter goes to when there is one.
async fn decide(
    deps: &Deps,
    pid: &IdNumber,
    today: Date,
    now: i64,
) -> Result<(OrderDecision, Option<PersonRecord>), ServiceError> {
    let Some(person) = deps.store.person(pid.as_str()).await? else {
        return Ok((OrderDecision::Refuse(Refusal::NotInRegister), None));
    };
    let Some(birth_date) = birth_date(&person) else {
        tracing::error!(pid = %pid.masked(), "population register has an unreadable birth date");
        return Ok((OrderDecision::Refuse(Refusal::NotInRegister), None));
    };
    let has_account = deps.store.account(pid.as_str()).await?.is_some();
    let outstanding = deps.store.active_letter_for(pid.as_str(), now).await?;
    let outstanding_letter_ordered_on = outstanding
        .and_then(|l| time::OffsetDateTime::from_unix_timestamp(l.created_at).ok())
        .map(oslo_date);
    let decision = decide_order(&OrderFacts {
        birth_date,
        address: match person.address_kind {
            AddressKind::Domestic => RegisteredAddress::Domestic,
            AddressKind::Foreign => RegisteredAddress::Abroad,
            AddressKind::Missing => RegisteredAddress::None,
        },
        deceased: person.status == PersonStatus::Deceased,
        has_account,
        outstanding_letter_ordered_on,
        today,
    });
    Ok((decision, Some(person)))
}

/// The birth date recorded in the register.
pub fn birth_date(person: &PersonRecord) -> Option<Date> {
    Date::parse(
        &person.birth_date,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}
