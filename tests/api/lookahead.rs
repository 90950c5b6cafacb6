//! The look-ahead's field lists (`rft_users::graphql::lookahead`) name real fields: every
//! name in each list is a field of its GraphQL object type in the served schema. A renamed
//! field would otherwise drop silently out of its list, and pages would read whole rows
//! where keys would do.

use std::collections::{HashMap, HashSet};

use rft_users::graphql::lookahead::{
    BOOKING_KEY_FIELDS, CERTIFICATE_LIGHT_FIELDS, LIGHT_FIELD_LISTS, PAYMENT_LIGHT_FIELDS,
    SESSION_KEY_FIELDS, USER_ID_FIELDS,
};

/// The meta-field every object type has without declaring it.
const TYPENAME: &str = "__typename";

/// The fields of every object type in an SDL document, as async-graphql prints it: a
/// `type Name {` line, one field a line indented by one tab (arguments and descriptions
/// indented further or between `"""` lines), and `}`.
fn object_fields(sdl: &str) -> HashMap<String, HashSet<String>> {
    let mut types: HashMap<String, HashSet<String>> = HashMap::new();
    let mut current: Option<String> = None;
    let mut in_description = false;
    for line in sdl.lines() {
        if let Some(name) = &current {
            if line == "}" {
                current = None;
                continue;
            }
            let trimmed = line.trim();
            if trimmed.starts_with("\"\"\"") {
                // A block's opening or closing quotes (or a one-line block: both).
                let one_line = trimmed.len() > 3 && trimmed.ends_with("\"\"\"");
                if !one_line {
                    in_description = !in_description;
                }
                continue;
            }
            if in_description || trimmed.starts_with('"') {
                continue;
            }
            let Some(field) = line.strip_prefix('\t').filter(|f| !f.starts_with('\t')) else {
                continue;
            };
            let end = field
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(field.len());
            if end > 0 && matches!(field[end..].chars().next(), Some(':' | '(')) {
                types
                    .get_mut(name)
                    .expect("the current type was inserted")
                    .insert(field[..end].to_string());
            }
        } else if let Some(name) = line
            .strip_prefix("type ")
            .and_then(|rest| rest.split([' ', '{']).next())
            .filter(|name| !name.is_empty())
        {
            types.entry(name.to_string()).or_default();
            current = Some(name.to_string());
        }
    }
    types
}

/// The names in `list` that are not fields of `type_name` (every name, if there is no such
/// object type).
fn unknown_fields(
    types: &HashMap<String, HashSet<String>>,
    type_name: &str,
    list: &[&str],
) -> Vec<String> {
    let fields = types.get(type_name);
    list.iter()
        .filter(|&&name| name != TYPENAME && !fields.is_some_and(|f| f.contains(name)))
        .map(|name| format!("{type_name}.{name}"))
        .collect()
}

#[test]
fn every_lookahead_field_list_names_fields_of_its_type() {
    let types = object_fields(&rft_users::graphql::sdl());
    let mut unknown = Vec::new();
    for (type_name, list) in LIGHT_FIELD_LISTS {
        assert!(!list.is_empty(), "{type_name}'s list is empty");
        unknown.extend(unknown_fields(&types, type_name, list));
    }
    assert!(
        unknown.is_empty(),
        "look-ahead field lists name fields the schema does not have (renamed?): {unknown:?}"
    );
}

#[test]
fn every_lookahead_field_list_is_checked_against_its_type() {
    let expected: [(&str, &[&str]); 5] = [
        ("User", USER_ID_FIELDS),
        ("Booking", BOOKING_KEY_FIELDS),
        ("CourseSession", SESSION_KEY_FIELDS),
        ("Payment", PAYMENT_LIGHT_FIELDS),
        ("Certificate", CERTIFICATE_LIGHT_FIELDS),
    ];
    for (type_name, list) in expected {
        assert!(
            LIGHT_FIELD_LISTS.contains(&(type_name, list)),
            "LIGHT_FIELD_LISTS must pair {type_name} with its list {list:?}"
        );
    }
}

#[test]
fn the_check_flags_names_that_are_not_fields() {
    let types = object_fields(&rft_users::graphql::sdl());
    // The parser reads fields with arguments and descriptions, and no description text.
    let user = &types["User"];
    for field in ["id", "email", "bookings", "certificates", "activity"] {
        assert!(user.contains(field), "User.{field} not parsed: {user:?}");
    }
    assert!(
        !user.contains("Unique"),
        "description text parsed as a field"
    );
    assert!(!user.contains("first"), "an argument parsed as a field");
    assert!(unknown_fields(&types, "Booking", &["__typename", "id", "reference"]).is_empty());
    assert_eq!(
        unknown_fields(&types, "Booking", &["id", "bookingRef"]),
        ["Booking.bookingRef"]
    );
    assert_eq!(
        unknown_fields(&types, "Bookking", &["id"]),
        ["Bookking.id"],
        "a list for a type the schema lacks is flagged"
    );
}
