//! Creates the `consent_events` table: the append-only history of a person's consents
//! (marketing, SMS, newsletter, sharing medical details with the trainer). Each row is one
//! change: which consent, its new value, where it came from (booking, portal, admin,
//! import), who made it and from which address, and when. It is the proof of consent UK
//! GDPR asks for, so rows are only ever added (and go with the user: ON DELETE CASCADE).

use crate::helpers::{foreign_key, index};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConsentEvents::Table)
                    .col(pk_uuid(ConsentEvents::Id))
                    .col(uuid(ConsentEvents::UserId))
                    .col(string_len(ConsentEvents::Consent, 30))
                    .col(boolean(ConsentEvents::Granted))
                    .col(string_len(ConsentEvents::Source, 20))
                    .col(uuid_null(ConsentEvents::ActorId))
                    .col(string_len_null(ConsentEvents::IpAddress, 45))
                    .col(timestamp_with_time_zone(ConsentEvents::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_consent_events_user_id",
                        ConsentEvents::Table,
                        ConsentEvents::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_consent_events_actor_id",
                        ConsentEvents::Table,
                        ConsentEvents::ActorId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(index(
                "idx_consent_events_user_id_created_at",
                ConsentEvents::Table,
                [ConsentEvents::UserId, ConsentEvents::CreatedAt],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_consent_events_actor_id",
                ConsentEvents::Table,
                [ConsentEvents::ActorId],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConsentEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ConsentEvents {
    Table,
    Id,
    UserId,
    Consent,
    Granted,
    Source,
    ActorId,
    IpAddress,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
