//! A synthetic population: valid synthetic identity numbers (Tenor, month + 80) with
//! names and domestic addresses, as the CSV `nokkel admin population import` reads.
//!
//! For benchmarks and test servers in demo mode only: synthetic numbers are refused
//! outside `--demo`. The same seed gives the same people.

use std::collections::HashSet;
use std::io::Write;

use nokkel_core::id_number::{IdKind, IdNumber};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::{Date, Month};

const GIVEN: &[&str] = &[
    "Ingrid", "Ola", "Kari", "Nora", "Emma", "Jakob", "Lukas", "Sofie", "Ida", "Henrik", "Maja",
    "Filip", "Sara", "Aksel", "Thea", "Magnus", "Leah", "Oskar", "Hedda", "Sander",
];
const FAMILY: &[&str] = &[
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Kristiansen",
    "Jensen",
    "Karlsen",
    "Johnsen",
    "Pettersen",
    "Eriksen",
    "Berg",
    "Haugen",
    "Hagen",
];
const STREETS: &[&str] = &[
    "Storgata",
    "Kirkeveien",
    "Skolegata",
    "Parkveien",
    "Strandgata",
    "Bakkeveien",
    "Fjordveien",
    "Elvegata",
];
const PLACES: &[(&str, &str)] = &[
    ("0150", "Oslo"),
    ("5013", "Bergen"),
    ("7010", "Trondheim"),
    ("4006", "Stavanger"),
    ("9008", "Tromsø"),
    ("3015", "Drammen"),
];

/// Writes `count` synthetic adults (born 1950–2005, resident, domestic address) as
/// population CSV, header first. Numbers are unique within the output.
pub fn write_population(count: usize, seed: u64, out: &mut impl Write) -> anyhow::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen = HashSet::with_capacity(count);
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(nokkel_server::store::people::POPULATION_COLUMNS)?;
    while seen.len() < count {
        let year = 1950 + (rng.next_u32() % 56) as i32;
        let month = Month::try_from(1 + (rng.next_u32() % 12) as u8)?;
        // Day 1–28 exists in every month.
        let birth = Date::from_calendar_date(year, month, 1 + (rng.next_u32() % 28) as u8)?;
        let pid = IdNumber::generate(birth, IdKind::Synthetic, &mut rng);
        if !seen.insert(pid.as_str().to_owned()) {
            continue;
        }
        let pick = |rng: &mut ChaCha8Rng, n: usize| rng.next_u32() as usize % n;
        let (postal_code, city) = PLACES[pick(&mut rng, PLACES.len())];
        let address = format!(
            "{} {}",
            STREETS[pick(&mut rng, STREETS.len())],
            1 + pick(&mut rng, 120)
        );
        csv.write_record([
            pid.as_str(),
            GIVEN[pick(&mut rng, GIVEN.len())],
            FAMILY[pick(&mut rng, FAMILY.len())],
            &birth.to_string(),
            "domestic",
            &address,
            postal_code,
            city,
            "NO",
            "resident",
        ])?;
    }
    csv.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_people_import_and_repeat_with_the_seed() {
        let mut a = Vec::new();
        write_population(50, 7, &mut a).unwrap();
        let mut b = Vec::new();
        write_population(50, 7, &mut b).unwrap();
        assert_eq!(a, b);
        let people =
            nokkel_server::store::people::parse_population_csv(&String::from_utf8(a).unwrap())
                .unwrap();
        assert_eq!(people.len(), 50);
        let unique: HashSet<_> = people.iter().map(|p| p.pid.clone()).collect();
        assert_eq!(unique.len(), 50);
    }
}
