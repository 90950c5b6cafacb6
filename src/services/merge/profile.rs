//! Which profile fields a merge decides, and how each is decided; the ledger's profile
//! snapshots. Pure: no database (see the parent module for the transaction).

use super::*;

// ---------------------------------------------------------------------------------------
// The profile: which fields merge, and how each is decided.

/// How a field's merged value is decided (see [`decide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The field rule, for this field alone: the admin's choice; else the survivor's
    /// non-empty value; else the most recently updated duplicate's non-empty value.
    Own,
    /// The field rule, applied to a group of fields together, so an address (or company,
    /// emergency contact, medical declaration) is never stitched together from two people:
    /// the group comes from the first user (survivor, then duplicates most recently updated
    /// first) with any of it filled in. An admin's choice still wins field by field.
    Group(Group),
    /// A consent: the most recent explicit choice, that of the most recently updated
    /// profile (the survivor on a tie). Never "true" by default.
    Consent,
    /// Free text every profile's value is kept in, one after another (admin notes).
    AllKept,
    /// The earliest value of anyone (the day they became a customer).
    Earliest,
    /// The latest value of anyone (the last activity).
    Latest,
}

/// Fields decided together (see [`Kind::Group`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Address,
    Company,
    EmergencyContact,
    Medical,
}

/// How a merged value was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeRule {
    /// The admin chose the profile to take it from.
    AdminChoice,
    /// The survivor's own value (also when nobody has one).
    Survivor,
    /// The most recently updated duplicate's, the survivor having none.
    MostRecentDuplicate,
    /// A consent: the most recently updated profile's explicit choice.
    MostRecentChoice,
    /// Every profile's value kept.
    AllKept,
    /// The earliest of anyone's.
    Earliest,
    /// The latest of anyone's.
    Latest,
}

/// Declares [`MergeField`]: one variant per mergeable column of `users`, with its kind.
macro_rules! merge_fields {
    ($($variant:ident => $column:ident, $kind:expr;)*) => {
        /// A profile field a merge decides. This is the one list of what merges: never the
        /// email (each profile keeps its own, which leads to the survivor), role, status,
        /// password or login state, or the counters (recomputed from the facts).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum MergeField {
            $($variant,)*
        }

        impl MergeField {
            /// Every field a merge decides, in the order a preview lists them.
            pub const ALL: &'static [MergeField] = &[$(MergeField::$variant),*];

            /// How the field is decided.
            pub fn kind(self) -> Kind {
                match self {
                    $(MergeField::$variant => $kind,)*
                }
            }

            /// The field's column in `users`.
            pub fn column(self) -> &'static str {
                match self {
                    $(MergeField::$variant => stringify!($column),)*
                }
            }

            /// The field's value on a user, as JSON (`null` when unset).
            pub fn get(self, m: &user::Model) -> Json {
                match self {
                    $(MergeField::$variant => serde_json::to_value(&m.$column).unwrap_or(Json::Null),)*
                }
            }

            /// Sets the field on a user from a value [`MergeField::get`] gave.
            pub(super) fn set(self, m: &mut user::Model, value: &Json) -> Result<(), serde_json::Error> {
                match self {
                    $(MergeField::$variant => m.$column = serde_json::from_value(value.clone())?,)*
                }
                Ok(())
            }
        }
    };
}

merge_fields! {
    FirstName => first_name, Kind::Own;
    LastName => last_name, Kind::Own;
    Phone => phone, Kind::Own;
    Mobile => mobile, Kind::Own;
    DateOfBirth => date_of_birth, Kind::Own;
    AddressLine1 => address_line_1, Kind::Group(Group::Address);
    AddressLine2 => address_line_2, Kind::Group(Group::Address);
    City => city, Kind::Group(Group::Address);
    County => county, Kind::Group(Group::Address);
    Postcode => postcode, Kind::Group(Group::Address);
    Country => country, Kind::Group(Group::Address);
    CompanyName => company_name, Kind::Group(Group::Company);
    CompanyRole => company_role, Kind::Group(Group::Company);
    CompanyDepartment => company_department, Kind::Group(Group::Company);
    VatNumber => vat_number, Kind::Group(Group::Company);
    CustomerType => customer_type, Kind::Own;
    PreferredContactMethod => preferred_contact_method, Kind::Own;
    EmergencyContactName => emergency_contact_name, Kind::Group(Group::EmergencyContact);
    EmergencyContactPhone => emergency_contact_phone, Kind::Group(Group::EmergencyContact);
    EmergencyContactRelationship => emergency_contact_relationship, Kind::Group(Group::EmergencyContact);
    HasMedicalConditions => has_medical_conditions, Kind::Group(Group::Medical);
    MedicalNotes => medical_notes, Kind::Group(Group::Medical);
    DietaryRequirements => dietary_requirements, Kind::Own;
    MarketingConsent => marketing_consent, Kind::Consent;
    SmsConsent => sms_consent, Kind::Consent;
    NewsletterSubscribed => newsletter_subscribed, Kind::Consent;
    ShareMedicalWithTrainer => share_medical_with_trainer, Kind::Consent;
    AdminNotes => notes, Kind::AllKept;
    CustomerSince => customer_since, Kind::Earliest;
    LastActivityAt => last_activity_at, Kind::Latest;
}

