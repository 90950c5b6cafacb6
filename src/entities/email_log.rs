//! Entity for the `email_logs` table: the outbox. A row is written in the transaction of
//! the change that causes the email and sent afterwards by the mail worker
//! (`crate::mailer`), which records every attempt on it (docs/ARCHITECTURE.md, "The
//! outbox").

use sea_orm::entity::prelude::*;

use super::enums::EmailStatus;

/// One email: its recipient and rendered content, and where its delivery stands.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The customer the email is about (it moves with a merge).
    pub user_id: Uuid,
    #[sea_orm(column_type = "String(StringLen::N(320))")]
    pub recipient_email: String,
    #[sea_orm(column_type = "String(StringLen::N(300))")]
    pub subject: String,
    /// Which template rendered it: `booking_confirmation`, `certificate_ready`,
    /// `renewal_reminder`.
    #[sea_orm(column_type = "String(StringLen::N(50))")]
    pub template_name: String,
    #[sea_orm(column_type = "Text")]
    pub body_text: String,
    #[sea_orm(column_type = "Text")]
    pub body_html: String,
    pub status: EmailStatus,
    /// Delivery attempts made so far.
    pub attempts: i32,
    /// Why the last attempt failed.
    #[sea_orm(column_type = "Text", nullable)]
    pub error_message: Option<String>,
    /// When a pending email is next due to be sent.
    pub next_attempt_at: DateTimeUtc,
    /// When a worker's claim on a `sending` row expires (a crashed sender's row is then
    /// claimed again).
    #[sea_orm(nullable)]
    pub locked_until: Option<DateTimeUtc>,
    /// The claim that holds a `sending` row: only that claim may record the outcome.
    #[sea_orm(nullable)]
    pub claim_token: Option<Uuid>,
    #[sea_orm(nullable)]
    pub sent_at: Option<DateTimeUtc>,
    /// Unique when set: an email that must go only once (a reminder per certificate and
    /// window) is not queued again.
    #[sea_orm(column_type = "String(StringLen::N(200))", nullable)]
    pub dedupe_key: Option<String>,
    /// The record the email is about, e.g. `booking`.
    #[sea_orm(column_type = "String(StringLen::N(50))", nullable)]
    pub related_entity_type: Option<String>,
    #[sea_orm(nullable)]
    pub related_entity_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
