//! Duplicate detection: each user's matching keys (`user_match_keys`), the scored pairs of
//! likely duplicates (`duplicate_pairs`, the admins' worklist) and the pairs admins have
//! dismissed (`duplicate_dismissals`). Keys and scores come from [`matching`]; this module
//! keeps them in the database.
//!
//! The invariant (docs/ARCHITECTURE.md, "Matching keys"): every writer that changes a
//! profile calls [`refresh`] in its own transaction, after writing the user's row, so the
//! keys and pairs are never behind the profiles. `users::insert` does it for every new user.
//! [`rescan`] rebuilds everything (keeping dismissals); [`backfill_missing`] keys users
//! that have no keys row (after the migration, or rows written behind the service's back).

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, sea_query::OnConflict,
};
use serde_json::json;
use uuid::Uuid;

use crate::db::begin_write;
use crate::entities::enums::Role;
use crate::entities::{duplicate_dismissal, duplicate_pair, positional, user, user_match_key};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Actor};
use crate::services::matching::{self, Comparison, Field, Level, MatchKeys, Reason};

/// Pairs scoring at least this are stored (and so can appear in the worklist); the lowest
/// `minScore` the API defaults to.
pub const STORED_MIN_SCORE: f64 = 0.5;

/// The worklist's default threshold: pairs at least this likely join a group.
pub const WORKLIST_MIN_SCORE: f64 = 0.8;

/// Users per batch in [`rescan`] and [`backfill_missing`].
pub const BATCH: u64 = 1000;

/// Fewer users than this without keys are keyed and scored one by one at start-up; more
/// (the first start after the migration) run a full [`rescan`], which is set-based.
const BACKFILL_ONE_BY_ONE: usize = 1000;

/// Whether a user can be a duplicate candidate: customers only (staff accounts are never
/// merged), and never a tombstone of an earlier merge.
pub fn eligible(u: &user::Model) -> bool {
    u.role == Role::Customer && u.merged_into_id.is_none()
}

/// The matching keys of a user's profile.
pub fn keys_of(u: &user::Model) -> MatchKeys {
    matching::keys(&matching::Profile {
        email: &u.email,
        first_name: &u.first_name,
        last_name: &u.last_name,
        phone: u.phone.as_deref(),
        mobile: u.mobile.as_deref(),
        company: u.company_name.as_deref(),
        postcode: u.postcode.as_deref(),
    })
}

fn keys_from_row(k: &user_match_key::Model) -> MatchKeys {
    MatchKeys {
        mailbox: k.mailbox_key.clone(),
        phone: k.phone_key.clone(),
        mobile: k.mobile_key.clone(),
        first_name: k.first_name_key.clone(),
        last_name: k.last_name_key.clone(),
        first_name_sound: k.first_name_sound.clone(),
        last_name_sound: k.last_name_sound.clone(),
        name: k.name_key.clone(),
        company: k.company_key.clone(),
        postcode: k.postcode_key.clone(),
        postcode_outward: k.postcode_outward.clone(),
    }
}

fn key_row(user_id: Uuid, k: MatchKeys, now: chrono::DateTime<Utc>) -> user_match_key::ActiveModel {
    use sea_orm::Set;
    user_match_key::ActiveModel {
        user_id: Set(user_id),
        mailbox_key: Set(k.mailbox),
        phone_key: Set(k.phone),
        mobile_key: Set(k.mobile),
        first_name_key: Set(k.first_name),
        last_name_key: Set(k.last_name),
        first_name_sound: Set(k.first_name_sound),
        last_name_sound: Set(k.last_name_sound),
        name_key: Set(k.name),
        company_key: Set(k.company),
        postcode_key: Set(k.postcode),
        postcode_outward: Set(k.postcode_outward),
        updated_at: Set(now),
    }
}

