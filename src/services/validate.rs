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
