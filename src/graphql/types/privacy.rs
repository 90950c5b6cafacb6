//! Data-subject requests: the erasure plan (`erasurePreview`, `eraseUser`).

use async_graphql::{Enum, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::services::privacy::{self, Action, Plan, PlanItem};

/// What erasure does to a column, or to whole rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ErasureAction {
    /// The value is removed (set to null).
    Erase,
    /// The value is replaced by a placeholder ("Erased customer", `erased-<id>@invalid`).
    Anonymise,
    /// The rows are deleted.
    DeleteRows,
    /// The value is kept until `retainedUntil`, for `reason`, then removed by
    /// `rft-users apply-retention`.
    Retain,
}

impl From<Action> for ErasureAction {
    fn from(a: Action) -> Self {
        match a {
            Action::Erase => Self::Erase,
            Action::Anonymise => Self::Anonymise,
            Action::DeleteRows => Self::DeleteRows,
            Action::Retain => Self::Retain,
        }
    }
}

/// One line of an erasure plan: a table's column (or its rows), what happens to it, and
/// for how many of the person's rows.
#[derive(Debug, Clone, SimpleObject)]
pub struct ErasureItem {
    /// The table.
    pub table: String,
    /// The column; null when whole rows are deleted.
    pub column: Option<String>,
    /// What happens.
    pub action: ErasureAction,
    /// How many of the person's rows it applies to.
    pub rows: i64,
    /// Why the value is kept (retained values only).
    pub reason: Option<String>,
    /// The day the retention ends (retained values only).
    pub retained_until: Option<NaiveDate>,
}

impl From<&PlanItem> for ErasureItem {
    fn from(i: &PlanItem) -> Self {
        Self {
            table: i.table.to_string(),
            column: i.column.map(str::to_string),
            action: i.action.into(),
            rows: i.rows as i64,
            reason: i.reason.map(str::to_string),
            retained_until: i.until,
        }
    }
}

/// What erasing a customer does (or did): every profile merged into them is erased
/// with them.
pub struct ErasurePlan {
    plan: Plan,
    erased_at: Option<DateTime<Utc>>,
}

impl ErasurePlan {
    /// A preview.
    pub fn preview(plan: Plan) -> Self {
        Self {
            plan,
            erased_at: None,
        }
    }

    /// An erasure done.
    pub fn done(erased: privacy::Erased) -> Self {
        Self {
            plan: erased.plan,
            erased_at: Some(erased.erased_at),
        }
    }
}

/// What erasing a customer does (or did).
#[Object]
impl ErasurePlan {
    /// The customer (the profile the given id leads to, following merges).
    async fn user_id(&self) -> Uuid {
        self.plan.user_id
    }
    /// Every profile erased: the customer's and those merged into it.
    async fn user_ids(&self) -> &[Uuid] {
        &self.plan.user_ids
    }
    /// What happens, table by table and column by column.
    async fn items(&self) -> Vec<ErasureItem> {
        self.plan.items.iter().map(ErasureItem::from).collect()
    }
    /// When the erasure was done; null for a preview.
    async fn erased_at(&self) -> Option<DateTime<Utc>> {
        self.erased_at
    }
}
