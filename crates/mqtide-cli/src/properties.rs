//! `-D command identifier value`: MQTT 5.0 properties in mosquitto's
//! syntax (`-D publish user-property NAME VALUE` for the one property that
//! takes two strings). Property names are the spec's, with `-` between
//! words; commands and names are matched without regard to case.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use mqtide::proto::{
    ConnectProperties, PayloadFormat, SubscriptionId, TopicName, UnsubscribeProperties,
    UserProperty, WillProperties,
};
use mqtide::{DisconnectProperties, Error, PublishProperties, SubscribeProperties};

/// Which program the properties are for: each sends different packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Pub,
    Sub,
}

/// Every `-D` of one command line, sorted by the packet it goes into.
#[derive(Debug, Default)]
pub(crate) struct Properties {
    pub(crate) connect: ConnectProperties,
    pub(crate) publish: PublishProperties,
    pub(crate) subscribe: SubscribeProperties,
    pub(crate) unsubscribe: UnsubscribeProperties,
    pub(crate) disconnect: DisconnectProperties,
    pub(crate) will: WillProperties,
    /// Whether any `-D` was given (they need MQTT 5.0).
    pub(crate) any: bool,
    /// Whether a `-D will ...` was given (it needs `--will-topic`).
    pub(crate) any_will: bool,
}

const CONNECT: &[&str] = &[
    "session-expiry-interval",
    "receive-maximum",
    "maximum-packet-size",
    "topic-alias-maximum",
    "request-response-information",
    "request-problem-information",
    "user-property",
];
const PUBLISH: &[&str] = &[
    "payload-format-indicator",
    "message-expiry-interval",
    "content-type",
    "response-topic",
    "correlation-data",
    "user-property",
];
const SUBSCRIBE: &[&str] = &["subscription-identifier", "user-property"];
const UNSUBSCRIBE: &[&str] = &["user-property"];
const DISCONNECT: &[&str] = &["session-expiry-interval", "user-property"];
const WILL: &[&str] = &[
    "will-delay-interval",
    "payload-format-indicator",
    "message-expiry-interval",
    "content-type",
    "response-topic",
    "correlation-data",
    "user-property",
];

impl Properties {
    /// Parses every `-D` (each the 3 or 4 words that followed it).
    pub(crate) fn parse(all: &[Vec<String>], role: Role) -> Result<Self, Error> {
        let mut properties = Self::default();
        for words in all {
            properties.add(words, role).map_err(|reason| {
                Error::InvalidOption(format!("-D {}: {reason}", words.join(" ")))
            })?;
        }
        Ok(properties)
    }

    fn add(&mut self, words: &[String], role: Role) -> Result<(), String> {
        let (command, name, rest) = match words {
            [command, name, rest @ ..] => (command.to_lowercase(), name.to_lowercase(), rest),
            _ => return Err("give a command, a property name and a value".into()),
        };
        let value = match (name.as_str(), rest) {
            ("user-property", [key, value]) => Value::Pair(key.clone(), value.clone()),
            ("user-property", _) => {
                return Err(format!(
                    "user-property takes a name and a value: -D {command} user-property NAME VALUE"
                ));
            }
            (_, [value]) => Value::One(value.clone()),
            (_, _) => return Err(format!("{name} takes one value")),
        };
        self.any = true;
        let known = match (command.as_str(), role) {
            ("connect", _) => {
                return connect(&mut self.connect, &name, value).map_err(with_list(CONNECT));
            }
            ("publish", Role::Pub) => {
                return publish(&mut self.publish, &name, value).map_err(with_list(PUBLISH));
            }
            ("subscribe", Role::Sub) => {
                return subscribe(&mut self.subscribe, &name, value).map_err(with_list(SUBSCRIBE));
            }
            ("disconnect", _) => {
                return disconnect(&mut self.disconnect, &name, value)
                    .map_err(with_list(DISCONNECT));
            }
            ("will", _) => {
                self.any_will = true;
                return will(&mut self.will, &name, value).map_err(with_list(WILL));
            }
            ("unsubscribe", Role::Sub) => {
                return unsubscribe(&mut self.unsubscribe, &name, value)
                    .map_err(with_list(UNSUBSCRIBE));
            }
            (_, Role::Pub) => "connect, publish, disconnect and will",
            (_, Role::Sub) => "connect, subscribe, unsubscribe, disconnect and will",
        };
        Err(format!(
            "unknown command {command:?} here; this program takes properties for {known}"
        ))
    }
}

/// A property's value as given: one word, or a user property's two.
enum Value {
    One(String),
    Pair(String, String),
}

/// Why a property was refused; `Unknown` gets the list of known names.
enum Refusal {
    Unknown(String),
    Invalid(String),
}

fn with_list(names: &'static [&'static str]) -> impl Fn(Refusal) -> String {
    move |refusal| {
        match refusal {
        Refusal::Invalid(reason) => reason,
        Refusal::Unknown(name) => match name.as_str() {
            "topic-alias" => "topic-alias is not supported: the client assigns topic aliases itself".into(),
            "authentication-method" | "authentication-data" => {
                "enhanced authentication is not supported on the command line (the library's ClientBuilder::authenticator does it)".into()
            }
            _ => format!("unknown property {name:?} here; use one of: {}", names.join(", ")),
        },
    }
    }
}

fn one(value: Value) -> Result<String, Refusal> {
    match value {
        Value::One(value) => Ok(value),
        Value::Pair(..) => Err(Refusal::Invalid("takes one value".into())),
    }
}

