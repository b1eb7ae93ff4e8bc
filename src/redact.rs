//! Printing URLs and values that may hold credentials, without the credentials.

/// Query parameters whose values are settings, never credentials, and stay readable
/// (`sqlite://data/snowsync.db?mode=rwc`, `postgres://…?sslmode=require`).
const PLAIN_PARAMETERS: [&str; 5] = [
    "mode",
    "cache",
    "sslmode",
    "application_name",
    "connect_timeout",
];

/// The URL with any password, every query value but the plain settings above, and any
/// fragment replaced by `REDACTED`: a webhook's `?token=…` is as secret as a password.
/// Unparsable input is withheld whole when it might hold either.
pub fn url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("REDACTED"));
            }
            if u.query().is_some() {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(name, value)| {
                        let shown = if PLAIN_PARAMETERS.contains(&name.as_ref()) {
                            value.into_owned()
                        } else {
                            "REDACTED".to_owned()
                        };
                        (name.into_owned(), shown)
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            if u.fragment().is_some() {
                u.set_fragment(Some("REDACTED"));
            }
            u.to_string()
        }
        Err(_) if !text.contains(['@', '?', '#']) => text.to_owned(),
        Err(_) => "REDACTED".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn password_in_a_database_url_is_replaced() {
        let shown = super::url("postgres://app:hunter2@db.example:5432/snowsync");
        assert_eq!(shown, "postgres://app:REDACTED@db.example:5432/snowsync");
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn url_without_credentials_is_unchanged() {
        assert_eq!(
            super::url("sqlite://data/snowsync.db?mode=rwc"),
            "sqlite://data/snowsync.db?mode=rwc"
        );
    }

    #[test]
    fn a_token_in_a_query_or_fragment_is_replaced() {
        let shown = super::url("https://hooks.example.com/in?token=s3cret&v=2#sig=abc");
        assert_eq!(
            shown,
            "https://hooks.example.com/in?token=REDACTED&v=REDACTED#REDACTED"
        );
        assert_eq!(
            super::url("postgres://db/x?sslmode=require&password=s3cret"),
            "postgres://db/x?sslmode=require&password=REDACTED"
        );
    }
}
