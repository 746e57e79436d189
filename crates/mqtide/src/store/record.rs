//! How the disk store encodes its records. Messages and subscriptions
//! are kept as MQTT 5.0 packets, so the codec that checks every byte from
//! the network also checks every byte read back from disk; a damaged
//! record is a decode error, never a wrong message.

use bytes::BytesMut;
use mqtide_proto::{
    MAX_PACKET_SIZE, Packet, PacketId, ProtocolVersion, Publish, QoS, Subscribe,
    SubscribeProperties, TopicFilter,
};

use super::StoredSubscription;

/// Records are encoded under 5.0 whatever the session speaks: it keeps
/// every property.
const RECORD_VERSION: ProtocolVersion = ProtocolVersion::V5;

/// A placeholder identifier: stored messages carry theirs in the state
/// record, but a QoS 1/2 PUBLISH must have one to encode.
const PLACEHOLDER_ID: PacketId = PacketId::MIN;

const SENT: u8 = 0b01;
const RELEASED: u8 = 0b10;

/// A stored publish (packet identifier dropped).
pub(super) fn encode_publish(publish: &Publish) -> Result<Vec<u8>, String> {
    let mut publish = publish.clone();
    publish.dup = false;
    publish.packet_id = (publish.qos != QoS::AtMostOnce).then_some(PLACEHOLDER_ID);
    encode(Packet::Publish(publish))
}

pub(super) fn decode_publish(bytes: &[u8]) -> Result<Publish, String> {
    match decode(bytes)? {
        Packet::Publish(mut publish) if publish.qos != QoS::AtMostOnce => {
            publish.packet_id = None;
            Ok(publish)
        }
        other => Err(format!(
            "expected a QoS 1/2 PUBLISH, found {:?}",
            other.packet_type()
        )),
    }
}

/// The flow state of a stored publish: sent under which identifier, and
/// whether released.
pub(super) fn encode_state(packet_id: Option<PacketId>, released: bool) -> [u8; 3] {
    let mut flags = 0;
    if packet_id.is_some() {
        flags |= SENT;
    }
    if released {
        flags |= RELEASED;
    }
    let [hi, lo] = packet_id.map_or(0, PacketId::get).to_be_bytes();
    [flags, hi, lo]
}

pub(super) fn decode_state(bytes: &[u8]) -> Result<(Option<PacketId>, bool), String> {
    let &[flags, hi, lo] = bytes else {
        return Err(format!(
            "a flow state of {} bytes (3 expected)",
            bytes.len()
        ));
    };
    if flags & !(SENT | RELEASED) != 0 {
        return Err(format!("unknown flow flags {flags:#04x}"));
    }
    let packet_id = PacketId::new(u16::from_be_bytes([hi, lo]));
    match (flags & SENT != 0, packet_id) {
        (true, Some(id)) => Ok((Some(id), flags & RELEASED != 0)),
        (false, None) if flags & RELEASED == 0 => Ok((None, false)),
        _ => Err(format!(
            "flow flags {flags:#04x} contradict packet identifier {hi:02x}{lo:02x}"
        )),
    }
}

/// The subscription list, as one SUBSCRIBE packet (`None` when empty).
pub(super) fn encode_subscriptions(
    subscriptions: &[StoredSubscription],
) -> Result<Option<Vec<u8>>, String> {
    if subscriptions.is_empty() {
        return Ok(None);
    }
    let subscribe = Subscribe {
        packet_id: PLACEHOLDER_ID,
        properties: SubscribeProperties::default(),
        filters: subscriptions
            .iter()
            .map(|(filter, options)| (filter.clone().into_inner(), *options))
            .collect(),
    };
    encode(Packet::Subscribe(subscribe)).map(Some)
}

pub(super) fn decode_subscriptions(bytes: &[u8]) -> Result<Vec<StoredSubscription>, String> {
    let Packet::Subscribe(subscribe) = decode(bytes)? else {
        return Err("the subscription record is not a SUBSCRIBE packet".into());
    };
    subscribe
        .filters
        .into_iter()
        .map(|(filter, options)| {
            TopicFilter::new(filter.to_string())
                .map(|f| (f, options))
                .map_err(|e| format!("stored filter {filter:?}: {e}"))
        })
        .collect()
}

fn encode(packet: Packet) -> Result<Vec<u8>, String> {
    let mut buf = BytesMut::new();
    packet
        .encode(RECORD_VERSION, &mut buf)
        .map_err(|e| format!("cannot encode a record: {e}"))?;
    Ok(buf.to_vec())
}

fn decode(bytes: &[u8]) -> Result<Packet, String> {
    let mut buf = BytesMut::from(bytes);
    match Packet::decode(&mut buf, RECORD_VERSION, MAX_PACKET_SIZE) {
        Ok(Some(packet)) if buf.is_empty() => Ok(packet),
        Ok(Some(_)) => Err(format!("{} stray bytes after the packet", buf.len())),
        Ok(None) => Err(format!("a truncated packet ({} bytes)", bytes.len())),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_damage_is_an_error() {
        let mut publish = Publish::new("a/b", "payload");
        publish.qos = QoS::ExactlyOnce;
        publish.retain = true;
        publish.properties.content_type = Some("text/plain".into());
        let bytes = encode_publish(&publish).unwrap();
        assert_eq!(decode_publish(&bytes).unwrap(), publish);
        assert!(decode_publish(&bytes[..bytes.len() - 1]).is_err());
        let mut flipped = bytes;
        flipped[0] = 0xf0;
        assert!(decode_publish(&flipped).is_err());

        let id = PacketId::new(513);
        assert_eq!(decode_state(&encode_state(id, true)).unwrap(), (id, true));
        assert_eq!(
            decode_state(&encode_state(None, false)).unwrap(),
            (None, false)
        );
        assert!(decode_state(&[RELEASED, 0, 0]).is_err());
        assert!(decode_state(&[SENT, 0, 0]).is_err());
        assert!(decode_state(&[0x80, 0, 1]).is_err());
        assert!(decode_state(&[SENT, 0]).is_err());

        let subs = vec![(
            TopicFilter::new("x/#").unwrap(),
            mqtide_proto::SubscriptionOptions::new(QoS::AtLeastOnce),
        )];
        let bytes = encode_subscriptions(&subs).unwrap().unwrap();
        assert_eq!(decode_subscriptions(&bytes).unwrap(), subs);
        assert_eq!(encode_subscriptions(&[]).unwrap(), None);
    }
}
