//! The population register: people, their address and status, and the CSV import
//! used by `nokkel admin population import` and the demo seeding.

use std::collections::hash_map::{Entry, HashMap};
use std::fmt;
use std::io::Read;

use nokkel_core::id_number::{IdNumber, SyntheticPolicy};
use time::macros::format_description;
use time::Date;

use super::{text_enum, with_pool, Store, StoreError};

text_enum! {
    /// What kind of address the register holds.
    pub enum AddressKind {
        /// An address in Norway: address line, four-digit postal code and city.
        Domestic = "domestic",
        /// An address abroad: address line, city and an ISO 3166 country code other than NO.
        Foreign = "foreign",
        /// No known address: no letter can be sent.
        Missing = "none",
    }
}

text_enum! {
    /// The person's status in the register.
    pub enum PersonStatus {
        /// Registered as resident in Norway.
        Resident = "resident",
        /// Holds a D-number (not registered as resident).
        DNumber = "d_number",
        /// Has emigrated.
        Emigrated = "emigrated",
        /// Deceased.
        Deceased = "deceased",
    }
}

/// One person in the population register.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PersonRecord {
    /// National identity number or D-number, 11 digits.
    pub pid: String,
    /// Given name(s).
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Birth date, ISO 8601 (`YYYY-MM-DD`).
    pub birth_date: String,
    /// What kind of address the register holds.
    pub address_kind: AddressKind,
    /// Street address (none when `address_kind` is `none`).
    pub address_line: Option<String>,
    /// Postal code (four digits in Norway; optional abroad).
    pub postal_code: Option<String>,
    /// City or post town.
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2 country code (`NO` for domestic addresses).
    pub country: Option<String>,
    /// The person's status in the register.
    pub status: PersonStatus,
}

/// A row of a population CSV: the person and, for demo data, the kind of account the
/// seeding should create for them (`registered` column: `sms`, `app` or empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopulationRow {
    /// The person.
    pub person: PersonRecord,
    /// `Some("sms" | "app")` for a person meant to be an already registered user.
    pub registered: Option<String>,
}

/// Why a population CSV was rejected. Nothing is imported when any row is bad.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// The file is not readable CSV or lacks a required column.
    #[error("population CSV: {0}")]
    Format(String),
    /// Some rows are invalid; each is listed with its line number.
    #[error("population CSV has {} invalid row(s): {}", .0.len(), RowErrors(.0))]
    InvalidRows(Vec<RowError>),
}

/// One invalid row of a population CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// What is wrong, without the row's personal data.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

struct RowErrors<'a>(&'a [RowError]);

impl fmt::Display for RowErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// The columns of a population CSV, in the order `nokkel admin population generate`
/// writes them (the reader accepts any order).
pub const POPULATION_COLUMNS: [&str; 10] = [
    "pid",
    "given_name",
    "family_name",
    "birth_date",
    "address_kind",
    "address_line",
    "postal_code",
    "city",
    "country",
    "status",
];

/// Parses a population CSV (header row with the columns of [`PersonRecord`], in any
/// order; extra columns ignored) into people. Every row is validated; all bad rows are
/// reported with their line numbers.
pub fn parse_population_csv(text: &str) -> Result<Vec<PersonRecord>, CsvError> {
    Ok(parse_population(text)?
        .into_iter()
        .map(|row| row.person)
        .collect())
}