impl MergeField {
    /// Whether an admin may choose whose value this field takes (admin notes are all kept,
    /// the customer-since day and last activity are facts of the history).
    pub fn choosable(self) -> bool {
        matches!(self.kind(), Kind::Own | Kind::Group(_) | Kind::Consent)
    }

    /// The field's name in snapshots and the ledger (`first_name`, `address_line1`, ...).
    pub fn key(self) -> String {
        match serde_json::to_value(self) {
            Ok(Json::String(s)) => s,
            _ => format!("{self:?}"),
        }
    }

    /// Whether the field counts when deciding if a user has its group filled in (a country
    /// is always set, so it follows the address rather than deciding it).
    fn decides_group(self) -> bool {
        self != MergeField::Country
    }
}

/// An empty value: unset, blank text, or `false` (an undeclared medical condition).
pub(super) fn is_empty(value: &Json) -> bool {
    match value {
        Json::Null => true,
        Json::String(s) => s.trim().is_empty(),
        Json::Bool(b) => !b,
        _ => false,
    }
}

/// One field of the merged profile: its value, whose profile it came from, and the rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedValue {
    pub field: MergeField,
    /// As [`MergeField::get`] gives it.
    pub value: Json,
    pub from_user_id: Uuid,
    pub rule: MergeRule,
}

/// An admin's choice of the profile a field's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldChoice {
    pub field: MergeField,
    pub from_user_id: Uuid,
}

/// Decides the merged profile, field by field (see [`Kind`] for each rule). Pure: the
/// preview, the merge and the tests all use it.
pub fn decide(
    survivor: &user::Model,
    duplicates: &[user::Model],
    choices: &[FieldChoice],
) -> Vec<MergedValue> {
    let everyone: Vec<&user::Model> = std::iter::once(survivor).chain(duplicates).collect();
    let chosen: HashMap<MergeField, &user::Model> = choices
        .iter()
        .filter_map(|c| {
            let from = everyone.iter().find(|u| u.id == c.from_user_id)?;
            Some((c.field, *from))
        })
        .collect();
    // Duplicates, most recently updated first.
    let mut recent: Vec<&user::Model> = duplicates.iter().collect();
    recent.sort_by_key(|u| std::cmp::Reverse((u.updated_at, u.id)));
    // The first of survivor, then the most recent duplicates, that `has` something.
    let by_rule = |has: &dyn Fn(&user::Model) -> bool| -> (&user::Model, MergeRule) {
        if has(survivor) {
            return (survivor, MergeRule::Survivor);
        }
        match recent.iter().find(|d| has(d)) {
            Some(d) => (*d, MergeRule::MostRecentDuplicate),
            None => (survivor, MergeRule::Survivor),
        }
    };
    // Consents: the most recently updated profile's (the survivor's on a tie).
    let latest = everyone
        .iter()
        .copied()
        .max_by_key(|u| (u.updated_at, u.id == survivor.id))
        .unwrap_or(survivor);

    let mut out = Vec::with_capacity(MergeField::ALL.len());
    for &field in MergeField::ALL {
        let merged = |from: &user::Model, rule| MergedValue {
            field,
            value: field.get(from),
            from_user_id: from.id,
            rule,
        };
        if let Some(from) = chosen.get(&field).filter(|_| field.choosable()) {
            out.push(merged(from, MergeRule::AdminChoice));
            continue;
        }
        out.push(match field.kind() {
            Kind::Own => {
                let (from, rule) = by_rule(&|u| !is_empty(&field.get(u)));
                merged(from, rule)
            }
            Kind::Group(group) => {
                let members: Vec<MergeField> = MergeField::ALL
                    .iter()
                    .copied()
                    .filter(|f| f.kind() == Kind::Group(group) && f.decides_group())
                    .collect();
                let (from, rule) = by_rule(&|u| members.iter().any(|f| !is_empty(&f.get(u))));
                merged(from, rule)
            }
            Kind::Consent => merged(latest, MergeRule::MostRecentChoice),
            Kind::AllKept => {
                let mut parts: Vec<String> = Vec::new();
                if let Some(own) = survivor.notes.as_deref().filter(|n| !n.trim().is_empty()) {
                    parts.push(own.to_string());
                }
                for d in duplicates {
                    if let Some(n) = d.notes.as_deref().filter(|n| !n.trim().is_empty()) {
                        parts.push(format!("[Merged from {}] {n}", d.email));
                    }
                }
                MergedValue {
                    field,
                    value: match parts.is_empty() {
                        true => field.get(survivor),
                        false => Json::String(parts.join("\n\n")),
                    },
                    from_user_id: survivor.id,
                    rule: MergeRule::AllKept,
                }
            }
            Kind::Earliest => {
                let from = everyone
                    .iter()
                    .copied()
                    .filter(|u| u.customer_since.is_some())
                    .min_by_key(|u| (u.customer_since, u.id != survivor.id))
                    .unwrap_or(survivor);
                merged(from, MergeRule::Earliest)
            }
            Kind::Latest => {
                let from = everyone
                    .iter()
                    .copied()
                    .max_by_key(|u| (u.last_activity_at, u.id == survivor.id))
                    .unwrap_or(survivor);
                merged(from, MergeRule::Latest)
            }
        });
    }
    out
}

