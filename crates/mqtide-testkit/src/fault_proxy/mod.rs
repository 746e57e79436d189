//! A TCP proxy that breaks the network on command, for chaos tests.
//!
//! [`FaultProxy::start`] listens on a free loopback port and forwards every
//! connection to a target (a testkit [`Mosquitto`](crate::Mosquitto)). The
//! test points its clients at [`FaultProxy::url`] and, while they run,
//! injects [`Fault`]s into the connections that are open — and, with
//! [`Scope::CurrentAndNew`], into the connections opened until the next
//! [`heal`](FaultProxy::heal):
//!
//! ```no_run
//! use std::time::Duration;
//! use mqtide_testkit::{Direction, Fault, FaultProxy, Mosquitto, Scope};
//!
//! let broker = Mosquitto::start()?;
//! let proxy = FaultProxy::start(broker.addr(), 42)?;
//! let url = proxy.url(); // mqtt://127.0.0.1:<free port>, for the client under test
//! # let _ = url;
//! proxy.inject(Fault::Delay(Duration::from_millis(50)), Scope::Current);
//! proxy.inject(Fault::Blackhole, Scope::CurrentAndNew); // a partition
//! proxy.heal();                                         // traffic flows again
//! proxy.inject(Fault::HalfClose(Direction::ToClient), Scope::Current);
//! proxy.inject(Fault::Reset, Scope::Current);          // RST in the middle of a packet
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The proxy runs on a thread of its own with its own tokio runtime, so
//! its handle works from synchronous and asynchronous tests alike, and a
//! test that blocks its runtime (say, to restart the broker) does not
//! stall the network its clients see. Dropping the handle closes the
//! listener and every connection.
//!
//! Randomness (where a reset splits the data) comes from the seed given
//! to [`FaultProxy::start`]; a test that prints its seed on failure can
//! replay the same choices. Thread scheduling is not replayed.

mod link;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

/// Which way data flows through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the target (the broker).
    ToServer,
    /// From the target back to the client.
    ToClient,
}

impl Direction {
    /// An index for per-direction arrays.
    fn index(self) -> usize {
        match self {
            Self::ToServer => 0,
            Self::ToClient => 1,
        }
    }
}

/// A fault to inject into connections.
///
/// `Delay`, `Throttle` and `Blackhole` are conditions: they last until
/// [`FaultProxy::heal`] (a second `Delay` or `Throttle` replaces the
/// first). `Cut`, `Reset` and `HalfClose` are events: what they close stays
/// closed, and healing does not undo them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Closes both sides cleanly (FIN to each); data not yet forwarded is
    /// dropped.
    Cut,
    /// Forwards part of the next chunk of data the connection carries (in
    /// either direction; the split point is random), then resets both
    /// sides (`SO_LINGER` 0, so the peers get RST). A connection with
    /// nothing in flight waits for its next chunk.
    Reset,
    /// Adds this much latency to every chunk, both ways, keeping order.
    Delay(Duration),
    /// Limits each direction to this many bytes per second (at least 1).
    Throttle {
        /// The rate, per direction.
        bytes_per_second: u64,
    },
    /// Stops forwarding both ways but keeps both sockets open, as a
    /// network partition does: the peers' data waits in the buffers and
    /// flows again after [`heal`](FaultProxy::heal).
    Blackhole,
    /// Shuts down the write side towards the receiver of one direction
    /// (it reads end-of-file) and stops reading from its sender; the other
    /// direction keeps flowing.
    HalfClose(Direction),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cut => write!(f, "cut"),
            Self::Reset => write!(f, "reset"),
            Self::Delay(d) => write!(f, "delay {d:?}"),
            Self::Throttle { bytes_per_second } => write!(f, "throttle {bytes_per_second} B/s"),
            Self::Blackhole => write!(f, "blackhole"),
            Self::HalfClose(Direction::ToServer) => write!(f, "half-close to server"),
            Self::HalfClose(Direction::ToClient) => write!(f, "half-close to client"),
        }
    }
}

/// Which connections a fault reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The connections open now.
    Current,
    /// The connections open now and those accepted until the next
    /// [`heal`](FaultProxy::heal): under `Cut` new connections are closed
    /// at once, under `Reset` they are reset at their first data (the
    /// CONNECT, cut in two), under `HalfClose` they start half closed.
    CurrentAndNew,
}

/// What the proxy has done so far; see [`FaultProxy::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections closed because the target refused them (the broker was
    /// down).
    pub refused: u64,
    /// Connections closed by [`Fault::Cut`].
    pub cut: u64,
    /// Connections reset by [`Fault::Reset`].
    pub reset: u64,
    /// Directions shut down by [`Fault::HalfClose`].
    pub half_closed: u64,
    /// Faults injected (each [`FaultProxy::inject`] call counts once).
    pub injected: u64,
    /// Bytes forwarded, both ways together.
    pub bytes: u64,
}

