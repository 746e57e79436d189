//! One proxied connection: the client socket, the target socket, and the
//! data on its way between them, under the faults of the moment.
//!
//! One task drives both directions with the sockets' readiness (`readable`
//! then `try_read`, `writable` then `try_write`), so that it owns both
//! sockets outright and can close them exactly as a fault asks: shut down
//! one write side (FIN), or drop both with `SO_LINGER` 0 (RST). Data read
//! waits in a per-direction queue until it is due (delay) and the rate
//! allows it (throttle); TCP never delivers a stream with a gap, and
//! neither does the proxy — a reset forwards a prefix of what is next on
//! the wire, never a later chunk.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

use super::{Counters, Direction, Faults};

/// Bytes read per `try_read`.
const READ_CHUNK: usize = 16 * 1024;

/// A direction stops reading once this much waits to be written, so a
/// blackholed or throttled peer pushes back on its sender as a real
/// network would.
const MAX_QUEUED: usize = 256 * 1024;

/// Under a throttle, each write carries at most this fraction of a
/// second's worth of bytes, so the rate holds over short spans.
const THROTTLE_SLICES_PER_SECOND: u64 = 50;

/// How long a cut may take to send its FINs.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(200);

/// A chunk read from one side, waiting for its time on the other.
#[derive(Debug)]
struct Chunk {
    due: Instant,
    data: Vec<u8>,
    /// How much of `data` has been written.
    sent: usize,
}

impl Chunk {
    fn rest(&self) -> &[u8] {
        &self.data[self.sent..]
    }
}

/// One direction's state.
#[derive(Debug)]
struct Pipe {
    queue: VecDeque<Chunk>,
    queued: usize,
    /// Nothing more is read from the sender (end-of-file or half-closed).
    read_closed: bool,
    /// The receiver's write side is shut down.
    write_closed: bool,
    /// Throttle: no write before this.
    next_write: Instant,
    /// The due time of the last chunk queued: a shorter delay never lets a
    /// chunk overtake an earlier one.
    last_due: Instant,
}

impl Pipe {
    fn new(now: Instant) -> Self {
        Self {
            queue: VecDeque::new(),
            queued: 0,
            read_closed: false,
            write_closed: false,
            next_write: now,
            last_due: now,
        }
    }

    /// When the head of the queue may be written, if there is one.
    fn head_due(&self, faults: &Faults) -> Option<Instant> {
        let due = self.queue.front()?.due;
        Some(match faults.throttle {
            Some(_) => due.max(self.next_write),
            None => due,
        })
    }

    fn is_done(&self) -> bool {
        self.read_closed && self.write_closed
    }
}

/// What one turn of the loop saw.
enum Ready {
    Faults,
    ProxyGone,
    Read(usize),
    Write(usize),
    Timer,
}

/// One connection's driver.
pub(super) struct Link {
    counters: Arc<Counters>,
    rng: fastrand::Rng,
}

impl Link {
    pub(super) fn new(counters: Arc<Counters>, rng: fastrand::Rng) -> Self {
        Self { counters, rng }
    }

