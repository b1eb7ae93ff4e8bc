//! `oauth_password_bootstrap`: the refresh token obtained with the password once, kept sealed
//! (AES-256-GCM, its nonce beside it) per instance and OAuth application. The database never
//! holds the token in clear; the key is in the configuration, not here.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261210_000001_oauth_refresh_tokens"
    }
}

#[derive(DeriveIden)]
enum OauthRefreshTokens {
    Table,
    InstanceUrl,
    ClientId,
    Username,
    Nonce,
    Ciphertext,
    ObtainedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One token per instance and application, by the primary key: a new one replaces it.
        manager
            .create_table(
                Table::create()
                    .table(OauthRefreshTokens::Table)
                    .col(string(OauthRefreshTokens::InstanceUrl))
                    .col(string(OauthRefreshTokens::ClientId))
                    .col(string(OauthRefreshTokens::Username))
                    .col(blob(OauthRefreshTokens::Nonce))
                    .col(blob(OauthRefreshTokens::Ciphertext))
                    // When the instance issued the token: its lifespan runs from here.
                    .col(timestamp_with_time_zone(OauthRefreshTokens::ObtainedAt))
                    .primary_key(
                        Index::create()
                            .col(OauthRefreshTokens::InstanceUrl)
                            .col(OauthRefreshTokens::ClientId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OauthRefreshTokens::Table).to_owned())
            .await
    }
}
