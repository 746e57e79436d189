use proptest::prelude::*;

use super::*;

#[test]
fn topic_matches_sub_agrees_with_paho() {
    // The cases paho-mqtt's own test suite checks, plus the spec's
    // examples from §4.7.1 and §4.7.2.
    let matching = [
        ("foo/bar", "foo/bar"),
        ("foo/+", "foo/bar"),
        ("foo/+/baz", "foo/bar/baz"),
        ("foo/+/#", "foo/bar/baz"),
        ("A/B/+/#", "A/B/B/C"),
        ("#", "foo/bar/baz"),
        ("#", "/foo/bar"),
        ("/#", "/foo/bar"),
        ("$SYS/bar", "$SYS/bar"),
        ("$SYS/#", "$SYS/bar"),
        ("foo/#", "foo"),
        ("sport/tennis/player1/#", "sport/tennis/player1"),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking"),
        (
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon",
        ),
        ("sport/#", "sport"),
        ("sport/tennis/+", "sport/tennis/player1"),
        ("+/+", "/finance"),
        ("/+", "/finance"),
        ("foo/+", "foo/"),
        ("+", ""),
    ];
    let not_matching = [
        ("test/6/#", "test/3"),
        ("foo/bar", "foo"),
        ("foo/+", "foo/bar/baz"),
        ("foo/+/baz", "foo/bar/bar"),
        ("foo/+/#", "fo2/bar/baz"),
        ("/#", "foo/bar"),
        ("#", "$SYS/bar"),
        ("+/bar", "$SYS/bar"),
        ("+", "$SYS"),
        ("$BOB/bar", "$SYS/bar"),
        ("sport/tennis/+", "sport/tennis/player1/ranking"),
        ("sport/+", "sport"),
        ("+", "/finance"),
        ("foo/bar/baz", "foo/bar"),
    ];
    for (filter, topic) in matching {
        assert!(
            topic_matches_sub(filter, topic),
            "{filter} should match {topic}"
        );
    }
    for (filter, topic) in not_matching {
        assert!(
            !topic_matches_sub(filter, topic),
            "{filter} should not match {topic}"
        );
    }
}

#[test]
fn valid_topic_names() {
    for name in ["a", "/", "a/b", "$SYS/x", "a b/c", "ünïcode/✓", "//"] {
        assert_eq!(check_topic_name(name), Ok(()), "{name}");
    }
}

#[test]
fn invalid_topic_names_say_why() {
    assert_eq!(check_topic_name(""), Err(TopicError::Empty));
    assert_eq!(
        check_topic_name("a/+"),
        Err(TopicError::WildcardInTopicName)
    );
    assert_eq!(check_topic_name("#"), Err(TopicError::WildcardInTopicName));
    assert_eq!(check_topic_name("a\0b"), Err(TopicError::NullCharacter));
    let long = "x".repeat(65_536);
    assert_eq!(check_topic_name(&long), Err(TopicError::TooLong(65_536)));
    assert_eq!(check_topic_name(&long[1..]), Ok(()));
}

#[test]
fn valid_topic_filters() {
    for filter in [
        "#",
        "+",
        "a/#",
        "+/+",
        "/+",
        "a/+/b/#",
        "$SYS/#",
        "$share/group/a/+",
        "$share/g/#",
        "$sharefoo/x",
    ] {
        assert_eq!(check_topic_filter(filter), Ok(()), "{filter}");
    }
}

#[test]
fn invalid_topic_filters_say_why() {
    use TopicError as E;
    let cases = [
        ("", E::Empty),
        ("a/#/b", E::MisplacedMultiLevelWildcard),
        ("a#", E::MisplacedMultiLevelWildcard),
        ("a/b#", E::MisplacedMultiLevelWildcard),
        ("a+", E::MisplacedSingleLevelWildcard),
        ("a/+b/c", E::MisplacedSingleLevelWildcard),
        ("a\0", E::NullCharacter),
        // U+0000 in a later word, in the tail, and before a misplaced
        // wildcard (the null character is named first).
        ("sensors/building-7/\0/x", E::NullCharacter),
        ("sensors/building-7/floor/x\0", E::NullCharacter),
        ("a#/b\0", E::NullCharacter),
        ("$share/g\0/a", E::NullCharacter),
        ("$share/", E::InvalidSharedSubscription),
        ("$share/group", E::InvalidSharedSubscription),
        ("$share/group/", E::InvalidSharedSubscription),
        ("$share//a", E::InvalidSharedSubscription),
        ("$share/g+/a", E::InvalidSharedSubscription),
        ("$share/#/a", E::InvalidSharedSubscription),
        ("$share/g/a/#/b", E::MisplacedMultiLevelWildcard),
    ];
    for (filter, error) in cases {
        assert_eq!(check_topic_filter(filter), Err(error), "{filter:?}");
    }
}

