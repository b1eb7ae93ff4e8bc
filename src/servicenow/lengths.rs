//! The `max_length` of a table's String fields, from `sys_dictionary`, cached per table: a
//! custom mapping's value is cut to what the instance's field holds, at the cost of one
//! dictionary read per table and hour rather than one per ticket.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::warn;

use super::Client;
use super::error::{Disposition, ServiceNowError};

/// How long a table's lengths are trusted: an administrator changing a field's length is
/// seen within the hour.
const TTL: Duration = Duration::from_secs(3600);

/// How long "the dictionary cannot be read" is trusted (a role the integration user lacks):
/// the fix is seen soon, and a burst of tickets costs one refused read, not one each.
const UNREADABLE_TTL: Duration = Duration::from_secs(300);

/// Tables kept at most.
const CAPACITY: u64 = 256;

/// String field → `max_length`, for one table; empty when the dictionary could not be read.
pub type StringLengths = Arc<BTreeMap<String, usize>>;

/// Shared by the clones of a client; one dictionary read per table at a time.
pub(crate) struct Cache(moka::future::Cache<String, Known>);

#[derive(Clone)]
struct Known {
    lengths: StringLengths,
    readable: bool,
}

impl Default for Cache {
    fn default() -> Self {
        Self(
            moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .expire_after(Freshness)
                .build(),
        )
    }
}

struct Freshness;

impl moka::Expiry<String, Known> for Freshness {
    fn expire_after_create(&self, _: &String, known: &Known, _: Instant) -> Option<Duration> {
        Some(if known.readable { TTL } else { UNREADABLE_TTL })
    }
}

impl Client {
    /// The `max_length` of each String field of `table` (its own and inherited), cached.
    ///
    /// An outage is an error, to be retried like any request; any other refusal (no read
    /// access to `sys_dictionary`) is logged and answered with no lengths, so tickets still go
    /// out, cut to the lengths the mapping assumes.
    pub async fn string_lengths(&self, table: &str) -> Result<StringLengths, ServiceNowError> {
        let read = async {
            match self.fields(table).await {
                Ok(fields) => Ok(Known {
                    lengths: Arc::new(
                        fields
                            .iter()
                            .filter(|f| f.is_string())
                            .filter_map(|f| Some((f.name.clone(), f.max_length? as usize)))
                            .filter(|(_, max)| *max > 0)
                            .collect(),
                    ),
                    readable: true,
                }),
                Err(e) if matches!(e.classify(), Disposition::Outage { .. }) => Err(e),
                Err(e) => {
                    warn!(table, error = %e, "field lengths of the table cannot be read from sys_dictionary; custom values are cut to the mapping's lengths");
                    Ok(Known {
                        lengths: StringLengths::default(),
                        readable: false,
                    })
                }
            }
        };
        self.inner
            .string_lengths
            .0
            .try_get_with(table.to_owned(), read)
            .await
            .map(|k| k.lengths)
            .map_err(|e| e.as_ref().clone())
    }
}
