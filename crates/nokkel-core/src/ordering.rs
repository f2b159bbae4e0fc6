//! Who may order an activation letter, and what happens to a second order.
//!
//! The rules from the source documents: from the calendar year they turn 13; only with a
//! valid address in the population register, and the letter goes only to that address. The
//! decision is made here, from plain facts, so that it is written once and tested without a
//! database.
//!
//! People who already have an account may order too: theirs is a **recovery letter**.
//! Registering with it replaces their devices (or sets a new password), so a person who
//! lost their only phone, or forgot their password, gets back in. It is safe to let anyone
//! order one because the letter goes only to the registered address, and the person's old
//! contact points are told when it is used (docs/RULES.md, "Recovery letter").
//!
//! A second order while a valid letter is outstanding sends nothing until the person would
//! be pointed to support (see [`crate::calendar::contact_support_from`]); from then on a
//! new letter is sent and the outstanding one is revoked, since it was probably lost.

use time::Date;

use crate::calendar::{contact_support_from, Destination};
use crate::id_number::{turns_age_by_year, MIN_ORDER_AGE};

/// How many wrong activation codes from one client address lock a letter for that address.
pub const MAX_WRONG_CODES: u32 = 5;

/// How many wrong activation codes from anywhere lock a letter for good. A code has 70
/// random bits, so this guards against nothing a guesser could reach; it is high so that
/// strangers who know the identity number cannot lock the person's letter from a few
/// addresses (each of which is also held to the per-address limits).
pub const MAX_WRONG_CODES_PER_LETTER: u32 = 50;

/// What one more wrong activation code does to a letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrongCode {
    /// The code was wrong; this many tries are left from this client address.
    TryAgain {
        /// Wrong codes this address may still send before the letter locks for it.
        attempts_left: u32,
    },
    /// The letter is now locked for this client address; others may still use it.
    LockedHere,
    /// The letter is now locked for everyone (a new one has to be ordered).
    LockedForGood,
}

/// Whether a letter is locked for a client address that has sent `wrong_from_here` wrong
/// codes for it.
pub fn locked_for_address(wrong_from_here: u32) -> bool {
    wrong_from_here >= MAX_WRONG_CODES
}

/// What a wrong code does, given the wrong codes for the letter counted with it: from this
/// client address (`from_here`) and from anywhere (`from_anywhere`). The per-address lock
/// keeps strangers from locking the person's letter; the letter-wide one bounds guessing
/// from many addresses.
pub fn after_wrong_code(from_here: u32, from_anywhere: u32) -> WrongCode {
    if from_anywhere >= MAX_WRONG_CODES_PER_LETTER {
        WrongCode::LockedForGood
    } else if locked_for_address(from_here) {
        WrongCode::LockedHere
    } else {
        WrongCode::TryAgain {
            attempts_left: MAX_WRONG_CODES - from_here,
        }
    }
}

/// Days an activation letter is valid by default (the public pages say 60 days).
pub const LETTER_VALIDITY_DAYS: u32 = 60;

/// The person's address in the population register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisteredAddress {
    /// An address in Norway.
    Domestic,
    /// An address in another country.
    Abroad,
    /// No address on record.
    None,
}

/// What the register and the store say about the person who orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFacts {
    /// Birth date from the population register.
    pub birth_date: Date,
    /// Address from the population register.
    pub address: RegisteredAddress,
    /// Whether the person is recorded as deceased.
    pub deceased: bool,
    /// Whether the person already has an account.
    pub has_account: bool,
    /// The order date of a letter that is still valid and unused, if any.
    pub outstanding_letter_ordered_on: Option<Date>,
    /// Today's date.
    pub today: Date,
}

/// Why no letter is sent. Never shown to the person (the receipt is the same whatever the
/// outcome); recorded in the order log and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The identity number is not in the population register.
    NotInRegister,
    /// The person does not turn 13 this year.
    TooYoung,
    /// No address to send the letter to.
    NoAddress,
    /// Kept so old order-log rows still have a name: existing users now get a recovery
    /// letter instead.
    AlreadyUser,
    /// A letter is still on its way.
    LetterOutstanding,
    /// The person is recorded as deceased.
    Deceased,
    /// Too many orders for this person recently.
    RateLimited,
}

impl Refusal {
    /// A short stable code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotInRegister => "refused_not_in_register",
            Refusal::TooYoung => "refused_too_young",
            Refusal::NoAddress => "refused_no_address",
            Refusal::AlreadyUser => "refused_already_user",
            Refusal::LetterOutstanding => "refused_letter_outstanding",
            Refusal::Deceased => "refused_deceased",
            Refusal::RateLimited => "refused_rate_limited",
        }
    }
}

/// The outcome of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderDecision {
    /// Send a letter to the registered address.
    SendLetter {
        /// Domestic or abroad, for the delivery estimate.
        destination: Destination,
        /// Whether an outstanding letter must be revoked first.
        replaces_outstanding: bool,
        /// Whether the person has an account: the letter is a recovery letter.
        recovery: bool,
    },
    /// Send nothing.
    Refuse(Refusal),
}

