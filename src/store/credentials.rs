//! The store's side of `oauth_password_bootstrap`: the sealed refresh token per instance and
//! OAuth application, read and replaced for the ServiceNow client through its
//! [`TokenStore`] seam. It sees only ciphertext; sealing and opening are the client's.

use std::sync::Arc;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Set};

use super::entity::oauth_refresh_token;
use crate::servicenow::{CredentialKey, SealedToken, StoreFuture, TokenStore};

/// The token stored for `key`, if any.
pub async fn load(
    db: &impl ConnectionTrait,
    key: &CredentialKey,
) -> Result<Option<SealedToken>, DbErr> {
    let row =
        oauth_refresh_token::Entity::find_by_id((key.instance_url.clone(), key.client_id.clone()))
            .one(db)
            .await?;
    Ok(row.map(|r| SealedToken {
        username: r.username,
        nonce: r.nonce,
        ciphertext: r.ciphertext,
        obtained_at: r.obtained_at,
    }))
}

/// Stores `token` for `key`, replacing the one stored before in the same statement.
pub async fn save(
    db: &impl ConnectionTrait,
    key: &CredentialKey,
    token: &SealedToken,
) -> Result<(), DbErr> {
    use oauth_refresh_token::Column;
    oauth_refresh_token::Entity::insert(oauth_refresh_token::ActiveModel {
        instance_url: Set(key.instance_url.clone()),
        client_id: Set(key.client_id.clone()),
        username: Set(token.username.clone()),
        nonce: Set(token.nonce.clone()),
        ciphertext: Set(token.ciphertext.clone()),
        obtained_at: Set(token.obtained_at),
    })
    .on_conflict(
        OnConflict::columns([Column::InstanceUrl, Column::ClientId])
            .update_columns([
                Column::Username,
                Column::Nonce,
                Column::Ciphertext,
                Column::ObtainedAt,
            ])
            .to_owned(),
    )
    .exec(db)
    .await
    .map(drop)
}

/// The database as the client's token store.
pub fn token_store(db: DatabaseConnection) -> Arc<dyn TokenStore> {
    Arc::new(Tokens(db))
}

struct Tokens(DatabaseConnection);

impl TokenStore for Tokens {
    fn load<'a>(&'a self, key: &'a CredentialKey) -> StoreFuture<'a, Option<SealedToken>> {
        Box::pin(async move { Ok(load(&self.0, key).await?) })
    }

    fn save<'a>(&'a self, key: &'a CredentialKey, token: &'a SealedToken) -> StoreFuture<'a, ()> {
        Box::pin(async move { Ok(save(&self.0, key, token).await?) })
    }
}
