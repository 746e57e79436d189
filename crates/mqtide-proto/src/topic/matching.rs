//! Matching one filter against one topic.

/// Whether `topic` matches the subscription `filter`, with the semantics of
/// paho-mqtt's `topic_matches_sub`:
///
/// - `+` matches exactly one level, `#` the rest of the topic including
///   nothing at all, so `sport/#` matches `sport` (spec §4.7.1.2);
/// - a filter that starts with a wildcard never matches a topic that starts
///   with `$` ([MQTT-4.7.2-1]);
/// - the filter is taken as written: a `$share/` prefix is not stripped
///   (see [`TopicFilter::matches`](super::TopicFilter::matches) for that),
///   and an invalid filter simply matches less.
///
/// ```
/// use mqtide_proto::topic_matches_sub;
/// assert!(topic_matches_sub("sport/tennis/+", "sport/tennis/player1"));
/// assert!(topic_matches_sub("sport/#", "sport"));
/// assert!(!topic_matches_sub("#", "$SYS/broker/uptime"));
/// ```
pub fn topic_matches_sub(filter: &str, topic: &str) -> bool {
    let dollar = topic.starts_with('$');
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    let mut first = true;
    loop {
        let filter_level = filter_levels.next();
        // `#` as the last filter level matches whatever is left.
        if filter_level == Some("#") && filter_levels.clone().next().is_none() {
            return !(first && dollar);
        }
        match (filter_level, topic_levels.next()) {
            (None, None) => return true,
            (Some(f), Some(t)) if f == t || (f == "+" && !(first && dollar)) => {}
            _ => return false,
        }
        first = false;
    }
}