#[test]
fn shared_subscription_parts() {
    let filter = TopicFilter::new("$share/workers/jobs/+").unwrap();
    assert_eq!(filter.share_group(), Some("workers"));
    assert_eq!(filter.match_part(), "jobs/+");
    assert!(filter.matches("jobs/1"));
    assert!(!filter.matches("$share/workers/jobs/1"));
    let plain = TopicFilter::new("jobs/+").unwrap();
    assert_eq!(plain.share_group(), None);
    assert_eq!(plain.match_part(), "jobs/+");
}

#[test]
fn topic_types_validate_on_every_constructor() {
    assert!(TopicName::try_from("a/+").is_err());
    assert!("a/b".parse::<TopicName>().is_ok());
    assert!(TopicFilter::try_from(String::from("a/#/b")).is_err());
    assert_eq!(TopicName::new("a/b").unwrap().as_str(), "a/b");
    assert_eq!(
        format!("{:?}", TopicFilter::new("x/#").unwrap()),
        "TopicFilter(\"x/#\")"
    );
}

#[test]
fn trie_routes_to_every_matching_subscription() {
    let mut trie = FilterTrie::new();
    let filters = [
        "home/+/temperature",
        "home/#",
        "#",
        "home/kitchen/temperature",
        "+/+/+",
        "$SYS/#",
    ];
    for (i, f) in filters.iter().enumerate() {
        trie.insert(&TopicFilter::new(*f).unwrap(), i);
    }
    trie.insert(&TopicFilter::new("$share/g/home/kitchen/+").unwrap(), 99);
    let mut got: Vec<usize> = trie
        .matches("home/kitchen/temperature")
        .into_iter()
        .copied()
        .collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3, 4, 99]);
    assert_eq!(trie.matches("$SYS/uptime"), [&5]);
    assert_eq!(trie.len(), 7);

    // Two values under one filter; removing one keeps the other.
    trie.insert(&TopicFilter::new("home/#").unwrap(), 7);
    let removed = trie.remove(&TopicFilter::new("home/#").unwrap(), |v| *v == 1);
    assert_eq!(removed, [1]);
    let mut got: Vec<usize> = trie.matches("home").into_iter().copied().collect();
    got.sort_unstable();
    assert_eq!(got, [2, 7]);
    let removed = trie.remove(&TopicFilter::new("home/+/temperature").unwrap(), |_| true);
    assert_eq!(removed, [0]);
    assert!(
        trie.remove(&TopicFilter::new("no/such/+").unwrap(), |_| true)
            .is_empty()
    );
    assert_eq!(trie.len(), 6);
}

fn level() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just(String::new()),
        Just("$x".to_owned()),
    ]
}

fn topic() -> impl Strategy<Value = String> {
    prop::collection::vec(level(), 1..5).prop_map(|levels| levels.join("/"))
}

fn filter() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop_oneof![level(), Just("+".to_owned())], 1..5),
        any::<bool>(),
    )
        .prop_map(|(mut levels, hash)| {
            if hash {
                levels.push("#".to_owned());
            }
            levels.join("/")
        })
        .prop_filter("a filter is never empty", |f| !f.is_empty())
}

proptest! {
    /// The trie and `topic_matches_sub` are two implementations of one
    /// rule: for any set of filters and any topic they must agree.
    #[test]
    fn trie_agrees_with_topic_matches_sub(
        filters in prop::collection::vec(filter(), 0..12),
        topics in prop::collection::vec(topic(), 1..8),
    ) {
        let mut trie = FilterTrie::new();
        for (i, f) in filters.iter().enumerate() {
            trie.insert(&TopicFilter::new(f.as_str()).unwrap(), i);
        }
        for t in &topics {
            let mut from_trie: Vec<usize> = trie.matches(t).into_iter().copied().collect();
            from_trie.sort_unstable();
            let brute: Vec<usize> = filters
                .iter()
                .enumerate()
                .filter(|(_, f)| topic_matches_sub(f, t))
                .map(|(i, _)| i)
                .collect();
            prop_assert_eq!(from_trie, brute, "topic {:?}", t);
        }
    }
}

proptest! {
    /// `check_topic_name`'s one-scan fast path gives the verdict, and the
    /// error, of the rules read one by one: empty, too long, U+0000, then
    /// a wildcard.
    #[test]
    fn topic_name_check_agrees_with_the_rules_one_by_one(
        topic in prop_oneof![
            "[a/+#\u{0}é$]{0,40}",
            Just("a".repeat(65_536)),
            Just(format!("{}+", "a".repeat(65_535))),
        ],
    ) {
        let expected = if topic.is_empty() {
            Err(TopicError::Empty)
        } else if topic.len() > 65_535 {
            Err(TopicError::TooLong(topic.len()))
        } else if topic.contains('\0') {
            Err(TopicError::NullCharacter)
        } else if topic.contains(['+', '#']) {
            Err(TopicError::WildcardInTopicName)
        } else {
            Ok(())
        };
        prop_assert_eq!(check_topic_name(&topic), expected, "{:?}", topic);
    }
}
