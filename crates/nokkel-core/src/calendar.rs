//! Norwegian business days and the expected delivery date of an activation letter.
//!
//! A business day is Monday to Friday except the Norwegian public holidays ("helligdager"
//! and the two statutory "høytidsdager", 1 and 17 May). Christmas Eve and New Year's Eve
//! are ordinary business days for the postal service and are not treated as holidays.

use time::{Date, Duration, Month, OffsetDateTime, Time, UtcOffset, Weekday};

/// Business days within which a letter to a domestic address is expected ("up to 10 days").
pub const DOMESTIC_DELIVERY_BUSINESS_DAYS: u32 = 10;

/// Business days within which a letter to a foreign address is expected.
///
/// The source documents only say "longer abroad"; twice the domestic time is what Posten
/// states for priority letters to most of Europe, and is a conservative promise elsewhere.
pub const ABROAD_DELIVERY_BUSINESS_DAYS: u32 = 20;

/// Business days after which a person still without a letter is pointed to support.
pub const SUPPORT_AFTER_BUSINESS_DAYS: u32 = 10;

/// Where a letter is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    /// An address in Norway.
    Domestic,
    /// An address in another country.
    Abroad,
}

/// Easter Sunday of `year` in the Gregorian calendar (the anonymous Gregorian algorithm of
/// Meeus/Jones/Butcher). Returns `None` only for years `time` cannot represent.
pub fn easter_sunday(year: i32) -> Option<Date> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()
}

/// True if `date` is a Norwegian public holiday.
pub fn is_public_holiday(date: Date) -> bool {
    let fixed = matches!(
        (date.month(), date.day()),
        (Month::January, 1)
            | (Month::May, 1)
            | (Month::May, 17)
            | (Month::December, 25)
            | (Month::December, 26)
    );
    if fixed {
        return true;
    }
    let Some(easter) = easter_sunday(date.year()) else {
        return false;
    };
    // Maundy Thursday, Good Friday, Easter Sunday and Monday, Ascension Day, Whit Sunday and Monday.
    [-3, -2, 0, 1, 39, 49, 50]
        .iter()
        .any(|offset| easter + Duration::days(*offset) == date)
}

/// True if `date` is a Norwegian business day.
pub fn is_business_day(date: Date) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) && !is_public_holiday(date)
}

/// The date `days` business days after `start` (the start day itself does not count).
/// Saturates at the last representable date rather than failing.
pub fn add_business_days(start: Date, days: u32) -> Date {
    let mut date = start;
    let mut left = days;
    while left > 0 {
        let Some(next) = date.next_day() else {
            return date;
        };
        date = next;
        if is_business_day(date) {
            left -= 1;
        }
    }
    date
}

/// The last Sunday of `month` in `year`.
fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let first_of_next = match month {
        Month::December => Date::from_calendar_date(year + 1, Month::January, 1),
        _ => Date::from_calendar_date(year, month.next(), 1),
    }
    .ok()?;
    let mut day = first_of_next.previous_day()?;
    while day.weekday() != Weekday::Sunday {
        day = day.previous_day()?;
    }
    Some(day)
}

