//! sysparm_limit and sysparm_offset, the Link header and X-Total-Count.

use std::collections::HashSet;

use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::support::{As, TestSim, body};

async fn five(sim: &TestSim) {
    for n in 0..5 {
        sim.create("incident", json!({"short_description": format!("n{n}")}))
            .await;
    }
}

/// rel → sysparm_offset of each Link entry.
fn links(value: &str) -> Vec<(String, i64)> {
    value
        .split(",<")
        .map(|part| {
            let rel = part
                .rsplit("rel=\"")
                .next()
                .unwrap()
                .trim_end_matches('"')
                .to_owned();
            let offset = part
                .split("sysparm_offset=")
                .nth(1)
                .unwrap()
                .split(['>', '&'])
                .next()
                .unwrap()
                .parse()
                .unwrap();
            (rel, offset)
        })
        .collect()
}

async fn page(sim: &TestSim, params: &str) -> reqwest::Response {
    sim.request(
        As::Integration,
        Method::GET,
        &format!("api/now/table/incident?{params}"),
    )
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_first_page_links_first_prev_next_and_last_and_counts_all_rows() {
    let sim = TestSim::start().await;
    five(&sim).await;
    let resp = page(&sim, "sysparm_limit=2").await;
    assert_eq!(resp.headers()["x-total-count"], "5");
    let link = resp.headers()[header::LINK].to_str().unwrap().to_owned();
    // prev from offset 0 has a negative offset, as the recorded instance sends it.
    assert_eq!(
        links(&link),
        [
            ("first".into(), 0),
            ("prev".into(), -2),
            ("next".into(), 2),
            ("last".into(), 4)
        ]
    );
    assert!(link.starts_with(&format!(
        "<{}",
        sim.url("api/now/table/incident?sysparm_limit=2&sysparm_offset=0")
    )));
    assert_eq!(body(resp).await["result"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_last_page_has_no_next_link() {
    let sim = TestSim::start().await;
    five(&sim).await;
    let resp = page(&sim, "sysparm_limit=2&sysparm_offset=4").await;
    let link = resp.headers()[header::LINK].to_str().unwrap().to_owned();
    assert_eq!(
        links(&link),
        [("first".into(), 0), ("prev".into(), 2), ("last".into(), 4)]
    );
    assert_eq!(body(resp).await["result"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_parameters_are_copied_into_the_links() {
    let sim = TestSim::start().await;
    five(&sim).await;
    let resp = page(&sim, "query=number%3DINC0000040&sysparm_limit=1").await;
    let link = resp.headers()[header::LINK].to_str().unwrap();
    assert!(
        link.contains("?query=number%3DINC0000040&sysparm_limit=1&sysparm_offset=1>;rel=\"next\""),
        "{link}"
    );
}

#[tokio::test]
async fn paging_by_offset_visits_every_record_once() {
    let sim = TestSim::start().await;
    five(&sim).await;
    let mut seen = HashSet::new();
    let mut offset = 0;
    // Five records in pages of two: three pages and an empty one, well within ten rounds.
    for _ in 0..10 {
        let rows = sim
            .list(
                "incident",
                &format!("sysparm_query=ORDERBYnumber&sysparm_limit=2&sysparm_offset={offset}"),
            )
            .await;
        if rows.is_empty() {
            assert_eq!(seen.len(), 5);
            return;
        }
        for r in &rows {
            assert!(seen.insert(r["number"].as_str().unwrap().to_owned()));
        }
        offset += 2;
    }
    panic!(
        "paging never reached an empty page: {} records seen",
        seen.len()
    );
}

#[tokio::test]
async fn suppress_pagination_header_and_no_count_drop_their_headers() {
    let sim = TestSim::start().await;
    five(&sim).await;
    let resp = page(
        &sim,
        "sysparm_limit=2&sysparm_suppress_pagination_header=true",
    )
    .await;
    assert!(resp.headers().get(header::LINK).is_none());
    assert_eq!(resp.headers()["x-total-count"], "5");
    let resp = page(&sim, "sysparm_limit=2&sysparm_no_count=true").await;
    assert!(resp.headers().get("x-total-count").is_none());
    let link = resp.headers()[header::LINK].to_str().unwrap();
    assert_eq!(
        links(link),
        [("first".into(), 0), ("prev".into(), -2), ("next".into(), 2)]
    );
}

#[tokio::test]
async fn a_negative_offset_is_the_documented_400() {
    let sim = TestSim::start().await;
    let (status, body) = sim.get("api/now/table/incident?sysparm_offset=-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": {"detail": "Negative offset is not supported", "message": "offset is -1"}, "status": "failure"})
    );
}

#[tokio::test]
async fn each_page_of_a_sorted_query_is_its_slice_of_the_whole_order() {
    let sim = TestSim::start().await;
    // Out of order, with ties: a tie keeps the order the records were created in.
    for (n, name) in ["d", "b", "f", "b", "a", "e", "c", "b"].iter().enumerate() {
        sim.create(
            "incident",
            json!({"short_description": name, "description": format!("{n}")}),
        )
        .await;
    }
    let order = |rows: Vec<serde_json::Value>| -> Vec<String> {
        rows.iter()
            .map(|r| {
                format!(
                    "{}{}",
                    r["short_description"].as_str().unwrap(),
                    r["description"].as_str().unwrap()
                )
            })
            .collect()
    };
    for sort in ["ORDERBYshort_description", "ORDERBYDESCshort_description"] {
        let whole = order(
            sim.list(
                "incident",
                &format!("sysparm_query={sort}&sysparm_limit=100"),
            )
            .await,
        );
        let mut paged = Vec::new();
        for offset in (0..8).step_by(3) {
            paged.extend(order(
                sim.list(
                    "incident",
                    &format!("sysparm_query={sort}&sysparm_limit=3&sysparm_offset={offset}"),
                )
                .await,
            ));
        }
        assert_eq!(paged, whole, "{sort}");
    }
    let ascending = order(
        sim.list(
            "incident",
            "sysparm_query=ORDERBYshort_description&sysparm_limit=100",
        )
        .await,
    );
    assert_eq!(ascending, ["a4", "b1", "b3", "b7", "c6", "d0", "e5", "f2"]);
}