/// Writes keys rows, replacing any already there (one statement).
async fn upsert_keys(
    conn: &impl ConnectionTrait,
    rows: Vec<user_match_key::ActiveModel>,
) -> AppResult<()> {
    use user_match_key::Column as C;
    if rows.is_empty() {
        return Ok(());
    }
    user_match_key::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(C::UserId)
                .update_columns([
                    C::MailboxKey,
                    C::PhoneKey,
                    C::MobileKey,
                    C::FirstNameKey,
                    C::LastNameKey,
                    C::FirstNameSound,
                    C::LastNameSound,
                    C::NameKey,
                    C::CompanyKey,
                    C::PostcodeKey,
                    C::PostcodeOutward,
                    C::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The blocking query: for every eligible user whose id is in `[$1, $2]`, each eligible
/// other user sharing a blocking key with them (mailbox; a phone or mobile against a phone
/// or mobile; surname sound plus first initial; company plus surname), with the other's
/// keys, leaving out dismissed pairs. One equi-join per key, so each uses its index and no
/// pair outside the blocks is ever compared. `{other}` is `<>` (every other user) or `>`
/// (only users with a greater id: each pair once, for [`rescan`]). The `CROSS JOIN`s fix
/// the join order on SQLite (which otherwise may start from every customer through the
/// role index and probe the blocked pairs); PostgreSQL plans them as inner joins.
const BLOCKING_SQL: &str = "\
WITH blocked AS (
  SELECT a.user_id AS self_id, b.user_id AS other_id FROM user_match_keys a
    JOIN user_match_keys b ON b.mailbox_key = a.mailbox_key
    WHERE a.user_id BETWEEN $1 AND $2 AND b.user_id {other} a.user_id
  UNION SELECT a.user_id, b.user_id FROM user_match_keys a
    JOIN user_match_keys b ON b.phone_key = a.phone_key
    WHERE a.user_id BETWEEN $1 AND $2 AND b.user_id {other} a.user_id
  UNION SELECT a.user_id, b.user_id FROM user_match_keys a
    JOIN user_match_keys b ON b.mobile_key = a.phone_key
    WHERE a.user_id BETWEEN $1 AND $2 AND b.user_id {other} a.user_id
  UNION SELECT a.user_id, b.user_id FROM user_match_keys a
    JOIN user_match_keys b ON b.phone_key = a.mobile_key
    WHERE a.user_id BETWEEN $1 AND $2 AND b.user_id {other} a.user_id
  UNION SELECT a.user_id, b.user_id FROM user_match_keys a
    JOIN user_match_keys b ON b.mobile_key = a.mobile_key
    WHERE a.user_id BETWEEN $1 AND $2 AND b.user_id {other} a.user_id
  UNION SELECT a.user_id, b.user_id FROM user_match_keys a
    JOIN user_match_keys b ON b.name_key = a.name_key
    WHERE a.user_id BETWEEN $1 AND $2 AND b.user_id {other} a.user_id
  UNION SELECT a.user_id, b.user_id FROM user_match_keys a
    JOIN user_match_keys b ON b.company_key = a.company_key AND b.last_name_key = a.last_name_key
    WHERE a.user_id BETWEEN $1 AND $2 AND b.user_id {other} a.user_id
)
SELECT blocked.self_id, k.user_id, k.mailbox_key, k.phone_key, k.mobile_key,
       k.first_name_key, k.last_name_key, k.first_name_sound, k.last_name_sound,
       k.name_key, k.company_key, k.postcode_key,
       k.postcode_outward, k.updated_at
FROM blocked
CROSS JOIN users su
CROSS JOIN users ou
CROSS JOIN user_match_keys k
WHERE su.id = blocked.self_id AND ou.id = blocked.other_id AND k.user_id = blocked.other_id
  AND su.role = 'customer' AND su.merged_into_id IS NULL
  AND ou.role = 'customer' AND ou.merged_into_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM duplicate_dismissals d
                  WHERE d.user_a = blocked.self_id AND d.user_b = blocked.other_id)
  AND NOT EXISTS (SELECT 1 FROM duplicate_dismissals d
                  WHERE d.user_a = blocked.other_id AND d.user_b = blocked.self_id)";

/// The blocking statement for users with ids in `[lo, hi]` (see [`BLOCKING_SQL`]).
pub fn blocking_statement(
    backend: DbBackend,
    lo: Uuid,
    hi: Uuid,
    each_pair_once: bool,
) -> Statement {
    let sql = BLOCKING_SQL.replace("{other}", if each_pair_once { ">" } else { "<>" });
    Statement::from_sql_and_values(backend, sql, [lo.into(), hi.into()])
}

/// The blocked candidates of the users with ids in `[lo, hi]`: (user, other user's keys).
async fn blocked(
    conn: &impl ConnectionTrait,
    lo: Uuid,
    hi: Uuid,
    each_pair_once: bool,
) -> AppResult<Vec<(Uuid, user_match_key::Model)>> {
    let rows = conn
        .query_all_raw(blocking_statement(
            conn.get_database_backend(),
            lo,
            hi,
            each_pair_once,
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let self_id: Uuid = row.try_get("", "self_id")?;
            Ok((self_id, user_match_key::Model::from_query_result(row, "")?))
        })
        .collect()
}

/// A pair as stored: ordered ids and the comparison.
fn pair_row(
    x: Uuid,
    y: Uuid,
    c: &Comparison,
    now: chrono::DateTime<Utc>,
) -> duplicate_pair::ActiveModel {
    use sea_orm::Set;
    let (a, b) = ordered(x, y);
    duplicate_pair::ActiveModel {
        user_a: Set(a),
        user_b: Set(b),
        score: Set(c.score),
        match_weight: Set(c.match_weight),
        reasons: Set(serde_json::to_value(&c.reasons).unwrap_or_default()),
        updated_at: Set(now),
    }
}

fn ordered(x: Uuid, y: Uuid) -> (Uuid, Uuid) {
    if x < y { (x, y) } else { (y, x) }
}

/// Writes pairs (one statement per 1,000), replacing any already there: two writers that
/// score the same pair at the same moment both succeed, and the later one wins.
async fn upsert_pairs(
    conn: &impl ConnectionTrait,
    rows: Vec<duplicate_pair::ActiveModel>,
) -> AppResult<()> {
    use duplicate_pair::Column as C;
    let mut rows = rows;
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(1000));
        duplicate_pair::Entity::insert_many(std::mem::replace(&mut rows, rest))
            .on_conflict(
                OnConflict::columns([C::UserA, C::UserB])
                    .update_columns([C::Score, C::MatchWeight, C::Reasons, C::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Brings a user's keys and pairs up to date after their row was written, inside the
/// writer's transaction. `before` is the row as it was (`None` for a new user). Costs
/// nothing when the keys and eligibility are unchanged; otherwise writes the keys,
/// removes the user's old pairs and stores the newly blocked ones that score at least
/// [`STORED_MIN_SCORE`]: at most four statements, whatever the data.
///
/// Touches only `user_match_keys` and `duplicate_pairs`, so it adds no lock to the
/// documented order (docs/ARCHITECTURE.md, "Lock order").
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %after.id))]
pub async fn refresh(
    conn: &impl ConnectionTrait,
    before: Option<&user::Model>,
    after: &user::Model,
) -> AppResult<()> {
    let keys = keys_of(after);
    if let Some(b) = before
        && eligible(b) == eligible(after)
        && keys_of(b) == keys
    {
        return Ok(());
    }
    let now = Utc::now();
    upsert_keys(conn, vec![key_row(after.id, keys.clone(), now)]).await?;
    if before.is_some() {
        delete_pairs_of(conn, after.id).await?;
    }
    if !eligible(after) {
        return Ok(());
    }
    let rows: Vec<_> = blocked(conn, after.id, after.id, false)
        .await?
        .into_iter()
        .filter_map(|(_, other)| {
            let c = matching::compare(&keys, &keys_from_row(&other));
            (c.score >= STORED_MIN_SCORE).then(|| pair_row(after.id, other.user_id, &c, now))
        })
        .collect();
    upsert_pairs(conn, rows).await
}

async fn delete_pairs_of(conn: &impl ConnectionTrait, user_id: Uuid) -> AppResult<()> {
    use sea_orm::sea_query::ExprTrait;
    duplicate_pair::Entity::delete_many()
        .filter(
            duplicate_pair::Column::UserA
                .eq(user_id)
                .or(duplicate_pair::Column::UserB.eq(user_id)),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// One field of a candidate's explanation, with the two values compared as the profiles
/// show them.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownReason {
    pub field: Field,
    pub level: Level,
    pub weight: f64,
    /// The value on the user's side (`None`: missing).
    pub left: Option<String>,
    /// The value on the other user's side.
    pub right: Option<String>,
}

/// A field as a profile shows it. Only the compared fields: never medical, dietary,
/// emergency-contact details or the date of birth.
pub fn shown_value(field: Field, u: &user::Model) -> Option<String> {
    let non_empty = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    };
    match field {
        Field::Email => non_empty(&u.email),
        Field::FirstName => non_empty(&u.first_name),
        Field::LastName => non_empty(&u.last_name),
        Field::Phone => {
            let numbers: Vec<&str> = [u.phone.as_deref(), u.mobile.as_deref()]
                .into_iter()
                .flatten()
                .filter(|s| !s.trim().is_empty())
                .collect();
            (!numbers.is_empty()).then(|| numbers.join(", "))
        }
        Field::Company => u.company_name.as_deref().and_then(non_empty),
        Field::Postcode => u.postcode.as_deref().and_then(non_empty),
    }
}

/// The reasons of a comparison between `left` and `right`, with the values shown.
pub fn shown_reasons(
    reasons: &[Reason],
    left: &user::Model,
    right: &user::Model,
) -> Vec<ShownReason> {
    reasons
        .iter()
        .map(|r| ShownReason {
            field: r.field,
            level: r.level,
            weight: r.weight,
            left: shown_value(r.field, left),
            right: shown_value(r.field, right),
        })
        .collect()
}

/// A likely duplicate of a user.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub user: user::Model,
    pub score: f64,
    pub match_weight: f64,
    pub reasons: Vec<ShownReason>,
}