/// Recomputes the derived search and sort columns when a profile field changed (only
/// then: columns left alone stay exactly as they were, for an undo to find).
pub(super) fn refresh_if_changed(before: &user::Model, after: &mut user::Model) {
    if MergeField::ALL
        .iter()
        .any(|f| f.get(before) != f.get(after))
    {
        users::refresh_derived(after);
    }
}

/// Sets each merged value on a user.
pub(super) fn apply_values(m: &mut user::Model, values: &[MergedValue]) -> AppResult<()> {
    for v in values {
        v.field.set(m, &v.value).map_err(AppError::internal)?;
    }
    Ok(())
}

/// The ledger (`user_merges`) keeps the values of fields encrypted at rest encrypted too:
/// sealed for `user_merges`, the field's column and the id of the user the value is of.
const LEDGER: &str = "user_merges";

impl MergeField {
    /// The column, when the field is encrypted at rest.
    fn encrypted_column(self) -> Option<&'static str> {
        encrypted::FIELDS
            .iter()
            .find(|(t, c)| *t == "users" && *c == self.column())
            .map(|(_, c)| *c)
    }

    /// A value of this field as the ledger keeps it: sealed for user `of` when the field
    /// is encrypted at rest.
    pub(super) fn seal_for_ledger(self, of: Uuid, value: &Json) -> AppResult<Json> {
        let Some(column) = self.encrypted_column().filter(|_| !value.is_null()) else {
            return Ok(value.clone());
        };
        let keys = crypto::keyring().map_err(AppError::internal)?;
        Ok(Json::String(keys.seal(
            LEDGER,
            column,
            of,
            value.to_string().as_bytes(),
        )))
    }

    /// A value [`MergeField::seal_for_ledger`] gave, as it was.
    pub(super) fn open_from_ledger(self, of: Uuid, value: &Json) -> AppResult<Json> {
        let (Some(column), Json::String(envelope)) = (self.encrypted_column(), value) else {
            return Ok(value.clone());
        };
        let keys = crypto::keyring().map_err(AppError::internal)?;
        let plain = keys
            .open(LEDGER, column, of, envelope)
            .map_err(AppError::internal)?;
        serde_json::from_slice(&plain).map_err(AppError::internal)
    }
}

/// Merged values as the ledger keeps them (see [`MergeField::seal_for_ledger`]).
pub(super) fn seal_values(values: &[MergedValue]) -> AppResult<Json> {
    let mut sealed = Vec::with_capacity(values.len());
    for v in values {
        let mut v = v.clone();
        v.value = v.field.seal_for_ledger(v.from_user_id, &v.value)?;
        sealed.push(v);
    }
    serde_json::to_value(&sealed).map_err(AppError::internal)
}

