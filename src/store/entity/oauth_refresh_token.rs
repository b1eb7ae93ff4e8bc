//! The `oauth_refresh_tokens` table: the sealed refresh token of `oauth_password_bootstrap`,
//! one per instance and OAuth application.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_url: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    pub username: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub obtained_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