/// `duplicateCandidates`: the user's blocked candidates scoring at least `min_score`, best
/// first (ties by id), at most `first` (default 20, at most 100). Scored now from the
/// stored keys, by the same query and function that keep `duplicate_pairs`, so the two
/// agree. Dismissed pairs, staff and tombstones are never candidates; a staff member or a
/// tombstone has none.
#[tracing::instrument(skip_all, fields(%user_id, min_score, first = ?first))]
pub async fn candidates(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    min_score: f64,
    first: Option<i32>,
) -> AppResult<Vec<Candidate>> {
    let limit = crate::services::pages::page_size(first)? as usize;
    if !min_score.is_finite() || !(0.0..=1.0).contains(&min_score) {
        return Err(AppError::bad_input(
            "minScore",
            "minScore must be between 0 and 1",
        ));
    }
    let me = positional::one(user::Entity::find_by_id(user_id), conn)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    if !eligible(&me) || limit == 0 {
        return Ok(Vec::new());
    }
    let my_keys = keys_of(&me);
    let mut scored: Vec<(Uuid, Comparison)> = blocked(conn, user_id, user_id, false)
        .await?
        .into_iter()
        .map(|(_, other)| {
            (
                other.user_id,
                matching::compare(&my_keys, &keys_from_row(&other)),
            )
        })
        .filter(|(_, c)| c.score >= min_score)
        .collect();
    scored.sort_by(|(ia, a), (ib, b)| b.score.total_cmp(&a.score).then(ia.cmp(ib)));
    scored.truncate(limit);
    if scored.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = scored.iter().map(|(id, _)| *id).collect();
    let rows: HashMap<Uuid, user::Model> = positional::all(
        user::Entity::find().filter(user::Column::Id.is_in(ids)),
        conn,
    )
    .await?
    .into_iter()
    .map(|u| (u.id, u))
    .collect();
    Ok(scored
        .into_iter()
        .filter_map(|(id, c)| {
            let other = rows.get(&id)?.clone();
            Some(Candidate {
                reasons: shown_reasons(&c.reasons, &me, &other),
                user: other,
                score: c.score,
                match_weight: c.match_weight,
            })
        })
        .collect())
}

