//! The recipient block printed in the envelope window: name, address and, abroad, the
//! country.
//!
//! Posten Norge sorts every letter we post, at home and abroad, so its rules decide the
//! layout:
//!
//! - In Norway the last line is the four-digit postal code and the place, the place in
//!   capitals ("0555 OSLO"), with no blank lines in the block.
//! - Abroad, the postal code and the town stand in the order the destination country uses
//!   (most of Europe "postal code town", North America and Australia "town postal code",
//!   the United Kingdom and Ireland the post town on one line and the postcode on the
//!   next), and the **full country name in capitals on a line of its own, the last one**.
//!   That is the Universal Postal Union's rule for international mail: the country of
//!   destination in capitals, in the language of the country of posting. Bring's guide
//!   "Adressering til mottakere i utlandet" (Posten Norge) writes it in Norwegian in all
//!   its examples: SVERIGE, TYSKLAND, STORBRITANNIA, USA.
//!
//! So the country line is the Norwegian name alone, whatever language the letter is in:
//! the people and machines that read it are Posten Norge's, routing the letter out of
//! Norway; the destination's post delivers by the lines above it. A second name in
//! English ("SVERIGE / SWEDEN") is allowed by the UPU but not asked for, and would make
//! long names ("DE FORENTE ARABISKE EMIRATER") overflow the 85 mm window.
//!
//! No country prefix before the postal code ("SE-111 36"): the country line already names
//! the country, Bring's own examples use the prefix inconsistently, and several
//! destination posts (Deutsche Post among them) have dropped it.

use crate::store::{AddressKind, PersonRecord};

/// The lines of the recipient block, as printed in the envelope window: the name
/// ("Given Family"), then the address: for a Norwegian address the street line and
/// "{postal code} {PLACE}", for an address abroad the street line, the postal code and
/// town in the destination country's order and the country's Norwegian name in capitals
/// (see the module documentation for why).
///
/// A person without an address ([`AddressKind::Missing`]) gets the name alone: no letter
/// can be posted to them, and the ordering rules never make one. Empty fields are
/// skipped, so the block never has a blank line.
pub fn recipient_lines(person: &PersonRecord) -> Vec<String> {
    let mut lines = Vec::with_capacity(5);
    let name = [person.given_name.as_str(), person.family_name.as_str()]
        .iter()
        .flat_map(|part| part.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ");
    if !name.is_empty() {
        lines.push(name);
    }
    let street = field(&person.address_line);
    let postal_code = field(&person.postal_code);
    let city = field(&person.city);
    match person.address_kind {
        AddressKind::Missing => {}
        AddressKind::Domestic => {
            lines.extend(street.map(str::to_owned));
            lines.extend(join(postal_code, city.map(str::to_uppercase).as_deref()));
        }
        AddressKind::Foreign => {
            let country = field(&person.country).map(str::to_ascii_uppercase);
            lines.extend(street.map(str::to_owned));
            match country
                .as_deref()
                .map_or(Locality::PostalCodeFirst, locality)
            {
                Locality::PostalCodeFirst => lines.extend(join(postal_code, city)),
                Locality::TownFirst => lines.extend(join(city, postal_code)),
                Locality::PostTownThenPostcode => {
                    lines.extend(city.map(str::to_uppercase));
                    lines.extend(postal_code.map(str::to_owned));
                }
            }
            if let Some(code) = country {
                lines.push(match country_name(&code) {
                    Some(name) => name.to_owned(),
                    None => {
                        // Better the ISO code than no country at all; the warning tells the
                        // operator to add the name to the table.
                        tracing::warn!(country = %code, "no Norwegian name for this country code");
                        code
                    }
                });
            }
        }
    }
    lines
}

/// Where a country puts the postal code relative to the town.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locality {
    /// "111 36 Stockholm": most of Europe, and the default.
    PostalCodeFirst,
    /// "Herndon VA 22071", "Ottawa ON K1A 0B1", "Melbourne VIC 3001".
    TownFirst,
    /// The post town in capitals, then the postcode on its own line (Royal Mail, An Post).
    PostTownThenPostcode,
}

fn locality(country: &str) -> Locality {
    match country {
        "US" | "CA" | "AU" | "NZ" => Locality::TownFirst,
        "GB" | "IE" => Locality::PostTownThenPostcode,
        _ => Locality::PostalCodeFirst,
    }
}

