//! Printing URLs and values that may hold credentials, without the credentials.

/// The URL with any password replaced by `REDACTED`; unparsable input is withheld whole.
pub fn url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("REDACTED"));
            }
            u.to_string()
        }
        Err(_) if !text.contains('@') => text.to_owned(),
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
}
