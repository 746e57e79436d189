//! The session on a blocking socket with no async runtime: the main loop of
//! a device, run on a desktop.
//!
//! It connects, subscribes to a topic of its own, publishes one message at
//! QoS 1 and one at QoS 2 to it, waits for both to come back and for both
//! publishes to complete, and disconnects. Everything a firmware would do
//! differently is marked "on a device"; the loop itself is the same:
//!
//! 1. drain the session: write what it queued, act on its events;
//! 2. ask it for its next deadline;
//! 3. wait for bytes, but no longer than that deadline;
//! 4. hand it what arrived (`handle_bytes`), or tell it the time has come
//!    (`handle_timeout`); go to 1.
//!
//! ```text
//! cargo run -p mqtide-proto --example blocking_loop                    # mqtt://127.0.0.1:1883
//! cargo run -p mqtide-proto --example blocking_loop -- 127.0.0.1:1884  # or MQTT_URL=mqtt://…
//! ```
//!
//! Time is a [`Millis`] from a clock that starts at zero, as a device's
//! tick counter does, so the session here is the `Session<Millis>` a
//! `no_std` build uses (with `std` the session could take
//! `std::time::Instant` directly).

use std::error::Error;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtide_proto::{
    DisconnectProperties, Event, Millis, ProtocolVersion, Publish, QoS, ReasonCode, RequestId,
    Session, SessionConfig, SubscribeProperties, SubscriptionOptions, Timestamp, TopicFilter,
};

/// The loop gives up after this long: an example must not hang.
const GIVE_UP_AFTER: Duration = Duration::from_secs(10);
/// The longest wait for bytes when the session has no deadline (it has one
/// whenever a connection is up: the keep-alive).
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Milliseconds since the program started. On a device: the tick counter
/// (a SysTick interrupt counting milliseconds, or a timer peripheral).
struct Clock(Instant);

impl Clock {
    fn start() -> Self {
        #[allow(clippy::disallowed_methods, reason = "the driver owns the clock")]
        Self(Instant::now())
    }

    fn now(&self) -> Millis {
        Millis(u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX))
    }
}

/// What the application is waiting for.
#[derive(Debug, Default)]
struct Progress {
    subscription: Option<RequestId>,
    published: usize,
    received: usize,
    disconnecting: bool,
}

fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("MQTT_URL").ok())
        .unwrap_or_else(|| "mqtt://127.0.0.1:1883".to_owned());
    let addr = url.trim_start_matches("mqtt://").trim_end_matches('/');
    let topic = format!("mqtide/examples/blocking_loop/{}", std::process::id());

    // On a device: the network stack's socket (smoltcp, a modem's AT
    // socket, lwIP), connected the same way.
    let mut socket = TcpStream::connect(addr)?;
    socket.set_nodelay(true)?;
    println!("connected to {addr}");

    let clock = Clock::start();
    let mut config = SessionConfig::new(ProtocolVersion::V5, "mqtide-blocking-loop");
    config.keep_alive = 30;
    let mut session: Session<Millis> = Session::new(config);
    // Sized for the largest packet expected; a device would use fixed
    // buffers it owns (the session takes any `BytesMut`).
    let mut read_buf = BytesMut::with_capacity(4096);
    let mut write_buf = BytesMut::with_capacity(4096);
    let mut chunk = [0u8; 1024];
    let mut progress = Progress::default();

    session.handle_connected(clock.now());
    loop {
        let now = clock.now();
        if now > Millis(0) + GIVE_UP_AFTER {
            return Err(format!("gave up after {GIVE_UP_AFTER:?}: {progress:?}").into());
        }

        // 1. Drain: bytes first, then events (which may queue more bytes,
        // sent on the next turn).
        while session.poll_transmit(&mut write_buf) > 0 {}
        if !write_buf.is_empty() {
            socket.write_all(&write_buf)?;
            write_buf.clear();
        }
        while let Some(event) = session.poll_event() {
            match event {
                Event::Connected(connected) => {
                    println!("session up (keep-alive {} s)", connected.keep_alive);
                    let filter = TopicFilter::new(topic.as_str())?;
                    let options = SubscriptionOptions::new(QoS::ExactlyOnce);
                    progress.subscription = Some(session.subscribe(
                        vec![(filter, options)],
                        SubscribeProperties::default(),
                        now,
                    )?);
                }
                Event::Completed { id, outcome } => {
                    println!("request {} completed: {outcome:?}", id.get());
                    outcome?;
                    if Some(id) == progress.subscription {
                        // The subscription is in place: publish to it.
                        for (qos, payload) in [(QoS::AtLeastOnce, "one"), (QoS::ExactlyOnce, "two")]
                        {
                            let mut publish = Publish::new(topic.as_str(), payload);
                            publish.qos = qos;
                            session.publish(publish, now)?;
                        }
                    } else {
                        progress.published += 1;
                    }
                }
                Event::Message(message) => {
                    println!(
                        "received {:?} at {:?} on {}",
                        String::from_utf8_lossy(&message.publish.payload),
                        message.publish.qos,
                        message.publish.topic,
                    );
                    progress.received += 1;
                }
                Event::Disconnected(reason) => {
                    println!("session down: {reason}");
                    return if progress.disconnecting {
                        Ok(())
                    } else {
                        Err(reason.into())
                    };
                }
                other => println!("event: {other:?}"),
            }
        }
        if progress.published == 2 && progress.received == 2 && !progress.disconnecting {
            progress.disconnecting = true;
            session.disconnect(ReasonCode::Success, DisconnectProperties::default(), now)?;
            continue;
        }
        if session.poll_transmit(&mut write_buf) > 0 {
            // The events queued more to send: send it before waiting.
            continue;
        }

        // 2. The next deadline, as a wait from now.
        let wait = match session.poll_timeout() {
            Some(deadline) if deadline <= now => {
                session.handle_timeout(now);
                continue;
            }
            Some(deadline) => deadline.saturating_duration_since(now).min(IDLE_WAIT),
            None => IDLE_WAIT,
        };

        // 3. Wait for bytes until then. On a device: wait for the
        // network's receive interrupt or the timer (WFI), whichever is
        // first.
        socket.set_read_timeout(Some(wait))?;
        match socket.read(&mut chunk) {
            Ok(0) => {
                session.handle_connection_lost(clock.now());
                if !progress.disconnecting {
                    return Err("the broker closed the connection".into());
                }
            }
            // 4. Hand over what arrived; it decodes every whole packet.
            Ok(n) => {
                read_buf.extend_from_slice(&chunk[..n]);
                session.handle_bytes(&mut read_buf, clock.now());
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // Safe to call before a deadline too: nothing happens.
                session.handle_timeout(clock.now());
            }
            Err(e) => {
                session.handle_connection_lost(clock.now());
                return Err(e.into());
            }
        }
    }
}
