//! SCRAM-SHA-256 against the RFC 7677 §3 test vector, and against every
//! way a broker's messages can be wrong.

use super::*;

// RFC 7677 §3: user "user", password "pencil".
const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc() -> ScramSha256 {
    ScramSha256::with_nonce("user", "pencil", CLIENT_NONCE)
}

fn text(data: Option<Bytes>) -> String {
    String::from_utf8(data.expect("data to send").to_vec()).expect("SCRAM messages are UTF-8")
}

/// `auth` after start(), fed `server_first`.
fn step_with(auth: &mut ScramSha256, server_first: &str) -> Result<Option<Bytes>, AuthError> {
    auth.start().expect("start");
    auth.step(Some(server_first.as_bytes()))
}

/// The RFC's server-first with one attribute replaced.
fn server_first_with(attribute: &str) -> String {
    let name = &attribute[..2];
    SERVER_FIRST
        .split(',')
        .map(|a| if a.starts_with(name) { attribute } else { a })
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn rfc_7677_test_vector() {
    // Through the trait object, as the client holds it.
    let mut auth: Box<dyn Authenticator> = Box::new(rfc());
    assert_eq!(auth.method(), "SCRAM-SHA-256");
    assert_eq!(text(auth.start().unwrap()), CLIENT_FIRST);
    assert_eq!(
        text(auth.step(Some(SERVER_FIRST.as_bytes())).unwrap()),
        CLIENT_FINAL
    );
    auth.finish(Some(SERVER_FINAL.as_bytes())).unwrap();
}

#[test]
fn a_re_authentication_runs_the_exchange_again() {
    let mut auth = rfc();
    for _ in 0..2 {
        assert_eq!(text(auth.start().unwrap()), CLIENT_FIRST);
        let answer = auth.step(Some(SERVER_FIRST.as_bytes())).unwrap();
        assert_eq!(text(answer), CLIENT_FINAL);
        auth.finish(Some(SERVER_FINAL.as_bytes())).unwrap();
    }
    // start() abandons an unfinished exchange.
    auth.start().unwrap();
    auth.start().unwrap();
    let answer = auth.step(Some(SERVER_FIRST.as_bytes())).unwrap();
    assert_eq!(text(answer), CLIENT_FINAL);
}

#[test]
fn a_new_salt_derives_new_keys() {
    let other = server_first_with("s=c2FsdHNhbHRzYWx0");
    let mut reused = rfc();
    step_with(&mut reused, SERVER_FIRST).unwrap();
    let after_cache = text(step_with(&mut reused, &other).unwrap());
    let fresh = text(step_with(&mut rfc(), &other).unwrap());
    assert_eq!(after_cache, fresh);
    assert_ne!(after_cache, CLIENT_FINAL);
}

#[test]
fn a_wrong_server_signature_is_rejected() {
    // Another 32-byte signature, and signatures of the wrong length.
    for bad in [
        "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        "v=AAAAAAAAAAAAAAAAAAAAAA==",
        "v=",
    ] {
        let mut auth = rfc();
        step_with(&mut auth, SERVER_FIRST).unwrap();
        let error = auth.finish(Some(bad.as_bytes())).unwrap_err();
        assert!(
            matches!(error, AuthError::ServerSignature),
            "{bad}: {error}"
        );
    }
    // The right signature for another exchange (another password).
    let mut auth = ScramSha256::with_nonce("user", "pencil2", CLIENT_NONCE);
    step_with(&mut auth, SERVER_FIRST).unwrap();
    let error = auth.finish(Some(SERVER_FINAL.as_bytes())).unwrap_err();
    assert!(matches!(error, AuthError::ServerSignature), "{error}");
}

#[test]
fn malformed_server_first_messages_are_typed_errors() {
    let cases: &[&[u8]] = &[
        b"",
        b"garbage",
        b"s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqO%hv,i=4096",
        b"r=rOprNGfwEbeRWgbNEkqO%hv",
        b"r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==",
        b"r=rOprNGfwEbeRWgbNEkqO%hv,s=not base64!,i=4096",
        b"r=rOprNGfwEbeRWgbNEkqO%hv,s=,i=4096",
        b"r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
        b"r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+4096",
        b"r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
        b"r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
        b"r=rOprNGfwEbeRWgbNEkqO\x01,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        b"r=rOprNGfwEbeRWgbNEkqO\xff,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        b"x=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    ];
    for case in cases {
        let mut auth = rfc();
        auth.start().unwrap();
        let error = auth.step(Some(case)).unwrap_err();
        assert!(
            matches!(error, AuthError::Malformed { .. }),
            "{}: {error}",
            String::from_utf8_lossy(case)
        );
        // The exchange is over: a retry without start() is out of order.
        let again = auth.step(Some(SERVER_FIRST.as_bytes())).unwrap_err();
        assert!(matches!(again, AuthError::OutOfOrder(_)), "{again}");
    }
    let mut auth = rfc();
    auth.start().unwrap();
    let error = auth.step(None).unwrap_err();
    assert!(matches!(error, AuthError::MissingData { .. }), "{error}");
}

#[test]
fn every_prefix_of_the_server_messages_is_answered_without_panic() {
    for end in 0..SERVER_FIRST.len() {
        let mut auth = rfc();
        auth.start().unwrap();
        // Cut anywhere, the message is either wrong or (cut inside the
        // salt at a base64 quad) names another salt: never a panic.
        let _ = auth.step(Some(&SERVER_FIRST.as_bytes()[..end]));
    }
    for end in 0..SERVER_FINAL.len() {
        let mut auth = rfc();
        step_with(&mut auth, SERVER_FIRST).unwrap();
        assert!(auth.finish(Some(&SERVER_FINAL.as_bytes()[..end])).is_err());
    }
}

#[test]
fn a_nonce_that_does_not_extend_ours_is_rejected() {
    for nonce in [
        "r=someoneElsesNonce%hvYDpWUa2RaTCAfuxF",
        // Ours alone: the server added nothing of its own.
        "r=rOprNGfwEbeRWgbNEkqO",
        // A prefix of ours.
        "r=rOprNGfwEbeRW",
    ] {
        let error = step_with(&mut rfc(), &server_first_with(nonce)).unwrap_err();
        assert!(
            matches!(error, AuthError::NonceMismatch),
            "{nonce}: {error}"
        );
    }
}

#[test]
fn iteration_counts_outside_the_range_are_rejected() {
    for count in [
        0,
        1,
        4095,
        ScramSha256::DEFAULT_MAX_ITERATIONS + 1,
        u32::MAX,
    ] {
        let error = step_with(&mut rfc(), &server_first_with(&format!("i={count}"))).unwrap_err();
        assert!(
            matches!(error, AuthError::IterationCount { count: c, min: 4096, .. } if c == count),
            "{count}: {error}"
        );
    }
    // The ceiling is the caller's to raise (never below the floor).
    let mut auth = rfc().max_iterations(4000);
    assert!(step_with(&mut auth, SERVER_FIRST).is_ok());
    let mut auth = rfc().max_iterations(4096);
    let error = step_with(&mut auth, &server_first_with("i=4097")).unwrap_err();
    assert!(
        matches!(error, AuthError::IterationCount { max: 4096, .. }),
        "{error}"
    );
}

#[test]
fn a_mandatory_extension_is_refused() {
    let error = step_with(&mut rfc(), &format!("m=channel,{SERVER_FIRST}")).unwrap_err();
    assert!(
        matches!(&error, AuthError::UnsupportedExtension(m) if m == "channel"),
        "{error}"
    );
}

#[test]
fn optional_extensions_are_ignored() {
    let answer = text(step_with(&mut rfc(), &format!("{SERVER_FIRST},x=whatever")).unwrap());
    let (without_proof, _) = CLIENT_FINAL.split_once(",p=").unwrap();
    // The same answer, but a proof over an AuthMessage that includes x=.
    assert!(
        answer.starts_with(&format!("{without_proof},p=")),
        "{answer}"
    );
    assert_ne!(answer, CLIENT_FINAL);
}

#[test]
fn the_servers_error_is_reported() {
    let mut auth = rfc();
    step_with(&mut auth, SERVER_FIRST).unwrap();
    let error = auth.finish(Some(b"e=invalid-proof")).unwrap_err();
    assert!(
        matches!(&error, AuthError::ServerError(e) if e == "invalid-proof"),
        "{error}"
    );
}

#[test]
fn calls_out_of_order_are_typed_errors() {
    let mut auth = rfc();
    let error = auth.step(Some(SERVER_FIRST.as_bytes())).unwrap_err();
    assert!(matches!(error, AuthError::OutOfOrder(_)), "{error}");
    let error = auth.finish(Some(SERVER_FINAL.as_bytes())).unwrap_err();
    assert!(matches!(error, AuthError::OutOfOrder(_)), "{error}");

    // Success right after client-first: the server skipped the proof.
    auth.start().unwrap();
    let error = auth.finish(None).unwrap_err();
    assert!(matches!(error, AuthError::OutOfOrder(_)), "{error}");

    // A second Continue after the proof.
    step_with(&mut auth, SERVER_FIRST).unwrap();
    let error = auth.step(Some(SERVER_FIRST.as_bytes())).unwrap_err();
    assert!(matches!(error, AuthError::OutOfOrder(_)), "{error}");

    // Success without server-final: the server never proved itself.
    step_with(&mut auth, SERVER_FIRST).unwrap();
    let error = auth.finish(None).unwrap_err();
    assert!(matches!(error, AuthError::MissingData { .. }), "{error}");
}

#[test]
fn user_names_are_escaped() {
    let mut auth = ScramSha256::with_nonce("a=b,c", "pencil", CLIENT_NONCE);
    assert_eq!(
        text(auth.start().unwrap()),
        "n,,n=a=3Db=2Cc,r=rOprNGfwEbeRWgbNEkqO"
    );
    let error = ScramSha256::new("", "pencil").start().unwrap_err();
    assert!(matches!(error, AuthError::InvalidCredentials(_)), "{error}");
}

#[test]
fn random_nonces_are_fresh_and_printable() {
    let mut auth = ScramSha256::new("user", "pencil");
    let first = text(auth.start().unwrap());
    let second = text(auth.start().unwrap());
    assert_ne!(first, second);
    for message in [&first, &second] {
        let nonce = message.strip_prefix("n,,n=user,r=").unwrap();
        assert_eq!(nonce.len(), 24, "{message}");
        assert!(!nonce.contains(','), "{message}");
    }
}

#[test]
fn debug_output_hides_the_password() {
    let auth = ScramSha256::new("user", "pencil");
    let debug = format!("{auth:?}");
    assert!(debug.contains("user"), "{debug}");
    assert!(!debug.contains("pencil"), "{debug}");
}
