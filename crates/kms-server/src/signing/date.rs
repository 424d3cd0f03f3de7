//! `X-Sdk-Date`: UTC `%Y%m%dT%H%M%SZ` (`20261201T070238Z`), and the 15-minute window
//! around the server's clock that the cloud gateway enforces.

use super::failure::{AuthFailure, FailureReason};

/// How far `X-Sdk-Date` may be from the server's clock, either way, in seconds.
pub const MAX_CLOCK_SKEW_SECONDS: u64 = 15 * 60;

/// The `X-Sdk-Date` value of `time`, as a client signs it (the inverse of
/// [`parse_sdk_date`], to the second).
#[must_use]
pub fn format_sdk_date(time: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(time)
        .to_string()
        .replace(['-', ':'], "")
}

/// Seconds since the Unix epoch of an `X-Sdk-Date` value.
///
/// # Errors
/// [`FailureReason::MalformedDate`] unless `value` is exactly `YYYYMMDDTHHMMSSZ` with a
/// real calendar date and a time from `000000` to `235959`.
pub fn parse_sdk_date(value: &str) -> Result<i64, AuthFailure> {
    let malformed = || AuthFailure::new(FailureReason::MalformedDate);
    let bytes: &[u8; 16] = value.as_bytes().try_into().map_err(|_| malformed())?;
    let [
        y0,
        y1,
        y2,
        y3,
        mo0,
        mo1,
        d0,
        d1,
        t,
        h0,
        h1,
        mi0,
        mi1,
        s0,
        s1,
        z,
    ] = *bytes;
    if t != b'T' || z != b'Z' {
        return Err(malformed());
    }
    let digits = |ds: &[u8]| -> Option<i64> {
        ds.iter().try_fold(0_i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let field = |ds: &[u8]| digits(ds).ok_or_else(malformed);
    let year = field(&[y0, y1, y2, y3])?;
    let month = field(&[mo0, mo1])?;
    let day = field(&[d0, d1])?;
    let hour = field(&[h0, h1])?;
    let minute = field(&[mi0, mi1])?;
    let second = field(&[s0, s1])?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(malformed());
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Whether a request dated `date` (Unix seconds) is within [`MAX_CLOCK_SKEW_SECONDS`] of
/// `now` (Unix seconds), in the past or the future.
///
/// # Errors
/// [`FailureReason::DateOutOfWindow`] if it is not.
pub fn check_window(date: i64, now: i64) -> Result<(), AuthFailure> {
    if date.abs_diff(now) <= MAX_CLOCK_SKEW_SECONDS {
        Ok(())
    } else {
        Err(FailureReason::DateOutOfWindow.into())
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_what_it_parses() {
        let at = |seconds: u64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
        assert_eq!(format_sdk_date(at(1_796_000_000)), "20261130T005320Z");
        assert_eq!(format_sdk_date(at(0)), "19700101T000000Z");
        for seconds in [0, 1_709_251_199, 1_796_108_558, 4_102_444_799] {
            let text = format_sdk_date(at(seconds));
            assert_eq!(parse_sdk_date(&text), Ok(i64::try_from(seconds).unwrap()));
        }
    }

    #[test]
    fn parses_known_instants() {
        assert_eq!(parse_sdk_date("19700101T000000Z"), Ok(0));
        assert_eq!(parse_sdk_date("20240101T000000Z"), Ok(1_704_067_200));
        assert_eq!(parse_sdk_date("20261201T070238Z"), Ok(1_796_108_558));
        assert_eq!(parse_sdk_date("20240229T235959Z"), Ok(1_709_251_199));
        assert_eq!(parse_sdk_date("00000101T000000Z"), Ok(-62_167_219_200));
    }

    #[test]
    fn refuses_malformed_dates() {
        for bad in [
            "",
            "20240101T000000",
            "20240101T000000z",
            "20240101 000000Z",
            "2024-1-1T000000Z",
            "20230229T000000Z",
            "20241301T000000Z",
            "20240100T000000Z",
            "20240101T240000Z",
            "20240101T006000Z",
            "20240101T000060Z",
            "+0240101T000000Z",
            "20240101T000000Z ",
            "２０２４0101T0000Z",
        ] {
            assert_eq!(
                parse_sdk_date(bad).map_err(|f| f.reason()),
                Err(FailureReason::MalformedDate),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn window_is_inclusive_fifteen_minutes() {
        assert!(check_window(1000, 1000 + 900).is_ok());
        assert!(check_window(1000 + 900, 1000).is_ok());
        assert!(check_window(1000, 1000 + 901).is_err());
        assert!(check_window(i64::MIN, i64::MAX).is_err());
    }
}