fn number<T: std::str::FromStr>(value: Value, range: &str) -> Result<T, Refusal> {
    let value = one(value)?;
    value
        .parse()
        .map_err(|_| Refusal::Invalid(format!("{value:?} is not a number from {range}")))
}

fn flag(value: Value) -> Result<bool, Refusal> {
    match number::<u8>(value, "0 to 1")? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(Refusal::Invalid(format!("{other} is neither 0 nor 1"))),
    }
}

fn payload_format(value: Value) -> Result<PayloadFormat, Refusal> {
    Ok(if flag(value)? {
        PayloadFormat::Utf8
    } else {
        PayloadFormat::Unspecified
    })
}

/// A response topic: a topic name, checked here so that the broker does
/// not have to end the connection over it.
fn response_topic(value: Value) -> Result<String, Refusal> {
    let topic = one(value)?;
    match TopicName::new(topic.as_str()) {
        Ok(_) => Ok(topic),
        Err(e) => Err(Refusal::Invalid(format!("response topic {topic:?}: {e}"))),
    }
}

/// Sets a property that may appear once.
fn once<T>(slot: &mut Option<T>, value: T) -> Result<(), Refusal> {
    if slot.replace(value).is_some() {
        return Err(Refusal::Invalid(
            "given twice; the property may appear once".into(),
        ));
    }
    Ok(())
}

fn pair(value: Value) -> UserProperty {
    match value {
        Value::Pair(name, value) => (name.into(), value.into()),
        // Parsing gives user properties two words, others one.
        Value::One(value) => (value.into(), String::new().into()),
    }
}

fn connect(p: &mut ConnectProperties, name: &str, value: Value) -> Result<(), Refusal> {
    match name {
        "session-expiry-interval" => once(
            &mut p.session_expiry_interval,
            number(value, "0 to 4294967295")?,
        ),
        "receive-maximum" => {
            let max = NonZeroU16::new(number(value, "1 to 65535")?)
                .ok_or_else(|| Refusal::Invalid("must be at least 1".into()))?;
            once(&mut p.receive_maximum, max)
        }
        "maximum-packet-size" => {
            let max = NonZeroU32::new(number(value, "1 to 4294967295")?)
                .ok_or_else(|| Refusal::Invalid("must be at least 1".into()))?;
            once(&mut p.maximum_packet_size, max)
        }
        "topic-alias-maximum" => once(&mut p.topic_alias_maximum, number(value, "0 to 65535")?),
        "request-response-information" => once(&mut p.request_response_information, flag(value)?),
        "request-problem-information" => once(&mut p.request_problem_information, flag(value)?),
        "user-property" => {
            p.user_properties.push(pair(value));
            Ok(())
        }
        other => Err(Refusal::Unknown(other.into())),
    }
}

fn publish(p: &mut PublishProperties, name: &str, value: Value) -> Result<(), Refusal> {
    match name {
        "payload-format-indicator" => once(&mut p.payload_format_indicator, payload_format(value)?),
        "message-expiry-interval" => once(
            &mut p.message_expiry_interval,
            number(value, "0 to 4294967295")?,
        ),
        "content-type" => once(&mut p.content_type, one(value)?.into()),
        "response-topic" => once(&mut p.response_topic, response_topic(value)?.into()),
        "correlation-data" => once(&mut p.correlation_data, Bytes::from(one(value)?)),
        "user-property" => {
            p.user_properties.push(pair(value));
            Ok(())
        }
        other => Err(Refusal::Unknown(other.into())),
    }
}

fn subscribe(p: &mut SubscribeProperties, name: &str, value: Value) -> Result<(), Refusal> {
    match name {
        "subscription-identifier" => {
            let id = SubscriptionId::new(number(value, "1 to 268435455")?)
                .ok_or_else(|| Refusal::Invalid("must be from 1 to 268435455".into()))?;
            once(&mut p.subscription_identifier, id)
        }
        "user-property" => {
            p.user_properties.push(pair(value));
            Ok(())
        }
        other => Err(Refusal::Unknown(other.into())),
    }
}

fn unsubscribe(p: &mut UnsubscribeProperties, name: &str, value: Value) -> Result<(), Refusal> {
    match name {
        "user-property" => {
            p.user_properties.push(pair(value));
            Ok(())
        }
        other => Err(Refusal::Unknown(other.into())),
    }
}

fn disconnect(p: &mut DisconnectProperties, name: &str, value: Value) -> Result<(), Refusal> {
    match name {
        "session-expiry-interval" => once(
            &mut p.session_expiry_interval,
            number(value, "0 to 4294967295")?,
        ),
        "user-property" => {
            p.user_properties.push(pair(value));
            Ok(())
        }
        other => Err(Refusal::Unknown(other.into())),
    }
}

fn will(p: &mut WillProperties, name: &str, value: Value) -> Result<(), Refusal> {
    match name {
        "will-delay-interval" => once(
            &mut p.will_delay_interval,
            number(value, "0 to 4294967295")?,
        ),
        "payload-format-indicator" => once(&mut p.payload_format_indicator, payload_format(value)?),
        "message-expiry-interval" => once(
            &mut p.message_expiry_interval,
            number(value, "0 to 4294967295")?,
        ),
        "content-type" => once(&mut p.content_type, one(value)?.into()),
        "response-topic" => once(&mut p.response_topic, response_topic(value)?.into()),
        "correlation-data" => once(&mut p.correlation_data, Bytes::from(one(value)?)),
        "user-property" => {
            p.user_properties.push(pair(value));
            Ok(())
        }
        other => Err(Refusal::Unknown(other.into())),
    }
}
