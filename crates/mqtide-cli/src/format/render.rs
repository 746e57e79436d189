//! Printing a message through a parsed [`Format`].

use std::fmt::Write as _;

use mqtide::proto::{PayloadFormat, SubscriptionId};
use mqtide::{Message, PublishProperties};

use super::{Field, Format, Item, Spec, TimeField};
use crate::clock::Utc;

/// What a format reads from a message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) topic: &'a str,
    pub(crate) payload: &'a [u8],
    pub(crate) qos: u8,
    pub(crate) retain: bool,
    /// The packet identifier; 0 at QoS 0.
    pub(crate) message_id: u16,
    pub(crate) properties: &'a PublishProperties,
    /// The subscription identifiers to show: none unless the user chose
    /// one (the client numbers its subscriptions itself otherwise).
    pub(crate) subscription_ids: &'a [SubscriptionId],
}

impl<'a> View<'a> {
    /// The view of `message`; `message_id` as [`message_id`] found it.
    pub(crate) fn of(message: &'a Message, message_id: u16, show_subscription_ids: bool) -> Self {
        let ids = &message.properties().subscription_identifiers;
        Self {
            subscription_ids: if show_subscription_ids { ids } else { &[] },
            topic: message.topic(),
            payload: message.payload(),
            qos: message.qos() as u8,
            retain: message.retain(),
            message_id,
            properties: message.properties(),
        }
    }
}

/// The packet identifier of `message` (0 at QoS 0).
pub(crate) fn message_id(message: &Message) -> u16 {
    message
        .clone()
        .into_publish()
        .packet_id
        .map_or(0, std::num::NonZeroU16::get)
}

impl Format {
    /// Whether printing needs the packet identifier (`%m`, `%j`, `%J`).
    pub(crate) fn needs_message_id(&self) -> bool {
        self.items.iter().any(|item| {
            matches!(
                item,
                Item::Field(Spec {
                    field: Field::MessageId | Field::Json { .. },
                    ..
                })
            )
        })
    }

    /// Appends `message`, received at `now`, to `out`. Fails only for `%J`
    /// with a payload that is not JSON; `out` is then unchanged.
    pub(crate) fn render(&self, m: View<'_>, now: Utc, out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        for item in &self.items {
            match item {
                Item::Text(text) => out.extend_from_slice(text),
                Item::Time(field) => out.extend_from_slice(time(*field, &now).as_bytes()),
                Item::Field(spec) => match value(spec.field, m, &now) {
                    Ok(value) if self.pretty && matches!(spec.field, Field::Json { .. }) => {
                        pad(spec, &super::pretty::pretty(&value), out);
                    }
                    Ok(value) => pad(spec, &value, out),
                    Err(e) => {
                        out.truncate(start);
                        return Err(e);
                    }
                },
            }
        }
        Ok(())
    }
}

fn time(field: TimeField, t: &Utc) -> String {
    match field {
        TimeField::Year => format!("{:04}", t.year),
        TimeField::Month => format!("{:02}", t.month),
        TimeField::Day => format!("{:02}", t.day),
        TimeField::Hour => format!("{:02}", t.hour),
        TimeField::Minute => format!("{:02}", t.minute),
        TimeField::Second => format!("{:02}", t.second),
        TimeField::Nanos => format!("{:09}", t.nanos),
        TimeField::Unix => t.unix.to_string(),
        TimeField::Date => t.date(),
        TimeField::Time => t.time(),
        TimeField::Offset => "+0000".into(),
        TimeField::Zone => "UTC".into(),
    }
}

fn value(field: Field, m: View<'_>, now: &Utc) -> Result<Vec<u8>, String> {
    let p = m.properties;
    let text = |s: Option<&str>| s.unwrap_or_default().as_bytes().to_vec();
    let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default().into_bytes();
    Ok(match field {
        Field::Topic => m.topic.as_bytes().to_vec(),
        Field::Payload => m.payload.to_vec(),
        Field::Hex { upper } => hex(m.payload, upper).into_bytes(),
        Field::Qos => m.qos.to_string().into_bytes(),
        Field::Retain => vec![if m.retain { b'1' } else { b'0' }],
        Field::Length => number(Some(m.payload.len() as u64)),
        Field::MessageId => number(Some(m.message_id.into())),
        Field::Iso8601 => now.iso8601().into_bytes(),
        Field::Unix => format!("{}.{:09}", now.unix, now.nanos).into_bytes(),
        Field::Json { raw_payload } => json(m, now, raw_payload)?.into_bytes(),
        Field::UserProperties => {
            let pairs: Vec<String> = p
                .user_properties
                .iter()
                .map(|(name, value)| format!("{name}:{value}"))
                .collect();
            pairs.join(" ").into_bytes()
        }
        Field::ContentType => text(p.content_type.as_deref()),
        Field::CorrelationData => p.correlation_data.as_deref().unwrap_or_default().to_vec(),
        Field::MessageExpiry => number(p.message_expiry_interval.map(u64::from)),
        Field::PayloadFormat => number(p.payload_format_indicator.map(format_number)),
        Field::ResponseTopic => text(p.response_topic.as_deref()),
        Field::SubscriptionIds => {
            let ids: Vec<String> = m
                .subscription_ids
                .iter()
                .map(|id| id.get().to_string())
                .collect();
            ids.join(",").into_bytes()
        }
        Field::TopicAlias => number(p.topic_alias.map(|a| a.get().into())),
    })
}

