//! `mqtide sub -F`: mosquitto_sub's output format strings.
//!
//! `%` starts a message field, `@` a time field (UTC), `\` an escape;
//! everything else is printed as written. A field may carry mosquitto's
//! flags: `-` (align left), `0` (pad numbers with zeros), a minimum width
//! (`%10t`) and, for `%t %C %I %R`, a maximum width (`%10.10t`). An unknown
//! field, time field or escape is an error when the format is parsed, not
//! when the first message arrives.

mod pretty;
mod render;

pub(crate) use render::{View, message_id};

/// A parsed `-F` format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Format {
    items: Vec<Item>,
    /// `--pretty`: lay the JSON of `%j` / `%J` out over several lines.
    pretty: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Text(Vec<u8>),
    Field(Spec),
    Time(TimeField),
}

/// A `%` field with its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spec {
    field: Field,
    left: bool,
    zero: bool,
    width: usize,
    max: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// `%t`
    Topic,
    /// `%p`
    Payload,
    /// `%x`, `%X`
    Hex { upper: bool },
    /// `%q`
    Qos,
    /// `%r`
    Retain,
    /// `%l`
    Length,
    /// `%m`: the packet identifier (0 at QoS 0).
    MessageId,
    /// `%I`
    Iso8601,
    /// `%U`
    Unix,
    /// `%j`, `%J`
    Json { raw_payload: bool },
    /// `%P`
    UserProperties,
    /// `%C`
    ContentType,
    /// `%D`
    CorrelationData,
    /// `%E`
    MessageExpiry,
    /// `%F`
    PayloadFormat,
    /// `%R`
    ResponseTopic,
    /// `%S`
    SubscriptionIds,
    /// `%A`
    TopicAlias,
}

impl Field {
    fn of(c: char) -> Option<Self> {
        Some(match c {
            't' => Self::Topic,
            'p' => Self::Payload,
            'x' => Self::Hex { upper: false },
            'X' => Self::Hex { upper: true },
            'q' => Self::Qos,
            'r' => Self::Retain,
            'l' => Self::Length,
            'm' => Self::MessageId,
            'I' => Self::Iso8601,
            'U' => Self::Unix,
            'j' => Self::Json { raw_payload: false },
            'J' => Self::Json { raw_payload: true },
            'P' => Self::UserProperties,
            'C' => Self::ContentType,
            'D' => Self::CorrelationData,
            'E' => Self::MessageExpiry,
            'F' => Self::PayloadFormat,
            'R' => Self::ResponseTopic,
            'S' => Self::SubscriptionIds,
            'A' => Self::TopicAlias,
            _ => return None,
        })
    }

    fn is_number(self) -> bool {
        matches!(
            self,
            Self::Length
                | Self::MessageId
                | Self::MessageExpiry
                | Self::PayloadFormat
                | Self::SubscriptionIds
                | Self::TopicAlias
        )
    }

    fn takes_max(self) -> bool {
        matches!(
            self,
            Self::Topic | Self::ContentType | Self::Iso8601 | Self::ResponseTopic
        )
    }
}

/// An `@` field: part of the time the message arrived, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeField {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Nanos,
    Unix,
    Date,
    Time,
    Offset,
    Zone,
}

/// The widest field width accepted (a typo should not allocate gigabytes).
const MAX_WIDTH: usize = 4096;

const FIELDS: &str = "%t %p %x %X %q %r %l %m %I %U %j %J %P %C %D %E %F %R %S %A %%";
const TIME_FIELDS: &str = "@Y @m @d @H @M @S @N @s @F @T @z @Z @@";
const ESCAPES: &str = "\\\\ \\0 \\a \\e \\n \\r \\t \\v";

impl Format {
    /// `--pretty`: the JSON of `%j` and `%J` indented as mosquitto_sub
    /// indents it.
    pub(crate) fn pretty(mut self, on: bool) -> Self {
        self.pretty = on;
        self
    }

