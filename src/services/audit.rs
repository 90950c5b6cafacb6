//! The audit trail (`audit_logs`) and the per-user activity log (`user_activity_logs`).
//!
//! Both are written with the connection of the caller's transaction, so an audit row exists
//! exactly when the change it describes does.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, IdenStatic, Iterable, ModelTrait, Set,
    sea_query::sea_value_to_json_value,
};
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use crate::auth::{RequestContext, RequestMeta};
use crate::entities::{audit_log, enums::Role, user_activity_log};
use crate::error::AppResult;

/// Columns whose values never appear in the audit trail: secrets, and every column
/// encrypted at rest (medical, dietary, date of birth, emergency contact, special
/// requirements, trainer feedback; `the_audit_trail_masks_every_encrypted_column` checks
/// the list against [`FIELDS`](crate::entities::encrypted::FIELDS)).
pub const MASKED: &[&str] = &[
    "password_hash",
    "token_hash",
    "date_of_birth",
    "medical_notes",
    "dietary_requirements",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relationship",
    "special_requirements",
    "trainer_feedback",
];
/// Derived or bookkeeping columns left out of change sets.
const SKIPPED: &[&str] = &["search_text", "sort_name", "updated_at"];
/// What a masked value is shown as.
pub const REDACTED: &str = "[redacted]";

/// Who did something, and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub id: Option<Uuid>,
    pub role: Option<Role>,
    pub meta: RequestMeta,
}

impl Actor {
    /// The actor behind a request (anonymous callers have no id).
    pub fn from_request(rc: &RequestContext) -> Self {
        Self {
            id: rc.actor_id(),
            role: rc.actor_role(),
            meta: rc.meta.clone(),
        }
    }

    /// The system itself (start-up, seeding, command line tools).
    pub fn system() -> Self {
        Self::default()
    }
}

/// A model's columns as JSON, masked, without derived columns.
pub fn snapshot<M: ModelTrait>(model: &M) -> Map<String, Json> {
    raw_snapshot(model)
        .into_iter()
        .map(|(name, value)| {
            let masked = mask(&name, value);
            (name, masked)
        })
        .collect()
}

fn raw_snapshot<M: ModelTrait>(model: &M) -> Map<String, Json> {
    <<M as ModelTrait>::Entity as EntityTrait>::Column::iter()
        .filter(|col| !SKIPPED.contains(&col.as_str()))
        .map(|col| {
            (
                col.as_str().to_string(),
                sea_value_to_json_value(&model.get(col)),
            )
        })
        .collect()
}

/// `{ field: { before, after } }` for every column that differs between two versions,
/// masked. With only `after` it records a creation, with only `before` a deletion.
pub fn changes<M: ModelTrait>(before: Option<&M>, after: Option<&M>) -> Json {
    let before = before.map(raw_snapshot).unwrap_or_default();
    let after = after.map(raw_snapshot).unwrap_or_default();
    let mut out = Map::new();
    let keys = before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(*k)));
    for key in keys {
        let (b, a) = (before.get(key), after.get(key));
        if b != a {
            let b = mask(key, b.cloned().unwrap_or(Json::Null));
            let a = mask(key, a.cloned().unwrap_or(Json::Null));
            out.insert(key.clone(), json!({ "before": b, "after": a }));
        }
    }
    Json::Object(out)
}

fn mask(name: &str, value: Json) -> Json {
    if MASKED.contains(&name) && !value.is_null() {
        Json::String(REDACTED.into())
    } else {
        value
    }
}

/// Writes one audit row.
#[tracing::instrument(level = "debug", skip_all, fields(%action, entity_id = entity_id.map(tracing::field::display)))]
pub async fn record(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    entity_type: &str,
    entity_id: Option<Uuid>,
    changes: Option<Json>,
) -> AppResult<()> {
    audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        actor_id: Set(actor.id),
        actor_role: Set(actor.role),
        action: Set(action.to_string()),
        entity_type: Set(entity_type.to_string()),
        entity_id: Set(entity_id),
        changes: Set(changes),
        ip_address: Set(actor.meta.ip.clone()),
        user_agent: Set(actor.meta.user_agent.clone()),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// An entry for a user's activity log.
pub struct Activity<'a> {
    pub user_id: Uuid,
    pub activity_type: &'a str,
    pub description: Option<String>,
    pub related: Option<(&'a str, Uuid)>,
}

/// Writes one row of a user's activity log.
pub async fn log_activity(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    activity: Activity<'_>,
) -> AppResult<()> {
    user_activity_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(activity.user_id),
        activity_type: Set(activity.activity_type.to_string()),
        description: Set(activity.description),
        related_entity_type: Set(activity.related.map(|(t, _)| t.to_string())),
        related_entity_id: Set(activity.related.map(|(_, id)| id)),
        actor_id: Set(actor.id),
        ip_address: Set(actor.meta.ip.clone()),
        user_agent: Set(actor.meta.user_agent.clone()),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod masked_tests {
    use super::MASKED;
    use crate::entities::encrypted;

    #[test]
    fn the_audit_trail_masks_every_encrypted_column() {
        for (table, column) in encrypted::FIELDS {
            assert!(MASKED.contains(column), "{table}.{column} is not masked");
        }
    }
}
