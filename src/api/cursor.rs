//! Keyset paging shared by the list endpoints: the opaque cursor (base64 of the last id
//! shown) and the `limit` parameter.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::ApiError;
use super::params::bad;

/// The page size without `limit`.
pub const DEFAULT_LIMIT: u64 = 50;
/// The largest `limit` a page takes.
pub const MAX_LIMIT: u64 = 500;

/// The cursor after the row `id`: opaque to clients, so its form may change.
pub fn encode(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

/// The id a cursor from [`encode`] names.
pub fn decode(cursor: &str) -> Result<i64, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            bad(
                "cursor",
                "not a cursor from `next_cursor` of an earlier page".to_owned(),
            )
        })
}

/// A `limit` from 1 to [`MAX_LIMIT`].
pub fn limit(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            bad(
                "limit",
                format!("expected an integer from 1 to {MAX_LIMIT}, got `{text}`"),
            )
        })
}
