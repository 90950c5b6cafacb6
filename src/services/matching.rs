//! Matching keys and pair scoring for duplicate detection: pure functions, no database.
//!
//! [`keys`] turns a profile into the normalised keys that blocking and scoring compare
//! (stored in `user_match_keys`, see `services::duplicates`); [`compare`] scores two sets of
//! keys with Fellegi–Sunter weights and explains each field's part in the score.
//!
//! The model: each field is compared at a [`Level`]; each level carries the weight
//! `log2(m / u)`, where `m` is how often true duplicates compare at that level and `u` how
//! often two different people do. A missing value on either side weighs 0. The match weight
//! is the prior log2-odds plus the sum of the fields' weights; the score is the probability
//! `2^w / (1 + 2^w)`. The m and u values are in [`MODEL`], each with where it comes from.
//! Medical, dietary, emergency-contact details and dates of birth are never keys.

use rphonetic::{DoubleMetaphone, Encoder};

/// Jaro-Winkler similarity at or above which two names (or two email local parts) compare
/// as SIMILAR.
pub const SIMILAR_JARO_WINKLER: f64 = 0.88;

/// Region assumed for phone numbers written without a country code.
const DEFAULT_REGION: phonenumber::country::Id = phonenumber::country::Id::GB;

/// The normalised keys of one profile. `None` where the profile has no usable value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchKeys {
    /// The canonical email without `+tag` (and, for Gmail, without dots in the local part).
    pub mailbox: Option<String>,
    /// The phone number in E.164 (`+447700900123`).
    pub phone: Option<String>,
    /// The mobile number in E.164.
    pub mobile: Option<String>,
    /// The first name folded to ASCII lowercase letters and digits (`Zoë` → `zoe`).
    pub first_name: Option<String>,
    /// The last name folded the same way (`O'Brien` → `obrien`).
    pub last_name: Option<String>,
    /// Double Metaphone of the folded first name (stored, so comparing never encodes).
    pub first_name_sound: Option<String>,
    /// Double Metaphone of the folded last name.
    pub last_name_sound: Option<String>,
    /// Double Metaphone of the last name, `:`, the first initial (`SM0:j`).
    pub name: Option<String>,
    /// The company name lowercased, without punctuation, spaces or legal suffixes.
    pub company: Option<String>,
    /// The postcode in upper case with one space (`LS1 4AB`).
    pub postcode: Option<String>,
    /// The postcode's outward code (`LS1`).
    pub postcode_outward: Option<String>,
}

/// The profile fields that keys are made from, as stored.
#[derive(Debug, Clone, Copy, Default)]
pub struct Profile<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub phone: Option<&'a str>,
    pub mobile: Option<&'a str>,
    pub company: Option<&'a str>,
    pub postcode: Option<&'a str>,
}

/// The keys of a profile.
pub fn keys(p: &Profile<'_>) -> MatchKeys {
    let first_name = fold_name(p.first_name);
    let last_name = fold_name(p.last_name);
    let sound = |name: &Option<String>| {
        name.as_deref()
            .map(metaphone)
            .filter(|code| !code.is_empty())
    };
    let first_name_sound = sound(&first_name);
    let last_name_sound = sound(&last_name);
    let name = match (&first_name, &last_name_sound) {
        (Some(first), Some(code)) => first.chars().next().map(|i| format!("{code}:{i}")),
        _ => None,
    };
    let (postcode, postcode_outward) = match p.postcode.and_then(postcode_key) {
        Some((full, outward)) => (Some(full), outward),
        None => (None, None),
    };
    MatchKeys {
        mailbox: mailbox_key(p.email),
        phone: p.phone.and_then(phone_key),
        mobile: p.mobile.and_then(phone_key),
        first_name,
        last_name,
        first_name_sound,
        last_name_sound,
        name,
        company: p.company.and_then(company_key),
        postcode,
        postcode_outward,
    }
}