/// A stored pair of a group.
#[derive(Debug, Clone)]
pub struct StoredPair {
    pub user_a: Uuid,
    pub user_b: Uuid,
    pub score: f64,
    pub match_weight: f64,
    pub reasons: Vec<Reason>,
}

/// A group of likely duplicates: users joined by stored pairs at or above the threshold.
#[derive(Debug, Clone)]
pub struct Group {
    /// The smallest user id in the group (changes when the group's members do).
    pub id: Uuid,
    /// The members, by id.
    pub user_ids: Vec<Uuid>,
    /// The group's highest pair score.
    pub best_score: f64,
    /// The pairs joining the group, best first.
    pub pairs: Vec<StoredPair>,
}

/// A page of groups, with each group's cursor.
pub struct GroupPage {
    pub groups: Vec<(String, Group)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    /// Groups over all pages.
    pub total: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct GroupCursor {
    /// The group's best score.
    s: f64,
    /// The group's id.
    id: Uuid,
}

fn group_cursor(g: &Group) -> String {
    URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&GroupCursor {
            s: g.best_score,
            id: g.id,
        })
        .unwrap_or_default(),
    )
}

fn decode_group_cursor(after: &str) -> AppResult<GroupCursor> {
    let bad = || AppError::bad_input("after", "after is not a cursor from this list");
    let bytes = URL_SAFE_NO_PAD.decode(after).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

/// The stored pairs at or above `min_score` between two customers, neither a tombstone:
/// only their ids and scores, enough to form the groups. Staff and tombstones are few, and
/// found through their small indexes, so no `users` row is read per pair.
const GROUP_EDGES_SQL: &str = "\
SELECT p.user_a, p.user_b, p.score
FROM duplicate_pairs p
WHERE p.score >= $1
  AND p.user_a NOT IN (SELECT id FROM users WHERE merged_into_id IS NOT NULL
                       UNION SELECT id FROM users WHERE role IN ('admin', 'instructor'))
  AND p.user_b NOT IN (SELECT id FROM users WHERE merged_into_id IS NOT NULL
                       UNION SELECT id FROM users WHERE role IN ('admin', 'instructor'))";

/// The statement of [`GROUP_EDGES_SQL`]. SQLite is told to use the `merged_into_id` index:
/// its planner would rather scan every user than trust an `IS NOT NULL` on it.
pub fn group_edges_statement(backend: DbBackend, min_score: f64) -> Statement {
    let sql = match backend {
        DbBackend::Sqlite => GROUP_EDGES_SQL.replace(
            "FROM users WHERE merged_into_id",
            "FROM users INDEXED BY idx_users_merged_into_id WHERE merged_into_id",
        ),
        _ => GROUP_EDGES_SQL.to_string(),
    };
    Statement::from_sql_and_values(backend, sql, [min_score.into()])
}

/// A stored pair's ids and score.
#[derive(Debug, Clone, Copy, FromQueryResult)]
struct Edge {
    user_a: Uuid,
    user_b: Uuid,
    score: f64,
}

/// `duplicateGroups`: the worklist. Groups are the connected components of the stored
/// pairs scoring at least `min_score` (dismissed pairs are never stored), best first by
/// their highest score, then by id. Read from `duplicate_pairs` only: never rescored. Two
/// statements: every qualifying pair's ids and score, then the page's pairs in full.
#[tracing::instrument(skip_all, fields(min_score, first = ?first))]
pub async fn groups(
    conn: &impl ConnectionTrait,
    min_score: f64,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<GroupPage> {
    let limit = crate::services::pages::page_size(first)? as usize;
    if !min_score.is_finite() || !(0.0..=1.0).contains(&min_score) {
        return Err(AppError::bad_input(
            "minScore",
            "minScore must be between 0 and 1",
        ));
    }
    let cursor = after.map(decode_group_cursor).transpose()?;
    let edges = Edge::find_by_statement(group_edges_statement(
        conn.get_database_backend(),
        min_score,
    ))
    .all(conn)
    .await?;
    let mut all = components(&edges);
    all.sort_by(|x, y| y.best_score.total_cmp(&x.best_score).then(x.id.cmp(&y.id)));
    let total = all.len();
    let start = match &cursor {
        None => 0,
        Some(c) => all
            .iter()
            .position(|g| g.best_score < c.s || (g.best_score == c.s && g.id > c.id))
            .unwrap_or(total),
    };
    let has_next_page = total > start + limit;
    let mut page: Vec<Group> = all.into_iter().skip(start).take(limit).collect();

    // The page's pairs in full (reasons and weights).
    let group_of: HashMap<Uuid, usize> = page
        .iter()
        .enumerate()
        .flat_map(|(i, g)| g.user_ids.iter().map(move |id| (*id, i)))
        .collect();
    if !group_of.is_empty() {
        let rows = duplicate_pair::Entity::find()
            .filter(duplicate_pair::Column::UserA.is_in(group_of.keys().copied()))
            .filter(duplicate_pair::Column::Score.gte(min_score))
            .all(conn)
            .await?;
        for p in rows {
            let (Some(&ga), Some(&gb)) = (group_of.get(&p.user_a), group_of.get(&p.user_b)) else {
                continue;
            };
            if ga != gb {
                continue;
            }
            page[ga].pairs.push(StoredPair {
                user_a: p.user_a,
                user_b: p.user_b,
                score: p.score,
                match_weight: p.match_weight,
                reasons: serde_json::from_value(p.reasons).unwrap_or_default(),
            });
        }
    }
    let groups = page
        .into_iter()
        .map(|mut g| {
            g.pairs.sort_by(|x, y| {
                y.score
                    .total_cmp(&x.score)
                    .then((x.user_a, x.user_b).cmp(&(y.user_a, y.user_b)))
            });
            (group_cursor(&g), g)
        })
        .collect();
    Ok(GroupPage {
        groups,
        has_next_page,
        has_previous_page: cursor.is_some(),
        total,
    })
}

/// The connected components of a set of pairs (union-find), without their pairs' details.
fn components(edges: &[Edge]) -> Vec<Group> {
    fn root(parent: &mut HashMap<Uuid, Uuid>, x: Uuid) -> Uuid {
        let mut r = x;
        while let Some(&p) = parent.get(&r) {
            if p == r {
                break;
            }
            r = p;
        }
        // Path compression.
        let mut y = x;
        while y != r {
            let next = parent.get(&y).copied().unwrap_or(r);
            parent.insert(y, r);
            y = next;
        }
        r
    }
    let mut parent: HashMap<Uuid, Uuid> = HashMap::new();
    for e in edges {
        parent.entry(e.user_a).or_insert(e.user_a);
        parent.entry(e.user_b).or_insert(e.user_b);
        let (ra, rb) = (root(&mut parent, e.user_a), root(&mut parent, e.user_b));
        if ra != rb {
            // The smaller id becomes the root, so a group's root is its smallest member.
            let (keep, join) = if ra < rb { (ra, rb) } else { (rb, ra) };
            parent.insert(join, keep);
        }
    }
    let mut by_root: BTreeMap<Uuid, (f64, HashSet<Uuid>)> = BTreeMap::new();
    for e in edges {
        let r = root(&mut parent, e.user_a);
        let (best, members) = by_root.entry(r).or_insert_with(|| (0.0, HashSet::new()));
        *best = best.max(e.score);
        members.insert(e.user_a);
        members.insert(e.user_b);
    }
    by_root
        .into_iter()
        .map(|(root, (best_score, members))| {
            let mut user_ids: Vec<Uuid> = members.into_iter().collect();
            user_ids.sort();
            Group {
                id: user_ids.first().copied().unwrap_or(root),
                user_ids,
                best_score,
                pairs: Vec::new(),
            }
        })
        .collect()
}

/// `dismissDuplicate`: records that two users are different people, so the pair is never
/// proposed again (rescans and later edits keep it out), removes it from the worklist, and
/// writes the audit row, in one transaction. The same id twice, or an unknown id, is
/// BAD_USER_INPUT with nothing written. Dismissing a pair twice is not an error.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), %user_id, %other_user_id))]
pub async fn dismiss(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: Uuid,
    other_user_id: Uuid,
) -> AppResult<bool> {
    if user_id == other_user_id {
        return Err(AppError::bad_input(
            "otherUserId",
            "a user cannot be dismissed as a duplicate of themself",
        ));
    }
    let (a, b) = ordered(user_id, other_user_id);
    let txn = begin_write(db).await?;
    let found: HashSet<Uuid> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Id.is_in([a, b]))
        .into_tuple::<Uuid>()
        .all(&txn)
        .await?
        .into_iter()
        .collect();
    for (field, id) in [("userId", user_id), ("otherUserId", other_user_id)] {
        if !found.contains(&id) {
            return Err(AppError::bad_input(
                field,
                format!("{field} is not a known user"),
            ));
        }
    }
    let pair = duplicate_pair::Entity::find_by_id((a, b)).one(&txn).await?;
    let now = Utc::now();
    let inserted = duplicate_dismissal::Entity::insert(duplicate_dismissal::ActiveModel {
        user_a: sea_orm::Set(a),
        user_b: sea_orm::Set(b),
        dismissed_by_id: sea_orm::Set(actor.id),
        dismissed_at: sea_orm::Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            duplicate_dismissal::Column::UserA,
            duplicate_dismissal::Column::UserB,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        return Ok(true);
    }
    duplicate_pair::Entity::delete_by_id((a, b))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        "duplicate.dismiss",
        "user",
        Some(user_id),
        Some(json!({
            "userId": user_id,
            "otherUserId": other_user_id,
            "score": pair.as_ref().map(|p| p.score),
        })),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// The columns keys are made from, plus eligibility: what [`rescan`] reads of each user.
#[derive(Debug, FromQueryResult)]
struct KeySource {
    id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    phone: Option<String>,
    mobile: Option<String>,
    company_name: Option<String>,
    postcode: Option<String>,
}

impl KeySource {
    fn keys(&self) -> MatchKeys {
        matching::keys(&matching::Profile {
            email: &self.email,
            first_name: &self.first_name,
            last_name: &self.last_name,
            phone: self.phone.as_deref(),
            mobile: self.mobile.as_deref(),
            company: self.company_name.as_deref(),
            postcode: self.postcode.as_deref(),
        })
    }
}

/// Up to `limit` users' key sources after `after`, in id order.
fn key_sources(
    after: Option<Uuid>,
    limit: u64,
) -> sea_orm::Selector<sea_orm::SelectModel<KeySource>> {
    use user::Column as C;
    let mut q = user::Entity::find().select_only().columns([
        C::Id,
        C::Email,
        C::FirstName,
        C::LastName,
        C::Phone,
        C::Mobile,
        C::CompanyName,
        C::Postcode,
    ]);
    if let Some(id) = after {
        q = q.filter(C::Id.gt(id));
    }
    q.order_by_asc(C::Id).limit(limit).into_model::<KeySource>()
}

/// What a rescan did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RescanSummary {
    /// Users whose keys were rebuilt.
    pub users: u64,
    /// Pairs stored (scoring at least [`STORED_MIN_SCORE`]).
    pub pairs: u64,
    /// Candidate pairs the blocking keys produced and that were scored.
    pub compared: u64,
    /// Dismissed pairs, kept.
    pub dismissed: u64,
}

/// Progress of a rescan: (step done, steps in all). Two steps per user: keys, then pairs.
pub type Progress<'a> = &'a mut (dyn FnMut(u64, u64) + Send);

/// `rft-users rescan-duplicates`: rebuilds every user's keys and every pair from the
/// profiles, in batches of [`BATCH`] users, each batch its own transaction, so it can be
/// stopped and run again. Dismissals are kept. First every batch's keys, then every
/// batch's pairs: the pairs of a batch are those whose smaller id is in it, found with the
/// set-based blocking query, scored, and swapped in for the batch's old pairs.
#[tracing::instrument(skip_all)]
pub async fn rescan(db: &DatabaseConnection, progress: Progress<'_>) -> AppResult<RescanSummary> {
    let total: u64 = user::Entity::find().count(db).await?;
    let steps = total * 2;
    let mut summary = RescanSummary::default();
    let mut ranges: Vec<(Uuid, Uuid, u64)> = Vec::new();
    let mut after: Option<Uuid> = None;
    let mut done = 0;
    loop {
        let batch = key_sources(after, BATCH).all(db).await?;
        let (Some(lo), Some(hi)) = (batch.first().map(|s| s.id), batch.last().map(|s| s.id)) else {
            break;
        };
        let now = Utc::now();
        let rows = batch.iter().map(|s| key_row(s.id, s.keys(), now)).collect();
        let txn = begin_write(db).await?;
        upsert_keys(&txn, rows).await?;
        txn.commit().await?;
        let n = batch.len() as u64;
        ranges.push((lo, hi, n));
        summary.users += n;
        done += n;
        progress(done.min(steps), steps);
        after = Some(hi);
    }
    for (lo, hi, n) in ranges {
        let (compared, stored) = rescore_range(db, lo, hi).await?;
        summary.compared += compared;
        summary.pairs += stored;
        done += n;
        progress(done.min(steps), steps);
    }
    summary.dismissed = duplicate_dismissal::Entity::find().count(db).await?;
    Ok(summary)
}

/// Rescores the pairs whose smaller id is in `[lo, hi]`, in one transaction: (compared,
/// stored).
async fn rescore_range(db: &DatabaseConnection, lo: Uuid, hi: Uuid) -> AppResult<(u64, u64)> {
    let txn = begin_write(db).await?;
    let own: HashMap<Uuid, MatchKeys> = user_match_key::Entity::find()
        .filter(user_match_key::Column::UserId.between(lo, hi))
        .all(&txn)
        .await?
        .iter()
        .map(|k| (k.user_id, keys_from_row(k)))
        .collect();
    let candidates = blocked(&txn, lo, hi, true).await?;
    let compared = candidates.len() as u64;
    let now = Utc::now();
    let rows: Vec<_> = candidates
        .into_iter()
        .filter_map(|(self_id, other)| {
            let c = matching::compare(own.get(&self_id)?, &keys_from_row(&other));
            (c.score >= STORED_MIN_SCORE).then(|| pair_row(self_id, other.user_id, &c, now))
        })
        .collect();
    let stored = rows.len() as u64;
    duplicate_pair::Entity::delete_many()
        .filter(duplicate_pair::Column::UserA.between(lo, hi))
        .exec(&txn)
        .await?;
    upsert_pairs(&txn, rows).await?;
    txn.commit().await?;
    Ok((compared, stored))
}

/// Keys (and scores) every user that has no keys row: run after migrating, so users
/// written before the duplicate-detection migration, or behind the service's back, are
/// matched too. One indexed anti-join when there is nothing to do. A few users are
/// refreshed one by one; many (the first start after the migration) get a full [`rescan`].
#[tracing::instrument(skip_all)]
pub async fn backfill_missing(db: &DatabaseConnection) -> AppResult<u64> {
    let missing: Vec<Uuid> = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT u.id FROM users u WHERE NOT EXISTS \
             (SELECT 1 FROM user_match_keys k WHERE k.user_id = u.id)",
        ))
        .await?
        .iter()
        .map(|r| r.try_get::<Uuid>("", "id"))
        .collect::<Result<_, _>>()?;
    if missing.is_empty() {
        return Ok(0);
    }
    if missing.len() > BACKFILL_ONE_BY_ONE {
        tracing::info!(
            users = missing.len(),
            "keying users for duplicate detection"
        );
        let summary = rescan(db, &mut |_, _| {}).await?;
        return Ok(summary.users);
    }
    let txn = begin_write(db).await?;
    for chunk in missing.chunks(500) {
        let rows = positional::all(
            user::Entity::find().filter(user::Column::Id.is_in(chunk.iter().copied())),
            &txn,
        )
        .await?;
        for u in rows {
            refresh(&txn, None, &u).await?;
        }
    }
    txn.commit().await?;
    Ok(missing.len() as u64)
}

/// The keys row of a user, as stored (for tests and checks).
pub async fn stored_keys(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
) -> AppResult<Option<user_match_key::Model>> {
    Ok(user_match_key::Entity::find_by_id(user_id)
        .one(conn)
        .await?)
}
