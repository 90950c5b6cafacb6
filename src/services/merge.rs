//! Merging duplicate customers into one survivor, previewing a merge, undoing one, and the
//! merge history. The rules (which value each profile field keeps, which rows move, the
//! lock order, the ledger, when an undo is refused) are described in
//! docs/ARCHITECTURE.md, "Merged users"; this module is where they live.
//!
//! A merge is one write transaction: it locks the duplicates' bookings, then the people
//! (survivor and duplicates) in id order, re-checks them, decides the profile field by
//! field ([`decide`]), moves every row that says whose it is ([`MOVED_COLUMNS`]) with one
//! `INSERT … SELECT` into the ledger and one `UPDATE` per table, turns the duplicates into
//! tombstones (`merged_into_id`), recomputes everyone's counters with
//! [`customer_stats::recompute`], and records the ledger entry (`user_merges`,
//! `user_merge_members`, `user_merge_moves`). A preview runs the same transaction and rolls
//! it back, so it shows exactly what the merge would do.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, Statement, Value,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use crate::db::begin_write;
use crate::entities::enums::Role;
use crate::entities::{user, user_merge, user_merge_member};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Activity, Actor};
use crate::services::customer_stats::{self, Counters};
use crate::services::{users, validate};

/// Most duplicates merged into a survivor at once.
pub const MAX_DUPLICATES: usize = 10;
/// Longest reason accepted for a merge or an undo, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// Every column that says whose a row is. A merge moves these from the duplicates to the
/// survivor (and records each move); its undo moves them back.
///
/// Every other column that points at `users` stays where it is ([`KEPT_COLUMNS`]): those
/// record who acted (the admin who recorded a payment, the instructor who marked
/// attendance, the customer who booked while logged in), which stays true of the person
/// who acted, whose tombstone still exists to be named.
pub const MOVED_COLUMNS: &[(&str, &str)] = &[
    ("bookings", "user_id"),
    ("booking_attendees", "user_id"),
    ("payments", "user_id"),
    ("refunds", "user_id"),
    ("certificates", "user_id"),
    ("attendance_records", "user_id"),
    ("user_notes", "user_id"),
    ("user_activity_logs", "user_id"),
];

