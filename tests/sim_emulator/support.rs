//! Test support: an emulator on port 0 and a reqwest client speaking to it as the integration
//! user, the help desk, or anonymously.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use snowsync::sim::{SimConfig, SimHandle};

/// A running emulator and a client for it.
pub struct TestSim {
    pub handle: SimHandle,
    pub http: reqwest::Client,
}

/// Whose credentials a request carries.
#[derive(Debug, Clone, Copy)]
pub enum As {
    Integration,
    HelpDesk,
    Nobody,
}

impl TestSim {
    pub async fn start() -> Self {
        Self::with(SimConfig::default()).await
    }

    pub async fn with(config: SimConfig) -> Self {
        let handle = snowsync::sim::spawn(config).await.expect("emulator starts");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Self { handle, http }
    }

    pub fn url(&self, path: &str) -> String {
        self.handle
            .base_url()
            .join(path.trim_start_matches('/'))
            .expect("url")
            .to_string()
    }

    pub fn request(&self, who: As, method: Method, path: &str) -> RequestBuilder {
        let req = self.http.request(method, self.url(path));
        let creds = match who {
            As::Integration => Some(self.handle.integration_credentials()),
            As::HelpDesk => Some(self.handle.help_desk_credentials()),
            As::Nobody => None,
        };
        match creds {
            Some((user, password)) => req.basic_auth(user, Some(password)),
            None => req,
        }
    }

    /// Sends and returns the status and JSON body (`Null` when the body is empty).
    pub async fn send(&self, req: RequestBuilder) -> (StatusCode, Value) {
        let resp = req.send().await.expect("request is answered");
        let status = resp.status();
        (status, body(resp).await)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(As::Integration, Method::GET, path))
            .await
    }

    /// Creates a record as the integration user and returns its `result`.
    pub async fn create(&self, table: &str, record: Value) -> Value {
        self.create_as(As::Integration, table, record).await
    }

    pub async fn create_as(&self, who: As, table: &str, record: Value) -> Value {
        let (status, body) = self
            .send(
                self.request(who, Method::POST, &format!("api/now/table/{table}"))
                    .json(&record),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create {table}: {body}");
        body["result"].clone()
    }

    /// PATCHes a record and returns status and body.
    pub async fn patch(
        &self,
        who: As,
        table: &str,
        sys_id: &str,
        fields: Value,
    ) -> (StatusCode, Value) {
        self.send(
            self.request(
                who,
                Method::PATCH,
                &format!("api/now/table/{table}/{sys_id}"),
            )
            .json(&fields),
        )
        .await
    }

    /// The `result` array of a list GET.
    pub async fn list(&self, table: &str, params: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("api/now/table/{table}?{params}")).await;
        assert_eq!(status, StatusCode::OK, "list {table}?{params}: {body}");
        body["result"].as_array().cloned().unwrap_or_default()
    }

    /// The sys_id of the one record of `table` matching `query`.
    pub async fn sys_id_of(&self, table: &str, query: &str) -> String {
        let rows = self
            .list(
                table,
                &format!("sysparm_query={}&sysparm_fields=sys_id", encode(query)),
            )
            .await;
        assert_eq!(rows.len(), 1, "{table} matching {query}: {rows:?}");
        rows[0]["sys_id"].as_str().expect("sys_id").to_owned()
    }
}

pub async fn body(resp: Response) -> Value {
    let bytes = resp.bytes().await.expect("body");
    if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// Percent-encodes a query parameter value.
pub fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// The ServiceNow error envelope's message and detail.
pub fn envelope(body: &Value) -> (String, Value) {
    assert_eq!(body["status"], "failure", "not an error envelope: {body}");
    (
        body["error"]["message"]
            .as_str()
            .expect("message")
            .to_owned(),
        body["error"]["detail"].clone(),
    )
}
