//! W3C trace context in MQTT 5.0 user properties (feature `opentelemetry`).
//!
//! The W3C's MQTT binding of Trace Context (<https://w3c.github.io/trace-context-mqtt/>)
//! puts the `traceparent` and `tracestate` fields in user properties of
//! those names, "all lower case". This module is the carrier between an
//! OpenTelemetry [`Context`] and a PUBLISH's user properties; the
//! formatting and parsing of the two fields is OpenTelemetry's own
//! [`TraceContextPropagator`], never ours. The publish builder calls
//! [`inject_current`] (for 5.0 clients only: 3.1.1 has no properties) and
//! [`Message`](crate::Message)'s `trace_context` calls [`extract`].
//!
//! The current span is read through `tracing-opentelemetry`: its layer
//! keeps each `tracing` span's OpenTelemetry context, and finds it only
//! when the application installed the layer of the same
//! `tracing-opentelemetry` release as ours. Without it (or without any
//! subscriber) the context is empty and nothing is added.
//!
//! A leaf: it depends on no other module of the crate.

use bytestring::ByteString;
use mqtide_proto::PublishProperties;
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The user property names of the W3C MQTT binding, in the order the
/// propagator writes them.
const FIELDS: [&str; 2] = ["traceparent", "tracestate"];

/// Adds the trace context of the current `tracing` span to a 5.0
/// PUBLISH's user properties, when that span has a valid OpenTelemetry
/// span context. Nothing is added when the properties already carry a
/// `traceparent` or `tracestate`: the caller's own trace context wins,
/// and a second pair would leave receivers to guess which one holds.
pub(crate) fn inject_current(properties: &mut PublishProperties) {
    // The cheap test first: most publishes carry no user property at all.
    if carries_trace_context(properties) {
        return;
    }
    inject(&tracing::Span::current().context(), properties);
}

/// Adds `cx`'s span context as `traceparent` (and `tracestate`, when not
/// empty), if it is valid.
fn inject(cx: &Context, properties: &mut PublishProperties) {
    // The propagator checks validity too; checking here skips building it.
    if !cx.span().span_context().is_valid() {
        return;
    }
    TraceContextPropagator::new().inject_context(cx, &mut Carrier(properties));
}

/// Whether a user property already holds a trace context field.
fn carries_trace_context(properties: &PublishProperties) -> bool {
    properties
        .user_properties
        .iter()
        .any(|(name, _)| FIELDS.contains(&&**name))
}

/// The remote span context a PUBLISH carries, as a [`Context`] to parent
/// spans on; an empty [`Context`] when it carries none, or fields that do
/// not parse (the propagator's rules: version `ff`, all-zero ids and bad
/// hex are rejected).
pub(crate) fn extract(properties: &PublishProperties) -> Context {
    // Based on an empty context, not on `Context::current()`: what a
    // message says must not depend on the thread that asks.
    TraceContextPropagator::new().extract_with_context(&Context::new(), &CarrierRef(properties))
}

/// A PUBLISH's user properties, written by the propagator.
struct Carrier<'a>(&'a mut PublishProperties);

impl Injector for Carrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The propagator writes `tracestate` even when the span has none;
        // an empty one says nothing (the W3C format lets it be left out)
        // and would cost each message 14 bytes.
        if value.is_empty() {
            return;
        }
        self.0
            .user_properties
            .push((ByteString::from(key), ByteString::from(value)));
    }
}

/// A PUBLISH's user properties, read by the propagator: the first of a
/// name counts, as [`Message::user_property`](crate::Message::user_property)
/// has it. Names match exactly (MQTT names are case-sensitive, and the
/// binding fixes them in lower case).
struct CarrierRef<'a>(&'a PublishProperties);

impl Extractor for CarrierRef<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .user_properties
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| &**value)
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .user_properties
            .iter()
            .map(|(name, _)| &**name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    const SPAN: &str = "b7ad6b7169203331";

    fn remote(state: &str) -> Context {
        let span = SpanContext::new(
            TraceId::from_hex(TRACE).unwrap(),
            SpanId::from_hex(SPAN).unwrap(),
            TraceFlags::SAMPLED,
            true,
            state.parse::<TraceState>().unwrap(),
        );
        Context::new().with_remote_span_context(span)
    }

    fn names(properties: &PublishProperties) -> Vec<(&str, &str)> {
        properties
            .user_properties
            .iter()
            .map(|(n, v)| (&**n, &**v))
            .collect()
    }

    #[test]
    fn a_valid_context_goes_out_as_the_w3c_fields_and_comes_back() {
        let mut properties = PublishProperties::default();
        inject(&remote("congo=t61rcWkgMzE"), &mut properties);
        assert_eq!(
            names(&properties),
            [
                ("traceparent", &*format!("00-{TRACE}-{SPAN}-01")),
                ("tracestate", "congo=t61rcWkgMzE"),
            ]
        );
        let back = extract(&properties);
        let span = back.span();
        let context = span.span_context();
        assert!(context.is_valid() && context.is_remote());
        assert_eq!(context.trace_id().to_string(), TRACE);
        assert_eq!(context.span_id().to_string(), SPAN);
        assert_eq!(context.trace_state().header(), "congo=t61rcWkgMzE");
    }

    #[test]
    fn an_empty_trace_state_is_left_out() {
        let mut properties = PublishProperties::default();
        inject(&remote(""), &mut properties);
        assert_eq!(names(&properties).len(), 1, "{properties:?}");
    }

    #[test]
    fn no_span_adds_nothing() {
        let mut properties = PublishProperties::default();
        inject(&Context::new(), &mut properties);
        // No subscriber in this test: the current span has no context.
        inject_current(&mut properties);
        assert!(properties.user_properties.is_empty());
        assert!(!extract(&properties).has_active_span());
    }

    #[test]
    fn a_traceparent_set_by_the_caller_is_kept_alone() {
        let mut properties = PublishProperties::default();
        properties
            .user_properties
            .push(("traceparent".into(), "mine".into()));
        assert!(carries_trace_context(&properties));
        properties.user_properties[0].0 = "tracestate".into();
        assert!(carries_trace_context(&properties));
        properties.user_properties[0].0 = "TraceParent".into();
        assert!(!carries_trace_context(&properties));
    }

    #[test]
    fn malformed_or_missing_fields_give_an_empty_context() {
        for value in [
            "garbage",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        ] {
            let mut properties = PublishProperties::default();
            properties
                .user_properties
                .push(("traceparent".into(), value.into()));
            assert!(!extract(&properties).has_active_span(), "{value}");
        }
        // The binding fixes the name in lower case.
        let mut properties = PublishProperties::default();
        properties
            .user_properties
            .push(("TRACEPARENT".into(), format!("00-{TRACE}-{SPAN}-01").into()));
        assert!(!extract(&properties).has_active_span());
    }
}
