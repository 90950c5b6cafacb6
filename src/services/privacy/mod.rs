//! Data-subject requests (UK GDPR Art. 15, 17 and 20): export everything held about a
//! person, preview an erasure, erase, and remove retained data whose period has ended. All
//! of it is driven by [`retention::TABLES`]; a person is a profile together with every
//! profile merged into it.

pub mod retention;
mod rows;

use std::collections::BTreeMap;

use chrono::{DateTime, Months, NaiveDate, Utc};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, Set,
};
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use self::retention::{Period, Placeholder, Removal, Rows, Rule, TABLES, Table};
use self::rows::Scope;
pub use self::rows::erased_email;
use crate::auth::rate_limit::RateLimiter;
use crate::db::begin_write;
use crate::entities::{booking, certificate, erasure, payment, refund, user};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Actor};
use crate::services::{users, validate};

/// The export document's format name.
pub const EXPORT_FORMAT: &str = "rft-users.export.v1";
/// How long financial records are kept after the last transaction.
const FINANCIAL_YEARS: u32 = 6;
/// The keyed-hash kind of an erased email (see [`erased_email_hash`]).
const ERASED_EMAIL: &str = "erased-email";
/// At most this many merged-away profiles are followed.
const MAX_TOMBSTONE_ROUNDS: usize = 32;

/// The keyed hash stored for an erased email: the same for any spelling of one address.
pub fn erased_email_hash(hasher: &RateLimiter, email: &str) -> String {
    hasher.bucket_key(ERASED_EMAIL, &validate::normalise_email(email))
}

/// Whether `email` belongs to a profile erased on request.
pub async fn is_erased_email(
    conn: &impl ConnectionTrait,
    hasher: &RateLimiter,
    email: &str,
) -> AppResult<bool> {
    Ok(erasure::Entity::find()
        .filter(erasure::Column::EmailHash.eq(erased_email_hash(hasher, email)))
        .one(conn)
        .await?
        .is_some())
}

/// The person `user_id` leads to (following merges), and the ids of every profile that
/// is that person: theirs first, then those merged into it (and into those).
pub async fn person(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
) -> AppResult<(user::Model, Vec<Uuid>)> {
    let person = users::find_current(conn, user_id).await?;
    let mut ids = vec![person.id];
    let mut frontier = vec![person.id];
    for _ in 0..MAX_TOMBSTONE_ROUNDS {
        if frontier.is_empty() {
            break;
        }
        frontier = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::MergedIntoId.is_in(frontier))
            .into_tuple::<Uuid>()
            .all(conn)
            .await?
            .into_iter()
            .filter(|id| !ids.contains(id))
            .collect();
        ids.extend(frontier.iter().copied());
    }
    Ok((person, ids))
}

/// Everything held about the person `user_id` leads to, as one JSON document: for every
/// table of the retention table that holds personal data, the person's rows with every
/// column but secrets and derived search text.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn export(conn: &impl ConnectionTrait, user_id: Uuid) -> AppResult<Json> {
    let (person, ids) = person(conn, user_id).await?;
    let scope = Scope::of(conn, ids.clone()).await?;
    let mut data = Map::new();
    for table in TABLES.iter().filter(|t| t.is_personal()) {
        let rows = rows::read(conn, table, rows::owned_by(table, &scope)).await?;
        let rows: Vec<Json> = rows
            .into_iter()
            .map(|row| {
                Json::Object(
                    row.into_iter()
                        .filter(|(column, _)| {
                            !matches!(table.rule(column), Some(Rule::Withheld(_)))
                        })
                        .collect(),
                )
            })
            .collect();
        data.insert(table.name.to_string(), Json::Array(rows));
    }
    Ok(json!({
        "format": EXPORT_FORMAT,
        "exportedAt": Utc::now(),
        "userId": person.id,
        "userIds": ids,
        "data": data,
    }))
}

/// What erasure does to one column (or, with no column, to whole rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Set to `NULL`.
    Erase,
    /// Replaced by a placeholder.
    Anonymise,
    /// Rows deleted.
    DeleteRows,
    /// Kept until `until`, for `reason`.
    Retain,
}

/// One line of an erasure plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem {
    pub table: &'static str,
    /// `None` when whole rows are deleted.
    pub column: Option<&'static str>,
    pub action: Action,
    /// The person's rows it applies to.
    pub rows: u64,
    /// Why it is kept (retained items only).
    pub reason: Option<&'static str>,
    /// The day the retention ends (retained items only).
    pub until: Option<NaiveDate>,
}

/// An erasure plan: what erasing the person would do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub user_id: Uuid,
    pub user_ids: Vec<Uuid>,
    pub items: Vec<PlanItem>,
}

