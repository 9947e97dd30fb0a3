//! Table tests: for every platform, at least five inputs that must give the
//! same key and three that must be refused.

use super::*;

struct Case {
    platform: Platform,
    key: &'static str,
    same: &'static [&'static str],
    refused: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        platform: Platform::X,
        key: "x:northcouncil",
        same: &[
            "https://twitter.com/NorthCouncil",
            "x.com/northcouncil?s=20",
            "@NorthCouncil",
            "https://mobile.twitter.com/NorthCouncil/",
            "https://www.x.com/NorthCouncil#top",
            "http://twitter.com/northcouncil/status/1234567890?t=abc&s=09",
            "  NorthCouncil  ",
        ],
        refused: &[
            "https://x.com/",
            "https://x.com/search?q=council",
            "@north council",
            "https://facebook.com/NorthCouncil",
            "@this_handle_is_too_long",
        ],
    },
    Case {
        platform: Platform::Facebook,
        key: "facebook:northcouncil",
        same: &[
            "facebook.com/NorthCouncil/",
            "https://www.facebook.com/NorthCouncil",
            "https://m.facebook.com/NorthCouncil?ref=bookmarks",
            "https://web.facebook.com/northcouncil/#",
            "@NorthCouncil",
            "https://fb.com/NorthCouncil?fbclid=IwAR123",
        ],
        refused: &[
            "https://www.facebook.com/",
            "https://www.facebook.com/sharer/sharer.php?u=x",
            "https://www.facebook.com/profile.php",
            "nc",
        ],
    },
    Case {
        platform: Platform::Facebook,
        key: "facebook:id:100064500000001",
        same: &[
            "https://www.facebook.com/profile.php?id=100064500000001",
            "facebook.com/profile.php?id=100064500000001&mibextid=ZbWKwL",
            "https://m.facebook.com/profile.php?id=100064500000001#",
            "https://www.facebook.com/pages/North-Council/100064500000001",
            "https://www.facebook.com/people/North-Council/100064500000001/",
            "https://www.facebook.com/100064500000001",
        ],
        refused: &[
            "https://www.facebook.com/profile.php?id=abc",
            "https://www.facebook.com/pages/North-Council",
            "https://www.facebook.com/watch/?v=1",
        ],
    },
    Case {
        platform: Platform::Instagram,
        key: "instagram:north.council",
        same: &[
            "https://www.instagram.com/north.council/",
            "instagram.com/North.Council",
            "@north.council",
            "https://instagram.com/north.council?igshid=abc123",
            "https://www.instagram.com/north.council/reels/",
            "north.council",
        ],
        refused: &[
            "https://www.instagram.com/p/Cx123/",
            "https://www.instagram.com/",
            ".north",
            "https://x.com/north.council",
        ],
    },
    Case {
        platform: Platform::Youtube,
        key: "youtube:@northcouncil",
        same: &[
            "https://www.youtube.com/@NorthCouncil",
            "youtube.com/@northcouncil/videos",
            "@NorthCouncil",
            "https://m.youtube.com/@NorthCouncil?si=xyz",
            "https://youtube.com/@northcouncil/",
        ],
        refused: &[
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://youtu.be/dQw4w9WgXcQ",
            "NorthCouncil",
            "https://www.youtube.com/",
        ],
    },
    Case {
        platform: Platform::Youtube,
        key: "youtube:channel:UCabcdefghijklmnopqrstuv",
        same: &[
            "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv",
            "youtube.com/channel/UCabcdefghijklmnopqrstuv/featured",
            "UCabcdefghijklmnopqrstuv",
            "https://m.youtube.com/channel/UCabcdefghijklmnopqrstuv?feature=share",
            "http://youtube.com/channel/UCabcdefghijklmnopqrstuv/",
        ],
        refused: &[
            "https://www.youtube.com/channel/abc",
            "https://www.youtube.com/playlist?list=PL1",
            "UCshort",
        ],
    },
    Case {
        platform: Platform::Youtube,
        key: "youtube:user:northcouncil",
        same: &[
            "https://www.youtube.com/user/NorthCouncil",
            "youtube.com/user/northcouncil/",
            "https://m.youtube.com/user/NorthCouncil/videos",
            "http://www.youtube.com/user/NORTHCOUNCIL?feature=x",
            "https://youtube.com/user/NorthCouncil#about",
        ],
        refused: &[
            "https://www.youtube.com/user/",
            "https://www.youtube.com/results?search_query=x",
            "https://vimeo.com/user/NorthCouncil",
        ],
    },
    Case {
        platform: Platform::Linkedin,
        key: "linkedin:company:north-council",
        same: &[
            "https://www.linkedin.com/company/north-council/",
            "linkedin.com/company/North-Council",
            "https://uk.linkedin.com/company/north-council?trk=public_profile",
            "https://www.linkedin.com/company/north-council/posts/?feedView=all",
            "http://linkedin.com/company/north-council#",
        ],
        refused: &[
            "north-council",
            "https://www.linkedin.com/feed/",
            "https://www.linkedin.com/company/",
            "https://linkedin.example.com/company/x",
        ],
    },
    Case {
        platform: Platform::Linkedin,
        key: "linkedin:in:alex-example",
        same: &[
            "https://www.linkedin.com/in/alex-example/",
            "linkedin.com/in/Alex-Example",
            "https://uk.linkedin.com/in/alex-example?originalSubdomain=uk",
            "https://www.linkedin.com/in/alex-example/details/experience/",
            "https://m.linkedin.com/in/alex-example",
        ],
        refused: &[
            "https://www.linkedin.com/in/",
            "https://www.linkedin.com/jobs/view/1",
            "@alex-example",
        ],
    },
    Case {
        platform: Platform::Tiktok,
        key: "tiktok:northcouncil",
        same: &[
            "https://www.tiktok.com/@NorthCouncil",
            "tiktok.com/@northcouncil?lang=en",
            "@NorthCouncil",
            "https://m.tiktok.com/@northcouncil/",
            "https://www.tiktok.com/@northcouncil/video/7234567890123456789",
        ],
        refused: &[
            "https://www.tiktok.com/northcouncil",
            "https://www.tiktok.com/",
            "@n",
            "https://www.tiktok.com/@north council",
        ],
    },
    Case {
        platform: Platform::Threads,
        key: "threads:north.council",
        same: &[
            "https://www.threads.net/@north.council",
            "threads.net/@North.Council",
            "@north.council",
            "https://threads.com/@north.council?xmt=abc",
            "https://www.threads.net/@north.council/post/C1",
        ],
        refused: &[
            "https://www.threads.net/north.council",
            "https://www.threads.net/",
            "https://www.instagram.com/@north.council",
        ],
    },
    Case {
        platform: Platform::Bluesky,
        key: "bluesky:northcouncil.bsky.social",
        same: &[
            "https://bsky.app/profile/northcouncil.bsky.social",
            "bsky.app/profile/NorthCouncil.bsky.social/",
            "@northcouncil.bsky.social",
            "NorthCouncil.bsky.social",
            "https://bsky.app/profile/northcouncil.bsky.social/post/3k",
        ],
        refused: &[
            "https://bsky.app/",
            "@northcouncil",
            "https://bsky.app/search?q=x",
        ],
    },
    Case {
        platform: Platform::Bluesky,
        key: "bluesky:did:plc:z72i7hdynmk6r22z27h6tvur",
        same: &[
            "did:plc:z72i7hdynmk6r22z27h6tvur",
            "https://bsky.app/profile/did:plc:z72i7hdynmk6r22z27h6tvur",
            "DID:PLC:Z72I7HDYNMK6R22Z27H6TVUR",
            "@did:plc:z72i7hdynmk6r22z27h6tvur",
            "bsky.app/profile/did:plc:z72i7hdynmk6r22z27h6tvur/",
        ],
        refused: &["did:foo:abc", "did:plc:", "did:plc:has space"],
    },
    Case {
        platform: Platform::Mastodon,
        key: "mastodon:northcouncil@mastodon.social",
        same: &[
            "@northcouncil@mastodon.social",
            "northcouncil@Mastodon.Social",
            "https://mastodon.social/@NorthCouncil",
            "https://mastodon.social/users/northcouncil",
            "https://other.example/@northcouncil@mastodon.social",
            "mastodon.social/@northcouncil/112233?x=1",
        ],
        refused: &[
            "@northcouncil",
            "https://mastodon.social/",
            "https://mastodon.social/about",
            "@north council@mastodon.social",
        ],
    },
    Case {
        platform: Platform::Flickr,
        key: "flickr:northcouncil",
        same: &[
            "https://www.flickr.com/photos/northcouncil/",
            "flickr.com/photos/NorthCouncil",
            "https://www.flickr.com/people/northcouncil/",
            "https://m.flickr.com/photos/northcouncil/albums",
            "@northcouncil",
        ],
        refused: &[
            "https://www.flickr.com/",
            "https://www.flickr.com/photos/tags/council",
            "https://www.flickr.com/explore",
        ],
    },
    Case {
        platform: Platform::Pinterest,
        key: "pinterest:northcouncil",
        same: &[
            "https://www.pinterest.com/northcouncil/",
            "pinterest.co.uk/NorthCouncil",
            "https://uk.pinterest.com/northcouncil/_saved/",
            "@northcouncil",
            "https://pinterest.com/northcouncil?utm_source=x",
        ],
        refused: &[
            "https://www.pinterest.com/pin/123/",
            "https://www.pinterest.com/",
            "@nc",
        ],
    },
    Case {
        platform: Platform::Nextdoor,
        key: "nextdoor:agency:england/north-council",
        same: &[
            "https://nextdoor.co.uk/agency-detail/england/north-council/",
            "nextdoor.co.uk/agency-detail/England/North-Council",
            "https://nextdoor.com/agency-detail/england/north-council?utm_campaign=x",
            "https://www.nextdoor.co.uk/agency-detail/england/north-council/#",
            "http://nextdoor.co.uk/agency-detail/england/north-council",
        ],
        refused: &[
            "https://nextdoor.co.uk/",
            "northcouncil",
            "https://nextdoor.co.uk/news_feed/",
        ],
    },
    Case {
        platform: Platform::Whatsapp,
        key: "whatsapp:channel:0029VaNorthCouncil01",
        same: &[
            "https://whatsapp.com/channel/0029VaNorthCouncil01",
            "whatsapp.com/channel/0029VaNorthCouncil01/",
            "https://www.whatsapp.com/channel/0029VaNorthCouncil01?utm_source=x",
            "http://whatsapp.com/channel/0029VaNorthCouncil01#",
            "https://m.whatsapp.com/channel/0029VaNorthCouncil01",
        ],
        refused: &[
            "https://wa.me/447700900123",
            "0029VaNorthCouncil01",
            "https://whatsapp.com/channel/",
        ],
    },
    Case {
        platform: Platform::Website,
        key: "website:northcouncil.gov.uk/libraries/blog",
        same: &[
            "https://www.northcouncil.gov.uk/libraries/blog/",
            "http://northcouncil.gov.uk/libraries/blog",
            "northcouncil.gov.uk/libraries/blog?utm_source=newsletter",
            "https://NorthCouncil.gov.uk/libraries/blog#latest",
            "www.northcouncil.gov.uk/libraries/blog",
        ],
        refused: &[
            "",
            "not a web address",
            "https://localhost/blog",
            "ftp://northcouncil.gov.uk/feed",
        ],
    },
];

