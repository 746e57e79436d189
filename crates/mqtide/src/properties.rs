//! Small helpers for 5.0 properties, shared by the builders that set them:
//! the client's (`options`), the publish builder's, and the request and
//! reply builders' (`request`). A leaf: it depends on no other module.

use std::time::Duration;

use bytestring::ByteString;
use mqtide_proto::{PayloadFormat, PublishProperties};

/// Seconds for a 5.0 interval property, saturating.
pub(crate) fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// Adds a 5.0 user property (shared by the publish, request and reply
/// builders).
pub(crate) fn add_user_property(properties: &mut PublishProperties, name: String, value: String) {
    properties
        .user_properties
        .push((ByteString::from(name), ByteString::from(value)));
}

/// Sets the content type; `text/*` also marks the payload as UTF-8.
pub(crate) fn set_content_type(properties: &mut PublishProperties, content_type: String) {
    if content_type.starts_with("text/") {
        properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    }
    properties.content_type = Some(ByteString::from(content_type));
}
