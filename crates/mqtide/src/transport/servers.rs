//! Which broker the next connection goes to: the configured list walked in
//! turn (failover for clustered brokers), and 5.0 server redirection
//! (CONNACK or DISCONNECT with "use another server" / "server moved" and a
//! Server Reference) when the application allows it.

use std::fmt;

use mqtide_proto::ReasonCode;

use super::{Connector, ServerAddr};
use crate::error::Error;

/// Builds the transport for an address with the client's options (TLS,
/// WebSocket headers, proxy).
pub(crate) type MakeConnector = Box<dyn Fn(ServerAddr) -> Result<Connector, Error> + Send>;

/// At most this many redirections in a row are followed: two brokers
/// pointing at each other must not keep the client busy forever.
const MAX_REDIRECTS: u32 = 8;

pub(crate) struct Servers {
    list: Vec<Connector>,
    current: usize,
    /// A temporary redirection ("use another server"): the next attempt
    /// only.
    detour: Option<Connector>,
    /// Builds connectors for the servers a broker redirects us to; `None`
    /// when following redirections is off (it holds a copy of the
    /// builder, which an idle client has no use for).
    make: Option<MakeConnector>,
    redirects: u32,
}

impl fmt::Debug for Servers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Servers")
            .field("current", &self.connector().addr)
            .field("count", &self.list.len())
            .finish()
    }
}

impl Servers {
    /// `list` must not be empty (the builder always has one URL).
    pub(crate) fn new(list: Vec<Connector>, make: Option<MakeConnector>) -> Self {
        Self {
            list,
            current: 0,
            detour: None,
            make,
            redirects: 0,
        }
    }

    /// Where the next connection goes.
    pub(crate) fn connector(&self) -> &Connector {
        self.detour
            .as_ref()
            .unwrap_or_else(|| &self.list[self.current % self.list.len()])
    }

    /// A connection came up: redirections start counting afresh.
    pub(crate) fn connected(&mut self) {
        self.redirects = 0;
    }

    /// The attempt failed: the next one goes to the next broker. True when
    /// that starts a new pass over the list (every broker failed once).
    pub(crate) fn advance(&mut self) -> bool {
        if self.detour.take().is_some() {
            return false;
        }
        self.current = (self.current + 1) % self.list.len();
        self.current == 0
    }

    /// Follows a redirection the connection ended with (the reason code
    /// of the broker's CONNACK or DISCONNECT and its Server Reference), if
    /// the application allows it: the address it now goes to, and whether
    /// the move is permanent.
    pub(crate) fn follow(
        &mut self,
        code: ReasonCode,
        reference: Option<&str>,
    ) -> Option<(String, bool)> {
        let permanent = match code {
            ReasonCode::ServerMoved => true,
            ReasonCode::UseAnotherServer => false,
            _ => return None,
        };
        let reference = reference?;
        let Some(make) = &self.make else {
            tracing::info!(%reference, "the broker redirects us; following redirections is off");
            return None;
        };
        if self.redirects >= MAX_REDIRECTS {
            tracing::warn!(%reference, "too many redirections in a row; not following");
            return None;
        }
        let Some(addr) = redirect_target(&self.connector().addr, reference) else {
            tracing::warn!(%reference, "cannot use the broker's server reference");
            return None;
        };
        let connector = match make(addr) {
            Ok(connector) => connector,
            Err(e) => {
                tracing::warn!(%reference, %e, "cannot connect where the broker redirects us");
                return None;
            }
        };
        self.redirects += 1;
        let to = connector.addr.to_string();
        if permanent {
            let index = self.current % self.list.len();
            self.list[index] = connector;
            self.detour = None;
        } else {
            self.detour = Some(connector);
        }
        Some((to, permanent))
    }
}

/// The address a Server Reference names, with everything else (scheme,
/// credentials, WebSocket path) as before. The spec leaves its format to
/// the implementation; brokers send `host`, `host:port` or `[v6]:port`,
/// and may list several separated by spaces: the first is used.
fn redirect_target(current: &ServerAddr, reference: &str) -> Option<ServerAddr> {
    let first = reference.split_whitespace().next()?;
    // A reference given as a URL: take its host and port.
    let first = first.split_once("://").map_or(first, |(_, rest)| rest);
    let first = first.split('/').next()?;
    let (host, port) = if let Some(rest) = first.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        (host, port)
    } else {
        match first.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port.parse().ok()?)),
            _ => (first, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let mut addr = current.clone();
    addr.host = host.to_owned();
    if let Some(port) = port {
        addr.port = port;
    }
    Some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_references_in_the_forms_brokers_send() {
        let current = ServerAddr::parse("mqtt://user:pw@a.example:1884").unwrap();
        let cases = [
            ("b.example", Some(("b.example", 1884))),
            ("b.example:1999", Some(("b.example", 1999))),
            ("b.example:1999 c.example:2000", Some(("b.example", 1999))),
            ("mqtt://b.example:1999", Some(("b.example", 1999))),
            ("[::1]:1999", Some(("::1", 1999))),
            ("[::1]", Some(("::1", 1884))),
            ("b.example:port", None),
            ("", None),
            ("[::1", None),
        ];
        for (reference, expected) in cases {
            let got = redirect_target(&current, reference);
            assert_eq!(
                got.as_ref().map(|a| (a.host.as_str(), a.port)),
                expected,
                "{reference:?}"
            );
            if let Some(addr) = got {
                assert_eq!(addr.username.as_deref(), Some("user"));
            }
        }
    }
}
