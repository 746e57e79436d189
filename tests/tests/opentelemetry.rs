//! W3C trace context across a real Mosquitto (feature `opentelemetry`).
//!
//! Spans go through `tracing-opentelemetry`'s layer into the OpenTelemetry
//! SDK's in-memory exporter. One client publishes inside a span; another
//! receives the message, makes a span that continues the trace from it,
//! and the exported spans must show the receive span as a child of the
//! publish span: same trace id, the publish span's id as its (remote)
//! parent. The receive span is made outside the publish span, so only the
//! `traceparent` the message carried can put it in that trace. Under
//! 3.1.1 there are no user properties: a traced publish goes out as
//! usual, bare, and the receiver's span starts a trace of its own.

mod support;

use std::future::IntoFuture;
use std::sync::OnceLock;

use mqtide::{Message, ProtocolVersion, QoS};
use mqtide_testkit::Mosquitto;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use support::{client, guard, next};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

/// The tracer pipeline every test of this binary records into (a global
/// subscriber: the client's tasks must see it as the tests' own code
/// does). Tests tell their spans apart by name.
struct Pipeline {
    provider: SdkTracerProvider,
    exporter: InMemorySpanExporter,
}

fn pipeline() -> &'static Pipeline {
    static PIPELINE: OnceLock<Pipeline> = OnceLock::new();
    PIPELINE.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        // The simple processor exports each span as it ends.
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("mqtide-tests"));
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("the only tracing subscriber of this test binary");
        Pipeline { provider, exporter }
    })
}

/// The one finished span called `name`, after a flush.
fn finished(name: &str) -> SpanData {
    let pipeline = pipeline();
    pipeline.provider.force_flush().expect("flush");
    let spans = pipeline.exporter.get_finished_spans().expect("spans");
    let mut named = spans.into_iter().filter(|s| s.name == name);
    let span = named.next().unwrap_or_else(|| panic!("no span {name:?}"));
    assert!(named.next().is_none(), "two spans {name:?}");
    span
}

/// Publishes `topic` at QoS 1 from inside a span called `span_name`,
/// which has ended when this returns.
async fn publish_in_span(
    client: &mqtide::Client,
    topic: &str,
    span_name: &'static str,
    edit: impl FnOnce(mqtide::PublishBuilder) -> mqtide::PublishBuilder,
) {
    let span = tracing::info_span!("publish", otel.name = span_name);
    let publish = edit(client.publish(topic, "22.5").qos(QoS::AtLeastOnce));
    guard("publish", publish.into_future().instrument(span))
        .await
        .unwrap();
}

/// Makes a span called `span_name` that continues `message`'s trace,
/// records one event in it and ends it.
fn receive_in_span(message: &Message, span_name: &'static str) {
    let span = tracing::info_span!("receive", otel.name = span_name);
    message.continue_trace(&span).unwrap();
    span.in_scope(|| tracing::info!("handled"));
}

#[tokio::test]
async fn the_receive_span_continues_the_publish_span_s_trace_under_5_0() {
    pipeline();
    let broker = Mosquitto::start().unwrap();
    let v5 = ProtocolVersion::V5;
    let subscriber = guard("connect", client(&broker.url(), v5, "otel-sub").connect())
        .await
        .unwrap();
    let mut messages = guard(
        "subscribe",
        subscriber.subscribe("otel/v5/#", QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    let publisher = guard("connect", client(&broker.url(), v5, "otel-pub").connect())
        .await
        .unwrap();

    publish_in_span(&publisher, "otel/v5/a", "otel-v5-publish", |p| p).await;
    let message = next(&mut messages).await;
    receive_in_span(&message, "otel-v5-receive");

    let sent = finished("otel-v5-publish");
    let received = finished("otel-v5-receive");
    // What went over the wire: the publish span, as the W3C binding has it.
    let traceparent = format!(
        "00-{}-{}-01",
        sent.span_context.trace_id(),
        sent.span_context.span_id()
    );
    assert_eq!(
        message.user_properties().collect::<Vec<_>>(),
        [("traceparent", traceparent.as_str())],
        "one traceparent, no empty tracestate"
    );
    assert_eq!(
        received.span_context.trace_id(),
        sent.span_context.trace_id(),
        "the receive span is in the publish span's trace"
    );
    assert_eq!(received.parent_span_id, sent.span_context.span_id());
    assert!(received.parent_span_is_remote);

    // A traceparent the application set itself is sent alone, as given.
    let mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    publish_in_span(&publisher, "otel/v5/b", "otel-v5-own", |p| {
        p.user_property("traceparent", mine)
    })
    .await;
    let message = next(&mut messages).await;
    assert_eq!(
        message.user_properties().collect::<Vec<_>>(),
        [("traceparent", mine)]
    );
    let context = message.trace_context();
    assert_eq!(
        context.span().span_context().trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );

    guard("disconnect", publisher.disconnect()).await.unwrap();
    guard("disconnect", subscriber.disconnect()).await.unwrap();
}

#[tokio::test]
async fn a_3_1_1_publish_carries_nothing_and_goes_through() {
    pipeline();
    let broker = Mosquitto::start().unwrap();
    // A 5.0 subscriber would see any property the publish had.
    let subscriber = guard(
        "connect",
        client(&broker.url(), ProtocolVersion::V5, "otel-sub").connect(),
    )
    .await
    .unwrap();
    let mut messages = guard(
        "subscribe",
        subscriber.subscribe("otel/v311/#", QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    let publisher = guard(
        "connect",
        client(&broker.url(), ProtocolVersion::V3_1_1, "otel-pub").connect(),
    )
    .await
    .unwrap();

    // Acknowledged: a property added under 3.1.1 would have been refused.
    publish_in_span(&publisher, "otel/v311/a", "otel-v311-publish", |p| p).await;
    let message = next(&mut messages).await;
    assert_eq!(message.payload_str(), Some("22.5"));
    assert_eq!(message.user_properties().count(), 0);
    assert!(!message.trace_context().has_active_span());
    receive_in_span(&message, "otel-v311-receive");

    let sent = finished("otel-v311-publish");
    let received = finished("otel-v311-receive");
    assert_ne!(
        received.span_context.trace_id(),
        sent.span_context.trace_id(),
        "nothing carried the trace, so the receive span starts its own"
    );
    assert!(!received.parent_span_is_remote);

    guard("disconnect", publisher.disconnect()).await.unwrap();
    guard("disconnect", subscriber.disconnect()).await.unwrap();
}