/// Like [`parse_population_csv`], and also reads the optional `registered` column
/// (`sms`, `app` or empty) that the demo seeding uses.
///
/// Identity numbers must be valid (check digits, possible date; synthetic numbers are
/// accepted here: whether a synthetic person may use the service is decided per
/// request by the server's mode) and agree with the birth date where the number
/// encodes one.
pub fn parse_population(text: &str) -> Result<Vec<PopulationRow>, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| CsvError::Format(e.to_string()))?
        .clone();
    let mut index = [0usize; POPULATION_COLUMNS.len()];
    for (slot, name) in index.iter_mut().zip(POPULATION_COLUMNS) {
        *slot = headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| CsvError::Format(format!("missing column `{name}`")))?;
    }
    let registered_index = headers.iter().position(|h| h == "registered");

    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut first_line_of = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(RowError {
                    line,
                    message: format!("unreadable row ({})", csv_error_kind(&e)),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(index[i]).unwrap_or("").to_owned();
        let registered = registered_index
            .and_then(|i| record.get(i))
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        let address_kind = field(4)
            .parse::<AddressKind>()
            .map_err(|_| "address_kind must be domestic, foreign or none".to_owned());
        let status = field(9)
            .parse::<PersonStatus>()
            .map_err(|_| "status must be resident, d_number, emigrated or deceased".to_owned());
        let person = PersonRecord {
            pid: field(0),
            given_name: field(1),
            family_name: field(2),
            birth_date: field(3),
            address_kind: *address_kind.as_ref().unwrap_or(&AddressKind::Missing),
            address_line: optional(field(5)),
            postal_code: optional(field(6)),
            city: optional(field(7)),
            country: optional(field(8)).map(|c| c.to_ascii_uppercase()),
            status: *status.as_ref().unwrap_or(&PersonStatus::Resident),
        };
        // The same order of complaints as the fields: who, then the address, then status.
        let checked = validate_identity(&person)
            .and(address_kind.map(|_| ()))
            .and_then(|()| validate_address(&person))
            .and(status.map(|_| ()));
        let checked = checked.and_then(|()| match registered.as_deref() {
            None | Some("sms") | Some("app") => Ok(()),
            Some(_) => Err("`registered` must be `sms`, `app` or empty".to_owned()),
        });
        let checked = checked.and_then(|()| match first_line_of.entry(person.pid.clone()) {
            Entry::Occupied(first) => Err(format!(
                "the identity number is already on line {}",
                first.get()
            )),
            Entry::Vacant(slot) => {
                slot.insert(line);
                Ok(())
            }
        });
        match checked {
            Ok(()) => rows.push(PopulationRow { person, registered }),
            Err(message) => errors.push(RowError { line, message }),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(CsvError::InvalidRows(errors))
    }
}

fn csv_error_kind(error: &csv::Error) -> &'static str {
    match error.kind() {
        csv::ErrorKind::UnequalLengths { .. } => "wrong number of fields",
        csv::ErrorKind::Utf8 { .. } => "not UTF-8",
        _ => "malformed CSV",
    }
}

fn optional(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// Checks a person's identity number, names and birth date. Messages name the field,
/// never its value.
fn validate_identity(person: &PersonRecord) -> Result<(), String> {
    let id =
        IdNumber::parse(&person.pid, SyntheticPolicy::Accept).map_err(|e| format!("pid: {e}"))?;
    if id.as_str() != person.pid {
        return Err("pid: write the 11 digits without spaces".to_owned());
    }
    if person.given_name.is_empty() || person.family_name.is_empty() {
        return Err("given_name and family_name are required".to_owned());
    }
    let birth_date = Date::parse(
        &person.birth_date,
        format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| "birth_date: expected YYYY-MM-DD".to_owned())?;
    if let Some(encoded) = id.birth_date() {
        if encoded != birth_date {
            return Err("birth_date does not match the identity number".to_owned());
        }
    }
    Ok(())
}

/// The address fields fit the address kind.
fn validate_address(person: &PersonRecord) -> Result<(), String> {
    let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    match person.address_kind {
        AddressKind::Domestic => {
            if !has(&person.address_line) || !has(&person.city) {
                return Err("a domestic address needs address_line and city".to_owned());
            }
            let postal_ok = person
                .postal_code
                .as_deref()
                .is_some_and(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_digit()));
            if !postal_ok {
                return Err("a domestic address needs a four-digit postal_code".to_owned());
            }
            if !matches!(person.country.as_deref(), None | Some("NO")) {
                return Err("a domestic address has country NO (or empty)".to_owned());
            }
        }
        AddressKind::Foreign => {
            if !has(&person.address_line) || !has(&person.city) {
                return Err("a foreign address needs address_line and city".to_owned());
            }
            let country_ok = person.country.as_deref().is_some_and(|c| {
                c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) && c != "NO"
            });
            if !country_ok {
                return Err(
                    "a foreign address needs a two-letter country code other than NO".to_owned(),
                );
            }
        }
        AddressKind::Missing => {
            if has(&person.address_line)
                || has(&person.postal_code)
                || has(&person.city)
                || has(&person.country)
            {
                return Err("address_kind none must have empty address fields".to_owned());
            }
        }
    }
    Ok(())
}