/// The mailbox key of an email: trimmed and lowercased, `+tag` removed from the local part;
/// for gmail.com and googlemail.com, dots removed from the local part and the domain
/// written gmail.com. A match signal only: the stored email is never rewritten.
pub fn mailbox_key(email: &str) -> Option<String> {
    let canonical = email.trim().to_lowercase();
    let (local, domain) = canonical.rsplit_once('@')?;
    let local = local.split('+').next().unwrap_or(local);
    let (local, domain) = match domain {
        "gmail.com" | "googlemail.com" => (local.replace('.', ""), "gmail.com"),
        _ => (local.to_string(), domain),
    };
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    Some(format!("{local}@{domain}"))
}

/// A phone number in E.164, reading numbers without a country code as UK numbers:
/// `07700 900123`, `07700900123`, `+44 7700 900123` and `0044 7700 900123` all give
/// `+447700900123`. A number libphonenumber cannot read gives `None` rather than a
/// digits-only guess, so placeholders such as `0000000` or `n/a` never link two people.
pub fn phone_key(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let number = phonenumber::parse(Some(DEFAULT_REGION), raw).ok()?;
    let national = number.national().value();
    // Shorter than any real UK number (and every number the API accepts has 7 digits).
    if national < 100_000 {
        return None;
    }
    Some(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// A name folded for matching: transliterated to ASCII, lowercased, and only letters and
/// digits kept (apostrophes, hyphens and spaces go): `Zoë` → `zoe`, `Siân` → `sian`,
/// `O'Brien` → `obrien`, `Mary-Jane` → `maryjane`.
pub fn fold_name(raw: &str) -> Option<String> {
    let folded: String = deunicode::deunicode(raw)
        .to_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    (!folded.is_empty()).then_some(folded)
}

/// The Double Metaphone primary code of a folded name (at most 4 characters).
pub fn metaphone(folded: &str) -> String {
    DoubleMetaphone::default().encode(folded)
}

/// Legal-form words dropped from the end of a company name. "Co" goes too, alone or as
/// "& Co" ("Smith & Co Ltd" and "Smith Ltd" are one firm far more often than two).
const COMPANY_SUFFIXES: [&str; 8] = ["ltd", "limited", "plc", "llp", "lp", "cic", "co", "company"];

/// A company name for matching: ASCII lowercase, `&` read as "and", punctuation and
/// spaces removed, a leading "the" and trailing legal suffixes (Ltd, Limited, PLC, LLP,
/// LP, CIC, Co, Company, "& Co") dropped. `None` when nothing is left.
pub fn company_key(raw: &str) -> Option<String> {
    let text = deunicode::deunicode(raw)
        .to_lowercase()
        .replace('&', " and ");
    let mut words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() > 1 && words[0] == "the" {
        words.remove(0);
    }
    while words.len() > 1 {
        let last = words[words.len() - 1];
        if !COMPANY_SUFFIXES.contains(&last) {
            break;
        }
        words.pop();
        if last == "co" && words.len() > 1 && words[words.len() - 1] == "and" {
            words.pop();
        }
    }
    let key = words.concat();
    (!key.is_empty()).then_some(key)
}

/// A postcode in upper case with one space before the inward code, and its outward code:
/// `ls14ab` → (`LS1 4AB`, `LS1`). Something that is not shaped like a UK postcode is kept
/// upper-cased without spaces, with no outward code.
pub fn postcode_key(raw: &str) -> Option<(String, Option<String>)> {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    if compact.is_empty() {
        return None;
    }
    let chars: Vec<char> = compact.chars().collect();
    let n = chars.len();
    let uk_shaped = (5..=7).contains(&n)
        && chars.iter().all(char::is_ascii_alphanumeric)
        && chars[0].is_ascii_alphabetic()
        && chars[n - 3].is_ascii_digit()
        && chars[n - 2].is_ascii_alphabetic()
        && chars[n - 1].is_ascii_alphabetic();
    if !uk_shaped {
        return Some((compact, None));
    }
    let outward: String = chars[..n - 3].iter().collect();
    let inward: String = chars[n - 3..].iter().collect();
    Some((format!("{outward} {inward}"), Some(outward)))
}

/// A field compared between two profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Email,
    FirstName,
    LastName,
    Phone,
    Company,
    Postcode,
}

/// How two values of a field compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The keys are equal.
    Exact,
    /// Close (a typo, a spelling that sounds the same, the same postcode district).
    Similar,
    /// Both present and not close.
    Different,
    /// Missing on one side or both: no evidence either way (weight 0).
    Missing,
}