/// The merged values the ledger keeps, opened.
pub(super) fn open_values(ledger: &Json) -> AppResult<Vec<MergedValue>> {
    let mut values: Vec<MergedValue> =
        serde_json::from_value(ledger.clone()).map_err(AppError::internal)?;
    for v in &mut values {
        v.value = v.field.open_from_ledger(v.from_user_id, &v.value)?;
    }
    Ok(values)
}

/// A user's profile as the ledger keeps it: every mergeable field (those encrypted at
/// rest sealed), and (for the record) identity, status, tombstone link and counters. Kept
/// in `user_merges` only: never in the audit trail or logs.
pub(super) fn snapshot(m: &user::Model) -> AppResult<Json> {
    let mut map = serde_json::Map::new();
    map.insert("id".into(), json!(m.id));
    map.insert("email".into(), json!(m.email));
    map.insert("status".into(), json!(m.status));
    map.insert("merged_into_id".into(), json!(m.merged_into_id));
    map.insert("total_bookings".into(), json!(m.total_bookings));
    map.insert("total_spent_pence".into(), json!(m.total_spent_pence));
    map.insert("first_booking_at".into(), json!(m.first_booking_at));
    map.insert("last_booking_at".into(), json!(m.last_booking_at));
    map.insert("updated_at".into(), json!(m.updated_at));
    for &field in MergeField::ALL {
        map.insert(field.key(), field.seal_for_ledger(m.id, &field.get(m))?);
    }
    Ok(Json::Object(map))
}

