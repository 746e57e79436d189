//! TLS with rustls (`mqtts://`): system roots by default, or a CA of the
//! user's; client certificates for mutual TLS; ALPN; SNI; and a loudly
//! named way to skip verification for test brokers.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature,
};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::Transport;
use crate::error::{Error, TlsFailure};

/// How to secure an `mqtts://` connection. The default verifies the
/// broker's certificate against the system's roots and its host name.
///
/// A certificate that does not verify, or a broker that rejects the
/// handshake, fails the first connection with
/// [`ConnectError::Tls`](crate::ConnectError::Tls); its
/// [`TlsFailure`] says what went wrong and what to do.
#[derive(Clone, Default)]
pub struct TlsOptions {
    ca_pem: Option<Vec<u8>>,
    client_cert: Option<(Vec<u8>, Vec<u8>)>,
    alpn: Vec<Vec<u8>>,
    server_name: Option<String>,
    dangerous_no_verification: bool,
    dangerous_any_name: bool,
    error: Option<String>,
}

impl fmt::Debug for TlsOptions {
    /// The client key never appears.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("custom_ca", &self.ca_pem.is_some())
            .field("client_certificate", &self.client_cert.is_some())
            .field("alpn", &self.alpn)
            .field("server_name", &self.server_name)
            .field("dangerous_no_verification", &self.dangerous_no_verification)
            .field("dangerous_any_name", &self.dangerous_any_name)
            .finish()
    }
}

impl TlsOptions {
    /// System roots, host-name verification, no client certificate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trust these CA certificates (PEM) instead of the system's roots.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Trust the CA certificates in this PEM file instead of the system's.
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> Self {
        match std::fs::read(path.as_ref()) {
            Ok(pem) => self.ca_pem = Some(pem),
            Err(e) => {
                self.error = Some(format!(
                    "cannot read CA file {}: {e}",
                    path.as_ref().display()
                ));
            }
        }
        self
    }

