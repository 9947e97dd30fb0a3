//! Platforms' permanent account ids: the id an account keeps when its
//! handle is renamed, and that a new holder of a handle does not have.
//!
//! A permanent id is kept as an [`AccountKey`] whose handle starts with
//! `pid:` (no normaliser makes such a handle), so it is claimed, stored
//! and compared like an account: `x:pid:1234567890`,
//! `youtube:pid:UCabc…`, `bluesky:pid:did:plc:…`,
//! `mastodon:pid:https://mastodon.social/users/north`.

use url::Url;

use super::{AccountKey, NotAnAccount, Platform};

/// The handle prefix that marks a permanent id.
pub const PREFIX: &str = "pid:";

/// True when `key` is a permanent id rather than an account.
pub fn is_permanent(key: &AccountKey) -> bool {
    key.handle.starts_with(PREFIX)
}

/// The platforms with a permanent id, and what it looks like.
pub fn format_of(platform: Platform) -> Option<&'static str> {
    match platform {
        Platform::X => Some("the numeric user id, e.g. 1234567890"),
        Platform::Facebook => Some("the numeric page or profile id, e.g. 100064500000001"),
        Platform::Instagram => Some("the numeric user id, e.g. 1234567890"),
        Platform::Youtube => Some("the channel id, UC followed by 22 letters, digits, - or _"),
        Platform::Bluesky => Some("the DID, e.g. did:plc:abcdefghijklmnopqrstuvwx"),
        Platform::Mastodon => Some("the account URI, e.g. https://mastodon.social/users/north"),
        _ => None,
    }
}

fn digits(s: &str) -> bool {
    (1..=20).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit())
}

fn youtube_channel(s: &str) -> bool {
    s.len() == 24
        && s.starts_with("UC")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
}

fn did(s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    let (method, id) = lower.strip_prefix("did:")?.split_once(':')?;
    let ok = match method {
        "plc" => id.len() == 24 && id.chars().all(|c| matches!(c, 'a'..='z' | '2'..='7')),
        "web" => {
            id.contains('.')
                && id.split('.').all(|l| {
                    !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        }
        _ => false,
    };
    ok.then_some(lower)
}

fn mastodon_uri(s: &str) -> Option<String> {
    let url = Url::parse(s).ok()?;
    if url.scheme() != "https" || url.query().is_some() {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    let segs: Vec<&str> = url.path_segments()?.filter(|p| !p.is_empty()).collect();
    match segs.as_slice() {
        ["users", user]
            if (1..=30).contains(&user.len())
                && user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && host.contains('.') =>
        {
            Some(format!(
                "https://{host}/users/{}",
                user.to_ascii_lowercase()
            ))
        }
        _ => None,
    }
}

/// The permanent id `input` names on `platform`, or why it is not one.
pub fn parse(platform: Platform, input: &str) -> Result<AccountKey, NotAnAccount> {
    let text = input.trim();
    let Some(format) = format_of(platform) else {
        return Err(NotAnAccount(format!(
            "{} accounts have no permanent id the registry knows",
            platform.display_name()
        )));
    };
    let id = match platform {
        Platform::X | Platform::Facebook | Platform::Instagram => {
            digits(text).then(|| text.to_owned())
        }
        Platform::Youtube => {
            let id = text
                .rsplit_once("/channel/")
                .map_or(text, |(_, id)| id.trim_end_matches('/'));
            youtube_channel(id).then(|| id.to_owned())
        }
        Platform::Bluesky => did(text),
        Platform::Mastodon => mastodon_uri(text),
        _ => None,
    };
    match id {
        Some(id) => Ok(AccountKey {
            platform,
            handle: format!("{PREFIX}{id}"),
        }),
        None => Err(NotAnAccount(format!(
            "is not a {} permanent id: give {format}",
            platform.display_name()
        ))),
    }
}

/// Every permanent id pasted text could be, on any platform (for
/// verification; digits alone could be an X, Facebook or Instagram id).
pub fn candidates(input: &str) -> Vec<AccountKey> {
    Platform::ALL
        .into_iter()
        .filter_map(|p| parse(p, input).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_platform_with_a_permanent_id_accepts_its_own_form_only() {
        let ok = [
            (Platform::X, "1234567890", "x:pid:1234567890"),
            (Platform::Instagram, " 987654 ", "instagram:pid:987654"),
            (
                Platform::Facebook,
                "100064500000001",
                "facebook:pid:100064500000001",
            ),
            (
                Platform::Youtube,
                "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv",
                "youtube:pid:UCabcdefghijklmnopqrstuv",
            ),
            (
                Platform::Bluesky,
                "did:plc:ABCDEFGHIJKLMNOPQRSTUVWX",
                "bluesky:pid:did:plc:abcdefghijklmnopqrstuvwx",
            ),
            (
                Platform::Mastodon,
                "https://Mastodon.Social/users/North",
                "mastodon:pid:https://mastodon.social/users/north",
            ),
        ];
        for (platform, input, key) in ok {
            let parsed = parse(platform, input).unwrap();
            assert_eq!(parsed.to_string(), key);
            assert!(is_permanent(&parsed));
        }
        for (platform, input) in [
            (Platform::X, "@NorthCouncil"),
            (Platform::X, "12a45"),
            (Platform::Youtube, "UCshort"),
            (Platform::Bluesky, "north.bsky.social"),
            (Platform::Bluesky, "did:plc:short"),
            (Platform::Mastodon, "http://mastodon.social/users/north"),
            (Platform::Mastodon, "https://mastodon.social/@north"),
        ] {
            assert!(parse(platform, input).is_err(), "{platform:?} {input}");
        }
        let err = parse(Platform::Tiktok, "123").unwrap_err();
        assert!(err.0.contains("no permanent id"), "{}", err.0);
    }

    #[test]
    fn digits_could_be_the_permanent_id_of_an_x_facebook_or_instagram_account() {
        let keys: Vec<String> = candidates("1234567890")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            keys,
            [
                "x:pid:1234567890",
                "facebook:pid:1234567890",
                "instagram:pid:1234567890"
            ]
        );
    }
}