/// m and u for one level: the share of true duplicate pairs (m) and of pairs of different
/// people (u) that compare at that level.
#[derive(Debug, Clone, Copy)]
pub struct Mu {
    pub m: f64,
    pub u: f64,
}

impl Mu {
    /// The level's Fellegi–Sunter weight, `log2(m / u)`.
    pub fn weight(self) -> f64 {
        (self.m / self.u).log2()
    }
}

/// The m and u values of one field's levels (a field without a SIMILAR level never
/// compares as SIMILAR).
#[derive(Debug, Clone, Copy)]
pub struct FieldModel {
    pub field: Field,
    pub exact: Mu,
    pub similar: Option<Mu>,
    pub different: Mu,
}

/// The prior: the probability that two customers picked at random are the same person.
/// About 2% of customers have a duplicate, in a book of about 50,000 customers:
/// 0.02 × 50,000 / (50,000² / 2) = 8 × 10⁻⁷, −20.25 in log2-odds.
pub const PRIOR: f64 = 8e-7;

/// The model: m and u for every field and level, in one place.
///
/// Where they come from (honestly): hand-set estimates, not yet fitted to our data. u comes
/// from value frequencies: the chance two different UK customers share a first name
/// (about 1 in 100, the sum of squared frequencies of common first names), a surname
/// (about 1 in 500), a full postcode (about 15 households share one; customers cluster in
/// Yorkshire, so about 1 in 10,000) or its district (1 in 100), a phone number (office
/// switchboards make it 1 in 10,000 rather than one in millions), a company (large
/// employers: NHS trusts, councils, 1 in 1,000) or a mailbox (shared inboxes such as
/// office@: 1 in a million). m comes from how duplicates arise in booking forms: a typo in
/// the email (about 1 in 10 duplicates), a second address (work and personal) or a renewal
/// from a new employer (about 4 in 10), a phone or postcode unchanged in about 6 in 10.
/// Re-estimate them from the pairs admins dismiss and merge once there are a few hundred.
pub const MODEL: [FieldModel; 6] = [
    FieldModel {
        field: Field::Email,
        exact: Mu { m: 0.50, u: 1e-6 },
        similar: Some(Mu { m: 0.10, u: 2e-4 }),
        different: Mu {
            m: 0.40,
            u: 0.999799,
        },
    },
    FieldModel {
        field: Field::FirstName,
        exact: Mu { m: 0.90, u: 0.01 },
        similar: Some(Mu { m: 0.08, u: 0.02 }),
        different: Mu { m: 0.02, u: 0.97 },
    },
    FieldModel {
        field: Field::LastName,
        exact: Mu { m: 0.92, u: 0.002 },
        similar: Some(Mu { m: 0.05, u: 0.008 }),
        different: Mu { m: 0.03, u: 0.99 },
    },
    FieldModel {
        field: Field::Phone,
        exact: Mu { m: 0.60, u: 1e-4 },
        similar: None,
        different: Mu { m: 0.40, u: 0.9999 },
    },
    FieldModel {
        field: Field::Company,
        exact: Mu { m: 0.45, u: 1e-3 },
        similar: None,
        different: Mu { m: 0.55, u: 0.999 },
    },
    FieldModel {
        field: Field::Postcode,
        exact: Mu { m: 0.60, u: 1e-4 },
        similar: Some(Mu { m: 0.15, u: 0.01 }),
        different: Mu { m: 0.25, u: 0.9899 },
    },
];

