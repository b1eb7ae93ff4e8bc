//! The page shell (header, navigation, sign-out) and the small pieces every page uses.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::Operator;

/// Which section of the console a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Findings,
    Outbox,
    Mappings,
}

const SECTIONS: [(Section, &str, &str); 4] = [
    (Section::Overview, "/ui", "Overview"),
    (Section::Findings, "/ui/findings", "Findings"),
    (Section::Outbox, "/ui/outbox", "Outbox"),
    (Section::Mappings, "/ui/mappings", "Mappings"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · snowsync" }
            link rel="stylesheet" href="/ui/assets/console.css";
            link rel="icon" type="image/svg+xml" href="/ui/assets/favicon.svg";
        }
    }
}

/// A page of the signed-in console.
pub fn page(title: &str, current: Section, operator: &Operator, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header {
                    span.brand { "snowsync" }
                    nav {
                        @for (section, href, label) in SECTIONS {
                            a href=(href) class=[(section == current).then_some("current")] { (label) }
                        }
                    }
                    form method="post" action="/ui/logout" {
                        input type="hidden" name="csrf" value=(operator.session.csrf);
                        button.plain type="submit" { "Sign out" }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page outside the signed-in console: the sign-in form, an error.
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header { span.brand { "snowsync" } }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// A time as the console prints it, in UTC.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A duration in words a person reads at a glance: `3 s`, `4 min`, `2 h 5 min`, `3 d`.
pub fn age(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86400, (s % 86400) / 3600),
    }
}

/// A status as a coloured label.
pub fn status(text: &str) -> Markup {
    html! { span class={ "status " (text) } { (text) } }
}

/// The hidden CSRF field of every form.
pub fn csrf(operator: &Operator) -> Markup {
    html! { input type="hidden" name="csrf" value=(operator.session.csrf); }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_at_a_glance() {
        let s = chrono::Duration::seconds;
        assert_eq!(age(s(-5)), "0 s");
        assert_eq!(age(s(59)), "59 s");
        assert_eq!(age(s(61)), "1 min");
        assert_eq!(age(s(2 * 3600 + 5 * 60)), "2 h 5 min");
        assert_eq!(age(s(3 * 86400 + 3600)), "3 d 1 h");
    }
}