/// Counters shared with the connection tasks.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    refused: AtomicU64,
    cut: AtomicU64,
    reset: AtomicU64,
    half_closed: AtomicU64,
    injected: AtomicU64,
    bytes: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}

/// The faults one connection is under, or that new connections start
/// under.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Faults {
    delay: Duration,
    /// Bytes per second, per direction.
    throttle: Option<u64>,
    blackhole: bool,
    /// Per [`Direction::index`]: shut down (or to be shut down).
    half_close: [bool; 2],
    cut: bool,
    reset: bool,
}

impl Faults {
    fn apply(&mut self, fault: Fault) {
        match fault {
            Fault::Cut => self.cut = true,
            Fault::Reset => self.reset = true,
            Fault::Delay(delay) => self.delay = delay,
            Fault::Throttle { bytes_per_second } => self.throttle = Some(bytes_per_second.max(1)),
            Fault::Blackhole => self.blackhole = true,
            Fault::HalfClose(direction) => self.half_close[direction.index()] = true,
        }
    }

    /// Ends the conditions; events that happened stay.
    fn heal(&mut self) {
        self.delay = Duration::ZERO;
        self.throttle = None;
        self.blackhole = false;
    }
}

/// What the handle and the accept loop share.
#[derive(Debug, Default)]
struct Registry {
    /// What new connections start under.
    ambient: Faults,
    /// One sender per connection; closed once its task ended.
    links: Vec<watch::Sender<Faults>>,
}

/// A running fault-injecting proxy (the faults: [`Fault`]). Stopped
/// (with every connection closed) when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    seed: u64,
    registry: Arc<Mutex<Registry>>,
    counters: Arc<Counters>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards each connection to
    /// `target`. `seed` drives the proxy's random choices.
    pub fn start(target: SocketAddr, seed: u64) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let registry = Arc::new(Mutex::new(Registry::default()));
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let accept = Accept {
            listener,
            target,
            registry: Arc::clone(&registry),
            counters: Arc::clone(&counters),
            rng: fastrand::Rng::with_seed(seed),
        };
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        () = accept.run() => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime drops every connection task, and
                // with them the sockets.
            })?;
        Ok(Self {
            addr,
            seed,
            registry,
            counters,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An `mqtt://` URL for the proxy.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// The seed the proxy was started with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Injects `fault` into the connections `scope` names.
    pub fn inject(&self, fault: Fault, scope: Scope) {
        Counters::bump(&self.counters.injected, 1);
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        registry.links.retain(|link| !link.is_closed());
        for link in &registry.links {
            link.send_modify(|faults| faults.apply(fault));
        }
        if scope == Scope::CurrentAndNew {
            registry.ambient.apply(fault);
        }
    }

    /// Ends every condition (delay, throttle, blackhole) on every open
    /// connection, and every fault waiting for new connections.
    pub fn heal(&self) {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        registry.links.retain(|link| !link.is_closed());
        for link in &registry.links {
            link.send_modify(Faults::heal);
        }
        registry.ambient = Faults::default();
    }

    /// How many connections are open.
    pub fn open_connections(&self) -> usize {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        registry.links.retain(|link| !link.is_closed());
        registry.links.len()
    }

    /// What the proxy has done so far.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ProxyStats {
            accepted: get(&c.accepted),
            refused: get(&c.refused),
            cut: get(&c.cut),
            reset: get(&c.reset),
            half_closed: get(&c.half_closed),
            injected: get(&c.injected),
            bytes: get(&c.bytes),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The accept loop: one task per connection.
struct Accept {
    listener: TcpListener,
    target: SocketAddr,
    registry: Arc<Mutex<Registry>>,
    counters: Arc<Counters>,
    rng: fastrand::Rng,
}

impl Accept {
    async fn run(mut self) {
        loop {
            let Ok((client, _)) = self.listener.accept().await else {
                // Out of descriptors and the like: wait a moment rather
                // than spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            Counters::bump(&self.counters.accepted, 1);
            let faults = {
                let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
                registry.links.retain(|link| !link.is_closed());
                let (sender, receiver) = watch::channel(registry.ambient.clone());
                registry.links.push(sender);
                receiver
            };
            let link = link::Link::new(
                Arc::clone(&self.counters),
                fastrand::Rng::with_seed(self.rng.u64(..)),
            );
            tokio::spawn(link.run(client, self.target, faults));
        }
    }
}