    /// Connects to `target` and forwards until both directions are closed,
    /// a fault ends the connection, or the proxy is dropped.
    pub(super) async fn run(
        mut self,
        mut client: TcpStream,
        target: SocketAddr,
        mut faults: watch::Receiver<Faults>,
    ) {
        if faults.borrow_and_update().cut {
            Counters::bump(&self.counters.cut, 1);
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, client.shutdown()).await;
            return;
        }
        let Ok(server) = TcpStream::connect(target).await else {
            // The broker is down: the client sees its connection close, as
            // it would if the broker had refused it.
            Counters::bump(&self.counters.refused, 1);
            return;
        };
        // The proxy must not add Nagle's delay to what it forwards.
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let mut sockets = [client, server];
        self.forward(&mut sockets, &mut faults).await;
        // Dropping the sockets closes them (with RST after a reset).
    }

    /// The forwarding loop, until both directions are closed, a socket
    /// fails, a fault ends the connection or the proxy is gone.
    /// `sockets[0]` is the client, `sockets[1]` the target; direction `i`
    /// (a [`Direction::index`]) reads `sockets[i]` and writes
    /// `sockets[1 - i]`.
    async fn forward(
        &mut self,
        sockets: &mut [TcpStream; 2],
        faults: &mut watch::Receiver<Faults>,
    ) {
        let now = Instant::now();
        let mut pipes = [Pipe::new(now), Pipe::new(now)];
        let mut buf = vec![0; READ_CHUNK];
        loop {
            let current = faults.borrow_and_update().clone();
            if current.cut {
                Counters::bump(&self.counters.cut, 1);
                for socket in sockets.iter_mut() {
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.shutdown()).await;
                }
                return;
            }
            if current.reset && pipes.iter().any(|p| !p.queue.is_empty()) {
                self.reset(sockets, &pipes);
                return;
            }
            for d in [Direction::ToServer, Direction::ToClient] {
                let i = d.index();
                let pipe = &mut pipes[i];
                if current.half_close[i] && !pipe.write_closed {
                    Counters::bump(&self.counters.half_closed, 1);
                    pipe.queue.clear();
                    pipe.queued = 0;
                    pipe.read_closed = true;
                }
                // End-of-file (or a half-close) travels on once what was
                // read before it has been written.
                if pipe.read_closed && pipe.queue.is_empty() && !pipe.write_closed {
                    pipe.write_closed = true;
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sockets[1 - i].shutdown()).await;
                }
            }
            if pipes.iter().all(Pipe::is_done) {
                return;
            }

            let now = Instant::now();
            let flowing = !current.blackhole;
            let can_read = |p: &Pipe| flowing && !p.read_closed && p.queued < MAX_QUEUED;
            let due = [pipes[0].head_due(&current), pipes[1].head_due(&current)];
            let can_write =
                |i: usize| flowing && !pipes[i].write_closed && due[i].is_some_and(|at| at <= now);
            let timer = due
                .iter()
                .flatten()
                .filter(|at| **at > now)
                .min()
                .copied()
                .filter(|_| flowing);
            let (read0, read1) = (can_read(&pipes[0]), can_read(&pipes[1]));
            let (write0, write1) = (can_write(0), can_write(1));
            let ready = {
                let [client, server] = &*sockets;
                tokio::select! {
                    changed = faults.changed() => match changed {
                        Ok(()) => Ready::Faults,
                        Err(_) => Ready::ProxyGone,
                    },
                    // A readiness error shows again in the `try_*` call.
                    _ = client.readable(), if read0 => Ready::Read(0),
                    _ = server.readable(), if read1 => Ready::Read(1),
                    _ = server.writable(), if write0 => Ready::Write(0),
                    _ = client.writable(), if write1 => Ready::Write(1),
                    () = sleep_until(timer.unwrap_or(now)), if timer.is_some() => Ready::Timer,
                }
            };
            match ready {
                Ready::Faults | Ready::Timer => {}
                Ready::ProxyGone => return,
                Ready::Read(i) => match sockets[i].try_read(&mut buf) {
                    Ok(0) => pipes[i].read_closed = true,
                    Ok(n) => {
                        let pipe = &mut pipes[i];
                        let due = (Instant::now() + current.delay).max(pipe.last_due);
                        pipe.last_due = due;
                        pipe.queued += n;
                        pipe.queue.push_back(Chunk {
                            due,
                            data: buf[..n].to_vec(),
                            sent: 0,
                        });
                        if current.reset {
                            self.reset(sockets, &pipes);
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                },
                Ready::Write(i) => {
                    let pipe = &mut pipes[i];
                    let Some(chunk) = pipe.queue.front_mut() else {
                        continue;
                    };
                    let limit = current.throttle.map_or(usize::MAX, |rate| {
                        usize::try_from((rate / THROTTLE_SLICES_PER_SECOND).max(1))
                            .unwrap_or(usize::MAX)
                    });
                    let rest = chunk.rest();
                    let slice = &rest[..rest.len().min(limit)];
                    match sockets[1 - i].try_write(slice) {
                        Ok(n) => {
                            chunk.sent += n;
                            pipe.queued -= n;
                            Counters::bump(&self.counters.bytes, n as u64);
                            if chunk.rest().is_empty() {
                                pipe.queue.pop_front();
                            }
                            if let Some(rate) = current.throttle {
                                let pause = Duration::from_secs_f64(n as f64 / rate as f64);
                                pipe.next_write = pipe.next_write.max(Instant::now()) + pause;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                }
            }
        }
    }

    /// Forwards a random prefix of what is next on the wire in one
    /// direction, then resets both sockets.
    fn reset(&mut self, sockets: &[TcpStream; 2], pipes: &[Pipe; 2]) {
        Counters::bump(&self.counters.reset, 1);
        let busy: Vec<usize> = (0..2).filter(|&i| !pipes[i].queue.is_empty()).collect();
        if let Some(&i) = busy.get(self.rng.usize(..busy.len().max(1)))
            && let Some(chunk) = pipes[i].queue.front()
        {
            let rest = chunk.rest();
            // Mid-packet: at least one byte held back, when there is more
            // than one.
            let cut = if rest.len() > 1 {
                self.rng.usize(1..rest.len())
            } else {
                0
            };
            if let Ok(n) = sockets[1 - i].try_write(&rest[..cut]) {
                Counters::bump(&self.counters.bytes, n as u64);
            }
        }
        for socket in sockets {
            // Closing with a zero linger sends RST instead of FIN.
            let _ = socket.set_zero_linger();
        }
        // The sockets close when the caller drops them.
    }
}