/// The columns pointing at `users` that a merge leaves alone: who created or changed a
/// record, recorded a payment, issued a certificate, taught or marked a session, wrote a
/// note or an audit row; a login session (a tombstone's tokens are refused while it is
/// merged); a tombstone's own `merged_into_id` (a chain of merges is followed, and undone
/// one merge at a time); and the ledger's own references. A test checks that this list
/// and [`MOVED_COLUMNS`] together cover every foreign key to `users`.
pub const KEPT_COLUMNS: &[(&str, &str)] = &[
    ("users", "created_by_id"),
    ("users", "merged_into_id"),
    ("user_activity_logs", "actor_id"),
    ("user_notes", "created_by_id"),
    ("courses", "created_by_id"),
    ("courses", "updated_by_id"),
    ("course_sessions", "instructor_id"),
    ("course_sessions", "created_by_id"),
    ("course_sessions", "updated_by_id"),
    ("session_notes", "author_id"),
    ("bookings", "created_by_id"),
    ("bookings", "updated_by_id"),
    ("payments", "recorded_by_id"),
    ("refunds", "requested_by_id"),
    ("refunds", "processed_by_id"),
    ("certificates", "issued_by_id"),
    ("attendance_records", "marked_by_id"),
    ("audit_logs", "actor_id"),
    ("auth_sessions", "user_id"),
    ("user_merges", "survivor_id"),
    ("user_merges", "merged_by_id"),
    ("user_merges", "undone_by_id"),
    ("user_merge_members", "user_id"),
    ("user_merge_moves", "old_user_id"),
    ("user_merge_moves", "new_user_id"),
];

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

            /// The field's value on a user, as JSON (`null` when unset).
            pub fn get(self, m: &user::Model) -> Json {
                match self {
                    $(MergeField::$variant => serde_json::to_value(&m.$column).unwrap_or(Json::Null),)*
                }
            }

            /// Sets the field on a user from a value [`MergeField::get`] gave.
            fn set(self, m: &mut user::Model, value: &Json) -> Result<(), serde_json::Error> {
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
fn is_empty(value: &Json) -> bool {
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
fn refresh_if_changed(before: &user::Model, after: &mut user::Model) {
    if MergeField::ALL
        .iter()
        .any(|f| f.get(before) != f.get(after))
    {
        users::refresh_derived(after);
    }
}

/// Sets each merged value on a user.
fn apply_values(m: &mut user::Model, values: &[MergedValue]) -> AppResult<()> {
    for v in values {
        v.field.set(m, &v.value).map_err(AppError::internal)?;
    }
    Ok(())
}

/// A user's profile as the ledger keeps it: every mergeable field, and (for the record)
/// identity, status, tombstone link and counters. Kept in `user_merges` only: never in
/// the audit trail or logs.
fn snapshot(m: &user::Model) -> Json {
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
        map.insert(field.key(), field.get(m));
    }
    Json::Object(map)
}

/// Puts back the profile a [`snapshot`] holds: every mergeable field, the status, and the
/// tombstone link.
fn restore_snapshot(m: &mut user::Model, snap: &Json) -> AppResult<()> {
    for &field in MergeField::ALL {
        if let Some(v) = snap.get(field.key()) {
            field.set(m, v).map_err(AppError::internal)?;
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

// ---------------------------------------------------------------------------------------
// Commands and results.

/// A merge as the admin asked for it, for [`preview`] and [`merge`].
#[derive(Debug, Clone)]
pub struct MergePlan {
    pub survivor_id: Uuid,
    /// 1 to [`MAX_DUPLICATES`] distinct profiles, none of them the survivor.
    pub duplicate_ids: Vec<Uuid>,
    /// At most one per field; each from the survivor or one of the duplicates.
    pub field_choices: Vec<FieldChoice>,
    pub reason: Option<String>,
}

/// How many rows of one table moved (or would move).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedCount {
    pub table: String,
    pub count: i64,
}

/// What a merge would do, from [`preview`].
#[derive(Debug, Clone)]
pub struct MergePreview {
    /// The survivor as it is now.
    pub survivor: user::Model,
    /// The duplicates as they are now, in the order given.
    pub duplicates: Vec<user::Model>,
    /// The merged profile.
    pub fields: Vec<MergedValue>,
    /// The rows that would move, by table.
    pub moved: Vec<MovedCount>,
    /// The survivor's counters after the merge, as `customer_stats::recompute` sets them.
    pub totals: Counters,
}

/// The merged profile a ledger entry records.
pub fn fields_of(m: &user_merge::Model) -> AppResult<Vec<MergedValue>> {
    serde_json::from_value(m.fields.clone()).map_err(AppError::internal)
}

/// The rows a ledger entry moved, by table.
pub fn moved_of(m: &user_merge::Model) -> AppResult<Vec<MovedCount>> {
    serde_json::from_value(m.moved.clone()).map_err(AppError::internal)
}

/// The duplicates of a ledger entry, in the order the admin gave them.
pub fn duplicate_ids_of(m: &user_merge::Model) -> AppResult<Vec<Uuid>> {
    serde_json::from_value(m.duplicate_ids.clone()).map_err(AppError::internal)
}

// ---------------------------------------------------------------------------------------
// Checks.

/// Why a merge cannot go ahead, naming the input field.
struct Problem {
    field: String,
    message: String,
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        message: message.into(),
    }
}

impl From<Problem> for AppError {
    fn from(p: Problem) -> Self {
        AppError::bad_input(p.field, p.message)
    }
}

/// Checks what can be checked without the database; returns the cleaned reason.
fn check_input(plan: &MergePlan) -> AppResult<Option<String>> {
    let dups = &plan.duplicate_ids;
    if dups.is_empty() {
        return Err(problem("duplicateIds", "give at least one duplicate to merge").into());
    }
    if dups.len() > MAX_DUPLICATES {
        return Err(problem(
            "duplicateIds",
            format!("at most {MAX_DUPLICATES} duplicates can be merged at once"),
        )
        .into());
    }
    let mut seen = HashSet::new();
    for (i, id) in dups.iter().enumerate() {
        if *id == plan.survivor_id {
            return Err(problem(
                format!("duplicateIds.{i}"),
                "the survivor cannot also be one of its duplicates",
            )
            .into());
        }
        if !seen.insert(*id) {
            return Err(problem(format!("duplicateIds.{i}"), "this id is given twice").into());
        }
    }
    let mut chosen = HashSet::new();
    for (i, c) in plan.field_choices.iter().enumerate() {
        if !c.field.choosable() {
            return Err(problem(
                format!("fieldChoices.{i}.field"),
                "this field is not chosen from one profile: every profile's admin notes are \
                 kept, and the customer-since day and last activity come from the history",
            )
            .into());
        }
        if !chosen.insert(c.field) {
            return Err(problem(
                format!("fieldChoices.{i}.field"),
                "this field is chosen twice",
            )
            .into());
        }
        if c.from_user_id != plan.survivor_id && !seen.contains(&c.from_user_id) {
            return Err(problem(
                format!("fieldChoices.{i}.fromUserId"),
                "choose the survivor or one of the duplicates",
            )
            .into());
        }
    }
    validate::optional("reason", plan.reason.as_deref(), MAX_REASON_CHARS)
}

/// Checks the people of a plan, as `rows` hold them: each exists, is a customer, and is
/// not already merged into someone.
fn check_people(plan: &MergePlan, rows: &[user::Model]) -> Result<(), Problem> {
    let by_id: HashMap<Uuid, &user::Model> = rows.iter().map(|u| (u.id, u)).collect();
    let people = std::iter::once(("survivorId".to_string(), plan.survivor_id)).chain(
        plan.duplicate_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (format!("duplicateIds.{i}"), *id)),
    );
    for (field, id) in people {
        let Some(u) = by_id.get(&id) else {
            return Err(problem(field, "no user has this id"));
        };
        if let Some(into) = u.merged_into_id {
            return Err(problem(
                field,
                format!("this profile was already merged into {into}; use that one"),
            ));
        }
        if u.role != Role::Customer {
            return Err(problem(
                field,
                "only customers can be merged; this is a staff account",
            ));
        }
    }
    Ok(())
}

/// Everyone a plan involves: the survivor, then the duplicates.
fn people_of(plan: &MergePlan) -> Vec<Uuid> {
    std::iter::once(plan.survivor_id)
        .chain(plan.duplicate_ids.iter().copied())
        .collect()
}

/// Checks a plan against the input rules and the database as it is, before any write.
async fn check(conn: &impl ConnectionTrait, plan: &MergePlan) -> AppResult<Option<String>> {
    let reason = check_input(plan)?;
    let rows = user::Entity::find()
        .filter(user::Column::Id.is_in(people_of(plan)))
        .all(conn)
        .await?;
    check_people(plan, &rows)?;
    Ok(reason)
}

// ---------------------------------------------------------------------------------------
// SQL.

/// A statement's values, bound as `$1`, `$2`, ... (PostgreSQL's placeholders, which sqlx
/// reads on SQLite too), so one value can be used more than once.
#[derive(Default)]
struct Sql {
    values: Vec<Value>,
}

impl Sql {
    fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    fn list(&mut self, ids: &[Uuid]) -> String {
        ids.iter()
            .map(|id| self.bind(*id))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn statement(self, backend: DbBackend, sql: String) -> Statement {
        Statement::from_sql_and_values(backend, sql, self.values)
    }
}

#[derive(Debug, FromQueryResult)]
struct TableCount {
    table_name: String,
    n: i64,
}

/// Runs a `SELECT '<table>' AS table_name, COUNT(*) AS n ... UNION ALL ...` and returns
/// the count of every table of [`MOVED_COLUMNS`], in that order.
async fn counts_by_table(
    conn: &impl ConnectionTrait,
    stmt: Statement,
) -> AppResult<Vec<MovedCount>> {
    let rows: BTreeMap<String, i64> = TableCount::find_by_statement(stmt)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.table_name, r.n))
        .collect();
    Ok(MOVED_COLUMNS
        .iter()
        .map(|(table, _)| MovedCount {
            table: table.to_string(),
            count: rows.get(*table).copied().unwrap_or(0),
        })
        .collect())
}

