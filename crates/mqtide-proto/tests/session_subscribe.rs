//! SUBSCRIBE and UNSUBSCRIBE with per-filter results.

mod harness;

use harness::{Harness, pid};
use mqtide_proto::{
    AckProperties, Completion, ConnAck, ConnectionError, Packet, ProtocolError, ProtocolVersion,
    QoS, ReasonCode, RetainHandling, SubAck, SubscribeProperties, SubscriptionId,
    SubscriptionOptions, TopicFilter, UnsubAck, UsageError,
};

fn filter(f: &str) -> TopicFilter {
    TopicFilter::new(f).unwrap()
}

each_version! {
    /// SUBACK answers each filter in order with the granted QoS or a
    /// failure ([MQTT-3.9.3-1]); shared subscriptions are valid filters.
    fn subscribe_reports_per_filter_results(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        let id = h
            .session
            .subscribe(
                vec![
                    (filter("a/+"), SubscriptionOptions::new(QoS::ExactlyOnce)),
                    (filter("$share/workers/jobs/#"), SubscriptionOptions::new(QoS::AtLeastOnce)),
                    (filter("forbidden"), SubscriptionOptions::new(QoS::AtMostOnce)),
                ],
                SubscribeProperties::default(),
                h.now,
            )
            .unwrap();
        h.drain();
        let Packet::Subscribe(sub) = h.expect_sent() else { panic!("expected SUBSCRIBE") };
        assert_eq!(sub.filters.len(), 3);
        assert_eq!(sub.filters[1].0, "$share/workers/jobs/#");
        let codes = vec![ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError];
        h.deliver(SubAck { packet_id: sub.packet_id, properties: AckProperties::default(), reason_codes: codes.clone() });
        match h.expect_completed(id) {
            Ok(Completion::Subscribed { reason_codes, .. }) => assert_eq!(reason_codes, codes),
            other => panic!("expected Subscribed, got {other:?}"),
        }
    }
}

each_version! {
    /// UNSUBACK completes the UNSUBSCRIBE; 3.1.1 has no per-filter codes,
    /// so each filter reports Success.
    fn unsubscribe_reports_per_filter_results(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        let id = h.session.unsubscribe(vec![filter("a/+"), filter("b")], Default::default(), h.now).unwrap();
        h.drain();
        let Packet::Unsubscribe(unsub) = h.expect_sent() else { panic!("expected UNSUBSCRIBE") };
        let codes = if version.is_v5() {
            vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
        } else {
            vec![]
        };
        h.deliver(UnsubAck { packet_id: unsub.packet_id, properties: AckProperties::default(), reason_codes: codes });
        let expected = if version.is_v5() {
            vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
        } else {
            vec![ReasonCode::Success, ReasonCode::Success]
        };
        match h.expect_completed(id) {
            Ok(Completion::Unsubscribed { reason_codes, .. }) => assert_eq!(reason_codes, expected),
            other => panic!("expected Unsubscribed, got {other:?}"),
        }
    }
}

#[test]
fn v5_subscription_options_and_identifier_go_on_the_wire() {
    let mut h = Harness::connected(ProtocolVersion::V5);
    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
    };
    let props = SubscribeProperties {
        subscription_identifier: SubscriptionId::new(9),
        ..Default::default()
    };
    h.session
        .subscribe(vec![(filter("x"), options)], props.clone(), h.now)
        .unwrap();
    h.drain();
    let Packet::Subscribe(sub) = h.expect_sent() else {
        panic!("expected SUBSCRIBE")
    };
    assert_eq!(sub.filters[0].1, options);
    assert_eq!(sub.properties, props);
}

#[test]
fn subscribe_usage_errors() {
    let mut h = Harness::connected(ProtocolVersion::V3_1_1);
    assert_eq!(
        h.session.subscribe(vec![], Default::default(), h.now),
        Err(UsageError::NoFilters)
    );
    let mut options = SubscriptionOptions::new(QoS::AtLeastOnce);
    options.no_local = true;
    // [MQTT-3.8.3-4]: No Local on a shared subscription is a protocol error.
    assert_eq!(
        h.session.subscribe(
            vec![(filter("$share/g/x"), options)],
            Default::default(),
            h.now
        ),
        Err(UsageError::NoLocalOnSharedSubscription)
    );
    // 5.0 options cannot be expressed in 3.1.1.
    assert!(matches!(
        h.session
            .subscribe(vec![(filter("x"), options)], Default::default(), h.now),
        Err(UsageError::Encode(_))
    ));

    let mut connack = ConnAck::new(false);
    connack.properties.wildcard_subscription_available = Some(false);
    connack.properties.shared_subscription_available = Some(false);
    connack.properties.subscription_identifier_available = Some(false);
    let mut h = Harness::connected_with(Harness::config(ProtocolVersion::V5), connack);
    let q1 = SubscriptionOptions::new(QoS::AtLeastOnce);
    assert_eq!(
        h.session
            .subscribe(vec![(filter("a/#"), q1)], Default::default(), h.now),
        Err(UsageError::NotSupported("wildcard subscriptions"))
    );
    assert_eq!(
        h.session
            .subscribe(vec![(filter("$share/g/a"), q1)], Default::default(), h.now),
        Err(UsageError::NotSupported("shared subscriptions"))
    );
    let props = SubscribeProperties {
        subscription_identifier: SubscriptionId::new(1),
        ..Default::default()
    };
    assert_eq!(
        h.session.subscribe(vec![(filter("a"), q1)], props, h.now),
        Err(UsageError::NotSupported("subscription identifiers"))
    );
    h.expect_nothing_sent();
}

each_version! {
    /// A SUBACK with a different number of results than filters breaks the
    /// protocol.
    fn suback_count_mismatch_is_a_protocol_error(version: ProtocolVersion) {
        let mut h = Harness::connected(version);
        h.session.subscribe(vec![(filter("a"), SubscriptionOptions::new(QoS::AtMostOnce))], Default::default(), h.now).unwrap();
        h.drain();
        h.expect_sent();
        h.deliver(SubAck {
            packet_id: pid(1),
            properties: AckProperties::default(),
            reason_codes: vec![ReasonCode::Success, ReasonCode::Success],
        });
        h.expect_event();
        assert!(matches!(
            h.expect_disconnected(),
            ConnectionError::Protocol(ProtocolError::ResultCountMismatch { expected: 1, got: 2, .. })
        ));
    }
}
