//! Re-encrypting the fields encrypted at rest: `rft-users rotate-keys` (every value not
//! under the active key is re-encrypted under it) and, after the migrations, the
//! encryption of values still in plaintext (written before encryption existed).
//!
//! Both walk each table's rows in id order, a batch per transaction. Which rows are left
//! is read from the data itself (a value's envelope names its key), so a run that stops
//! part way is resumed by running it again. Each update is conditional on the value being
//! the one read, so a value the service rewrote meanwhile (under the active key) is left
//! as it is. Reading keeps working throughout: every value is under a key that is loaded.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Alias, Cond, Expr, ExprTrait, Func, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;
use uuid::Uuid;

use crate::crypto::{self, PREFIX};
use crate::entities::encrypted::{FIELDS, columns_of};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Actor};

/// Which values a pass re-encrypts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Values in plaintext only (after the migrations).
    Plaintext,
    /// Every value not under the active key, plaintext included (`rotate-keys`).
    NotUnderActiveKey,
}

/// What a pass found and did, per column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Values re-encrypted (or, in a dry run, that would be), per `table.column`.
    pub resealed: BTreeMap<String, u64>,
    /// Of those, values that were plaintext.
    pub plaintext: u64,
    /// The keys the re-encrypted values were under, with how many each.
    pub from_keys: BTreeMap<String, u64>,
    /// Rows updated.
    pub rows: u64,
    /// The active key.
    pub active_kid: String,
}

impl Outcome {
    /// Values re-encrypted in all.
    pub fn values(&self) -> u64 {
        self.resealed.values().sum()
    }
}

/// The tables with encrypted columns, in the order a pass walks them.
fn tables() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (t, _) in FIELDS {
        if !out.contains(t) {
            out.push(t);
        }
    }
    out
}

/// `SUBSTR(column, 1, len(prefix)) <> prefix`.
fn not_starting_with(column: &'static str, prefix: &str) -> SimpleExpr {
    Expr::expr(
        Func::cust(Alias::new("SUBSTR"))
            .arg(Expr::col(Alias::new(column)))
            .arg(1)
            .arg(prefix.len() as i32),
    )
    .ne(prefix.to_string())
}

/// The prefix a value's text has when it needs no work.
fn done_prefix(scope: Scope, active_kid: &str) -> String {
    match scope {
        Scope::Plaintext => PREFIX.to_string(),
        Scope::NotUnderActiveKey => format!("{PREFIX}{active_kid}:"),
    }
}

/// Rows of `table` with a value in any encrypted column that needs work.
fn needs_work(table: &'static str, prefix: &str) -> Cond {
    let mut any = Cond::any();
    for column in columns_of(table) {
        any = any.add(
            Cond::all()
                .add(Expr::col(Alias::new(column)).is_not_null())
                .add(not_starting_with(column, prefix)),
        );
    }
    any
}

/// How many rows need work, in all tables (for a progress bar).
pub async fn rows_to_do(db: &DatabaseConnection, scope: Scope) -> AppResult<u64> {
    let keys = crypto::keyring().map_err(AppError::internal)?;
    let prefix = done_prefix(scope, keys.active_kid());
    let mut total = 0u64;
    for table in tables() {
        let q = Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from(Alias::new(table))
            .cond_where(needs_work(table, &prefix))
            .to_owned();
        let row = db.query_one(&q).await?;
        let n: i64 = match row {
            Some(r) => r.try_get_by_index(0)?,
            None => 0,
        };
        total += n as u64;
    }
    Ok(total)
}

/// Re-encrypts, under the active key, every value `scope` names, `batch` rows per
/// transaction, calling `progress` with the rows done after each batch. A dry run writes
/// nothing: it opens every such value (so a missing key is found) and counts.
pub async fn reseal(
    db: &DatabaseConnection,
    scope: Scope,
    batch: u64,
    dry_run: bool,
    mut progress: impl FnMut(u64),
) -> AppResult<Outcome> {
    let keys = crypto::keyring().map_err(AppError::internal)?;
    let active = keys.active_kid().to_string();
    let prefix = done_prefix(scope, &active);
    let mut out = Outcome {
        active_kid: active,
        ..Outcome::default()
    };
    let mut done = 0u64;
    for table in tables() {
        let columns: Vec<&'static str> = columns_of(table).collect();
        let mut after: Option<Uuid> = None;
        loop {
            let mut q = Query::select();
            q.column(Alias::new("id"))
                .columns(columns.iter().map(|c| Alias::new(*c)))
                .from(Alias::new(table))
                .cond_where(needs_work(table, &prefix))
                .order_by(Alias::new("id"), sea_orm::Order::Asc)
                .limit(Ord::max(batch, 1));
            if let Some(last) = after {
                q.and_where(Expr::col(Alias::new("id")).gt(last));
            }
            let rows = db.query_all(&q.to_owned()).await?;
            if rows.is_empty() {
                break;
            }
            let txn = crate::db::begin_write(db).await?;
            for row in &rows {
                let id: Uuid = row.try_get_by_index(0)?;
                after = Some(id);
                let mut update = Query::update();
                update.table(Alias::new(table));
                let mut changed = false;
                for (i, column) in columns.iter().enumerate() {
                    let text: Option<String> = row.try_get_by_index(i + 1)?;
                    let Some(text) = text else { continue };
                    if text.starts_with(&prefix) {
                        continue;
                    }
                    let plain = match crypto::envelope_kid(&text) {
                        Some(kid) => {
                            *out.from_keys.entry(kid.to_string()).or_default() += 1;
                            let (t, c) = FIELDS
                                .iter()
                                .copied()
                                .find(|(t, c)| t == &table && c == column)
                                .expect("a column of FIELDS");
                            keys.open(t, c, id, &text).map_err(AppError::internal)?
                        }
                        None => {
                            out.plaintext += 1;
                            text.clone().into_bytes()
                        }
                    };
                    *out.resealed.entry(format!("{table}.{column}")).or_default() += 1;
                    let sealed = keys.seal(table, column, id, &plain);
                    update.value(Alias::new(*column), sealed);
                    // Only if the value is still the one read.
                    update.and_where(Expr::col(Alias::new(*column)).eq(text));
                    changed = true;
                }
                if changed && !dry_run {
                    update.and_where(Expr::col(Alias::new("id")).eq(id));
                    txn.execute(&update.to_owned()).await?;
                    out.rows += 1;
                }
            }
            if dry_run {
                txn.rollback().await?;
            } else {
                txn.commit().await?;
            }
            done += rows.len() as u64;
            progress(done);
        }
    }
    if !dry_run && out.values() > 0 {
        let txn = crate::db::begin_write(db).await?;
        audit::record(
            &txn,
            &Actor::system(),
            match scope {
                Scope::Plaintext => "data.encrypted",
                Scope::NotUnderActiveKey => "data_keys.rotated",
            },
            "data_keys",
            None,
            Some(json!({
                "active_key": out.active_kid,
                "values": out.resealed,
                "from_keys": out.from_keys,
                "plaintext": out.plaintext,
            })),
        )
        .await?;
        txn.commit().await?;
    }
    Ok(out)
}

/// Encrypts the values still in plaintext (run after the migrations; a no-op once done).
pub async fn seal_plaintext(db: &DatabaseConnection) -> AppResult<Outcome> {
    let outcome = reseal(db, Scope::Plaintext, 500, false, |_| {}).await?;
    if outcome.values() > 0 {
        tracing::info!(
            values = outcome.values(),
            rows = outcome.rows,
            "encrypted the sensitive fields written before encryption at rest"
        );
    }
    Ok(outcome)
}
