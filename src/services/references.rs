//! Human-readable identifiers that cannot be guessed: booking and refund references.
//!
//! A booking reference plus an email opens the customer portal, so it carries 65 random
//! bits in Crockford base32 (no I, L, O or U to misread): `RFT-7K3QX-9MZT2-4HP`.

use rand::{Rng, rngs::OsRng};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn random_chars(n: usize) -> String {
    let mut rng = OsRng;
    (0..n)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A new booking reference: `RFT-` and 13 random base32 characters (65 bits), grouped.
pub fn booking_reference() -> String {
    let s = random_chars(13);
    format!("RFT-{}-{}-{}", &s[0..5], &s[5..10], &s[10..13])
}

/// A new certificate number: `RFT-<course>-<year>-` and 10 random base32 characters
/// (50 bits; the unique index catches the impossible clash).
pub fn certificate_number(course_code: &str, year: &str) -> String {
    format!("RFT-{course_code}-{year}-{}", random_chars(10))
}

/// A new refund reference: `RFD-` and 13 random base32 characters, grouped.
pub fn refund_reference() -> String {
    let s = random_chars(13);
    format!("RFD-{}-{}-{}", &s[0..5], &s[5..10], &s[10..13])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_have_the_documented_shape() {
        let r = booking_reference();
        assert_eq!(r.len(), 19, "{r}");
        assert!(r.starts_with("RFT-"));
        assert!(
            r[4..]
                .chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
        );
        assert_ne!(booking_reference(), booking_reference());
    }
}