/// Norway's offset from UTC at `instant`: +02:00 in summer time (from 01:00 UTC on the last
/// Sunday of March to 01:00 UTC on the last Sunday of October, the EU rule), else +01:00.
pub fn oslo_offset(instant: OffsetDateTime) -> UtcOffset {
    let utc = instant.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let at_one = |date: Option<Date>| {
        date.map(|d| {
            d.with_time(Time::MIDNIGHT + Duration::hours(1))
                .assume_utc()
        })
    };
    let summer = match (
        at_one(last_sunday(year, Month::March)),
        at_one(last_sunday(year, Month::October)),
    ) {
        (Some(start), Some(end)) => utc >= start && utc < end,
        _ => false,
    };
    let hours = if summer { 2 } else { 1 };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// Today's date in Norway at `instant`: business days and ages count by the Norwegian date.
pub fn oslo_date(instant: OffsetDateTime) -> Date {
    instant.to_offset(oslo_offset(instant)).date()
}

/// The latest date a letter ordered on `ordered_on` is expected to arrive.
pub fn expected_delivery(ordered_on: Date, destination: Destination) -> Date {
    let days = match destination {
        Destination::Domestic => DOMESTIC_DELIVERY_BUSINESS_DAYS,
        Destination::Abroad => ABROAD_DELIVERY_BUSINESS_DAYS,
    };
    add_business_days(ordered_on, days)
}

/// The date from which a person who ordered on `ordered_on` and has no letter should
/// contact support.
pub fn contact_support_from(ordered_on: Date) -> Date {
    add_business_days(ordered_on, SUPPORT_AFTER_BUSINESS_DAYS + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn easter_matches_published_dates() {
        // Source: the Norwegian almanac (Almanakk for Norge) / any Gregorian Easter table.
        let known = [
            (2000, date!(2000 - 04 - 23)),
            (2008, date!(2008 - 03 - 23)),
            (2011, date!(2011 - 04 - 24)),
            (2019, date!(2019 - 04 - 21)),
            (2024, date!(2024 - 03 - 31)),
            (2025, date!(2025 - 04 - 20)),
            (2026, date!(2026 - 04 - 05)),
            (2027, date!(2027 - 03 - 28)),
            (2038, date!(2038 - 04 - 25)),
        ];
        for (year, expected) in known {
            assert_eq!(easter_sunday(year), Some(expected), "Easter {year}");
        }
    }

    #[test]
    fn holidays_2026() {
        for holiday in [
            date!(2026 - 01 - 01),
            date!(2026 - 04 - 02),
            date!(2026 - 04 - 03),
            date!(2026 - 04 - 05),
            date!(2026 - 04 - 06),
            date!(2026 - 05 - 01),
            date!(2026 - 05 - 14),
            date!(2026 - 05 - 17),
            date!(2026 - 05 - 24),
            date!(2026 - 05 - 25),
            date!(2026 - 12 - 25),
            date!(2026 - 12 - 26),
        ] {
            assert!(is_public_holiday(holiday), "{holiday} is a holiday");
            assert!(!is_business_day(holiday));
        }
        assert!(!is_public_holiday(date!(2026 - 12 - 24)));
        assert!(is_business_day(date!(2026 - 12 - 24)));
        assert!(!is_business_day(date!(2026 - 11 - 21)), "a Saturday");
    }

    #[test]
    fn delivery_skips_weekends_and_easter() {
        // Ordered Monday 23 Nov 2026: ten business days later is Monday 7 Dec.
        assert_eq!(
            expected_delivery(date!(2026 - 11 - 23), Destination::Domestic),
            date!(2026 - 12 - 07)
        );
        // Ordered Monday 30 March 2026 (Easter week: 2, 3 and 6 April are holidays).
        assert_eq!(
            expected_delivery(date!(2026 - 03 - 30), Destination::Domestic),
            date!(2026 - 04 - 16)
        );
        // Over Christmas and New Year: 24 and 31 Dec count, 25, 26 Dec and 1 Jan do not.
        assert_eq!(
            expected_delivery(date!(2026 - 12 - 21), Destination::Domestic),
            date!(2027 - 01 - 06)
        );
    }

    #[test]
    fn norwegian_date_follows_summer_time() {
        use time::macros::datetime;
        // 23:30 UTC on 21 Nov is already 22 Nov in Oslo (winter time, +1).
        assert_eq!(
            oslo_date(datetime!(2026-11-21 23:30 UTC)),
            date!(2026 - 11 - 22)
        );
        assert_eq!(
            oslo_date(datetime!(2026-11-21 22:30 UTC)),
            date!(2026 - 11 - 21)
        );
        // Summer 2026 runs from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(
            oslo_offset(datetime!(2026-03-29 00:59 UTC)).whole_hours(),
            1
        );
        assert_eq!(
            oslo_offset(datetime!(2026-03-29 01:00 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            oslo_offset(datetime!(2026-10-25 00:59 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            oslo_offset(datetime!(2026-10-25 01:00 UTC)).whole_hours(),
            1
        );
        assert_eq!(
            oslo_date(datetime!(2026-06-30 22:30 UTC)),
            date!(2026 - 07 - 01)
        );
    }

    #[test]
    fn abroad_takes_longer_and_support_comes_after_domestic_delivery() {
        let ordered = date!(2026 - 11 - 23);
        let home = expected_delivery(ordered, Destination::Domestic);
        let abroad = expected_delivery(ordered, Destination::Abroad);
        assert!(abroad > home);
        assert_eq!(abroad, date!(2026 - 12 - 21));
        assert!(contact_support_from(ordered) > home);
        assert_eq!(contact_support_from(ordered), date!(2026 - 12 - 08));
    }
}
