//! Credentials and ACLs against a Mosquitto with a password file and an
//! ACL file: good and bad credentials, and an ACL denial surfacing as a
//! 5.0 reason code. (Mosquitto's `acl_file` grants every SUBSCRIBE and
//! filters on delivery, so a denied SUBACK entry cannot be shown with it.)

mod support;

use mqtide::{ConnectError, Error, ProtocolVersion, QoS, ReasonCode};
use mqtide_testkit::Mosquitto;
use support::{VERSIONS, client, guard};

fn secured() -> Mosquitto {
    Mosquitto::builder()
        .user("alice", "secret")
        .acl("user alice\ntopic readwrite allowed/#\n")
        .start()
        .unwrap()
}

fn refusal(result: Result<mqtide::Client, Error>) -> ReasonCode {
    match result {
        Err(Error::Connect(ConnectError::Refused { reason_code, .. })) => reason_code,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a connection"),
    }
}

#[tokio::test]
async fn good_and_bad_credentials() {
    let broker = secured();
    for version in VERSIONS {
        // In the URL or through the builder.
        let url = format!("mqtt://alice:secret@127.0.0.1:{}", broker.port());
        let c = guard("connect", client(&url, version, "creds-url").connect())
            .await
            .unwrap();
        guard("disconnect", c.disconnect()).await.unwrap();
        let c = client(&broker.url(), version, "creds")
            .credentials("alice", "secret")
            .connect();
        guard("connect", c).await.unwrap();

        // Mosquitto 2.0 refuses a wrong password as "not authorized".
        let wrong = client(&broker.url(), version, "wrong")
            .credentials("alice", "guess")
            .connect();
        assert_eq!(
            refusal(guard("connect", wrong).await),
            ReasonCode::NotAuthorized
        );
        let anonymous = client(&broker.url(), version, "anonymous").connect();
        let code = refusal(guard("connect", anonymous).await);
        assert!(
            matches!(
                code,
                ReasonCode::NotAuthorized | ReasonCode::BadUserNameOrPassword
            ),
            "{code}"
        );
    }
}

/// 5.0: a publish the ACL denies is acknowledged with "not authorized"
/// (3.1.1 has no way to say so: the broker acknowledges and drops it).
#[tokio::test]
async fn acl_denied_publish_surfaces_the_reason_code_in_5_0() {
    let broker = secured();
    let c = client(&broker.url(), ProtocolVersion::V5, "acl-pub")
        .credentials("alice", "secret")
        .connect();
    let c = guard("connect", c).await.unwrap();
    let denied = guard("publish", c.publish("denied/x", "no").qos(QoS::AtLeastOnce)).await;
    match denied {
        Err(e) => assert_eq!(e.reason_code(), Some(ReasonCode::NotAuthorized), "{e}"),
        Ok(outcome) => panic!("expected a refusal, got {outcome:?}"),
    }
    guard(
        "allowed",
        c.publish("allowed/x", "yes").qos(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
}
