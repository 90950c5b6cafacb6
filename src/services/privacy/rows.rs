//! Reading and changing a person's rows in any table of the retention table, by the
//! table's name: the rows are read through their SeaORM entity (so every value comes out
//! typed, as JSON) and changed with one statement per table.

use sea_orm::sea_query::{
    Alias, Condition, Expr, ExprTrait, Query, SimpleExpr, sea_value_to_json_value,
};
use sea_orm::{
    ConnectionTrait, EntityTrait, IdenStatic, Iterable, ModelTrait, QueryFilter, QueryOrder, Value,
};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::retention::{Owner, Placeholder, TABLES, Table};
use crate::entities::*;
use crate::error::{AppError, AppResult};

/// Whose rows: a person's profiles, their bookings, and every row id they own.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The person's profile and those merged into it.
    pub users: Vec<Uuid>,
    /// Their bookings.
    pub bookings: Vec<Uuid>,
    /// The ids of every row they own in a table with an `id` column (what audit rows name).
    pub rows: Vec<Uuid>,
}

impl Scope {
    /// The scope of the profiles `users`.
    pub async fn of(conn: &impl ConnectionTrait, users: Vec<Uuid>) -> AppResult<Self> {
        let mut scope = Scope {
            users,
            ..Default::default()
        };
        scope.bookings =
            ids_of(conn, "bookings", owned_by(table_named("bookings")?, &scope)).await?;
        let mut rows = scope.users.clone();
        for table in TABLES {
            if !matches!(table.owner, Owner::Column(_) | Owner::BookingOrUser)
                || table.rule("id").is_none()
            {
                continue;
            }
            rows.extend(ids_of(conn, table.name, owned_by(table, &scope)).await?);
        }
        scope.rows = rows;
        Ok(scope)
    }
}

fn table_named(name: &str) -> AppResult<&'static Table> {
    super::retention::table(name)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the retention table has no {name}")))
}

async fn ids_of(
    conn: &impl ConnectionTrait,
    table: &str,
    condition: Condition,
) -> AppResult<Vec<Uuid>> {
    let stmt = Query::select()
        .column(Alias::new("id"))
        .from(Alias::new(table))
        .cond_where(condition)
        .to_owned();
    conn.query_all(&stmt)
        .await?
        .iter()
        .map(|r| r.try_get_by_index::<Uuid>(0).map_err(Into::into))
        .collect()
}

fn among(column: &str, ids: &[Uuid]) -> SimpleExpr {
    Expr::col(Alias::new(column)).is_in(ids.iter().copied().map(Value::from).collect::<Vec<_>>())
}

/// The condition "this row is the person's" for a table.
pub fn owned_by(table: &Table, scope: &Scope) -> Condition {
    match table.owner {
        Owner::Nobody => Condition::all().add(Expr::val(1).eq(0)),
        Owner::Column(c) => Condition::all().add(among(c, &scope.users)),
        Owner::Either(a, b) => Condition::any()
            .add(among(a, &scope.users))
            .add(among(b, &scope.users)),
        Owner::BookingOrUser => Condition::any().add(among("user_id", &scope.users)).add(
            Condition::all()
                .add(among("booking_id", &scope.bookings))
                .add(Expr::col(Alias::new("user_id")).is_null()),
        ),
        Owner::Audit => Condition::any()
            .add(among("entity_id", &scope.rows))
            .add(among("actor_id", &scope.users)),
    }
}

async fn select<E, C>(conn: &C, condition: Condition) -> AppResult<Vec<Map<String, Json>>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut query = E::find().filter(condition);
    // A stable order: by the first column (the id, or the user id for 1:1 tables).
    if let Some(first) = E::Column::iter().next() {
        query = query.order_by_asc(first);
    }
    let rows = query.all(conn).await?;
    let table = E::default().table_name();
    rows.iter()
        .map(|m| {
            E::Column::iter()
                .map(|c| {
                    let value = m.get(c);
                    let json = match encrypted::is_encrypted(table, c.as_str()) {
                        true => plaintext(table, c.as_str(), m, value)?,
                        false => sea_value_to_json_value(&value),
                    };
                    Ok((c.as_str().to_string(), json))
                })
                .collect()
        })
        .collect()
}

/// The plaintext of an encrypted column's value (`m.get` gives the stored envelope),
/// opened with the row's id.
fn plaintext<M: ModelTrait>(table: &str, column: &str, m: &M, value: Value) -> AppResult<Json> {
    let Value::String(Some(envelope)) = value else {
        return Ok(Json::Null);
    };
    let id = <<M as ModelTrait>::Entity as EntityTrait>::Column::iter()
        .find(|c| c.as_str() == "id")
        .map(|c| m.get(c));
    let Some(Value::Uuid(Some(id))) = id else {
        return Err(AppError::internal(anyhow::anyhow!(
            "{table} has no id to open {column} by"
        )));
    };
    let text = encrypted::open_text(table, column, id, &envelope).map_err(AppError::internal)?;
    Ok(Json::String(text))
}