/// How many rows of each table point at any of `dups`: one statement.
async fn count_rows_of(conn: &impl ConnectionTrait, dups: &[Uuid]) -> AppResult<Vec<MovedCount>> {
    let mut sql = Sql::default();
    let list = sql.list(dups);
    let text = MOVED_COLUMNS
        .iter()
        .map(|(table, column)| {
            format!(
                "SELECT '{table}' AS table_name, COUNT(*) AS n FROM {table} WHERE {column} IN ({list})"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    counts_by_table(conn, sql.statement(conn.get_database_backend(), text)).await
}

/// On PostgreSQL, locks the bookings of these users, in id order: the first lock of the
/// documented order (booking, customer, session), which payments, refunds and
/// cancellations of those bookings take too. SQLite's write transactions are serial.
async fn lock_bookings_of(conn: &impl ConnectionTrait, user_ids: &[Uuid]) -> AppResult<()> {
    let backend = conn.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(());
    }
    let mut sql = Sql::default();
    let list = sql.list(user_ids);
    let text = format!("SELECT id FROM bookings WHERE user_id IN ({list}) ORDER BY id FOR UPDATE");
    conn.query_all_raw(sql.statement(backend, text)).await?;
    Ok(())
}

/// On PostgreSQL, locks the bookings a merge moved, in id order (see [`lock_bookings_of`]).
async fn lock_moved_bookings(conn: &impl ConnectionTrait, merge_id: Uuid) -> AppResult<()> {
    let backend = conn.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(());
    }
    let mut sql = Sql::default();
    let merge = sql.bind(merge_id);
    let text = format!(
        "SELECT id FROM bookings WHERE id IN (SELECT row_id FROM user_merge_moves \
         WHERE merge_id = {merge} AND table_name = 'bookings' AND column_name = 'user_id') \
         ORDER BY id FOR UPDATE"
    );
    conn.query_all_raw(sql.statement(backend, text)).await?;
    Ok(())
}

/// Reads these users, and on PostgreSQL locks them until commit, in id order: the second
/// lock of the documented order (after their bookings).
async fn lock_people(conn: &impl ConnectionTrait, ids: &[Uuid]) -> AppResult<Vec<user::Model>> {
    let mut q = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.to_vec()))
        .order_by_asc(user::Column::Id);
    if conn.get_database_backend() == DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    Ok(q.all(conn).await?)
}

