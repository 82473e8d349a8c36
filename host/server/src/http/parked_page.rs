//! [`ParkedQuery`]: where a page of parked events starts and how long it is, for a group's
//! parked events and a reactor's alike (both keep them in the shared parked ledger).

use serde::Deserialize;

use crate::http::error::ApiError;

/// Where a page of parked events starts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ParkedQuery {
    /// Parked events after this position (default 0).
    after: Option<u64>,
    /// The most to return (default 100, at most 1,000).
    limit: Option<usize>,
}

impl ParkedQuery {
    /// The position the page starts after, and its length; a limit out of range is refused.
    pub(crate) fn page(&self) -> Result<(u64, usize), ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=1_000).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "limit must be 1 to 1,000",
            ));
        }
        Ok((self.after.unwrap_or(0), limit))
    }
}
