//! Mosquitto's own websockets listeners (libwebsockets), added to a
//! broker's configuration.
//!
//! Debian's Mosquitto 2.0.11 starts them given two things: a plain MQTT
//! listener beside them (with websockets listeners only it exits with
//! "Unable to start any listening sockets"; ours always has one), and
//! `socket_domain ipv4`, without which libwebsockets binds every
//! interface and ignores the 127.0.0.1 of the listener line.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::tls::{self, ServerCert, TlsMaterial};
use crate::{StartError, free_port, io_err};

/// Writes `material`'s CA, server certificate and key into `dir` as
/// `{prefix}ca.pem`, `{prefix}server.pem` and `{prefix}server.key`, the
/// files a listener's `cafile`, `certfile` and `keyfile` name.
pub(crate) fn write_certificates(
    dir: &Path,
    prefix: &str,
    material: &TlsMaterial,
) -> Result<(), StartError> {
    for (name, pem) in [
        ("ca.pem", &material.ca_pem),
        ("server.pem", &material.server_cert_pem),
        ("server.key", &material.server_key_pem),
    ] {
        fs::write(dir.join(format!("{prefix}{name}")), pem)
            .map_err(io_err("writing certificates"))?;
    }
    Ok(())
}

/// The websockets listeners of a broker: the `ws://` port, and the
/// `wss://` port with the certificates it presents.
pub(crate) struct NativeWebsockets {
    pub(crate) ws: Option<u16>,
    pub(crate) wss: Option<(u16, TlsMaterial)>,
}

/// Appends the websockets listeners asked for to `mosquitto.conf` in
/// `dir`: `ws://` on a free port, and `wss://` presenting `material` (the
/// TLS listener's) or certificates generated for it. Returns their ports
/// (and the `wss://` one's certificates).
pub(crate) fn native_websockets(
    dir: &Path,
    ws: bool,
    wss: bool,
    material: Option<&TlsMaterial>,
) -> Result<NativeWebsockets, StartError> {
    let mut config = String::new();
    let ws_port = if ws {
        let port = free_port().map_err(io_err("finding a free port"))?;
        config.push_str(&format!(
            "\nlistener {port} 127.0.0.1\nprotocol websockets\nsocket_domain ipv4\n"
        ));
        Some(port)
    } else {
        None
    };
    let wss_port = if wss {
        let material = match material {
            Some(material) => material.clone(),
            None => tls::generate(ServerCert::Valid)?,
        };
        write_certificates(dir, "ws-", &material)?;
        let port = free_port().map_err(io_err("finding a free port"))?;
        config.push_str(&format!(
            "\nlistener {port} 127.0.0.1\nprotocol websockets\nsocket_domain ipv4\n\
             cafile {d}/ws-ca.pem\ncertfile {d}/ws-server.pem\nkeyfile {d}/ws-server.key\n",
            d = dir.display()
        ));
        Some((port, material))
    } else {
        None
    };
    if !config.is_empty() {
        File::options()
            .append(true)
            .open(dir.join("mosquitto.conf"))
            .and_then(|mut file| file.write_all(config.as_bytes()))
            .map_err(io_err("writing mosquitto.conf"))?;
    }
    Ok(NativeWebsockets {
        ws: ws_port,
        wss: wss_port,
    })
}