/// Moves every row of one table that points at any of `dups` to `survivor`, recording each
/// move first: two statements, whatever the number of rows. Returns how many moved.
async fn move_rows(
    conn: &impl ConnectionTrait,
    merge_id: Uuid,
    (table, column): (&str, &str),
    survivor: Uuid,
    dups: &[Uuid],
) -> AppResult<u64> {
    let backend = conn.get_database_backend();
    let mut sql = Sql::default();
    let (merge, to) = (sql.bind(merge_id), sql.bind(survivor));
    let list = sql.list(dups);
    let record = format!(
        "INSERT INTO user_merge_moves \
           (merge_id, table_name, column_name, row_id, old_user_id, new_user_id) \
         SELECT {merge}, '{table}', '{column}', id, {column}, {to} FROM {table} \
         WHERE {column} IN ({list})"
    );
    let recorded = conn
        .execute_raw(sql.statement(backend, record))
        .await?
        .rows_affected();
    let mut sql = Sql::default();
    let to = sql.bind(survivor);
    let list = sql.list(dups);
    let update = format!("UPDATE {table} SET {column} = {to} WHERE {column} IN ({list})");
    let moved = conn
        .execute_raw(sql.statement(backend, update))
        .await?
        .rows_affected();
    if moved != recorded {
        return Err(AppError::Conflict(
            "rows changed owner while the merge was being made; try again".into(),
        ));
    }
    Ok(moved)
}