    /// Parses a format string, or says what is wrong with it.
    pub(crate) fn parse(format: &str) -> Result<Self, String> {
        let mut items = Vec::new();
        let mut text = Vec::new();
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let mut spec = Spec {
                        field: Field::Topic,
                        left: chars.next_if_eq(&'-').is_some(),
                        zero: false,
                        width: 0,
                        max: None,
                    };
                    spec.zero = chars.next_if_eq(&'0').is_some();
                    spec.width = digits(&mut chars);
                    if chars.next_if_eq(&'.').is_some() {
                        spec.max = Some(digits(&mut chars));
                    }
                    if spec.width.max(spec.max.unwrap_or(0)) > MAX_WIDTH {
                        return Err(format!("field widths go up to {MAX_WIDTH}"));
                    }
                    let Some(c) = chars.next() else {
                        return Err(format!(
                            "the format ends inside a % field; write %% for a literal %. Fields: {FIELDS}"
                        ));
                    };
                    if c == '%' {
                        text.push(b'%');
                        continue;
                    }
                    spec.field = Field::of(c).ok_or_else(|| {
                        format!("%{c} is not a field mqtide knows; use one of {FIELDS}")
                    })?;
                    if spec.max.is_some() && !spec.field.takes_max() {
                        return Err(format!(
                            "%.N (a maximum width) applies to %t, %C, %I and %R only, not %{c}"
                        ));
                    }
                    flush(&mut items, &mut text);
                    items.push(Item::Field(spec));
                }
                '@' => {
                    let field = match chars.next() {
                        Some('@') => {
                            text.push(b'@');
                            continue;
                        }
                        Some('Y') => TimeField::Year,
                        Some('m') => TimeField::Month,
                        Some('d') => TimeField::Day,
                        Some('H') => TimeField::Hour,
                        Some('M') => TimeField::Minute,
                        Some('S') => TimeField::Second,
                        Some('N') => TimeField::Nanos,
                        Some('s') => TimeField::Unix,
                        Some('F') => TimeField::Date,
                        Some('T') => TimeField::Time,
                        Some('z') => TimeField::Offset,
                        Some('Z') => TimeField::Zone,
                        Some(other) => {
                            return Err(format!(
                                "@{other} is not a time field mqtide knows; use one of {TIME_FIELDS} (times are UTC)"
                            ));
                        }
                        None => {
                            return Err(format!(
                                "the format ends with @; write @@ for a literal @. Time fields: {TIME_FIELDS}"
                            ));
                        }
                    };
                    flush(&mut items, &mut text);
                    items.push(Item::Time(field));
                }
                '\\' => {
                    let byte = match chars.next() {
                        Some('\\') => b'\\',
                        Some('0') => 0,
                        Some('a') => 0x07,
                        Some('e') => 0x1b,
                        Some('n') => b'\n',
                        Some('r') => b'\r',
                        Some('t') => b'\t',
                        Some('v') => 0x0b,
                        Some(other) => {
                            return Err(format!(
                                "\\{other} is not an escape mqtide knows; use one of {ESCAPES}"
                            ));
                        }
                        None => {
                            return Err(format!(
                                "the format ends with \\; write \\\\ for a literal \\. Escapes: {ESCAPES}"
                            ));
                        }
                    };
                    text.push(byte);
                }
                other => {
                    let mut buf = [0; 4];
                    text.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        flush(&mut items, &mut text);
        Ok(Self {
            items,
            pretty: false,
        })
    }
}

fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> usize {
    let mut value: usize = 0;
    while let Some(d) = chars.next_if(char::is_ascii_digit) {
        let d = d.to_digit(10).unwrap_or(0) as usize;
        value = value.saturating_mul(10).saturating_add(d);
    }
    value
}

fn flush(items: &mut Vec<Item>, text: &mut Vec<u8>) {
    if !text.is_empty() {
        items.push(Item::Text(std::mem::take(text)));
    }
}

#[cfg(test)]
mod tests;
