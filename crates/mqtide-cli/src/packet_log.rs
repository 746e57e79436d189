//! `-d`: every packet the client sends and receives on standard error, as
//! `mosquitto_pub -d` and `mosquitto_sub -d` show them. The lines are the
//! library's own packet log (the `mqtide::packet` tracing target), which
//! names types, identifiers, topics, QoS, flags, sizes, reason codes and
//! property names, never a payload, password or property value.

use std::fmt;
use std::io::Write;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Prints the packet log from now on.
pub(crate) fn install() {
    let subscriber = tracing_subscriber::registry().with(PacketLines);
    // Only `main` installs one, once; were another there, `-d` would show
    // less, which is no reason to fail the command.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Writes each `mqtide::packet` event's message as one line.
struct PacketLines;

impl<S: Subscriber> Layer<S> for PacketLines {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target() == "mqtide::packet"
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "mqtide: {}", message.0);
    }
}

/// An event's `message` field.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}