/// The facts retention periods are counted from.
struct Periods {
    /// The day financial records may go (6 years after the last transaction), if any.
    financial_until: Option<NaiveDate>,
    today: NaiveDate,
}

impl Periods {
    async fn of(conn: &impl ConnectionTrait, ids: &[Uuid], today: NaiveDate) -> AppResult<Self> {
        let mut last: Option<DateTime<Utc>> = None;
        let mut seen = |t: Option<DateTime<Utc>>| {
            if let Some(t) = t {
                last = Some(last.map_or(t, |l| Ord::max(l, t)));
            }
        };
        for b in booking::Entity::find()
            .filter(booking::Column::UserId.is_in(ids.to_vec()))
            .all(conn)
            .await?
        {
            seen(Some(b.created_at));
            seen(b.cancelled_at);
        }
        for p in payment::Entity::find()
            .filter(payment::Column::UserId.is_in(ids.to_vec()))
            .all(conn)
            .await?
        {
            seen(Some(p.paid_at.unwrap_or(p.created_at)));
        }
        for r in refund::Entity::find()
            .filter(refund::Column::UserId.is_in(ids.to_vec()))
            .all(conn)
            .await?
        {
            seen(Some(r.completed_at.unwrap_or(r.requested_at)));
        }
        Ok(Self {
            financial_until: last.and_then(|t| {
                t.date_naive()
                    .checked_add_months(Months::new(12 * FINANCIAL_YEARS))
            }),
            today,
        })
    }

    /// Whether financial records are still kept.
    fn financial_kept(&self) -> bool {
        self.financial_until.is_some_and(|d| d > self.today)
    }

    /// Certificates still valid (kept) and expired (not kept).
    fn certificates(&self, ids: &[Uuid], kept: bool) -> Condition {
        let owned = Condition::all().add(certificate::Column::UserId.is_in(ids.to_vec()));
        if kept {
            owned.add(certificate::Column::ExpiresOn.gte(self.today))
        } else {
            owned.add(certificate::Column::ExpiresOn.lt(self.today))
        }
    }
}

fn action_of(removal: Removal) -> Action {
    match removal {
        Removal::Erase => Action::Erase,
        Removal::Anonymise(_) => Action::Anonymise,
    }
}

/// A person about to be erased (or previewed): their profile, the periods their retained
/// data is counted by, and every row of theirs. Read once, before anything changes.
struct Subject {
    person: user::Model,
    periods: Periods,
    scope: Scope,
}

impl Subject {
    async fn of(conn: &impl ConnectionTrait, user_id: Uuid, today: NaiveDate) -> AppResult<Self> {
        let (person, ids) = person(conn, user_id).await?;
        Ok(Self {
            periods: Periods::of(conn, &ids, today).await?,
            scope: Scope::of(conn, ids).await?,
            person,
        })
    }
}

/// The plan for erasing the person `user_id` leads to, as of `today`. Reads only.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn plan(conn: &impl ConnectionTrait, user_id: Uuid, today: NaiveDate) -> AppResult<Plan> {
    plan_for(conn, &Subject::of(conn, user_id, today).await?).await
}

async fn plan_for(conn: &impl ConnectionTrait, subject: &Subject) -> AppResult<Plan> {
    let Subject {
        person,
        periods,
        scope,
    } = subject;
    let ids = &scope.users;
    // The certificates still valid, read once for the retained columns.
    let mut valid: Option<Vec<certificate::Model>> = None;
    let mut items = Vec::new();
    for table in TABLES.iter().filter(|t| t.is_personal()) {
        let rows = rows::count(conn, table, rows::owned_by(table, scope)).await?;
        if rows == 0 {
            continue;
        }
        if table.rows == Rows::Delete {
            items.push(PlanItem {
                table: table.name,
                column: None,
                action: Action::DeleteRows,
                rows,
                reason: None,
                until: None,
            });
            continue;
        }
        for (column, rule) in table.columns {
            let item = |action, rows, reason, until| PlanItem {
                table: table.name,
                column: Some(*column),
                action,
                rows,
                reason,
                until,
            };
            match *rule {
                Rule::Keep => {}
                Rule::Remove(r) | Rule::Withheld(r) => {
                    items.push(item(action_of(r), rows, None, None))
                }
                Rule::Retain(Period::FinancialRecords, r) => {
                    if periods.financial_kept() {
                        items.push(item(
                            Action::Retain,
                            rows,
                            Some(Period::FinancialRecords.reason()),
                            periods.financial_until,
                        ));
                    } else {
                        items.push(item(action_of(r), rows, None, None));
                    }
                }
                Rule::Retain(Period::CertificateValidity, r) => {
                    let valid = match &valid {
                        Some(v) => v,
                        None => valid.insert(
                            certificate::Entity::find()
                                .filter(periods.certificates(ids, true))
                                .all(conn)
                                .await?,
                        ),
                    };
                    if let Some(until) = valid.iter().map(|c| c.expires_on).max() {
                        items.push(item(
                            Action::Retain,
                            valid.len() as u64,
                            Some(Period::CertificateValidity.reason()),
                            Some(until),
                        ));
                    }
                    let expired = rows - valid.len() as u64;
                    if expired > 0 {
                        items.push(item(action_of(r), expired, None, None));
                    }
                }
            }
        }
    }
    Ok(Plan {
        user_id: person.id,
        user_ids: ids.clone(),
        items,
    })
}

