//! One-call helpers without `async`, as paho's `publish.single` and
//! `subscribe.simple`: [`crate::oneshot`]'s functions, each on a runtime
//! of its own for the length of the call.

use std::ops::ControlFlow;
use std::time::Duration;

use mqtide_proto::QoS;

use super::ClientBuilder;
use super::runtime::not_in_runtime;
use crate::command::PublishOutcome;
use crate::error::Error;
use crate::message::Message;
use crate::oneshot::Outgoing;

fn run<T>(future: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    not_in_runtime()?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::InvalidOption(format!("cannot start a runtime: {e}")))?
        .block_on(future)
}

/// Connects, publishes one message (waiting for its acknowledgement) and
/// disconnects. See [`crate::oneshot::publish_single`].
///
/// ```no_run
/// # fn main() -> Result<(), mqtide::Error> {
/// use mqtide::blocking::{Client, oneshot};
/// use mqtide::oneshot::Outgoing;
///
/// let mut reading = Outgoing::new("sensors/1/temperature", "22.5");
/// reading.qos = mqtide::QoS::AtLeastOnce;
/// oneshot::publish_single(Client::builder("mqtt://localhost:1883"), reading)?;
/// # Ok(())
/// # }
/// ```
pub fn publish_single(builder: ClientBuilder, message: Outgoing) -> Result<PublishOutcome, Error> {
    run(crate::oneshot::publish_single(
        builder.into_async(),
        message,
    ))
}

/// Connects, publishes every message (pipelined) and disconnects. See
/// [`crate::oneshot::publish_multiple`].
pub fn publish_multiple(
    builder: ClientBuilder,
    messages: impl IntoIterator<Item = Outgoing>,
) -> Result<Vec<PublishOutcome>, Error> {
    run(crate::oneshot::publish_multiple(
        builder.into_async(),
        messages,
    ))
}

/// Connects, subscribes, collects `count` messages (or fails with
/// `Timeout` after `timeout`) and disconnects. See
/// [`crate::oneshot::subscribe_simple`].
pub fn subscribe_simple(
    builder: ClientBuilder,
    filters: &[&str],
    qos: QoS,
    count: usize,
    timeout: Duration,
) -> Result<Vec<Message>, Error> {
    run(crate::oneshot::subscribe_simple(
        builder.into_async(),
        filters,
        qos,
        count,
        timeout,
    ))
}

/// Connects, subscribes and calls `callback` for each message until it
/// returns `Break`, then disconnects. See
/// [`crate::oneshot::subscribe_callback`].
pub fn subscribe_callback(
    builder: ClientBuilder,
    filters: &[&str],
    qos: QoS,
    callback: impl FnMut(&Message) -> ControlFlow<()>,
) -> Result<(), Error> {
    run(crate::oneshot::subscribe_callback(
        builder.into_async(),
        filters,
        qos,
        callback,
    ))
}