macro_rules! by_table {
    ($($name:literal => $entity:ty),* $(,)?) => {
        /// Every row of `table` meeting `condition`, each column as JSON.
        pub async fn read(
            conn: &impl ConnectionTrait,
            table: &Table,
            condition: Condition,
        ) -> AppResult<Vec<Map<String, Json>>> {
            match table.name {
                $($name => select::<$entity, _>(conn, condition).await,)*
                other => Err(AppError::internal(anyhow::anyhow!(
                    "the retention table names {other}, which has no entity to read it by"
                ))),
            }
        }
    };
}

by_table! {
    "users" => user::Entity,
    "bookings" => booking::Entity,
    "booking_attendees" => booking_attendee::Entity,
    "payments" => payment::Entity,
    "refunds" => refund::Entity,
    "certificates" => certificate::Entity,
    "attendance_records" => attendance_record::Entity,
    "user_notes" => user_note::Entity,
    "user_activity_logs" => user_activity_log::Entity,
    "email_logs" => email_log::Entity,
    "consent_events" => consent_event::Entity,
    "portal_sessions" => portal_session::Entity,
    "auth_sessions" => auth_session::Entity,
    "customer_insights" => customer_insight::Entity,
    "user_match_keys" => user_match_key::Entity,
    "duplicate_pairs" => duplicate_pair::Entity,
    "duplicate_dismissals" => duplicate_dismissal::Entity,
    "import_rows" => import_row::Entity,
    "user_merges" => user_merge::Entity,
    "user_merge_members" => user_merge_member::Entity,
    "user_merge_moves" => user_merge_move::Entity,
    "audit_logs" => audit_log::Entity,
    "erasures" => erasure::Entity,
}

/// How many rows of `table` meet `condition`.
pub async fn count(
    conn: &impl ConnectionTrait,
    table: &Table,
    condition: Condition,
) -> AppResult<u64> {
    let stmt = Query::select()
        .expr(Expr::cust("COUNT(*)"))
        .from(Alias::new(table.name))
        .cond_where(condition)
        .to_owned();
    let row = conn.query_one(&stmt).await?;
    Ok(row
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0) as u64)
}

/// The value a removed column gets. `row_id` names the row (for `ErasedId`) and `person`
/// the erased profile (for `ErasedEmail`).
pub fn placeholder_value(p: Option<Placeholder>, person: Uuid, row_id: Option<Uuid>) -> SimpleExpr {
    match p {
        // An untyped NULL: PostgreSQL refuses a text-typed one for dates and JSON.
        None => Expr::cust("NULL"),
        Some(Placeholder::Text(t)) => Expr::value(t),
        Some(Placeholder::Bool(b)) => Expr::value(b),
        Some(Placeholder::ErasedEmail) => Expr::value(erased_email(person)),
        Some(Placeholder::EmptyJson) => {
            Expr::value(Value::Json(Some(Box::new(Json::Object(Map::new())))))
        }
        Some(Placeholder::ErasedId) => {
            // Fits a certificate number's 30 characters: the id's last 22 hex digits, its
            // random part.
            let hex = row_id.unwrap_or(person).simple().to_string();
            Expr::value(format!("ERASED-{}", &hex[hex.len() - 22..]))
        }
    }
}

/// The address an erased profile is left with.
pub fn erased_email(id: Uuid) -> String {
    format!("erased-{id}@invalid")
}

/// `UPDATE table SET (column = value)… WHERE condition`; the number of rows changed.
pub async fn update(
    conn: &impl ConnectionTrait,
    table: &Table,
    values: Vec<(&'static str, SimpleExpr)>,
    condition: Condition,
) -> AppResult<u64> {
    if values.is_empty() {
        return Ok(0);
    }
    let mut stmt = Query::update();
    stmt.table(Alias::new(table.name)).cond_where(condition);
    for (column, value) in values {
        stmt.value(Alias::new(column), value);
    }
    let result = conn.execute(&stmt).await?;
    Ok(result.rows_affected())
}

/// `DELETE FROM table WHERE condition`; the number of rows deleted.
pub async fn delete(
    conn: &impl ConnectionTrait,
    table: &Table,
    condition: Condition,
) -> AppResult<u64> {
    let stmt = Query::delete()
        .from_table(Alias::new(table.name))
        .cond_where(condition)
        .to_owned();
    let result = conn.execute(&stmt).await?;
    Ok(result.rows_affected())
}