/// What `erase` did.
#[derive(Debug, Clone)]
pub struct Erased {
    pub plan: Plan,
    pub erased_at: DateTime<Utc>,
}

/// `eraseUser`: erases the person `user_id` leads to, with every profile merged into
/// it, following the plan [`plan`] shows, in one transaction with its audit row (who, when
/// and why; no personal data). Retained columns stay until their period ends
/// ([`apply_retention`]). A second erasure answers CONFLICT.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn erase(
    db: &DatabaseConnection,
    hasher: &RateLimiter,
    actor: &Actor,
    user_id: Uuid,
    reason: &str,
    today: NaiveDate,
) -> AppResult<Erased> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::bad_input(
            "reason",
            "say why the customer is erased (1 to 500 characters)",
        ));
    }
    let txn = begin_write(db).await?;
    // Every row of theirs is found before anything is deleted.
    let subject = Subject::of(&txn, user_id, today).await?;
    let plan = plan_for(&txn, &subject).await?;
    let ids = plan.user_ids.clone();
    if erasure::Entity::find()
        .filter(erasure::Column::UserId.eq(plan.user_id))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(
            "this customer was already erased".into(),
        ));
    }
    let profiles = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.clone()))
        .all(&txn)
        .await?;
    if profiles
        .iter()
        .any(|u| u.role != crate::entities::enums::Role::Customer)
    {
        return Err(AppError::bad_input(
            "userId",
            "only customers are erased; remove a staff member's role first",
        ));
    }
    let Subject { periods, scope, .. } = &subject;
    // Bookings before customers (the lock order), so `users` goes last.
    let users_table = retention::table("users").expect("the retention table has users");
    for table in TABLES
        .iter()
        .filter(|t| t.is_personal() && t.name != "users" && t.name != "erasures")
    {
        remove(&txn, table, scope, plan.user_id, periods).await?;
    }
    remove(&txn, users_table, scope, plan.user_id, periods).await?;
    let now = Utc::now();
    for profile in &profiles {
        // The address it had is kept only as a keyed hash, to refuse a re-import.
        erasure::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(profile.id),
            email_hash: Set(erased_email_hash(hasher, &profile.email)),
            erased_by_id: Set(actor.id),
            erased_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let mut after = users::find(&txn, profile.id).await?;
        after.email = erased_email(profile.id);
        users::refresh_derived(&mut after);
        user::ActiveModel {
            id: sea_orm::Unchanged(profile.id),
            email: Set(after.email.clone()),
            search_text: Set(after.search_text.clone()),
            sort_name: Set(after.sort_name.clone()),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await?;
    }
    let counts: BTreeMap<String, u64> = plan
        .items
        .iter()
        .map(|i| (i.table.to_string(), i.rows))
        .collect();
    audit::record(
        &txn,
        actor,
        "user_erased",
        "user",
        Some(plan.user_id),
        Some(json!({ "reason": reason, "userIds": ids, "rows": counts })),
    )
    .await?;
    txn.commit().await?;
    Ok(Erased {
        plan,
        erased_at: now,
    })
}