#[test]
fn every_platform_maps_the_ways_people_write_an_account_to_one_key() {
    for case in CASES {
        assert!(
            case.same.len() >= 5,
            "{}: at least five same-key inputs",
            case.key
        );
        for input in case.same {
            let key = normalise(case.platform, input)
                .unwrap_or_else(|e| panic!("{:?} `{input}`: {e}", case.platform));
            assert_eq!(key.to_string(), case.key, "{:?} `{input}`", case.platform);
        }
    }
}

#[test]
fn every_platform_refuses_what_is_not_one_of_its_accounts_with_a_message() {
    for case in CASES {
        assert!(
            case.refused.len() >= 3,
            "{}: at least three refused inputs",
            case.key
        );
        for input in case.refused {
            match normalise(case.platform, input) {
                Ok(key) => panic!("{:?} `{input}` was accepted as {key}", case.platform),
                Err(NotAnAccount(message)) => assert!(!message.is_empty()),
            }
        }
    }
}

#[test]
fn every_platform_has_a_table_case() {
    for p in Platform::ALL {
        assert!(
            CASES.iter().any(|c| c.platform == p),
            "{p} has no normaliser table"
        );
    }
}

#[test]
fn a_canonical_key_normalises_back_to_itself_through_its_profile_url() {
    for case in CASES {
        let key = normalise(case.platform, case.same[0]).unwrap();
        let again = normalise(case.platform, &key.url()).unwrap();
        assert_eq!(again, key, "{}", key.url());
    }
}

#[test]
fn a_pasted_url_names_its_platform_and_a_bare_handle_may_match_several() {
    let keys = candidates("https://twitter.com/NorthCouncil?s=20");
    assert_eq!(
        keys.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["x:northcouncil"]
    );
    let keys = candidates("https://mastodon.social/@northcouncil");
    assert_eq!(keys[0].to_string(), "mastodon:northcouncil@mastodon.social");
    let keys = candidates("https://www.northcouncil.gov.uk/news/");
    assert_eq!(keys[0].to_string(), "website:northcouncil.gov.uk/news");
    let keys: Vec<String> = candidates("@NorthCouncil")
        .iter()
        .map(ToString::to_string)
        .collect();
    for expected in [
        "x:northcouncil",
        "instagram:northcouncil",
        "tiktok:northcouncil",
        "facebook:northcouncil",
    ] {
        assert!(
            keys.contains(&expected.to_owned()),
            "{expected} in {keys:?}"
        );
    }
}
