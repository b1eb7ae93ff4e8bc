//! A console session over plain HTTP, as a browser keeps it: the session cookie carried by
//! hand and the CSRF token read from each form.

/// A signed-in (or not yet signed-in) console session.
pub struct Console {
    pub http: reqwest::Client,
    pub base: String,
    /// The `snowsync_session=…` pair to send back.
    pub cookie: Option<String>,
    /// The CSRF token of the last form read.
    pub csrf: Option<String>,
}

/// The `name=value` of the session cookie a response sets, and the whole header.
pub fn session_cookie(response: &reqwest::Response) -> Option<(String, String)> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("snowsync_session="))
        .map(|v| {
            let pair = v.split(';').next().unwrap_or_default().to_owned();
            (pair, v.to_owned())
        })
}

/// The value of the first `name="csrf"` field of a page.
pub fn csrf_of(page: &str) -> Option<String> {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
}

impl Console {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            cookie: None,
            csrf: None,
        }
    }

    /// GETs `path` with the session cookie: the status and the page.
    pub async fn get(&mut self, path: &str) -> (u16, String) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let response = request.send().await.expect("request");
        if let Some((pair, _)) = session_cookie(&response) {
            self.cookie = Some(pair);
        }
        let status = response.status().as_u16();
        let page = response.text().await.expect("text");
        if let Some(csrf) = csrf_of(&page) {
            self.csrf = Some(csrf);
        }
        (status, page)
    }

    /// POSTs the form `fields` to `path` with the session cookie: the response.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.http.post(format!("{}{path}", self.base)).form(fields);
        if let Some(cookie) = &self.cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let response = request.send().await.expect("request");
        if let Some((pair, _)) = session_cookie(&response) {
            self.cookie = Some(pair);
        }
        response
    }

    /// Signs in with `key` through the form: the sign-in's response.
    pub async fn sign_in(&mut self, key: &str) -> reqwest::Response {
        let (status, _) = self.get("/ui/login").await;
        assert_eq!(status, 200, "the sign-in form");
        let csrf = self.csrf.clone().expect("the form's CSRF token");
        self.post("/ui/login", &[("csrf", &csrf), ("key", key)])
            .await
    }
}