/// The weight of a field compared at a level.
pub fn weight(field: Field, level: Level) -> f64 {
    let Some(model) = MODEL.iter().find(|f| f.field == field) else {
        return 0.0;
    };
    match level {
        Level::Exact => model.exact.weight(),
        Level::Similar => model.similar.map_or(0.0, Mu::weight),
        Level::Different => model.different.weight(),
        Level::Missing => 0.0,
    }
}

/// The prior as log2-odds.
pub fn prior_weight() -> f64 {
    (PRIOR / (1.0 - PRIOR)).log2()
}

/// One field's part in a score.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reason {
    pub field: Field,
    pub level: Level,
    pub weight: f64,
}

/// Two profiles compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Prior log2-odds plus every field's weight.
    pub match_weight: f64,
    /// The probability that the two are the same person, `2^w / (1 + 2^w)`.
    pub score: f64,
    /// Every field, in [`MODEL`] order.
    pub reasons: Vec<Reason>,
}

/// The probability for a match weight.
pub fn probability(match_weight: f64) -> f64 {
    1.0 / (1.0 + (-match_weight).exp2())
}

/// Compares two profiles' keys.
pub fn compare(a: &MatchKeys, b: &MatchKeys) -> Comparison {
    let reasons: Vec<Reason> = MODEL
        .iter()
        .map(|f| {
            let level = level_of(f.field, a, b);
            let level = if level == Level::Similar && f.similar.is_none() {
                Level::Different
            } else {
                level
            };
            Reason {
                field: f.field,
                level,
                weight: weight(f.field, level),
            }
        })
        .collect();
    let match_weight = prior_weight() + reasons.iter().map(|r| r.weight).sum::<f64>();
    Comparison {
        match_weight,
        score: probability(match_weight),
        reasons,
    }
}

fn level_of(field: Field, a: &MatchKeys, b: &MatchKeys) -> Level {
    match field {
        Field::Email => both(&a.mailbox, &b.mailbox, |x, y| {
            if x == y {
                Level::Exact
            } else if emails_similar(x, y) {
                Level::Similar
            } else {
                Level::Different
            }
        }),
        Field::FirstName => both(&a.first_name, &b.first_name, |x, y| {
            names(x, y, &a.first_name_sound, &b.first_name_sound)
        }),
        Field::LastName => both(&a.last_name, &b.last_name, |x, y| {
            names(x, y, &a.last_name_sound, &b.last_name_sound)
        }),
        Field::Phone => {
            let left: Vec<&String> = [&a.phone, &a.mobile].into_iter().flatten().collect();
            let right: Vec<&String> = [&b.phone, &b.mobile].into_iter().flatten().collect();
            if left.is_empty() || right.is_empty() {
                Level::Missing
            } else if left.iter().any(|l| right.contains(l)) {
                Level::Exact
            } else {
                Level::Different
            }
        }
        Field::Company => both(&a.company, &b.company, |x, y| {
            if x == y {
                Level::Exact
            } else {
                Level::Different
            }
        }),
        Field::Postcode => both(&a.postcode, &b.postcode, |x, y| {
            if x == y {
                Level::Exact
            } else if a.postcode_outward.is_some() && a.postcode_outward == b.postcode_outward {
                Level::Similar
            } else {
                Level::Different
            }
        }),
    }
}

fn both(a: &Option<String>, b: &Option<String>, cmp: impl Fn(&str, &str) -> Level) -> Level {
    match (a, b) {
        (Some(x), Some(y)) => cmp(x, y),
        _ => Level::Missing,
    }
}

/// Folded names: EXACT when equal; SIMILAR when Jaro-Winkler ≥ 0.88 or they sound the same
/// (Double Metaphone).
fn names(x: &str, y: &str, sound_x: &Option<String>, sound_y: &Option<String>) -> Level {
    if x == y {
        Level::Exact
    } else if strsim::jaro_winkler(x, y) >= SIMILAR_JARO_WINKLER
        || (sound_x.is_some() && sound_x == sound_y)
    {
        Level::Similar
    } else {
        Level::Different
    }
}