/// For each table, how many rows a merge moved are no longer where it put them: moved on
/// since, or deleted. One statement.
async fn count_stale_moves(
    conn: &impl ConnectionTrait,
    merge_id: Uuid,
) -> AppResult<Vec<MovedCount>> {
    let mut sql = Sql::default();
    let merge = sql.bind(merge_id);
    let text = MOVED_COLUMNS
        .iter()
        .map(|(table, column)| {
            format!(
                "SELECT '{table}' AS table_name, COUNT(*) AS n FROM user_merge_moves m \
                 WHERE m.merge_id = {merge} AND m.table_name = '{table}' \
                   AND m.column_name = '{column}' \
                   AND NOT EXISTS (SELECT 1 FROM {table} t \
                     WHERE t.id = m.row_id AND t.{column} = m.new_user_id)"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    counts_by_table(conn, sql.statement(conn.get_database_backend(), text)).await
}

/// Gives every row of one table a merge moved back to the owner it had: one statement.
async fn move_back(
    conn: &impl ConnectionTrait,
    merge_id: Uuid,
    (table, column): (&str, &str),
) -> AppResult<u64> {
    let mut sql = Sql::default();
    let merge = sql.bind(merge_id);
    let moves = format!(
        "FROM user_merge_moves m WHERE m.merge_id = {merge} AND m.table_name = '{table}' \
         AND m.column_name = '{column}'"
    );
    let text = format!(
        "UPDATE {table} SET {column} = (SELECT m.old_user_id {moves} AND m.row_id = {table}.id) \
         WHERE id IN (SELECT m.row_id {moves})"
    );
    Ok(conn
        .execute_raw(sql.statement(conn.get_database_backend(), text))
        .await?
        .rows_affected())
}

/// Rows made on the survivor after a merge that hang off a row its undo gives back (a
/// payment or refund of a moved booking; a certificate or attendance record of a moved
/// attendee or booking) follow that row back, by the rule their writer used: a payment and
/// a refund belong to their booking's customer, a certificate to its attendee's person or
/// else the booking's customer, an attendance record to its attendee's person. Anything
/// else made on the survivor after the merge stays with the survivor. Returns how many
/// rows followed, by table; one statement per table.
async fn follow_back(
    conn: &impl ConnectionTrait,
    merge_id: Uuid,
    survivor: Uuid,
) -> AppResult<Vec<MovedCount>> {
    let moved = |kind: &str, merge: &str| {
        format!(
            "(SELECT row_id FROM user_merge_moves WHERE merge_id = {merge} \
             AND table_name = '{kind}' AND column_name = 'user_id')"
        )
    };
    // Each builds the UPDATE from the moved bookings' and moved attendees' subqueries.
    type Update = fn(&str, &str) -> String;
    let statements: [(&str, Update); 4] = [
        ("payments", |bookings, _| {
            format!(
                "UPDATE payments SET user_id = (SELECT b.user_id FROM bookings b \
                 WHERE b.id = payments.booking_id) WHERE booking_id IN {bookings}"
            )
        }),
        ("refunds", |bookings, _| {
            format!(
                "UPDATE refunds SET user_id = (SELECT b.user_id FROM bookings b \
                 WHERE b.id = refunds.booking_id) WHERE booking_id IN {bookings}"
            )
        }),
        ("certificates", |bookings, attendees| {
            format!(
                "UPDATE certificates SET user_id = COALESCE(\
                   (SELECT a.user_id FROM booking_attendees a WHERE a.id = certificates.attendee_id), \
                   (SELECT b.user_id FROM bookings b WHERE b.id = certificates.booking_id)) \
                 WHERE (booking_id IN {bookings} OR attendee_id IN {attendees})"
            )
        }),
        ("attendance_records", |_, attendees| {
            format!(
                "UPDATE attendance_records SET user_id = (SELECT a.user_id \
                 FROM booking_attendees a WHERE a.id = attendance_records.attendee_id) \
                 WHERE attendee_id IN {attendees}"
            )
        }),
    ];
    let mut out = Vec::new();
    for (table, update) in statements {
        let mut sql = Sql::default();
        let merge = sql.bind(merge_id);
        let owner = sql.bind(survivor);
        let text = format!(
            "{} AND user_id = {owner}",
            update(
                &moved("bookings", &merge),
                &moved("booking_attendees", &merge)
            )
        );
        let n = conn
            .execute_raw(sql.statement(conn.get_database_backend(), text))
            .await?
            .rows_affected();
        out.push(MovedCount {
            table: table.to_string(),
            count: n as i64,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Merging.

/// What [`apply`] did, inside a transaction its caller commits (a merge) or rolls back
/// (a preview).
struct Applied {
    merge: user_merge::Model,
    survivor_before: user::Model,
    survivor_after: user::Model,
    duplicates: Vec<user::Model>,
    fields: Vec<MergedValue>,
    moved: Vec<MovedCount>,
}

/// The merge itself, inside the caller's write transaction; writes no audit row.
async fn apply(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    plan: &MergePlan,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<Applied> {
    let survivor_id = plan.survivor_id;
    let dups = &plan.duplicate_ids;
    let people = people_of(plan);
    // Lock order (docs/ARCHITECTURE.md): bookings, then customers in id order; no session.
    lock_bookings_of(conn, dups).await?;
    let rows = lock_people(conn, &people).await?;
    // Checked before the transaction; checked again under the locks, since another merge
    // (or an edit) may have committed in between.
    check_people(plan, &rows).map_err(|p| {
        AppError::Conflict(format!(
            "{} ({}): this changed while the merge was being made; check and try again",
            p.message, p.field
        ))
    })?;
    let by_id: HashMap<Uuid, &user::Model> = rows.iter().map(|u| (u.id, u)).collect();
    let survivor_before = by_id
        .get(&survivor_id)
        .map(|u| (*u).clone())
        .ok_or(AppError::NotFound("user"))?;
    let duplicates: Vec<user::Model> = dups
        .iter()
        .filter_map(|id| by_id.get(id).map(|u| (*u).clone()))
        .collect();
    let fields = decide(&survivor_before, &duplicates, &plan.field_choices);
    let counted = count_rows_of(conn, dups).await?;

    let merge = user_merge::ActiveModel {
        id: Set(Uuid::now_v7()),
        survivor_id: Set(survivor_id),
        duplicate_ids: Set(json!(dups)),
        survivor_before: Set(snapshot(&survivor_before)),
        duplicates_before: Set(Json::Object(
            duplicates
                .iter()
                .map(|d| (d.id.to_string(), snapshot(d)))
                .collect(),
        )),
        fields: Set(serde_json::to_value(&fields).map_err(AppError::internal)?),
        moved: Set(serde_json::to_value(&counted).map_err(AppError::internal)?),
        reason: Set(reason),
        merged_by_id: Set(actor.id),
        merged_at: Set(now),
        undone_at: Set(None),
        undone_by_id: Set(None),
        undo_reason: Set(None),
    }
    .insert(conn)
    .await?;
    user_merge_member::Entity::insert_many(people.iter().map(|&user_id| {
        user_merge_member::ActiveModel {
            merge_id: Set(merge.id),
            user_id: Set(user_id),
            is_survivor: Set(user_id == survivor_id),
        }
    }))
    .exec_without_returning(conn)
    .await?;

    for (&column, expected) in MOVED_COLUMNS.iter().zip(&counted) {
        let moved = move_rows(conn, merge.id, column, survivor_id, dups).await?;
        if moved as i64 != expected.count {
            return Err(AppError::Conflict(
                "rows changed owner while the merge was being made; try again".into(),
            ));
        }
    }

    // The duplicates become tombstones: kept, pointing at the survivor.
    user::Entity::update_many()
        .col_expr(user::Column::MergedIntoId, Expr::value(survivor_id))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.is_in(dups.clone()))
        .exec(conn)
        .await?;
    let mut after = survivor_before.clone();
    apply_values(&mut after, &fields)?;
    refresh_if_changed(&survivor_before, &mut after);
    let mut am = users::changed_columns(&survivor_before, &after);
    if am.is_changed() {
        am.updated_at = Set(now);
        am.update(conn).await?;
    }
    // Totals from the facts, never added by hand: the survivor's now include the moved
    // rows, and the tombstones' fall to zero (docs/ARCHITECTURE.md, "Customer counters").
    customer_stats::recompute(conn, &people).await?;
    let survivor_after = users::find(conn, survivor_id).await?;
    Ok(Applied {
        merge,
        survivor_before,
        survivor_after,
        duplicates,
        fields,
        moved: counted,
    })
}

/// `mergePreview`: what [`merge`] would do, worked out by running it in a transaction
/// that is rolled back, so nothing is written and the answer is the merge's own.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), survivor_id = %plan.survivor_id, duplicates = plan.duplicate_ids.len()))]
pub async fn preview(
    db: &DatabaseConnection,
    actor: &Actor,
    plan: MergePlan,
) -> AppResult<MergePreview> {
    let reason = check(db, &plan).await?;
    let txn = begin_write(db).await?;
    let applied = apply(&txn, actor, &plan, reason, Utc::now()).await;
    txn.rollback().await?;
    let applied = applied?;
    let s = &applied.survivor_after;
    Ok(MergePreview {
        totals: Counters {
            total_bookings: s.total_bookings,
            total_spent_pence: s.total_spent_pence,
            first_booking_at: s.first_booking_at,
            last_booking_at: s.last_booking_at,
        },
        survivor: applied.survivor_before,
        duplicates: applied.duplicates,
        fields: applied.fields,
        moved: applied.moved,
    })
}

/// `mergeUsers`: merges the duplicates into the survivor, in one transaction with its
/// audit row and a `profiles_merged` activity on the survivor; returns the ledger entry.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), survivor_id = %plan.survivor_id, duplicates = plan.duplicate_ids.len()))]
pub async fn merge(
    db: &DatabaseConnection,
    actor: &Actor,
    plan: MergePlan,
) -> AppResult<user_merge::Model> {
    let reason = check(db, &plan).await?;
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let applied = apply(&txn, actor, &plan, reason, now).await?;
    let merge = applied.merge;
    let mut changes = audit::changes(
        Some(&applied.survivor_before),
        Some(&applied.survivor_after),
    );
    if let Some(obj) = changes.as_object_mut() {
        obj.insert("mergeId".into(), json!(merge.id));
        obj.insert("duplicateIds".into(), json!(plan.duplicate_ids));
        obj.insert("moved".into(), json!(applied.moved));
    }
    audit::record(
        &txn,
        actor,
        "user.merge",
        "user",
        Some(plan.survivor_id),
        Some(changes),
    )
    .await?;
    let moved: i64 = applied.moved.iter().map(|m| m.count).sum();
    audit::log_activity(
        &txn,
        actor,
        Activity {
            user_id: plan.survivor_id,
            activity_type: "profiles_merged",
            description: Some(format!(
                "{} duplicate profile(s) merged into this one; {moved} record(s) moved",
                applied.duplicates.len()
            )),
            related: Some(("user_merge", merge.id)),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(merge)
}

// ---------------------------------------------------------------------------------------
// Undoing.

/// The later merges, still in force, that involve any of `people`.
async fn later_merges_in_force(
    conn: &impl ConnectionTrait,
    merge_id: Uuid,
    people: &[Uuid],
) -> AppResult<Vec<Uuid>> {
    let members = user_merge_member::Entity::find()
        .select_only()
        .column(user_merge_member::Column::MergeId)
        .filter(user_merge_member::Column::UserId.is_in(people.to_vec()))
        .into_query();
    Ok(user_merge::Entity::find()
        .select_only()
        .column(user_merge::Column::Id)
        .filter(user_merge::Column::Id.gt(merge_id))
        .filter(user_merge::Column::UndoneAt.is_null())
        .filter(user_merge::Column::Id.in_subquery(members))
        .order_by_asc(user_merge::Column::Id)
        .into_tuple::<Uuid>()
        .all(conn)
        .await?)
}

/// `unmergeUsers`: reverses a merge exactly, in one transaction with its audit row and a
/// `profiles_unmerged` activity on the survivor. Every moved row goes back to its old
/// owner, each duplicate's profile is restored and stops being a tombstone, the survivor's
/// fields the merge changed go back to what they were (unless edited since), and everyone's
/// counters are recomputed. Refused with CONFLICT, writing nothing, when the merge was
/// already undone, a later merge of the same people is still in force, or a moved row has
/// since been moved or deleted.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), %merge_id))]
pub async fn unmerge(
    db: &DatabaseConnection,
    actor: &Actor,
    merge_id: Uuid,
    reason: Option<String>,
) -> AppResult<user_merge::Model> {
    let reason = validate::optional("reason", reason.as_deref(), MAX_REASON_CHARS)?;
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let mut q = user_merge::Entity::find_by_id(merge_id);
    if txn.get_database_backend() == DbBackend::Postgres {
        // Two undos of the same merge queue here; the second finds it undone.
        q = q.lock_exclusive();
    }
    let merge = q.one(&txn).await?.ok_or(AppError::NotFound("merge"))?;
    if merge.undone_at.is_some() {
        return Err(AppError::Conflict(
            "this merge has already been undone".into(),
        ));
    }
    let survivor_id = merge.survivor_id;
    let dups = duplicate_ids_of(&merge)?;
    let people: Vec<Uuid> = std::iter::once(survivor_id)
        .chain(dups.iter().copied())
        .collect();
    // Lock order: the bookings it moved, then the people in id order.
    lock_moved_bookings(&txn, merge.id).await?;
    let rows = lock_people(&txn, &people).await?;
    // Under the people's locks, so a merge of any of them that commits meanwhile is seen.
    let later = later_merges_in_force(&txn, merge.id, &people).await?;
    if let Some(first) = later.first() {
        return Err(AppError::Conflict(format!(
            "a later merge of the same people is still in force ({first}); undo that one first"
        )));
    }
    let by_id: HashMap<Uuid, user::Model> = rows.into_iter().map(|u| (u.id, u)).collect();
    let survivor_now = by_id
        .get(&survivor_id)
        .cloned()
        .ok_or(AppError::NotFound("user"))?;
    for id in &dups {
        if by_id.get(id).and_then(|u| u.merged_into_id) != Some(survivor_id) {
            return Err(AppError::Conflict(format!(
                "profile {id} is no longer merged into the survivor; the merge cannot be undone"
            )));
        }
    }
    let stale: Vec<MovedCount> = count_stale_moves(&txn, merge.id)
        .await?
        .into_iter()
        .filter(|c| c.count > 0)
        .collect();
    if !stale.is_empty() {
        let which = stale
            .iter()
            .map(|c| format!("{} {}", c.count, c.table))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(AppError::Conflict(format!(
            "rows this merge moved have since been moved or deleted ({which}); it cannot be \
             undone exactly"
        )));
    }

    let expected = moved_of(&merge)?;
    for &column in MOVED_COLUMNS {
        let n = move_back(&txn, merge.id, column).await?;
        let want = expected
            .iter()
            .find(|c| c.table == column.0)
            .map_or(0, |c| c.count);
        if n as i64 != want {
            return Err(AppError::Conflict(
                "rows changed while the merge was being undone; try again".into(),
            ));
        }
    }
    let followed = follow_back(&txn, merge.id, survivor_id).await?;

    // Each duplicate as it was, no longer a tombstone.
    for id in &dups {
        let Some(current) = by_id.get(id) else {
            continue;
        };
        let snap = merge
            .duplicates_before
            .get(id.to_string())
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no snapshot of {id}")))?;
        let mut restored = current.clone();
        restore_snapshot(&mut restored, snap)?;
        restored.merged_into_id = None;
        refresh_if_changed(current, &mut restored);
        let mut am = users::changed_columns(current, &restored);
        am.updated_at = Set(now);
        am.update(&txn).await?;
    }
    // The survivor's fields the merge changed, back to what they were, unless changed
    // again since (a later edit is kept).
    let mut survivor_after = survivor_now.clone();
    for v in fields_of(&merge)? {
        let Some(before) = merge.survivor_before.get(v.field.key()) else {
            continue;
        };
        if *before != v.value && v.field.get(&survivor_now) == v.value {
            v.field
                .set(&mut survivor_after, before)
                .map_err(AppError::internal)?;
        }
    }
    refresh_if_changed(&survivor_now, &mut survivor_after);
    let mut am = users::changed_columns(&survivor_now, &survivor_after);
    if am.is_changed() {
        am.updated_at = Set(now);
        am.update(&txn).await?;
    }
    customer_stats::recompute(&txn, &people).await?;
    let survivor_after = users::find(&txn, survivor_id).await?;

    let mut am: user_merge::ActiveModel = merge.clone().into();
    am.undone_at = Set(Some(now));
    am.undone_by_id = Set(actor.id);
    am.undo_reason = Set(reason);
    let undone = am.update(&txn).await?;

    let mut changes = audit::changes(Some(&survivor_now), Some(&survivor_after));
    if let Some(obj) = changes.as_object_mut() {
        obj.insert("mergeId".into(), json!(merge.id));
        obj.insert("duplicateIds".into(), json!(dups));
        obj.insert("movedBack".into(), json!(expected));
        obj.insert("followed".into(), json!(followed));
    }
    audit::record(
        &txn,
        actor,
        "user.unmerge",
        "user",
        Some(survivor_id),
        Some(changes),
    )
    .await?;
    audit::log_activity(
        &txn,
        actor,
        Activity {
            user_id: survivor_id,
            activity_type: "profiles_unmerged",
            description: Some(format!(
                "Merge undone: {} profile(s) separated from this one again",
                dups.len()
            )),
            related: Some(("user_merge", merge.id)),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(undone)
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
            b.date_of_birth = chrono::NaiveDate::from_ymd_opt(1990, 5, 1);
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
        s.medical_notes = Some("Asthma".into());
        s.merged_into_id = Some(Uuid::now_v7());
        let snap = snapshot(&s);
        let mut other = person("s@example.com", 0);
        restore_snapshot(&mut other, &snap).unwrap();
        for &f in MergeField::ALL {
            assert_eq!(f.get(&other), f.get(&s), "{f:?}");
        }
        assert_eq!(other.merged_into_id, s.merged_into_id);
    }
}