const UPSERT_PERSON: &str = "INSERT INTO people (pid, given_name, family_name, birth_date, \
     address_kind, address_line, postal_code, city, country, status, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
     ON CONFLICT (pid) DO UPDATE SET given_name = excluded.given_name, \
     family_name = excluded.family_name, birth_date = excluded.birth_date, \
     address_kind = excluded.address_kind, address_line = excluded.address_line, \
     postal_code = excluded.postal_code, city = excluded.city, country = excluded.country, \
     status = excluded.status, updated_at = excluded.updated_at";

const PERSON_COLUMNS: &str = "pid, given_name, family_name, birth_date, address_kind, \
     address_line, postal_code, city, country, status";

/// Binds a person to [`UPSERT_PERSON`]; a macro because the query type differs per driver.
macro_rules! bind_person {
    ($person:expr, $now:expr) => {
        sqlx::query(UPSERT_PERSON)
            .bind(&$person.pid)
            .bind(&$person.given_name)
            .bind(&$person.family_name)
            .bind(&$person.birth_date)
            .bind($person.address_kind)
            .bind(&$person.address_line)
            .bind(&$person.postal_code)
            .bind(&$person.city)
            .bind(&$person.country)
            .bind(&$person.status)
            .bind($now)
    };
}

impl Store {
    /// Inserts a person or replaces the register data of an existing one (keeping
    /// `created_at`). The record is not validated here; [`parse_population`] does that
    /// for imports.
    pub async fn upsert_person(&self, person: &PersonRecord, now: i64) -> Result<(), StoreError> {
        with_pool!(self, pool => bind_person!(person, now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// The person with this identity number, if registered.
    pub async fn person(&self, pid: &str) -> Result<Option<PersonRecord>, StoreError> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM people WHERE pid = $1");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, PersonRecord>(&sql)
            .bind(pid)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// How many people the register holds.
    pub async fn count_people(&self) -> Result<i64, StoreError> {
        let count: i64 = with_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM people")
            .fetch_one(pool)
            .await)?;
        Ok(count)
    }

    /// Imports a population CSV (see [`parse_population`]) in one transaction: either
    /// every row is upserted or, if any row is invalid, none. Returns the row count.
    pub async fn import_people_csv(
        &self,
        mut reader: impl Read,
        now: i64,
    ) -> Result<usize, StoreError> {
        let mut text = String::new();
        reader
            .read_to_string(&mut text)
            .map_err(|e| CsvError::Format(format!("cannot read the file: {e}")))?;
        let people = parse_population_csv(&text)?;
        self.upsert_people(&people, now).await?;
        Ok(people.len())
    }

    /// Upserts many people in one transaction (all or nothing).
    pub async fn upsert_people(&self, people: &[PersonRecord], now: i64) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for person in people {
                bind_person!(person, now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "pid,given_name,family_name,birth_date,address_kind,address_line,postal_code,city,country,status";

    fn csv(rows: &[&str]) -> String {
        let mut text = HEADER.to_owned();
        for row in rows {
            text.push('\n');
            text.push_str(row);
        }
        text
    }

    fn bad_lines(text: &str) -> Vec<(u64, String)> {
        match parse_population(text) {
            Err(CsvError::InvalidRows(rows)) => {
                rows.into_iter().map(|r| (r.line, r.message)).collect()
            }
            other => panic!("expected invalid rows, got {other:?}"),
        }
    }

    #[test]
    fn demo_population_is_valid_and_covers_every_role() {
        let rows =
            parse_population(include_str!("../../../../assets/demo/population.csv")).unwrap();
        let people: Vec<&PersonRecord> = rows.iter().map(|r| &r.person).collect();
        let ids: Vec<IdNumber> = people
            .iter()
            .map(|p| IdNumber::parse(&p.pid, SyntheticPolicy::Accept).unwrap())
            .collect();
        assert!(
            ids.iter().all(|id| id.kind().is_synthetic()),
            "synthetic numbers only"
        );
        assert!(IdNumber::parse(&people[0].pid, SyntheticPolicy::Reject).is_err());
        let count = |f: &dyn Fn(&PersonRecord) -> bool| people.iter().filter(|p| f(p)).count();
        assert!(count(&|p| p.address_kind == "domestic" && p.birth_date.as_str() < "2000") >= 3);
        assert!(count(&|p| p.address_kind == "foreign") >= 1);
        assert!(count(&|p| p.address_kind == "none") >= 1);
        assert!(
            count(&|p| p.birth_date.starts_with("2013-")) >= 1,
            "turns 13 in 2026"
        );
        assert!(
            count(&|p| p.birth_date.starts_with("2014-")) >= 1,
            "12 in 2026"
        );
        assert!(count(&|p| p.status == "d_number" && p.address_kind == "domestic") >= 1);
        assert!(ids
            .iter()
            .any(|id| id.kind() == nokkel_core::id_number::IdKind::SyntheticDnr));
        let registered: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.registered.as_deref())
            .collect();
        assert!(registered.contains(&"sms") && registered.contains(&"app"));
        assert_eq!(
            parse_population_csv(include_str!("../../../../assets/demo/population.csv"))
                .unwrap()
                .len(),
            rows.len()
        );
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let text = csv(&[
            "14838514058,Ingrid,Sæther,1985-03-14,domestic,Storgata 1,0155,Oslo,NO,resident",
            "14838514059,Bad,Check,1985-03-14,domestic,Storgata 1,0155,Oslo,NO,resident",
            "02877213709,Ola,Håkonsen,1972-07-02,domestic,Storgata 1,,Oslo,NO,resident",
            "30919413820,Siri,Åsheim,1994-11-30,abroad,Storgata 1,9008,Tromsø,NO,resident",
            "25816013758,Bjørn,Ødegård,1960-01-26,domestic,Munkegata 20,7011,Trondheim,NO,resident",
            "05859013831,Marte,Løvås,1990-05-05,foreign,Drottninggatan 71,,Stockholm,NO,emigrated",
            "22848813714,Nils,Fjære,1988-04-22,none,Somewhere 1,,,,resident",
            "17895513741,Per,Græsli,1955-09-17,foreign,Calle Larios 8,29005,Málaga,ES,alive",
            "14838514058,Ingrid,Again,1985-03-14,domestic,Storgata 1,0155,Oslo,NO,resident",
        ]);
        let lines: Vec<u64> = bad_lines(&text).into_iter().map(|(line, _)| line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7, 8, 9, 10]);
        let messages = bad_lines(&text);
        assert!(messages[0].1.contains("check digits"));
        assert!(messages[1].1.contains("postal_code"));
        assert!(messages[3].1.contains("birth_date does not match"));
        assert!(messages[7].1.contains("already on line 2"));
        // Messages never repeat the row's personal data.
        let all = format!("{}", CsvError::InvalidRows(bad_lines_errors(&text)));
        assert!(
            !all.contains("14838514059") && !all.contains("Håkonsen"),
            "{all}"
        );
    }

    fn bad_lines_errors(text: &str) -> Vec<RowError> {
        match parse_population(text) {
            Err(CsvError::InvalidRows(rows)) => rows,
            other => panic!("expected invalid rows, got {other:?}"),
        }
    }

    #[test]
    fn columns_may_come_in_any_order_and_country_is_normalised() {
        let text = "status,country,city,postal_code,address_line,address_kind,birth_date,family_name,given_name,pid\n\
                    emigrated,se,Stockholm,,Drottninggatan 71,foreign,1990-05-05,Løvås,Marte,05859013831";
        let people = parse_population_csv(text).unwrap();
        assert_eq!(people[0].country.as_deref(), Some("SE"));
        assert_eq!(people[0].postal_code, None);
    }

    #[test]
    fn missing_column_and_bad_registered_value_are_rejected() {
        assert!(matches!(
            parse_population_csv("pid,given_name\n14838514058,Ingrid"),
            Err(CsvError::Format(m)) if m.contains("family_name")
        ));
        let text = format!("{HEADER},registered\n14838514058,Ingrid,Sæther,1985-03-14,domestic,Storgata 1,0155,Oslo,NO,resident,yes");
        assert_eq!(bad_lines(&text)[0].0, 2);
        let short = csv(&["14838514058,Ingrid"]);
        assert_eq!(bad_lines(&short)[0].0, 2);
    }
}
