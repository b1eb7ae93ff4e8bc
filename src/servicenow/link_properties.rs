//! Properties of the `Link` header parser (`wire::link_offset`, `wire::has_link`) over arbitrary
//! headers: no panic, ServiceNow's own form read back exactly, and the two functions agree on
//! whether a `rel` is there (paging stops on one and follows the other).

use proptest::prelude::*;

use super::wire::{has_link, link_offset};

const RELS: [&str; 4] = ["first", "prev", "next", "last"];

/// A header in the form instances send: `<url?…&sysparm_offset=N>;rel="R"`, comma-separated.
fn servicenow_form() -> impl Strategy<Value = (Vec<(&'static str, i64)>, String)> {
    prop::collection::vec((prop::sample::select(&RELS[..]), any::<i64>()), 0..5).prop_map(
        |links| {
            let header = links
                .iter()
                .map(|(rel, offset)| {
                    format!(
                        "<https://dev1.service-now.com/api/now/table/incident?sysparm_limit=10&sysparm_offset={offset}>;rel=\"{rel}\""
                    )
                })
                .collect::<Vec<_>>()
                .join(",");
            (links, header)
        },
    )
}

/// Header-like text: link targets, parameters, quotes and separators in any order.
fn headerish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "<[a-z:/.?&=_0-9-]{0,30}>".prop_map(|s| s),
        Just("<https://i/x?sysparm_offset=5>".to_owned()),
        "<https://i/x\\?sysparm_offset=-?[0-9]{1,3}>; ?rel=\"?(first|prev|next|last)\"?,?"
            .prop_map(|s| s),
        "; ?rel=\"?(first|prev|next|last|[a-z]{0,5})\"?".prop_map(|s| s),
        prop::sample::select(&[",", ";", " ", "\"", "<", ">", "rel=", "sysparm_offset="][..])
            .prop_map(str::to_owned),
        ".{0,8}".prop_map(|s| s),
    ];
    prop::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_servicenow_form_is_read_back_per_rel((links, header) in servicenow_form()) {
        for rel in RELS {
            let first = links.iter().find(|(r, _)| *r == rel).map(|(_, o)| *o);
            prop_assert_eq!(link_offset(&header, rel), first, "{}", header);
            prop_assert_eq!(has_link(&header, rel), first.is_some(), "{}", header);
        }
    }

    #[test]
    fn any_header_is_read_without_panic_and_an_offset_found_means_the_rel_is_there(
        header in prop_oneof![".{0,120}", headerish()],
        rel in prop_oneof![
            3 => prop::sample::select(&RELS[..]).prop_map(str::to_owned),
            1 => ".{0,6}",
        ],
    ) {
        if link_offset(&header, &rel).is_some() {
            prop_assert!(has_link(&header, &rel), "{:?} in {:?}", rel, header);
        }
    }
}

/// Found by the property above: with an unterminated quote, `link_offset` (which trims quotes)
/// read a `next` link that `has_link` did not see, so paging would stop at that page.
#[test]
fn an_unterminated_quote_names_the_rel_for_both_readers() {
    let header = "<https://i/x?sysparm_offset=5>;rel=\"next";
    assert_eq!(link_offset(header, "next"), Some(5));
    assert!(has_link(header, "next"));
}