/// The Norwegian name of a country, in capitals, as Posten Norge wants it on the last
/// line; the countries where people in the register most often live.
fn country_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "AD" => "ANDORRA",
        "AE" => "DE FORENTE ARABISKE EMIRATER",
        "AF" => "AFGHANISTAN",
        "AL" => "ALBANIA",
        "AR" => "ARGENTINA",
        "AT" => "ØSTERRIKE",
        "AU" => "AUSTRALIA",
        "BA" => "BOSNIA-HERCEGOVINA",
        "BD" => "BANGLADESH",
        "BE" => "BELGIA",
        "BG" => "BULGARIA",
        "BR" => "BRASIL",
        "CA" => "CANADA",
        "CH" => "SVEITS",
        "CL" => "CHILE",
        "CN" => "KINA",
        "CO" => "COLOMBIA",
        "CY" => "KYPROS",
        "CZ" => "TSJEKKIA",
        "DE" => "TYSKLAND",
        "DK" => "DANMARK",
        "EE" => "ESTLAND",
        "EG" => "EGYPT",
        "ER" => "ERITREA",
        "ES" => "SPANIA",
        "ET" => "ETIOPIA",
        "FI" => "FINLAND",
        "FO" => "FÆRØYENE",
        "FR" => "FRANKRIKE",
        "GB" => "STORBRITANNIA",
        "GL" => "GRØNLAND",
        "GR" => "HELLAS",
        "HR" => "KROATIA",
        "HU" => "UNGARN",
        "ID" => "INDONESIA",
        "IE" => "IRLAND",
        "IL" => "ISRAEL",
        "IN" => "INDIA",
        "IQ" => "IRAK",
        "IR" => "IRAN",
        "IS" => "ISLAND",
        "IT" => "ITALIA",
        "JP" => "JAPAN",
        "KE" => "KENYA",
        "KR" => "SØR-KOREA",
        "LI" => "LIECHTENSTEIN",
        "LK" => "SRI LANKA",
        "LT" => "LITAUEN",
        "LU" => "LUXEMBOURG",
        "LV" => "LATVIA",
        "MA" => "MAROKKO",
        "MC" => "MONACO",
        "MK" => "NORD-MAKEDONIA",
        "MT" => "MALTA",
        "MX" => "MEXICO",
        "NL" => "NEDERLAND",
        "NZ" => "NEW ZEALAND",
        "PH" => "FILIPPINENE",
        "PK" => "PAKISTAN",
        "PL" => "POLEN",
        "PT" => "PORTUGAL",
        "RO" => "ROMANIA",
        "RS" => "SERBIA",
        "SE" => "SVERIGE",
        "SG" => "SINGAPORE",
        "SI" => "SLOVENIA",
        "SK" => "SLOVAKIA",
        "SO" => "SOMALIA",
        "SY" => "SYRIA",
        "TH" => "THAILAND",
        "TR" => "TYRKIA",
        "UA" => "UKRAINA",
        "US" => "USA",
        "VN" => "VIETNAM",
        "ZA" => "SØR-AFRIKA",
        _ => return None,
    })
}

/// A trimmed, non-empty field.
fn field(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Two parts of one line, separated by a space; either may be missing.
fn join(first: Option<&str>, second: Option<&str>) -> Option<String> {
    match (first, second) {
        (Some(a), Some(b)) => Some(format!("{a} {b}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PersonStatus;

    /// People shaped like the rows of `assets/demo/population.csv`.
    fn person(given: &str, family: &str, kind: AddressKind, address: [&str; 4]) -> PersonRecord {
        let [line, postal_code, city, country] = address.map(|v| Some(v.to_owned()));
        PersonRecord {
            pid: "05859013831".to_owned(),
            given_name: given.to_owned(),
            family_name: family.to_owned(),
            birth_date: "1990-05-05".to_owned(),
            address_kind: kind,
            address_line: line,
            postal_code,
            city,
            country,
            status: PersonStatus::Resident,
        }
    }

    #[test]
    fn domestic_address_ends_with_postal_code_and_place_in_capitals() {
        let p = person(
            "Siri",
            "Åsheim",
            AddressKind::Domestic,
            ["Storgata 80", "9008", "Tromsø", "NO"],
        );
        assert_eq!(
            recipient_lines(&p),
            ["Siri Åsheim", "Storgata 80", "9008 TROMSØ"]
        );
    }

    #[test]
    fn swedish_and_spanish_addresses_put_the_postal_code_first_and_the_country_last() {
        let se = person(
            "Marte",
            "Løvås",
            AddressKind::Foreign,
            ["Drottninggatan 71", "111 36", "Stockholm", "SE"],
        );
        assert_eq!(
            recipient_lines(&se),
            [
                "Marte Løvås",
                "Drottninggatan 71",
                "111 36 Stockholm",
                "SVERIGE"
            ]
        );
        let es = person(
            "Per",
            "Græsli",
            AddressKind::Foreign,
            ["Calle Larios 8", "29005", "Málaga", "es"],
        );
        assert_eq!(
            recipient_lines(&es),
            ["Per Græsli", "Calle Larios 8", "29005 Málaga", "SPANIA"]
        );
    }

    #[test]
    fn british_address_has_the_post_town_in_capitals_then_the_postcode() {
        let gb = person(
            "Łukasz",
            "Wójcik",
            AddressKind::Foreign,
            ["312 Glasgow Row", "WC1B 4BH", "London", "GB"],
        );
        assert_eq!(
            recipient_lines(&gb),
            [
                "Łukasz Wójcik",
                "312 Glasgow Row",
                "LONDON",
                "WC1B 4BH",
                "STORBRITANNIA"
            ]
        );
    }

    #[test]
    fn american_address_has_the_town_before_the_zip_code() {
        let us = person(
            "John",
            "Bursenos",
            AddressKind::Foreign,
            ["12603 Denmark Drive", "22071-9945", "Herndon VA", "US"],
        );
        assert_eq!(
            recipient_lines(&us),
            [
                "John Bursenos",
                "12603 Denmark Drive",
                "Herndon VA 22071-9945",
                "USA"
            ]
        );
    }

    #[test]
    fn country_without_a_postal_code_or_a_known_name_still_gets_its_lines() {
        let mut p = person(
            "Ana",
            "  Silva ",
            AddressKind::Foreign,
            ["Vaiaku Road 1", "", "Funafuti", "TV"],
        );
        p.postal_code = None;
        assert_eq!(
            recipient_lines(&p),
            ["Ana Silva", "Vaiaku Road 1", "Funafuti", "TV"]
        );
    }

    #[test]
    fn person_without_an_address_gets_the_name_alone() {
        let mut p = person("Nils", "Fjære", AddressKind::Missing, ["", "", "", ""]);
        p.address_line = None;
        assert_eq!(recipient_lines(&p), ["Nils Fjære"]);
    }
}