/// Two different mailbox keys that look like one typed twice: the same domain and local
/// parts with Jaro-Winkler ≥ 0.88, or the same local part at a near-identical domain
/// (`gmial.com`). The same local part at an unrelated domain (john.smith at two providers)
/// is two people as often as one, so it is DIFFERENT; so are local parts whose digits
/// differ (`j.smith1` and `j.smith2`, `booker12` and `booker13`: numbered accounts are
/// told apart by their numbers).
fn emails_similar(x: &str, y: &str) -> bool {
    let (Some((lx, dx)), Some((ly, dy))) = (x.rsplit_once('@'), y.rsplit_once('@')) else {
        return false;
    };
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    (dx == dy && digits(lx) == digits(ly) && strsim::jaro_winkler(lx, ly) >= SIMILAR_JARO_WINKLER)
        || (lx == ly && strsim::jaro_winkler(dx, dy) >= SIMILAR_JARO_WINKLER)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile<'a>(email: &'a str, first: &'a str, last: &'a str) -> Profile<'a> {
        Profile {
            email,
            first_name: first,
            last_name: last,
            ..Profile::default()
        }
    }

    #[test]
    fn mailbox_keys_ignore_case_spaces_tags_and_gmail_dots() {
        let expected = Some("janesmith@gmail.com".to_string());
        for email in [
            "janesmith@gmail.com",
            "  Jane.Smith@Gmail.com ",
            "jane.smith+courses@gmail.com",
            "j.a.n.e.smith@googlemail.com",
        ] {
            assert_eq!(mailbox_key(email), expected, "{email}");
        }
        // Dots matter everywhere else; tags never do.
        assert_eq!(
            mailbox_key("Jane.Smith+work@Example.co.uk").as_deref(),
            Some("jane.smith@example.co.uk")
        );
        assert_ne!(
            mailbox_key("jane.smith@example.co.uk"),
            mailbox_key("janesmith@example.co.uk")
        );
        assert_eq!(mailbox_key("no-at-sign"), None);
    }

    #[test]
    fn phone_keys_agree_across_uk_formats() {
        for raw in [
            "07700 900123",
            "07700900123",
            "+44 7700 900123",
            "0044 7700 900123",
            "+44 (0)7700 900123",
        ] {
            assert_eq!(phone_key(raw).as_deref(), Some("+447700900123"), "{raw}");
        }
        assert_eq!(phone_key("0113 496 0000").as_deref(), Some("+441134960000"));
        assert_eq!(
            phone_key("+1 415 555 0100").as_deref(),
            Some("+14155550100")
        );
        assert_eq!(phone_key("n/a"), None);
        assert_eq!(phone_key(""), None);
        assert_eq!(phone_key("123"), None);
    }

    #[test]
    fn names_fold_to_ascii_without_punctuation() {
        assert_eq!(fold_name("Zoë").as_deref(), Some("zoe"));
        assert_eq!(fold_name("Siân").as_deref(), Some("sian"));
        assert_eq!(fold_name("O'Brien").as_deref(), Some("obrien"));
        assert_eq!(fold_name("O’Brien").as_deref(), Some("obrien"));
        assert_eq!(fold_name(" Mary-Jane ").as_deref(), Some("maryjane"));
        assert_eq!(fold_name("  "), None);
        let k = keys(&profile("a@example.com", "John", "Smith"));
        assert_eq!(k.name.as_deref(), Some("SM0:j"));
        let k2 = keys(&profile("b@example.com", "Jon", "Smyth"));
        assert_eq!(k2.name, k.name, "Smith and Smyth sound the same");
        assert_eq!(k.last_name_sound.as_deref(), Some("SM0"));
        assert_eq!(k2.first_name_sound, k.first_name_sound, "John and Jon too");
        let c = compare(&k, &k2);
        assert_eq!(c.reasons[1].level, Level::Similar);
        assert_eq!(c.reasons[2].level, Level::Similar);
    }

    #[test]
    fn company_keys_drop_punctuation_and_legal_suffixes() {
        for raw in [
            "Acme Widgets Ltd",
            "ACME WIDGETS LIMITED",
            "Acme Widgets Ltd.",
            "The Acme Widgets Co. Ltd",
            "acme widgets",
            "Acme Widgets PLC",
        ] {
            assert_eq!(company_key(raw).as_deref(), Some("acmewidgets"), "{raw}");
        }
        assert_eq!(company_key("Smith & Co Ltd").as_deref(), Some("smith"));
        assert_eq!(
            company_key("A & B Plumbing LLP").as_deref(),
            Some("aandbplumbing")
        );
        assert_eq!(company_key("Ltd").as_deref(), Some("ltd"));
        assert_eq!(company_key(" - "), None);
    }

    #[test]
    fn postcodes_get_one_space_and_an_outward_code() {
        for raw in ["LS1 4AB", "ls14ab", " ls1  4ab "] {
            assert_eq!(
                postcode_key(raw),
                Some(("LS1 4AB".into(), Some("LS1".into()))),
                "{raw}"
            );
        }
        assert_eq!(
            postcode_key("SW1A1AA"),
            Some(("SW1A 1AA".into(), Some("SW1A".into())))
        );
        assert_eq!(postcode_key("D02 X285"), Some(("D02X285".into(), None)));
        assert_eq!(postcode_key("  "), None);
    }

    /// The weights as the README's worked example shows them.
    #[test]
    fn weights_are_log2_of_m_over_u() {
        let w = |f, l| (weight(f, l) * 100.0).round() / 100.0;
        assert_eq!(w(Field::FirstName, Level::Exact), 6.49);
        assert_eq!(w(Field::LastName, Level::Exact), 8.85);
        assert_eq!(w(Field::Phone, Level::Exact), 12.55);
        assert_eq!(w(Field::Email, Level::Different), -1.32);
        assert_eq!(w(Field::Company, Level::Different), -0.86);
        assert_eq!((prior_weight() * 100.0).round() / 100.0, -20.25);
        assert_eq!(weight(Field::Postcode, Level::Missing), 0.0);
        for f in MODEL {
            let m_total = f.exact.m + f.similar.map_or(0.0, |s| s.m) + f.different.m;
            let u_total = f.exact.u + f.similar.map_or(0.0, |s| s.u) + f.different.u;
            assert!(
                (m_total - 1.0).abs() < 1e-9,
                "{:?} m sums to {m_total}",
                f.field
            );
            assert!(
                (u_total - 1.0).abs() < 1e-9,
                "{:?} u sums to {u_total}",
                f.field
            );
        }
    }

    fn score(a: Profile<'_>, b: Profile<'_>) -> Comparison {
        let c = compare(&keys(&a), &keys(&b));
        assert_eq!(c, compare(&keys(&b), &keys(&a)), "scores are symmetric");
        c
    }

    fn level(c: &Comparison, field: Field) -> Level {
        c.reasons.iter().find(|r| r.field == field).unwrap().level
    }

    #[test]
    fn a_renewal_from_a_new_email_and_employer_scores_high() {
        let old = Profile {
            phone: Some("07700 900123"),
            company: Some("Acme Widgets Ltd"),
            ..profile("jane.smith@acme.co.uk", "Jane", "Smith")
        };
        let new = Profile {
            mobile: Some("+44 7700 900123"),
            company: Some("Northern Care Homes"),
            ..profile("jane.s@northerncare.org.uk", "Jane", "Smith")
        };
        let c = score(old, new);
        assert!(c.score >= 0.9, "{c:?}");
        assert_eq!(level(&c, Field::Phone), Level::Exact);
        assert_eq!(level(&c, Field::Company), Level::Different);
        assert_eq!(level(&c, Field::Email), Level::Different);
        // The README's worked example.
        assert_eq!((c.match_weight * 100.0).round() / 100.0, 5.45);
    }

    #[test]
    fn the_same_name_at_the_same_postcode_scores_high() {
        let a = Profile {
            postcode: Some("LS1 4AB"),
            ..profile("jane@example.com", "Jane", "Smith")
        };
        let b = Profile {
            postcode: Some("ls14ab"),
            ..profile("j.smith@another.org", "Jane", "Smith")
        };
        assert!(score(a, b).score >= 0.8);
        // Even with a different phone and company on top.
        let a = Profile {
            phone: Some("07700 900001"),
            company: Some("Acme"),
            ..a
        };
        let b = Profile {
            phone: Some("07700 900002"),
            company: Some("Other"),
            ..b
        };
        assert!(score(a, b).score >= 0.8);
    }

    #[test]
    fn a_typo_in_the_email_with_the_same_name_scores_high() {
        let c = score(
            profile("jane.smith@example.com", "Jane", "Smith"),
            profile("jane.smtih@example.com", "Jane", "Smith"),
        );
        assert_eq!(level(&c, Field::Email), Level::Similar);
        assert!(c.score >= 0.9, "{c:?}");
        let c = score(
            profile("jane.smith@hotmail.co.uk", "Jane", "Smith"),
            profile("jane.smith@hotmial.co.uk", "Jane", "Smith"),
        );
        assert_eq!(level(&c, Field::Email), Level::Similar);
        // Numbered accounts differ by their numbers, not by a typo.
        let c = score(
            profile("jane.smith1@example.com", "Jane", "Smith"),
            profile("jane.smith2@example.com", "Jane", "Smith"),
        );
        assert_eq!(level(&c, Field::Email), Level::Different);
        assert!(c.score < 0.5, "{c:?}");
    }

    #[test]
    fn colleagues_sharing_company_and_surname_score_low() {
        let a = Profile {
            phone: Some("07700 900111"),
            company: Some("Smith Builders Ltd"),
            ..profile("david@smithbuilders.co.uk", "David", "Smith")
        };
        let b = Profile {
            phone: Some("07700 900222"),
            company: Some("Smith Builders Limited"),
            ..profile("karen@smithbuilders.co.uk", "Karen", "Smith")
        };
        let c = score(a, b);
        assert_eq!(level(&c, Field::Company), Level::Exact);
        assert_eq!(level(&c, Field::LastName), Level::Exact);
        assert!(c.score < 0.2, "{c:?}");
    }

    #[test]
    fn accents_and_apostrophes_do_not_hide_a_match() {
        let c = score(
            Profile {
                phone: Some("07700900123"),
                ..profile("zoe@example.com", "Zoë", "O'Brien")
            },
            Profile {
                phone: Some("0044 7700 900123"),
                ..profile("zoe.obrien@elsewhere.com", "Zoe", "OBrien")
            },
        );
        assert_eq!(level(&c, Field::FirstName), Level::Exact);
        assert_eq!(level(&c, Field::LastName), Level::Exact);
        assert!(c.score >= 0.9);
    }

    #[test]
    fn the_same_name_alone_is_not_enough() {
        let c = score(
            profile("john.smith@example.com", "John", "Smith"),
            profile("jsmith@elsewhere.com", "John", "Smith"),
        );
        assert!(c.score < 0.5, "{c:?}");
        // Nor is the same local part at another provider.
        let c = score(
            profile("john.smith@gmail.com", "John", "Smith"),
            profile("john.smith@hotmail.co.uk", "John", "Smith"),
        );
        assert_eq!(level(&c, Field::Email), Level::Different);
        assert!(c.score < 0.5, "{c:?}");
    }

    #[test]
    fn missing_values_weigh_nothing() {
        let c = score(
            profile("a@example.com", "Ann", "Lee"),
            profile("b@example.com", "Ann", "Lee"),
        );
        for f in [Field::Phone, Field::Company, Field::Postcode] {
            assert_eq!(level(&c, f), Level::Missing);
        }
        let r = c.reasons.iter().find(|r| r.field == Field::Phone).unwrap();
        assert_eq!(r.weight, 0.0);
    }
}