/// Decides an order from the facts. Pure.
pub fn decide_order(facts: &OrderFacts) -> OrderDecision {
    if facts.deceased {
        return OrderDecision::Refuse(Refusal::Deceased);
    }
    if !turns_age_by_year(facts.birth_date, MIN_ORDER_AGE, facts.today.year()) {
        return OrderDecision::Refuse(Refusal::TooYoung);
    }
    let destination = match facts.address {
        RegisteredAddress::Domestic => Destination::Domestic,
        RegisteredAddress::Abroad => Destination::Abroad,
        RegisteredAddress::None => return OrderDecision::Refuse(Refusal::NoAddress),
    };
    let replaces_outstanding = match facts.outstanding_letter_ordered_on {
        Some(ordered_on) if facts.today < contact_support_from(ordered_on) => {
            return OrderDecision::Refuse(Refusal::LetterOutstanding)
        }
        Some(_) => true,
        None => false,
    };
    OrderDecision::SendLetter {
        destination,
        replaces_outstanding,
        recovery: facts.has_account,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_codes_lock_per_address_then_for_everyone() {
        assert_eq!(
            after_wrong_code(1, 1),
            WrongCode::TryAgain { attempts_left: 4 }
        );
        assert_eq!(
            after_wrong_code(4, 30),
            WrongCode::TryAgain { attempts_left: 1 }
        );
        assert_eq!(after_wrong_code(5, 5), WrongCode::LockedHere);
        assert!(locked_for_address(5) && !locked_for_address(4));
        assert_eq!(after_wrong_code(2, 50), WrongCode::LockedForGood);
        assert_eq!(after_wrong_code(5, 50), WrongCode::LockedForGood);
    }
    use time::macros::date;

    fn adult() -> OrderFacts {
        OrderFacts {
            birth_date: date!(1990 - 05 - 17),
            address: RegisteredAddress::Domestic,
            deceased: false,
            has_account: false,
            outstanding_letter_ordered_on: None,
            today: date!(2026 - 11 - 23),
        }
    }

    #[test]
    fn an_adult_with_a_domestic_address_gets_a_letter() {
        assert_eq!(
            decide_order(&adult()),
            OrderDecision::SendLetter {
                destination: Destination::Domestic,
                replaces_outstanding: false,
                recovery: false,
            }
        );
    }

    #[test]
    fn an_existing_user_gets_a_recovery_letter() {
        let facts = OrderFacts {
            has_account: true,
            ..adult()
        };
        assert_eq!(
            decide_order(&facts),
            OrderDecision::SendLetter {
                destination: Destination::Domestic,
                replaces_outstanding: false,
                recovery: true,
            }
        );
    }

    #[test]
    fn abroad_is_allowed_and_marked() {
        let facts = OrderFacts {
            address: RegisteredAddress::Abroad,
            ..adult()
        };
        assert!(matches!(
            decide_order(&facts),
            OrderDecision::SendLetter {
                destination: Destination::Abroad,
                ..
            }
        ));
    }

    #[test]
    fn age_counts_by_calendar_year() {
        // Turns 13 on 31 December this year: may order already in January.
        let turns_13_late = OrderFacts {
            birth_date: date!(2013 - 12 - 31),
            today: date!(2026 - 01 - 02),
            ..adult()
        };
        assert!(matches!(
            decide_order(&turns_13_late),
            OrderDecision::SendLetter { .. }
        ));
        let twelve = OrderFacts {
            birth_date: date!(2014 - 01 - 01),
            today: date!(2026 - 12 - 31),
            ..adult()
        };
        assert_eq!(
            decide_order(&twelve),
            OrderDecision::Refuse(Refusal::TooYoung)
        );
    }

    #[test]
    fn refusals() {
        let cases = [
            (
                OrderFacts {
                    address: RegisteredAddress::None,
                    ..adult()
                },
                Refusal::NoAddress,
            ),
            (
                OrderFacts {
                    deceased: true,
                    ..adult()
                },
                Refusal::Deceased,
            ),
        ];
        for (facts, refusal) in cases {
            assert_eq!(decide_order(&facts), OrderDecision::Refuse(refusal));
        }
    }

    #[test]
    fn second_order_waits_until_support_would_be_advised_then_replaces() {
        let ordered_on = date!(2026 - 11 - 23);
        let soon = OrderFacts {
            outstanding_letter_ordered_on: Some(ordered_on),
            today: date!(2026 - 12 - 07),
            ..adult()
        };
        assert_eq!(
            decide_order(&soon),
            OrderDecision::Refuse(Refusal::LetterOutstanding)
        );
        let later = OrderFacts {
            today: contact_support_from(ordered_on),
            ..soon
        };
        assert_eq!(
            decide_order(&later),
            OrderDecision::SendLetter {
                destination: Destination::Domestic,
                replaces_outstanding: true,
                recovery: false,
            }
        );
    }
}
