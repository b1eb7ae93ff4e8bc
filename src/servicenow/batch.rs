//! The Batch API (`POST /api/now/v1/batch`): several independent Table API requests in one
//! HTTP call, each answered on its own. Items the instance leaves unserviced are re-sent.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Client;
use super::error::ServiceNowError;
use super::table::{ACTUAL_VALUES, NO_LINKS, fields_param, own, record_path, table_path};
use super::transport::{self, Call, Reply};
use super::wire::{Record, ResultBody};

/// Rounds of sending before an unserviced item is reported as such.
const ROUNDS: usize = 3;

/// How long the client keeps to single requests after the instance refused the Batch API.
const SINGLE_REQUESTS_FOR: Duration = Duration::from_secs(600);

/// Whether the instance takes Batch API calls: after a refusal, not until the given time.
#[derive(Default)]
pub(crate) struct Support(Mutex<Option<tokio::time::Instant>>);

impl Support {
    fn usable(&self) -> bool {
        let mut refused_until = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match *refused_until {
            Some(until) if tokio::time::Instant::now() < until => false,
            Some(_) => {
                *refused_until = None;
                true
            }
            None => true,
        }
    }

    fn refused(&self, err: &ServiceNowError) {
        let mut refused_until = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if refused_until.is_none() {
            tracing::warn!(
                error = %err,
                "the instance refuses the Batch API; sending one request per write for {}",
                humantime::format_duration(SINGLE_REQUESTS_FOR)
            );
        }
        *refused_until = Some(tokio::time::Instant::now() + SINGLE_REQUESTS_FOR);
    }
}

/// One request inside a batch.
#[derive(Debug, Clone)]
pub struct BatchRequest {
    /// Chosen by the caller, unique within the batch; the response carries it back.
    pub id: String,
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
}

/// The answer to one [`BatchRequest`].
#[derive(Debug)]
pub struct BatchResponse {
    pub id: String,
    /// The records the item returned: the one written or read, or a query's matches; none
    /// for a 404 on a read or an empty body.
    pub result: Result<Vec<Record>, ServiceNowError>,
}

impl BatchResponse {
    /// The one record a create, update or read returned, if any.
    pub fn record(self) -> Result<Option<Record>, ServiceNowError> {
        self.result.map(|records| records.into_iter().next())
    }
}

impl BatchRequest {
    /// A create (`POST`), returning `return_fields`.
    pub fn create(
        id: impl Into<String>,
        table: &str,
        fields: &Map<String, Value>,
        return_fields: &[&str],
    ) -> Result<Self, ServiceNowError> {
        Ok(Self {
            id: id.into(),
            method: Method::POST,
            path: table_path(table)?,
            query: vec![fields_param(return_fields)?, own(NO_LINKS)],
            body: Some(Value::Object(fields.clone())),
        })
    }

    /// A partial update (`PATCH`), returning `return_fields`.
    pub fn patch(
        id: impl Into<String>,
        table: &str,
        sys_id: &str,
        fields: &Map<String, Value>,
        return_fields: &[&str],
    ) -> Result<Self, ServiceNowError> {
        Ok(Self {
            id: id.into(),
            method: Method::PATCH,
            path: record_path(table, sys_id)?,
            query: vec![fields_param(return_fields)?, own(NO_LINKS)],
            body: Some(Value::Object(fields.clone())),
        })
    }

    /// A read of one record.
    pub fn get(
        id: impl Into<String>,
        table: &str,
        sys_id: &str,
        fields: &[&str],
    ) -> Result<Self, ServiceNowError> {
        Ok(Self {
            id: id.into(),
            method: Method::GET,
            path: record_path(table, sys_id)?,
            query: vec![fields_param(fields)?, own(NO_LINKS)],
            body: None,
        })
    }

