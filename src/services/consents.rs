//! Consent history (`consent_events`): the proof of consent UK GDPR asks for. Every writer
//! of a user's four consent columns (`marketing_consent`, `sms_consent`,
//! `newsletter_subscribed`, `share_medical_with_trainer`) calls [`record`] with the
//! consents before and after its write, in the same transaction, and one row is appended
//! per consent that changed: its new value, the source, the actor and the actor's address.
//! Rows are never updated; they go with the user (ON DELETE CASCADE) and move with a merge.
//!
//! The writers (docs/ARCHITECTURE.md, "Consent history"): `users::save_changes` (so
//! `updateUser`, source ADMIN, and the portal's `updateMyProfile`, source PORTAL),
//! `users::create` (`createUser`, ADMIN), `createBooking` for a customer it creates
//! (BOOKING), the legacy import for a customer it creates (IMPORT), and a merge or its undo
//! when the survivor's consents change (ADMIN).

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entities::consent_event;
use crate::entities::enums::{ConsentKind, ConsentSource};
use crate::entities::user;
use crate::error::AppResult;
use crate::services::audit::Actor;
use crate::services::keys;

/// A person's four consents, each `None` when not known or not set: the columns of a
/// profile ([`Consents::of`]), what a booking or an import row chose for a new customer,
/// or nothing at all before a profile exists ([`Consents::default`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Consents {
    pub marketing: Option<bool>,
    pub sms: Option<bool>,
    pub newsletter: Option<bool>,
    pub share_medical_with_trainer: Option<bool>,
}

impl Consents {
    /// The consents a profile holds.
    pub fn of(m: &user::Model) -> Self {
        Self {
            marketing: Some(m.marketing_consent),
            sms: Some(m.sms_consent),
            newsletter: Some(m.newsletter_subscribed),
            share_medical_with_trainer: Some(m.share_medical_with_trainer),
        }
    }

    /// Sets on a profile the consents that are set here, leaving the others alone.
    pub fn apply_to(&self, m: &mut user::Model) {
        if let Some(v) = self.marketing {
            m.marketing_consent = v;
        }
        if let Some(v) = self.sms {
            m.sms_consent = v;
        }
        if let Some(v) = self.newsletter {
            m.newsletter_subscribed = v;
        }
        if let Some(v) = self.share_medical_with_trainer {
            m.share_medical_with_trainer = v;
        }
    }

    fn entries(&self) -> [(ConsentKind, Option<bool>); 4] {
        [
            (ConsentKind::Marketing, self.marketing),
            (ConsentKind::Sms, self.sms),
            (ConsentKind::Newsletter, self.newsletter),
            (
                ConsentKind::ShareMedicalWithTrainer,
                self.share_medical_with_trainer,
            ),
        ]
    }
}

/// Appends one `consent_events` row for each consent set in `after` whose value differs
/// from `before` (so with `before` empty, one for each consent `after` sets: a new
/// profile's initial choices), with the source, the actor and their address. Runs in the
/// caller's transaction, after the write it records. Returns how many rows it wrote
/// (none, and no statement, when nothing changed).
pub async fn record(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    source: ConsentSource,
    user_id: Uuid,
    before: &Consents,
    after: &Consents,
) -> AppResult<usize> {
    let now = Utc::now();
    let rows: Vec<consent_event::ActiveModel> = changes(before, after)
        .into_iter()
        .map(|(consent, granted)| {
            consent_event::Model {
                id: Uuid::now_v7(),
                user_id,
                consent,
                granted,
                source,
                actor_id: actor.id,
                ip_address: actor.meta.ip.clone(),
                created_at: now,
            }
            .into_active_model()
        })
        .collect();
    let written = rows.len();
    if written > 0 {
        consent_event::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(written)
}

/// Each consent set in `after` whose value differs from `before`, with its new value.
pub fn changes(before: &Consents, after: &Consents) -> Vec<(ConsentKind, bool)> {
    before
        .entries()
        .into_iter()
        .zip(after.entries())
        .filter_map(|((kind, was), (_, now))| match now {
            Some(granted) if was != Some(granted) => Some((kind, granted)),
            _ => None,
        })
        .collect()
}

/// [`record`] for two versions of one profile.
pub async fn record_change(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    source: ConsentSource,
    before: &user::Model,
    after: &user::Model,
) -> AppResult<usize> {
    record(
        conn,
        actor,
        source,
        after.id,
        &Consents::of(before),
        &Consents::of(after),
    )
    .await
}

/// The consent history of each of `user_ids`, newest first, in one statement.
#[tracing::instrument(level = "debug", skip_all, fields(users = user_ids.len()))]
pub async fn history(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<consent_event::Model>>, DbErr> {
    let mut out: HashMap<Uuid, Vec<consent_event::Model>> = HashMap::new();
    if user_ids.is_empty() {
        return Ok(out);
    }
    let rows = consent_event::Entity::find()
        .filter(keys::any_of(
            conn.get_database_backend(),
            consent_event::Column::UserId,
            user_ids,
        ))
        .order_by_desc(consent_event::Column::CreatedAt)
        .order_by_desc(consent_event::Column::Id)
        .all(conn)
        .await?;
    for row in rows {
        out.entry(row.user_id).or_default().push(row);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_consents_set_and_changed_count() {
        let before = Consents {
            marketing: Some(false),
            sms: Some(true),
            newsletter: Some(true),
            share_medical_with_trainer: Some(false),
        };
        let after = Consents {
            marketing: Some(true),
            sms: Some(true),
            newsletter: Some(false),
            share_medical_with_trainer: None,
        };
        assert_eq!(
            changes(&before, &after),
            [
                (ConsentKind::Marketing, true),
                (ConsentKind::Newsletter, false)
            ]
        );
        assert!(changes(&after, &after).is_empty());
        // A new profile: every consent the writer set counts, refusals too.
        assert_eq!(
            changes(
                &Consents::default(),
                &Consents {
                    sms: Some(false),
                    ..Consents::default()
                }
            ),
            [(ConsentKind::Sms, false)]
        );
    }

    #[test]
    fn consents_apply_only_where_set() {
        let mut m = crate::services::users::blank(
            "a@example.com".into(),
            "A".into(),
            "B".into(),
            Utc::now(),
        );
        Consents {
            sms: Some(true),
            ..Consents::default()
        }
        .apply_to(&mut m);
        assert!(m.sms_consent);
        assert_eq!(Consents::of(&m).newsletter, Some(true), "default kept");
    }
}
