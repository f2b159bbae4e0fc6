//! Which app logins may wait for one person at once, and which a new one replaces.
//!
//! Until issue 12 a new login cancelled the person's pending one, against push bombing —
//! which let anyone with the identity number cancel the person's own login, again and
//! again. Now logins from different browsers wait side by side and the app shows each, with
//! its service, browser and time; the person picks the number their own browser shows.
//!
//! - A browser starting over (the same login flow, e.g. "try again") replaces its own
//!   waiting login.
//! - From one client address at most [`MAX_WAITING_PER_ADDRESS`] wait; a newer one from
//!   that address replaces its oldest. Someone hammering from one address thus cancels
//!   only their own logins.
//! - At most [`MAX_WAITING_PER_PERSON`] wait in all. Past that a new login still starts
//!   (refusing it would let strangers keep the person from starting one), and the oldest
//!   waiting login from an address the person has never logged in from makes room — a
//!   login from a *known* address (one of the person's earlier approved logins came from
//!   it) goes only when every waiting login is from a known address.
//!
//! So a stranger elsewhere never cancels a login the person started from an address they
//! used before, and whatever strangers do, the person's newest login always starts. The
//! rule is decided here from plain facts, so each backend of the server's pending logins
//! applies the same one.

/// How many app logins from one client address may wait for one person.
pub const MAX_WAITING_PER_ADDRESS: usize = 2;

/// How many app logins may wait for one person in all.
pub const MAX_WAITING_PER_PERSON: usize = 5;

/// A login waiting for the person's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting<'a> {
    /// The login's id.
    pub id: &'a str,
    /// The client address it came from, as the server keys addresses (an IPv6 /64).
    pub address: &'a str,
    /// Whether the person has logged in from that address before.
    pub known_address: bool,
    /// When it started (unix seconds); ties keep the order given.
    pub created_at: i64,
}

/// The waiting logins a new login from `address` replaces, oldest first; `replaces` is the
/// login its browser started before, if any. `waiting` is the person's waiting logins,
/// oldest first.
pub fn replaced_by(waiting: &[Waiting<'_>], address: &str, replaces: Option<&str>) -> Vec<String> {
    let mut by_age: Vec<&Waiting<'_>> = waiting.iter().collect();
    // Stable: logins started in the same second keep the order they were given in.
    by_age.sort_by_key(|w| w.created_at);
    let mut cancel: Vec<&str> = by_age
        .iter()
        .filter(|w| Some(w.id) == replaces)
        .map(|w| w.id)
        .collect();
    let same_address: Vec<&str> = by_age
        .iter()
        .filter(|w| w.address == address && !cancel.contains(&w.id))
        .map(|w| w.id)
        .collect();
    let excess = (same_address.len() + 1).saturating_sub(MAX_WAITING_PER_ADDRESS);
    cancel.extend(same_address.into_iter().take(excess));
    let mut rest: Vec<&Waiting<'_>> = by_age
        .iter()
        .copied()
        .filter(|w| !cancel.contains(&w.id))
        .collect();
    while rest.len() >= MAX_WAITING_PER_PERSON {
        let victim = rest.iter().position(|w| !w.known_address).unwrap_or(0);
        cancel.push(rest.remove(victim).id);
    }
    by_age
        .iter()
        .filter(|w| cancel.contains(&w.id))
        .map(|w| w.id.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w<'a>(id: &'a str, address: &'a str, created_at: i64) -> Waiting<'a> {
        Waiting {
            id,
            address,
            known_address: false,
            created_at,
        }
    }

    fn known<'a>(id: &'a str, address: &'a str, created_at: i64) -> Waiting<'a> {
        Waiting {
            known_address: true,
            ..w(id, address, created_at)
        }
    }

    #[test]
    fn a_first_login_replaces_nothing() {
        assert!(replaced_by(&[], "a", None).is_empty());
    }

    #[test]
    fn a_login_from_another_browser_does_not_cancel_the_waiting_one() {
        // The old rule cancelled the person's login here.
        assert!(replaced_by(&[w("mine", "home", 1)], "stranger", None).is_empty());
        // Another browser at the same address also waits beside it.
        assert!(replaced_by(&[w("mine", "home", 1)], "home", None).is_empty());
    }

    #[test]
    fn starting_over_replaces_the_browsers_own_login() {
        let waiting = [w("mine", "home", 1), w("theirs", "away", 2)];
        assert_eq!(replaced_by(&waiting, "home", Some("mine")), ["mine"]);
        // An unknown or already decided earlier login is simply not there to cancel.
        assert!(replaced_by(&waiting, "home", Some("gone")).is_empty());
    }

    #[test]
    fn one_address_cancels_only_its_own_oldest() {
        let waiting = [
            w("mine", "home", 1),
            w("s1", "stranger", 2),
            w("s2", "stranger", 3),
        ];
        assert_eq!(replaced_by(&waiting, "stranger", None), ["s1"]);
        let after = [
            w("mine", "home", 1),
            w("s2", "stranger", 3),
            w("s3", "stranger", 4),
        ];
        assert_eq!(replaced_by(&after, "stranger", None), ["s2"]);
    }

    #[test]
    fn past_the_limit_a_login_from_a_known_address_stays() {
        let waiting = [
            known("mine", "home", 1),
            w("a", "a", 2),
            w("b", "b", 3),
            w("c", "c", 4),
            w("d", "d", 5),
        ];
        // A fifth stranger makes room from the strangers, oldest first.
        assert_eq!(replaced_by(&waiting, "e", None), ["a"]);
        // The person's own second browser too.
        assert_eq!(replaced_by(&waiting, "home", None), ["a"]);
    }

    #[test]
    fn past_the_limit_the_newest_login_always_starts() {
        // Strangers filled the limit before the person, who has no known address: the
        // person's login starts, and the oldest stranger's makes room.
        let waiting = [
            w("a1", "a", 1),
            w("a2", "a", 2),
            w("b1", "b", 3),
            w("b2", "b", 4),
            w("c1", "c", 5),
        ];
        assert_eq!(replaced_by(&waiting, "home", None), ["a1"]);
        // When every waiting login is from a known address, the oldest goes.
        let all_known = [
            known("k1", "x", 1),
            known("k2", "y", 2),
            known("k3", "z", 3),
            known("k4", "v", 4),
            known("k5", "u", 5),
        ];
        assert_eq!(replaced_by(&all_known, "w", None), ["k1"]);
    }

    #[test]
    fn replaced_logins_come_oldest_first_and_ties_keep_their_order() {
        let waiting = [w("b", "x", 4), w("a", "x", 4), w("mine", "x", 9)];
        assert_eq!(replaced_by(&waiting, "x", Some("mine")), ["b", "mine"]);
    }
}
