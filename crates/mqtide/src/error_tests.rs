//! The accessors of [`Error`] and its retry verdicts, against errors made
//! by hand (the integration tests meet them from real brokers).

use mqtide_proto::{ConnAckProperties, DisconnectProperties, PacketType, ProtocolError};

use super::*;
use crate::auth::AuthError;

fn server_disconnect(reason_code: ReasonCode, text: Option<&str>) -> ConnectionError {
    ConnectionError::ServerDisconnect {
        reason_code,
        properties: Box::new(DisconnectProperties {
            reason_string: text.map(Into::into),
            ..Default::default()
        }),
    }
}

fn refused(reason_code: ReasonCode) -> ConnectionError {
    ConnectionError::Refused {
        reason_code,
        properties: Box::new(ConnAckProperties::default()),
    }
}

#[test]
fn a_server_disconnect_gives_its_code_and_its_string() {
    let cause = DisconnectReason::Session(server_disconnect(
        ReasonCode::ServerShuttingDown,
        Some("maintenance"),
    ));
    for error in [
        Error::ConnectionLost(cause.clone()),
        Error::Interrupted {
            error: RequestError::ConnectionLost,
            cause,
        },
    ] {
        assert_eq!(error.reason_code(), Some(ReasonCode::ServerShuttingDown));
        assert!(error.to_string().contains("\"maintenance\""), "{error}");
        assert!(error.is_retryable(), "{error}");
        assert!(!error.is_protocol_violation() && !error.is_transport());
        assert_eq!(
            error.disconnect_reason().map(|r| r.reason_string()),
            Some(Some("maintenance"))
        );
    }
    let lost = Error::Connect(ConnectError::Lost {
        addr: "h:1883".into(),
        reason: server_disconnect(ReasonCode::ServerBusy, Some("later")),
    });
    assert_eq!(lost.reason_code(), Some(ReasonCode::ServerBusy));
    assert!(lost.to_string().contains("\"later\""), "{lost}");
}

#[test]
fn the_same_refusal_is_not_retryable_whatever_carries_it() {
    let denied = [
        Error::Connect(ConnectError::Refused {
            reason_code: ReasonCode::NotAuthorized,
            reason_string: None,
        }),
        Error::Connect(ConnectError::Auth(AuthError::ServerSignature)),
        Error::Auth(AuthError::ServerSignature),
        Error::ConnectionLost(DisconnectReason::Auth(AuthError::ServerSignature)),
        Error::ConnectionLost(DisconnectReason::Session(refused(
            ReasonCode::NotAuthorized,
        ))),
        Error::ConnectionLost(DisconnectReason::Session(server_disconnect(
            ReasonCode::NotAuthorized,
            None,
        ))),
        Error::Interrupted {
            error: RequestError::ConnectionLost,
            cause: DisconnectReason::Session(server_disconnect(ReasonCode::NotAuthorized, None)),
        },
        Error::Connect(ConnectError::Lost {
            addr: "h:1883".into(),
            reason: server_disconnect(ReasonCode::NotAuthorized, None),
        }),
    ];
    for error in denied {
        assert!(!error.is_retryable(), "{error:?}");
    }
}

#[test]
fn a_configuration_the_loop_does_not_retry_is_not_retryable() {
    let error = Error::ConnectionLost(DisconnectReason::Session(ConnectionError::InvalidConfig(
        UsageError::NotAllowed("test"),
    )));
    assert!(!error.is_retryable(), "{error}");
    let transport = Error::ConnectionLost(DisconnectReason::Transport(Arc::new(
        io::ErrorKind::ConnectionReset.into(),
    )));
    assert!(transport.is_retryable() && transport.is_transport());
    let untrusted = DisconnectReason::Transport(Arc::new(io::Error::new(
        io::ErrorKind::InvalidData,
        TlsFailure::UnknownIssuer,
    )));
    assert!(!Error::ConnectionLost(untrusted).is_retryable());
}

#[test]
fn a_protocol_violation_is_named_as_one() {
    let violation = ConnectionError::Protocol(ProtocolError::UnknownPacketId {
        packet: PacketType::PubAck,
        id: 1,
    });
    let error = Error::Interrupted {
        error: RequestError::SessionLost,
        cause: DisconnectReason::Session(violation.clone()),
    };
    assert!(error.is_protocol_violation() && !error.is_transport());
    assert_eq!(error.request_error(), Some(&RequestError::SessionLost));
    assert_eq!(error.reason_code(), None, "the broker gave no code");
    assert!(error.to_string().contains("PubAck"), "{error}");
    let before_connack = Error::Connect(ConnectError::Lost {
        addr: "h:1883".into(),
        reason: violation,
    });
    assert!(before_connack.is_protocol_violation());
}

#[test]
fn a_connect_never_answered_suggests_3_1_1_under_5_0() {
    let error = |protocol| ConnectError::NoConnack {
        addr: "h:1883".into(),
        seconds: 30.0,
        protocol,
    };
    let v5 = error(ProtocolVersion::V5).to_string();
    assert!(
        v5.contains("accepted the connection") && v5.contains("V3_1_1"),
        "{v5}"
    );
    let v311 = error(ProtocolVersion::V3_1_1).to_string();
    assert!(!v311.contains("V3_1_1"), "{v311}");
}