/// Puts back the profile a [`snapshot`] holds: every mergeable field, the status, and the
/// tombstone link.
pub(super) fn restore_snapshot(m: &mut user::Model, snap: &Json) -> AppResult<()> {
    for &field in MergeField::ALL {
        if let Some(v) = snap.get(field.key()) {
            let v = field.open_from_ledger(m.id, v)?;
            field.set(m, &v).map_err(AppError::internal)?;
        }
    }
    if let Some(v) = snap.get("status") {
        m.status = serde_json::from_value(v.clone()).map_err(AppError::internal)?;
    }
    if let Some(v) = snap.get("merged_into_id") {
        m.merged_into_id = serde_json::from_value(v.clone()).map_err(AppError::internal)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn person(email: &str, updated_ago_days: i64) -> user::Model {
        let now = Utc::now();
        let mut m = users::blank(email.into(), "Sam".into(), "Smith".into(), now);
        m.updated_at = now - Duration::days(updated_ago_days);
        m.last_activity_at = m.updated_at;
        m
    }

    fn value_of(values: &[MergedValue], field: MergeField) -> &MergedValue {
        values.iter().find(|v| v.field == field).unwrap()
    }

    #[test]
    fn every_field_reads_and_writes_its_own_column() {
        let mut a = person("a@example.com", 1);
        let b = {
            let mut b = person("b@example.com", 2);
            b.first_name = "Bea".into();
            b.phone = Some("07700 900123".into());
            b.date_of_birth = encrypted::seal(chrono::NaiveDate::from_ymd_opt(1990, 5, 1));
            b.city = Some("York".into());
            b.customer_type = crate::entities::enums::CustomerType::Corporate;
            b.marketing_consent = true;
            b.notes = Some("VIP".into());
            b.customer_since = chrono::NaiveDate::from_ymd_opt(2020, 1, 2);
            b
        };
        for &f in MergeField::ALL {
            f.set(&mut a, &f.get(&b)).unwrap();
            assert_eq!(f.get(&a), f.get(&b), "{f:?}");
        }
        assert_eq!(a.first_name, "Bea");
        assert_eq!(a.city.as_deref(), Some("York"));
        assert_eq!(a.notes.as_deref(), Some("VIP"));
        assert_eq!(a.email, "a@example.com", "the email never merges");
        let keys: HashSet<String> = MergeField::ALL.iter().map(|f| f.key()).collect();
        assert_eq!(keys.len(), MergeField::ALL.len());
        assert!(keys.contains("address_line1"));
    }

    #[test]
    fn the_survivor_wins_then_the_most_recent_duplicate_then_the_admin_overrides() {
        let mut s = person("s@example.com", 30);
        s.phone = Some("0113 496 0000".into());
        let mut old = person("old@example.com", 20);
        old.mobile = Some("07700 900001".into());
        old.phone = Some("0113 000 0000".into());
        let mut new = person("new@example.com", 1);
        new.mobile = Some("07700 900002".into());
        let fields = decide(&s, &[old.clone(), new.clone()], &[]);
        let phone = value_of(&fields, MergeField::Phone);
        assert_eq!(
            (phone.from_user_id, phone.rule),
            (s.id, MergeRule::Survivor)
        );
        let mobile = value_of(&fields, MergeField::Mobile);
        assert_eq!(mobile.value, json!("07700 900002"));
        assert_eq!(mobile.rule, MergeRule::MostRecentDuplicate);
        let dob = value_of(&fields, MergeField::DateOfBirth);
        assert_eq!(
            (dob.value.clone(), dob.rule),
            (Json::Null, MergeRule::Survivor)
        );

        let chosen = decide(
            &s,
            &[old.clone(), new],
            &[FieldChoice {
                field: MergeField::Phone,
                from_user_id: old.id,
            }],
        );
        let phone = value_of(&chosen, MergeField::Phone);
        assert_eq!(phone.value, json!("0113 000 0000"));
        assert_eq!(phone.rule, MergeRule::AdminChoice);
    }

    #[test]
    fn an_address_comes_whole_from_one_profile() {
        let mut s = person("s@example.com", 30);
        s.city = None;
        let mut d1 = person("d1@example.com", 1);
        d1.address_line_1 = Some("1 New Street".into());
        d1.postcode = Some("LS1 1AA".into());
        d1.country = "UK".into();
        let mut d2 = person("d2@example.com", 5);
        d2.city = Some("York".into());
        let fields = decide(&s, &[d2, d1.clone()], &[]);
        for f in [
            MergeField::AddressLine1,
            MergeField::City,
            MergeField::Postcode,
            MergeField::Country,
        ] {
            assert_eq!(value_of(&fields, f).from_user_id, d1.id, "{f:?}");
        }
        assert_eq!(value_of(&fields, MergeField::City).value, Json::Null);
    }

    #[test]
    fn consents_follow_the_most_recent_choice_and_notes_are_all_kept() {
        let mut s = person("s@example.com", 30);
        s.marketing_consent = true;
        s.notes = Some("Prefers mornings".into());
        let mut d = person("d@example.com", 1);
        d.marketing_consent = false;
        d.newsletter_subscribed = false;
        d.notes = Some("Paid by invoice".into());
        let fields = decide(&s, std::slice::from_ref(&d), &[]);
        let marketing = value_of(&fields, MergeField::MarketingConsent);
        assert_eq!(marketing.value, json!(false), "the later withdrawal wins");
        assert_eq!(marketing.rule, MergeRule::MostRecentChoice);
        assert_eq!(marketing.from_user_id, d.id);
        assert_eq!(
            value_of(&fields, MergeField::AdminNotes).value,
            json!("Prefers mornings\n\n[Merged from d@example.com] Paid by invoice")
        );
    }

    #[test]
    fn moved_and_kept_columns_do_not_overlap() {
        let moved: HashSet<_> = MOVED_COLUMNS.iter().collect();
        let tables: HashSet<_> = MOVED_COLUMNS.iter().map(|(t, _)| t).collect();
        assert_eq!(tables.len(), MOVED_COLUMNS.len(), "one column per table");
        assert!(KEPT_COLUMNS.iter().all(|c| !moved.contains(c)));
    }

    #[test]
    fn snapshots_restore_the_profile() {
        let mut s = person("s@example.com", 3);
        crate::crypto::install(
            crate::crypto::Keyring::parse(&crate::crypto::Keyring::generate_spec("t")).unwrap(),
        );
        s.medical_notes = encrypted::seal(Some("Asthma".into()));
        s.merged_into_id = Some(Uuid::now_v7());
        let snap = snapshot(&s).unwrap();
        assert!(!snap.to_string().contains("Asthma"), "{snap}");
        // The same person (an undo restores each profile into its own row).
        let mut other = person("s@example.com", 0);
        other.id = s.id;
        restore_snapshot(&mut other, &snap).unwrap();
        for &f in MergeField::ALL {
            assert_eq!(f.get(&other), f.get(&s), "{f:?}");
        }
        assert_eq!(other.merged_into_id, s.merged_into_id);
    }
}
