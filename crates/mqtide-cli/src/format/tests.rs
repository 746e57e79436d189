use std::num::NonZeroU16;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use mqtide::PublishProperties;
use mqtide::proto::{PayloadFormat, SubscriptionId};

use super::{Format, View};
use crate::clock::Utc;

fn now() -> Utc {
    Utc::of(UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789))
}

fn render(format: &str, view: View<'_>) -> Result<String, String> {
    let format = Format::parse(format).map_err(|e| format!("parse: {e}"))?;
    let mut out = Vec::new();
    format.render(view, now(), &mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn view<'a>(payload: &'a [u8], properties: &'a PublishProperties) -> View<'a> {
    View {
        topic: "a/b",
        payload,
        qos: 1,
        retain: true,
        message_id: 7,
        properties,
        subscription_ids: &properties.subscription_identifiers,
    }
}

#[test]
fn message_fields() {
    let none = PublishProperties::default();
    let m = view(b"hi\x01", &none);
    assert_eq!(
        render("%t|%p|%q|%r|%l|%m|%x|%X|%%", m).unwrap(),
        "a/b|hi\u{1}|1|1|3|7|686901|686901|%"
    );
    assert_eq!(
        render("%I %U", m).unwrap(),
        "2023-11-14T22:13:20+0000 1700000000.123456789"
    );
    assert_eq!(
        render("@F @T.@N @s @z @Z @@", m).unwrap(),
        "2023-11-14 22:13:20.123456789 1700000000 +0000 UTC @"
    );
    assert_eq!(render("@Y@m@d@H@M@S", m).unwrap(), "20231114221320");
    assert_eq!(render("\\t\\n\\\\\\0\\e", m).unwrap(), "\t\n\\\u{0}\u{1b}");
    // Absent 5.0 properties print nothing.
    assert_eq!(render("[%C%D%E%F%R%S%A%P]", m).unwrap(), "[]");
}

#[test]
fn widths_and_flags() {
    let none = PublishProperties::default();
    let m = view(b"payload", &none);
    assert_eq!(render("[%6t]", m).unwrap(), "[   a/b]");
    assert_eq!(render("[%-6t]", m).unwrap(), "[a/b   ]");
    assert_eq!(render("[%05l]", m).unwrap(), "[00007]");
    assert_eq!(render("[%-05l]", m).unwrap(), "[7    ]");
    // Zero padding is for numbers only.
    assert_eq!(render("[%05t]", m).unwrap(), "[  a/b]");
    assert_eq!(render("[%4.2t]", m).unwrap(), "[  a/]");
    // A missing number is blanks, not zeros.
    assert_eq!(render("[%03E]", m).unwrap(), "[   ]");
}

#[test]
fn properties() {
    let p = PublishProperties {
        payload_format_indicator: Some(PayloadFormat::Utf8),
        message_expiry_interval: Some(30),
        content_type: Some("text/plain".into()),
        response_topic: Some("re/ply".into()),
        correlation_data: Some(Bytes::from_static(b"id-1")),
        user_properties: vec![("k".into(), "v".into()), ("k".into(), "w".into())],
        subscription_identifiers: [SubscriptionId::new(5).unwrap()].into(),
        topic_alias: NonZeroU16::new(3),
    };
    let m = view(b"x", &p);
    assert_eq!(
        render("%C|%D|%E|%F|%R|%S|%A|%P", m).unwrap(),
        "text/plain|id-1|30|1|re/ply|5|3|k:v k:w"
    );
}

#[test]
fn json() {
    let mut p = PublishProperties::default();
    let m = view(b"say \"hi\"\n", &p);
    assert_eq!(
        render("%j", m).unwrap(),
        r#"{"tst":"2023-11-14T22:13:20.123456Z","topic":"a/b","qos":1,"retain":1,"payloadlen":9,"mid":7,"payload":"say \"hi\"\n"}"#
    );
    p.user_properties = vec![("k".into(), "v".into())];
    p.content_type = Some("application/json".into());
    let m = View {
        qos: 0,
        retain: false,
        ..view(br#"{"t": 21.5}"#, &p)
    };
    assert_eq!(
        render("%J", m).unwrap(),
        r#"{"tst":"2023-11-14T22:13:20.123456Z","topic":"a/b","qos":0,"retain":0,"payloadlen":11,"properties":{"content-type":"application/json","user-properties":{"k":"v"}},"payload":{"t": 21.5}}"#
    );
    // Not JSON: %J refuses the message, %j quotes it.
    let m = view(b"not json", &p);
    let error = render("before %J", m).unwrap_err();
    assert!(error.contains("not valid JSON"), "{error}");
    assert!(
        render("%j", m)
            .unwrap()
            .ends_with(r#""payload":"not json"}"#)
    );
    // Not UTF-8: hex, so that the line stays valid JSON.
    let m = view(b"\xff\x00", &p);
    assert!(
        render("%j", m)
            .unwrap()
            .ends_with(r#""payload_hex":"ff00"}"#)
    );
    let m = view(b"", &p);
    assert!(render("%j", m).unwrap().ends_with(r#""payload":null}"#));
    // Every output line parses as JSON.
    let line = render("%j", view(b"\x01\"\\", &p)).unwrap();
    serde_json::from_str::<serde_json::Value>(&line).unwrap();
}

#[test]
fn mistakes_are_refused_when_parsed() {
    for (format, says) in [
        ("%k", "%k is not a field"),
        ("100%", "ends inside a % field"),
        ("%5", "ends inside a % field"),
        ("@q", "@q is not a time field"),
        ("x@", "ends with @"),
        ("\\q", "\\q is not an escape"),
        ("a\\", "ends with \\"),
        ("%.3l", "maximum width"),
        ("%99999t", "widths go up to"),
    ] {
        let error = Format::parse(format).unwrap_err();
        assert!(error.contains(says), "{format}: {error}");
    }
}