    /// A query: at most `limit` records of `table` matching `encoded_query`.
    pub fn query(
        id: impl Into<String>,
        table: &str,
        encoded_query: &str,
        fields: &[&str],
        limit: u32,
    ) -> Result<Self, ServiceNowError> {
        Ok(Self {
            id: id.into(),
            method: Method::GET,
            path: table_path(table)?,
            query: vec![
                ("sysparm_query", encoded_query.to_owned()),
                fields_param(fields)?,
                own(NO_LINKS),
                own(ACTUAL_VALUES),
                ("sysparm_limit", limit.to_string()),
            ],
            body: None,
        })
    }

    fn endpoint(&self) -> String {
        format!("/{}", self.path)
    }
}

#[derive(Serialize)]
struct WireBatch<'a> {
    batch_request_id: String,
    rest_requests: Vec<WireRequest<'a>>,
}

#[derive(Serialize)]
struct WireRequest<'a> {
    id: &'a str,
    method: &'a str,
    url: String,
    headers: Vec<WireHeader>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct WireHeader {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct WireAnswer {
    #[serde(default)]
    serviced_requests: Vec<WireServiced>,
}

#[derive(Deserialize)]
struct WireServiced {
    id: String,
    status_code: u16,
    #[serde(default)]
    headers: Vec<WireHeader>,
    #[serde(default)]
    body: Option<String>,
}

impl Client {
    /// False for a while after the instance refused a Batch API call as a whole
    /// ([`ServiceNowError::refuses_batch_api`]): callers then send one request per write.
    pub fn batch_usable(&self) -> bool {
        self.inner.batch_support.usable()
    }

    /// Sends `requests` in one Batch API call (re-sending unserviced items up to three rounds)
    /// and returns one response per request, in the order given. The call itself failing
    /// (auth, transport, status) is the error; each item's own failure is in its `result`.
    pub async fn batch(
        &self,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, ServiceNowError> {
        let mut seen = HashSet::new();
        if let Some(dup) = requests.iter().find(|r| !seen.insert(r.id.as_str())) {
            return Err(ServiceNowError::InvalidRequest(format!(
                "batch request id `{}` is used twice",
                dup.id
            )));
        }
        let mut answers: HashMap<String, Result<Vec<Record>, ServiceNowError>> = HashMap::new();
        let mut pending: Vec<&BatchRequest> = requests.iter().collect();
        let mut renewed = false;
        for _ in 0..ROUNDS {
            if pending.is_empty() {
                break;
            }
            let answer = match self.batch_round(&pending).await {
                Ok(answer) => answer,
                Err(err) => {
                    if err.refuses_batch_api() {
                        self.inner.batch_support.refused(&err);
                    }
                    return Err(err);
                }
            };
            let by_id: HashMap<&str, &BatchRequest> =
                pending.iter().map(|r| (r.id.as_str(), *r)).collect();
            let mut unauthorized = false;
            for item in answer.serviced_requests {
                // An item refused with 401 was not applied: the token died during the batch
                // (revoked or expired). Renew once and send those items again.
                if item.status_code == 401 && !renewed {
                    unauthorized = true;
                    continue;
                }
                if let Some(req) = by_id.get(item.id.as_str()) {
                    answers.insert(item.id.clone(), item_result(req, &item));
                }
            }
            if unauthorized {
                renewed = true;
                self.transport().renew_token().await?;
            }
            pending.retain(|r| !answers.contains_key(&r.id));
        }
        Ok(requests
            .iter()
            .map(|r| BatchResponse {
                id: r.id.clone(),
                result: answers
                    .remove(&r.id)
                    .unwrap_or_else(|| Err(ServiceNowError::Unserviced { id: r.id.clone() })),
            })
            .collect())
    }

    async fn batch_round(&self, pending: &[&BatchRequest]) -> Result<WireAnswer, ServiceNowError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let base = self.instance_url();
        let mut items = Vec::with_capacity(pending.len());
        for r in pending {
            let mut url = base
                .join(&r.path)
                .map_err(|e| ServiceNowError::InvalidRequest(format!("path `{}`: {e}", r.path)))?;
            url.query_pairs_mut().extend_pairs(r.query.iter());
            let mut headers = vec![WireHeader {
                name: "Accept".into(),
                value: "application/json".into(),
            }];
            let body = r.body.as_ref().map(|b| {
                headers.push(WireHeader {
                    name: "Content-Type".into(),
                    value: "application/json".into(),
                });
                b64.encode(b.to_string())
            });
            items.push(WireRequest {
                id: &r.id,
                method: r.method.as_str(),
                url: format!("{}?{}", url.path(), url.query().unwrap_or("")),
                headers,
                body,
            });
        }
        let wire = serde_json::to_value(WireBatch {
            batch_request_id: uuid::Uuid::new_v4().to_string(),
            rest_requests: items,
        })
        .map_err(|e| ServiceNowError::InvalidRequest(format!("batch body: {e}")))?;
        let call = Call {
            op: "batch",
            method: Method::POST,
            path: "api/now/v1/batch".into(),
            query: Vec::new(),
            body: Some(&wire),
            // The instance runs the items one after another, each as long as a request may be.
            lasting: Some(
                self.inner
                    .transport
                    .timeout
                    .saturating_mul(u32::try_from(pending.len()).unwrap_or(u32::MAX)),
            ),
        };
        let reply = self.transport().send_ok(&call).await?;
        serde_json::from_slice(&reply.body).map_err(|e| ServiceNowError::Decode {
            method: call.method.clone(),
            endpoint: call.endpoint(),
            message: format!("not a batch answer ({e})"),
        })
    }
}

/// One serviced item as the outcome of its request.
fn item_result(req: &BatchRequest, item: &WireServiced) -> Result<Vec<Record>, ServiceNowError> {
    let endpoint = req.endpoint();
    let body = match &item.body {
        Some(b) if !b.is_empty() => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| ServiceNowError::Decode {
                method: req.method.clone(),
                endpoint: endpoint.clone(),
                message: format!("batch item body is not base64 ({e})"),
            })?,
        _ => Vec::new(),
    };
    let mut headers = reqwest::header::HeaderMap::new();
    for h in &item.headers {
        if let (Ok(k), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(h.name.as_bytes()),
            reqwest::header::HeaderValue::from_str(&h.value),
        ) {
            headers.append(k, v);
        }
    }
    let status = StatusCode::from_u16(item.status_code).map_err(|_| ServiceNowError::Decode {
        method: req.method.clone(),
        endpoint: endpoint.clone(),
        message: format!(
            "batch item status {} is not an HTTP status",
            item.status_code
        ),
    })?;
    let reply = Reply {
        status,
        headers,
        body,
    };
    if status == StatusCode::NOT_FOUND && req.method == Method::GET {
        return Ok(Vec::new());
    }
    if status.is_success() && reply.body.is_empty() {
        return Ok(Vec::new());
    }
    let reply = transport::success(&req.method, &endpoint, reply)?;
    match transport::decode(&req.method, &endpoint, &reply)? {
        ResultBody::One(r) => Ok(vec![r]),
        ResultBody::Many(rows) => Ok(rows),
        ResultBody::Missing => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::WireAnswer;

    #[test]
    fn an_answer_parses_whether_its_batch_request_id_is_a_string_or_a_number() {
        // A real instance answers a string; an instance answering PySNC's number as a
        // number must not make a delivered batch look failed.
        for id in ["\"b1\"", "7"] {
            let text = format!(
                r#"{{"batch_request_id": {id}, "serviced_requests": [{{"id": "1", "status_code": 201, "headers": [], "body": ""}}], "unserviced_requests": []}}"#
            );
            let answer: WireAnswer = serde_json::from_str(&text).expect("an answer");
            assert_eq!(answer.serviced_requests.len(), 1);
        }
    }
}