/// Removes what the retention table says goes now from `table`'s rows of `ids`.
async fn remove(
    conn: &impl ConnectionTrait,
    table: &Table,
    scope: &Scope,
    person: Uuid,
    periods: &Periods,
) -> AppResult<()> {
    let owned = rows::owned_by(table, scope);
    if table.rows == Rows::Delete {
        rows::delete(conn, table, owned).await?;
        return Ok(());
    }
    let mut now: Vec<(&'static str, SimpleExpr)> = Vec::new();
    for (column, rule) in table.columns {
        match *rule {
            Rule::Keep => {}
            Rule::Remove(r) | Rule::Withheld(r) => {
                if table.name == "users" && r == Removal::Anonymise(Placeholder::ErasedEmail) {
                    // Unique per profile: set row by row in `erase`.
                    continue;
                }
                now.push((
                    column,
                    rows::placeholder_value(placeholder(r), person, None),
                ));
            }
            Rule::Retain(Period::FinancialRecords, r) => {
                if !periods.financial_kept() {
                    now.push((
                        column,
                        rows::placeholder_value(placeholder(r), person, None),
                    ));
                }
            }
            Rule::Retain(Period::CertificateValidity, _) => {}
        }
    }
    rows::update(conn, table, now, owned).await?;
    if table.name == "certificates" {
        remove_expired_certificates(
            conn,
            table,
            periods.certificates(&scope.users, false),
            person,
        )
        .await?;
    }
    Ok(())
}

fn placeholder(r: Removal) -> Option<Placeholder> {
    match r {
        Removal::Erase => None,
        Removal::Anonymise(p) => Some(p),
    }
}

/// Removes the retained columns of the certificates `which` selects (row by row: the
/// number's placeholder names the row). Returns how many changed.
async fn remove_expired_certificates(
    conn: &impl ConnectionTrait,
    table: &Table,
    which: Condition,
    person: Uuid,
) -> AppResult<u64> {
    let rows = certificate::Entity::find()
        .filter(which)
        .filter(certificate::Column::CertificateNumber.not_like("ERASED-%"))
        .all(conn)
        .await?;
    for c in &rows {
        let values = table
            .columns
            .iter()
            .filter_map(|(column, rule)| match *rule {
                Rule::Retain(Period::CertificateValidity, r) => Some((
                    *column,
                    rows::placeholder_value(placeholder(r), person, Some(c.id)),
                )),
                _ => None,
            })
            .collect();
        rows::update(
            conn,
            table,
            values,
            Condition::all().add(certificate::Column::Id.eq(c.id)),
        )
        .await?;
    }
    Ok(rows.len() as u64)
}

/// What `apply-retention` removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionRun {
    /// Erased people looked at.
    pub people: u64,
    /// Certificates whose holder and number went, now they have expired.
    pub certificates: u64,
    /// People whose financial records' personal columns went, 6 years on.
    pub financial_records: u64,
}

/// `rft-users apply-retention`: for every erased person, removes what was retained and
/// whose period has ended by `today`. Safe to run daily: what is gone stays gone and
/// nothing else changes. A dry run does the work and rolls it back.
#[tracing::instrument(skip_all)]
pub async fn apply_retention(
    db: &DatabaseConnection,
    actor: &Actor,
    today: NaiveDate,
    dry_run: bool,
) -> AppResult<RetentionRun> {
    let txn = begin_write(db).await?;
    let erased: Vec<Uuid> = erasure::Entity::find()
        .select_only()
        .column(erasure::Column::UserId)
        .distinct()
        .into_tuple::<Uuid>()
        .all(&txn)
        .await?;
    let mut run = RetentionRun {
        people: erased.len() as u64,
        ..Default::default()
    };
    let certificates = retention::table("certificates").expect("certificates are listed");
    for id in &erased {
        let ids = [*id];
        let periods = Periods::of(&txn, &ids, today).await?;
        let scope = Scope {
            users: ids.to_vec(),
            ..Default::default()
        };
        run.certificates +=
            remove_expired_certificates(&txn, certificates, periods.certificates(&ids, false), *id)
                .await?;
        if !periods.financial_kept() {
            let mut changed = 0;
            for table in TABLES {
                let values: Vec<(&'static str, SimpleExpr)> = table
                    .columns
                    .iter()
                    .filter_map(|(column, rule)| match *rule {
                        Rule::Retain(Period::FinancialRecords, r) => {
                            Some((*column, rows::placeholder_value(placeholder(r), *id, None)))
                        }
                        _ => None,
                    })
                    .collect();
                if values.is_empty() {
                    continue;
                }
                // Only rows still holding something, so a second run changes nothing.
                let mut still_held = Condition::any();
                for (column, rule) in table.columns {
                    if let Rule::Retain(Period::FinancialRecords, r) = rule {
                        still_held =
                            still_held.add(match placeholder(*r) {
                                None => Expr::col(Alias::new(*column)).is_not_null(),
                                Some(p) => Expr::col(Alias::new(*column))
                                    .ne(rows::placeholder_value(Some(p), *id, None)),
                            });
                    }
                }
                changed += rows::update(
                    &txn,
                    table,
                    values,
                    Condition::all()
                        .add(rows::owned_by(table, &scope))
                        .add(still_held),
                )
                .await?;
            }
            if changed > 0 {
                run.financial_records += 1;
            }
        }
    }
    if dry_run {
        txn.rollback().await?;
        return Ok(run);
    }
    if run.certificates + run.financial_records > 0 {
        audit::record(
            &txn,
            actor,
            "retention_applied",
            "retention",
            None,
            Some(json!({
                "people": run.people,
                "certificates": run.certificates,
                "financialRecords": run.financial_records,
            })),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(run)
}