fn format_number(format: PayloadFormat) -> u64 {
    u64::from(format == PayloadFormat::Utf8)
}

/// Applies width, alignment, padding and maximum width.
fn pad(spec: &Spec, value: &[u8], out: &mut Vec<u8>) {
    let value = match (spec.max, std::str::from_utf8(value)) {
        (Some(max), Ok(text)) => match text.char_indices().nth(max) {
            Some((end, _)) => &value[..end],
            None => value,
        },
        (Some(max), Err(_)) => &value[..max.min(value.len())],
        (None, _) => value,
    };
    let len = std::str::from_utf8(value).map_or(value.len(), |s| s.chars().count());
    let fill = spec.width.saturating_sub(len);
    if spec.left {
        out.extend_from_slice(value);
        out.resize(out.len() + fill, b' ');
    } else {
        // Zeros only in front of a number that is there.
        let zero = spec.zero && spec.field.is_number() && !value.is_empty();
        out.resize(out.len() + fill, if zero { b'0' } else { b' ' });
        out.extend_from_slice(value);
    }
}

fn hex(bytes: &[u8], upper: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = if upper {
            write!(out, "{b:02X}")
        } else {
            write!(out, "{b:02x}")
        };
    }
    out
}

/// `%j` / `%J`: mosquitto's JSON object. A payload that is not UTF-8
/// goes out as `payload_hex` (mosquitto would print invalid JSON).
fn json(m: View<'_>, now: &Utc, raw_payload: bool) -> Result<String, String> {
    let mut out = format!(
        "{{\"tst\":{},\"topic\":{},\"qos\":{},\"retain\":{},\"payloadlen\":{}",
        quote(&now.rfc3339_micros()),
        quote(m.topic),
        m.qos,
        u8::from(m.retain),
        m.payload.len()
    );
    if m.qos > 0 {
        let _ = write!(out, ",\"mid\":{}", m.message_id);
    }
    let properties = json_properties(m.properties, m.subscription_ids);
    if !properties.is_empty() {
        let _ = write!(out, ",\"properties\":{{{}}}", properties.join(","));
    }
    out.push_str(",\"payload");
    if m.payload.is_empty() {
        out.push_str("\":null");
    } else if raw_payload {
        if serde_json::from_slice::<serde::de::IgnoredAny>(m.payload).is_err() {
            return Err(format!(
                "the payload on {} is not valid JSON, which %J needs (%j quotes it)",
                m.topic
            ));
        }
        out.push_str("\":");
        // Valid JSON is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(m.payload));
    } else {
        match std::str::from_utf8(m.payload) {
            Ok(text) => {
                out.push_str("\":");
                out.push_str(&quote(text));
            }
            Err(_) => {
                let _ = write!(out, "_hex\":\"{}\"", hex(m.payload, false));
            }
        }
    }
    out.push('}');
    Ok(out)
}

fn json_properties(p: &PublishProperties, subscription_ids: &[SubscriptionId]) -> Vec<String> {
    let mut fields = Vec::new();
    if let Some(format) = p.payload_format_indicator {
        fields.push(format!(
            "\"payload-format-indicator\":{}",
            format_number(format)
        ));
    }
    if let Some(expiry) = p.message_expiry_interval {
        fields.push(format!("\"message-expiry-interval\":{expiry}"));
    }
    if let Some(content_type) = &p.content_type {
        fields.push(format!("\"content-type\":{}", quote(content_type)));
    }
    if let Some(topic) = &p.response_topic {
        fields.push(format!("\"response-topic\":{}", quote(topic)));
    }
    if let Some(data) = &p.correlation_data {
        fields.push(format!(
            "\"correlation-data\":{}",
            quote(&String::from_utf8_lossy(data))
        ));
    }
    for id in subscription_ids {
        fields.push(format!("\"subscription-identifier\":{}", id.get()));
    }
    if let Some(alias) = p.topic_alias {
        fields.push(format!("\"topic-alias\":{alias}"));
    }
    if !p.user_properties.is_empty() {
        let pairs: Vec<String> = p
            .user_properties
            .iter()
            .map(|(name, value)| format!("{}:{}", quote(name), quote(value)))
            .collect();
        fields.push(format!("\"user-properties\":{{{}}}", pairs.join(",")));
    }
    fields
}

/// A JSON string literal.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
