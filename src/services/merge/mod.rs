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
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, Statement,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use crate::crypto;
use crate::db::begin_write;
use crate::entities::enums::{ConsentSource, Role};
use crate::entities::{encrypted, user, user_merge, user_merge_member};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Activity, Actor};
use crate::services::customer_stats::{self, Counters};
use crate::services::{consents, duplicates, users, validate};

/// Most duplicates merged into a survivor at once.
pub const MAX_DUPLICATES: usize = 10;
/// Longest reason accepted for a merge or an undo, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

mod profile;
mod rows;

use profile::*;
pub use profile::{FieldChoice, Group, Kind, MergeField, MergeRule, MergedValue, decide};
use rows::*;
pub use rows::{KEPT_COLUMNS, MOVED_COLUMNS};

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
    open_values(&m.fields)
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
        survivor_before: Set(snapshot(&survivor_before)?),
        duplicates_before: Set(Json::Object(
            duplicates
                .iter()
                .map(|d| Ok((d.id.to_string(), snapshot(d)?)))
                .collect::<AppResult<_>>()?,
        )),
        fields: Set(seal_values(&fields)?),
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
    // A consent the survivor takes from a duplicate is a change of the survivor's consent,
    // made by the admin who merged (docs/ARCHITECTURE.md, "Consent history").
    consents::record_change(conn, actor, ConsentSource::Admin, &survivor_before, &after).await?;
    // Matching keys and candidate pairs (docs/ARCHITECTURE.md, "Matching keys"): the
    // tombstones leave the worklist, the survivor is rescored with its merged profile.
    for dup in &duplicates {
        let mut tombstone = dup.clone();
        tombstone.merged_into_id = Some(survivor_id);
        duplicates::refresh(conn, Some(dup), &tombstone).await?;
    }
    duplicates::refresh(conn, Some(&survivor_before), &after).await?;
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
        let restored = am.update(&txn).await?;
        duplicates::refresh(&txn, Some(current), &restored).await?;
        consents::record_change(&txn, actor, ConsentSource::Admin, current, &restored).await?;
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
    consents::record_change(
        &txn,
        actor,
        ConsentSource::Admin,
        &survivor_now,
        &survivor_after,
    )
    .await?;
    duplicates::refresh(&txn, Some(&survivor_now), &survivor_after).await?;
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
