//! Input checks shared by every service. Each names the offending field, so clients get
//! `BAD_USER_INPUT` with `extensions.field` and nothing is written.

use email_address::EmailAddress;

use crate::error::{AppError, AppResult};

/// Trims and lowercases an email and checks it is a plausible address.
pub fn email(field: &str, raw: &str) -> AppResult<String> {
    let normalised = normalise_email(raw);
    if normalised.is_empty() {
        return Err(AppError::bad_input(field, "email is required"));
    }
    if normalised.chars().count() > 255 {
        return Err(AppError::bad_input(
            field,
            "email must be at most 255 characters",
        ));
    }
    let domain_has_dot = normalised
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain.contains('.') && !domain.ends_with('.'));
    if !EmailAddress::is_valid(&normalised) || !domain_has_dot {
        return Err(AppError::bad_input(field, "email is not a valid address"));
    }
    Ok(normalised)
}

/// The form every stored email takes: trimmed and lowercased.
pub fn normalise_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// A required text: trimmed, non-empty and at most `max` characters.
pub fn required(field: &str, raw: &str, max: usize) -> AppResult<String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(AppError::bad_input(field, format!("{field} is required")));
    }
    bounded(field, value, max)
}

/// An optional text: trimmed, empty becomes `None`, at most `max` characters.
pub fn optional(field: &str, raw: Option<&str>, max: usize) -> AppResult<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => bounded(field, value, max).map(Some),
    }
}

fn bounded(field: &str, value: &str, max: usize) -> AppResult<String> {
    if value.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(value.to_string())
}

/// An optional phone number: digits with spaces, `+`, `-`, `(`, `)` or `.`; 7 to 15 digits;
/// at most 20 characters as typed.
pub fn phone(field: &str, raw: Option<&str>) -> AppResult<Option<String>> {
    let Some(value) = optional(field, raw, 20)? else {
        return Ok(None);
    };
    let allowed = value
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.'));
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if !allowed || !(7..=15).contains(&digits) {
        return Err(AppError::bad_input(
            field,
            format!("{field} is not a valid phone number"),
        ));
    }
    Ok(Some(value))
}

/// The digits of a phone number in UK national form, so `+44 7700 900123`, `07700 900123`
/// and `07700900123` all become `07700900123`.
pub fn phone_digits(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix("44") {
        Some(rest) if raw.trim_start().starts_with('+') || digits.len() >= 12 => {
            if rest.starts_with('0') {
                rest.to_string()
            } else {
                format!("0{rest}")
            }
        }
        _ => digits,
    }
}

/// True when a search term looks like (part of) a phone number.
pub fn looks_like_phone(term: &str) -> bool {
    let digits = term.chars().filter(char::is_ascii_digit).count();
    digits >= 3
        && term
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.'))
}

/// A UK-style postcode, uppercased, at most 10 characters.
pub fn postcode(field: &str, raw: Option<&str>) -> AppResult<Option<String>> {
    Ok(optional(field, raw, 10)?.map(|p| p.to_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            email("email", "  Jo.Smith@Example.COM ").unwrap(),
            "jo.smith@example.com"
        );
        assert!(email("email", "not-an-email").is_err());
        assert!(email("email", "jo@localhost").is_err());
        assert!(email("email", "").is_err());
    }

    #[test]
    fn phone_digits_agree_across_formats() {
        assert_eq!(phone_digits("07700 900123"), "07700900123");
        assert_eq!(phone_digits("07700900123"), "07700900123");
        assert_eq!(phone_digits("+447700900123"), "07700900123");
        assert_eq!(phone_digits("+44 (0)7700 900123"), "07700900123");
        assert_eq!(phone_digits("900123"), "900123");
    }

    #[test]
    fn lengths_are_counted_in_characters() {
        assert!(required("firstName", "Zoë", 3).is_ok());
        assert!(required("firstName", "Zoëy", 3).is_err());
        assert!(required("firstName", "   ", 3).is_err());
        assert_eq!(optional("city", Some("  "), 10).unwrap(), None);
    }
}

/// Checks a language tag, BCP-47 style, and returns it in its usual case (`en-GB`,
/// `zh-Hant-TW`, `cy`): a 2 or 3 letter language, then optional subtags (a 4 letter
/// script, a 2 letter or 3 digit region, 5 to 8 character variants), at most 35
/// characters. Anything else (`english`, `en_GB!`, blank) is BAD_USER_INPUT.
pub fn language(field: &str, raw: &str) -> AppResult<String> {
    let bad = || {
        AppError::bad_input(
            field,
            format!("{field} must be a language tag such as en-GB, cy or pl"),
        )
    };
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 35 || !raw.is_ascii() {
        return Err(bad());
    }
    let mut parts = raw.split('-');
    let primary = parts.next().unwrap_or_default();
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let mut out = primary.to_ascii_lowercase();
    for part in parts {
        let alpha = part.chars().all(|c| c.is_ascii_alphabetic());
        let digits = part.chars().all(|c| c.is_ascii_digit());
        let alnum = part.chars().all(|c| c.is_ascii_alphanumeric());
        let subtag = match part.len() {
            2 if alpha => part.to_ascii_uppercase(),
            3 if digits => part.to_string(),
            4 if alpha => {
                let lower = part.to_ascii_lowercase();
                lower[..1].to_ascii_uppercase() + &lower[1..]
            }
            4 if alnum && part.starts_with(|c: char| c.is_ascii_digit()) => {
                part.to_ascii_lowercase()
            }
            5..=8 if alnum => part.to_ascii_lowercase(),
            _ => return Err(bad()),
        };
        out.push('-');
        out.push_str(&subtag);
    }
    Ok(out)
}

#[cfg(test)]
mod language_tests {
    use super::language;

    #[test]
    fn language_tags_are_checked_and_put_in_their_usual_case() {
        for (raw, want) in [
            ("en-GB", "en-GB"),
            ("en-gb", "en-GB"),
            (" cy ", "cy"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("es-419", "es-419"),
            ("de-CH-1996", "de-CH-1996"),
            ("sl-rozaj", "sl-rozaj"),
        ] {
            assert_eq!(language("language", raw).unwrap(), want, "{raw}");
        }
        for raw in [
            "",
            "e",
            "english",
            "en_GB",
            "en-",
            "en--GB",
            "en-G",
            "12",
            "en-GB!",
            "ẽn",
            "en-abcdefghi",
        ] {
            assert!(language("language", raw).is_err(), "{raw:?} accepted");
        }
    }
}