    /// Present this client certificate chain and key (PEM; the key as
    /// PKCS#1, PKCS#8 or SEC1) for mutual TLS.
    pub fn client_cert(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_cert = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// ALPN protocols to offer (AWS IoT on port 443 wants `x-amzn-mqtt-ca`).
    pub fn alpn<P: Into<Vec<u8>>>(mut self, protocols: impl IntoIterator<Item = P>) -> Self {
        self.alpn = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The name to send as SNI and to verify the certificate against
    /// (default: the URL's host).
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// **Dangerous**: accept any certificate for any name. The connection
    /// is encrypted but anyone on the path can impersonate the broker. For
    /// test brokers with self-signed certificates only.
    pub fn dangerous_accept_any_certificate(mut self) -> Self {
        self.dangerous_no_verification = true;
        self
    }

    /// **Dangerous**: verify the certificate as usual (chain, trusted CA,
    /// dates) but accept it whatever host name it was issued for, as
    /// `mosquitto_pub --insecure` does. Anyone holding a certificate from
    /// a CA you trust can then impersonate the broker. For a broker whose
    /// certificate names another host (an IP address, a test machine).
    ///
    /// ```
    /// use mqtide::TlsOptions;
    ///
    /// let tls = TlsOptions::new().ca_file("test-ca.pem").dangerous_skip_hostname_verification();
    /// let builder = mqtide::Client::builder("mqtts://10.0.0.7:8883").tls(tls);
    /// # drop(builder);
    /// ```
    pub fn dangerous_skip_hostname_verification(mut self) -> Self {
        self.dangerous_any_name = true;
        self
    }

    /// The rustls configuration, or what is wrong with the options.
    pub(crate) fn connector(&self, host: &str) -> Result<TlsSetup, Error> {
        let invalid = |reason: String| Error::InvalidOption(format!("TLS: {reason}"));
        if let Some(error) = &self.error {
            return Err(invalid(error.clone()));
        }
        let provider = Arc::new(ring_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(e.to_string()))?;
        let builder = if self.dangerous_no_verification {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
        } else if self.dangerous_any_name {
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(self.roots()?), provider)
                    .build()
                    .map_err(|e| invalid(e.to_string()))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName(verifier)))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        let mut config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert_pem, key_pem)) => {
                let chain = CertificateDer::pem_slice_iter(cert_pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| invalid(format!("client certificate: {e}")))?;
                if chain.is_empty() {
                    return Err(invalid(
                        "the client certificate PEM holds no certificate".into(),
                    ));
                }
                let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
                    invalid(format!(
                        "client key (PKCS#1, PKCS#8 or SEC1 PEM expected): {e}"
                    ))
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| invalid(format!("client certificate and key: {e}")))?
            }
        };
        config.alpn_protocols = self.alpn.clone();
        let name = self.server_name.clone().unwrap_or_else(|| host.to_owned());
        let server_name = ServerName::try_from(name.clone())
            .map_err(|_| invalid(format!("{name:?} is not a valid server name")))?;
        Ok(TlsSetup {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    fn roots(&self) -> Result<RootCertStore, Error> {
        let mut roots = RootCertStore::empty();
        match &self.ca_pem {
            Some(pem) => {
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert =
                        cert.map_err(|e| Error::InvalidOption(format!("TLS: CA PEM: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| Error::InvalidOption(format!("TLS: CA certificate: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(Error::InvalidOption(
                        "TLS: the CA PEM holds no certificate".into(),
                    ));
                }
            }
            None => {
                // A certificate the system store holds but rustls cannot
                // parse is skipped, not fatal.
                let found = rustls_native_certs::load_native_certs();
                let (added, skipped) = roots.add_parsable_certificates(found.certs);
                if skipped > 0 || !found.errors.is_empty() {
                    tracing::debug!(
                        added,
                        skipped,
                        errors = found.errors.len(),
                        "system roots loaded with some skipped"
                    );
                }
            }
        }
        Ok(roots)
    }
}

/// A ready TLS connector and the name to verify.
#[derive(Clone)]
pub(crate) struct TlsSetup {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSetup")
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsSetup {
    pub(crate) async fn connect(&self, tcp: TcpStream) -> io::Result<Box<dyn Transport>> {
        let stream = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(handshake_failed)?;
        Ok(Box::new(stream))
    }
}

/// Why a handshake failed, as [`explain`] says, except that one the
/// broker cut short (closed, reset) or answered with something that is not
/// TLS becomes [`TlsFailure::NotTls`]: a plain `mqtt://` listener does just
/// that with a ClientHello.
fn handshake_failed(error: io::Error) -> io::Error {
    let rustls = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    let garbled = matches!(rustls, Some(rustls::Error::InvalidMessage(_)));
    let cut = rustls.is_none()
        && matches!(
            error.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::BrokenPipe
        );
    if garbled || cut {
        return io::Error::new(error.kind(), TlsFailure::NotTls(error.to_string()));
    }
    explain(error)
}

/// Turns a TLS failure inside an I/O error into a [`TlsFailure`] inside
/// it, which says what to do and which the event loop reports as
/// [`ConnectError::Tls`](crate::ConnectError::Tls). Any other error, and
/// one already explained, is returned as it is.
pub(crate) fn explain(error: io::Error) -> io::Error {
    let Some(tls) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    else {
        return error;
    };
    io::Error::new(error.kind(), failure(tls))
}

/// What a rustls error means to the user.
fn failure(error: &rustls::Error) -> TlsFailure {
    match error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer => TlsFailure::UnknownIssuer,
            CertificateError::NotValidForName => TlsFailure::NotValidForName { names: Vec::new() },
            CertificateError::NotValidForNameContext { presented, .. } => {
                TlsFailure::NotValidForName {
                    names: presented.iter().map(|name| plain_name(name)).collect(),
                }
            }
            CertificateError::BadSignature => TlsFailure::BadSignature,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsFailure::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsFailure::NotValidYet
            }
            other => TlsFailure::InvalidCertificate(other.to_string()),
        },
        rustls::Error::AlertReceived(alert) => TlsFailure::HandshakeRejected {
            alert: format!("{alert:?}"),
        },
        other => TlsFailure::Other(other.to_string()),
    }
}

/// A certificate name as webpki shows it (`DnsName("broker.example")`,
/// `IpAddress(192.0.2.1)`) without the wrapping; any other form as it is.
fn plain_name(shown: &str) -> String {
    shown
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            shown
                .strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .unwrap_or(shown)
        .to_owned()
}

/// The verifier behind [`TlsOptions::dangerous_skip_hostname_verification`]:
/// rustls' own, but a certificate not issued for the name is taken. webpki
/// checks the chain, the trust anchor and the dates before the name, so
/// that error means they passed.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The verifier behind [`TlsOptions::dangerous_accept_any_certificate`]:
/// any certificate, any name; signatures are still checked so the
/// handshake itself is sound.
#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// rustls' provider on *ring*. rustls 0.23.48 deprecates it ("no support
/// for post-quantum algorithms": its key exchanges are X25519 and the
/// NIST curves, no ML-KEM hybrid); the provider that has them, aws-lc-rs,
/// needs cmake and a C toolchain on every machine that builds us, which is
/// why ring was chosen (see the workspace manifest). Until ring gains a
/// post-quantum key exchange, this is the provider, and the deprecation is
/// acknowledged here once rather than printed on every downstream build
/// that resolves rustls 0.23.48 or later (issue 31, item 6). `allow`, not
/// `expect`: the locked rustls predates the deprecation.
#[allow(
    deprecated,
    reason = "ring's provider, chosen over aws-lc-rs; see above"
)]
fn ring_provider() -> CryptoProvider {
    ring::default_provider()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The failure an explained error carries.
    fn explained(error: rustls::Error) -> (io::ErrorKind, Option<TlsFailure>) {
        let error = explain(io::Error::new(io::ErrorKind::InvalidData, error));
        let failure = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<TlsFailure>())
            .cloned();
        (error.kind(), failure)
    }

    #[test]
    fn certificate_errors_become_what_to_do() {
        let name = ServerName::try_from("localhost").unwrap();
        for (error, expected, retryable) in [
            (
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                TlsFailure::UnknownIssuer,
                false,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                    expected: name,
                    presented: vec![
                        "DnsName(\"wrong-host.invalid\")".into(),
                        "IpAddress(192.0.2.1)".into(),
                    ],
                }),
                TlsFailure::NotValidForName {
                    names: vec!["wrong-host.invalid".into(), "192.0.2.1".into()],
                },
                false,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
                TlsFailure::NotValidForName { names: Vec::new() },
                false,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::Expired),
                TlsFailure::Expired,
                false,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::NotValidYet),
                TlsFailure::NotValidYet,
                false,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::BadSignature),
                TlsFailure::BadSignature,
                false,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::Revoked),
                TlsFailure::InvalidCertificate(CertificateError::Revoked.to_string()),
                false,
            ),
            (
                rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired),
                TlsFailure::HandshakeRejected {
                    alert: "CertificateRequired".into(),
                },
                false,
            ),
            (
                rustls::Error::NoCertificatesPresented,
                TlsFailure::Other(rustls::Error::NoCertificatesPresented.to_string()),
                true,
            ),
        ] {
            let shown = error.to_string();
            let (kind, failure) = explained(error);
            assert_eq!(kind, io::ErrorKind::InvalidData, "{shown}");
            assert_eq!(failure.as_ref(), Some(&expected), "{shown}");
            assert_eq!(expected.is_retryable(), retryable, "{shown}");
        }
    }

    /// Other I/O errors pass through, and explaining twice changes nothing.
    #[test]
    fn a_handshake_cut_short_or_garbled_may_be_a_plain_port() {
        for error in [
            io::Error::from(io::ErrorKind::ConnectionReset),
            io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof"),
            io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
            ),
        ] {
            let failed = handshake_failed(error);
            let failure = failed
                .get_ref()
                .and_then(|e| e.downcast_ref::<TlsFailure>());
            assert!(matches!(failure, Some(TlsFailure::NotTls(_))), "{failed}");
            assert!(failed.to_string().contains("may not speak TLS"), "{failed}");
        }
        // A certificate that does not verify is what it is.
        let failed = handshake_failed(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        ));
        assert_eq!(
            failed
                .get_ref()
                .and_then(|e| e.downcast_ref::<TlsFailure>()),
            Some(&TlsFailure::UnknownIssuer)
        );
    }

    #[test]
    fn other_errors_pass_through() {
        let reset = explain(io::ErrorKind::ConnectionReset.into());
        assert_eq!(reset.kind(), io::ErrorKind::ConnectionReset);
        assert!(reset.get_ref().is_none());
        let once = explain(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        ));
        let twice = explain(once);
        assert_eq!(
            twice.get_ref().and_then(|e| e.downcast_ref::<TlsFailure>()),
            Some(&TlsFailure::UnknownIssuer)
        );
    }
}
