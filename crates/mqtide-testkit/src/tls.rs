//! Certificates generated at test time (rcgen) for TLS listeners: a CA, a
//! server certificate (valid, for the wrong host, or expired) and a client
//! certificate for mutual TLS.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    date_time_ymd,
};

/// Which server certificate a TLS listener presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerCert {
    /// Valid for `localhost` and `127.0.0.1`, signed by the test CA.
    #[default]
    Valid,
    /// Signed by the test CA but issued for `wrong-host.invalid` only.
    WrongHost,
    /// Valid names, but expired in 2001.
    Expired,
}

/// A TLS listener beside the plain one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlsListener {
    /// Require a client certificate signed by the test CA (mutual TLS).
    pub require_client_cert: bool,
    /// The server certificate to present.
    pub server_cert: ServerCert,
}

/// The PEM files of a TLS listener, for the client under test.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// The CA that signed the server and client certificates.
    pub ca_pem: String,
    /// The server certificate.
    pub server_cert_pem: String,
    /// The server certificate's private key (PKCS#8), for tests that run
    /// a TLS server of their own.
    pub server_key_pem: String,
    /// A client certificate signed by the CA.
    pub client_cert_pem: String,
    /// Its private key (PKCS#8).
    pub client_key_pem: String,
}

/// Generates a CA and, signed by it, a server certificate (`server`) and a
/// client certificate, for tests that need TLS material without a broker.
pub fn generate(server: ServerCert) -> Result<TlsMaterial, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mqtide test CA");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca = Issuer::new(ca_params, ca_key);

    let names = match server {
        ServerCert::WrongHost => vec!["wrong-host.invalid".to_owned()],
        ServerCert::Valid | ServerCert::Expired => {
            vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
        }
    };
    let server_key = KeyPair::generate()?;
    let mut server_params = CertificateParams::new(names)?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "mqtide test broker");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if server == ServerCert::Expired {
        server_params.not_before = date_time_ymd(2000, 1, 1);
        server_params.not_after = date_time_ymd(2001, 1, 1);
    }
    let server_cert = server_params.signed_by(&server_key, &ca)?;

    let client_key = KeyPair::generate()?;
    let mut client_params = CertificateParams::new(Vec::<String>::new())?;
    client_params
        .distinguished_name
        .push(DnType::CommonName, "mqtide-test-client");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &ca)?;

    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        server_cert_pem: server_cert.pem(),
        server_key_pem: server_key.serialize_pem(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    })
}
