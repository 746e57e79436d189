//! The disk store against its promises: it holds what was committed, it
//! is one process's at a time, it is one session's, and damage is reported
//! with what can be recovered.

use mqtide_proto::{
    PacketId, ProtocolVersion, Publish, QoS, StoreChange, SubscriptionOptions, TopicFilter,
};

use super::*;

fn identity() -> StoreIdentity {
    StoreIdentity {
        client_id: "disk-test".into(),
        protocol: ProtocolVersion::V5,
    }
}

fn publish(topic: &str, qos: QoS) -> Box<Publish> {
    let mut publish = Publish::new(topic, "payload");
    publish.qos = qos;
    publish.properties.user_properties = vec![("k".into(), "v".into())];
    Box::new(publish)
}

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// A store with one publish in each stage, incoming state, a subscription
/// and an assigned client id; returns what `load` should give back.
fn fill(store: &mut DiskStore) -> StoredState {
    let changes = [
        StoreChange::PublishAccepted {
            seq: 1,
            publish: publish("a", QoS::AtLeastOnce),
        },
        StoreChange::PublishAccepted {
            seq: 2,
            publish: publish("b", QoS::ExactlyOnce),
        },
        StoreChange::PublishAccepted {
            seq: 3,
            publish: publish("c", QoS::ExactlyOnce),
        },
        StoreChange::PublishAccepted {
            seq: 4,
            publish: publish("d", QoS::AtLeastOnce),
        },
        StoreChange::PublishSent {
            seq: 1,
            packet_id: id(1),
        },
        StoreChange::PublishSent {
            seq: 2,
            packet_id: id(2),
        },
        StoreChange::PublishSent {
            seq: 4,
            packet_id: id(4),
        },
        StoreChange::PublishReleased { seq: 2 },
        StoreChange::PublishDone { seq: 4 },
        StoreChange::IncomingReceived { packet_id: id(7) },
        StoreChange::IncomingReceived { packet_id: id(8) },
        StoreChange::IncomingAcknowledged { packet_id: id(8) },
        StoreChange::IncomingReceived { packet_id: id(9) },
        StoreChange::IncomingReleased { packet_id: id(9) },
        StoreChange::ClientIdAssigned("assigned-1".into()),
    ];
    let subscriptions = [(
        TopicFilter::new("cmd/#").unwrap(),
        SubscriptionOptions::new(QoS::ExactlyOnce),
    )];
    let batch = StoreBatch {
        changes: &changes,
        subscriptions: Some(&subscriptions),
    };
    store.commit(batch).unwrap();
    let mut expected = StoredState::default();
    expected.apply(&batch);
    expected
}

#[test]
fn what_was_committed_is_loaded_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let mut store = DiskStore::open(&path).unwrap();
    assert_eq!(store.load(&identity()).unwrap(), StoredState::default());
    let expected = fill(&mut store);
    assert_eq!(expected.session.outgoing.len(), 3);
    assert_eq!(expected.session.last_seq, 4);
    drop(store);

    let mut store = DiskStore::open(&path).unwrap();
    assert_eq!(store.load(&identity()).unwrap(), expected);

    // Everything finished: nothing but the counter and the id remain.
    let done = [
        StoreChange::PublishDone { seq: 1 },
        StoreChange::PublishDone { seq: 2 },
        StoreChange::PublishDone { seq: 3 },
        StoreChange::IncomingCleared,
    ];
    store
        .commit(StoreBatch {
            changes: &done,
            subscriptions: Some(&[]),
        })
        .unwrap();
    drop(store);
    let loaded = DiskStore::open(&path).unwrap().load(&identity()).unwrap();
    assert!(loaded.session.outgoing.is_empty() && loaded.session.incoming.is_empty());
    assert!(loaded.subscriptions.is_empty());
    assert_eq!(loaded.session.last_seq, 4);
    assert_eq!(
        loaded.session.assigned_client_id.as_deref(),
        Some("assigned-1")
    );
}

#[test]
fn a_store_open_elsewhere_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let _first = DiskStore::open(&path).unwrap();
    let error = DiskStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Locked { .. }), "{error:?}");
    assert!(error.to_string().contains("in use by another process"));
}

#[test]
fn a_store_of_another_client_or_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    DiskStore::open(&path).unwrap().load(&identity()).unwrap();
    for other in [
        StoreIdentity {
            client_id: "someone-else".into(),
            ..identity()
        },
        StoreIdentity {
            protocol: ProtocolVersion::V3_1_1,
            ..identity()
        },
    ] {
        let error = DiskStore::open(&path).unwrap().load(&other).unwrap_err();
        assert!(
            matches!(error, StoreError::WrongSession { .. }),
            "{error:?}"
        );
    }
}

#[test]
fn a_file_that_is_not_a_store_is_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("garbage", vec![0x5a; 8192]), ("short", b"redb".to_vec())] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let error = DiskStore::open(&path).and_then(|mut s| s.load(&identity()));
        assert!(
            matches!(error, Err(StoreError::Corrupt { .. })),
            "{name}: {error:?}"
        );
    }
}

#[test]
fn a_truncated_store_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let mut store = DiskStore::open(&path).unwrap();
    store.load(&identity()).unwrap();
    fill(&mut store);
    drop(store);
    let len = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len / 3).unwrap();
    drop(file);
    // Either redb refuses the file or our records fail to decode; never a
    // panic, never a silent empty session.
    match DiskStore::open(&path).and_then(|mut s| s.load(&identity())) {
        Err(StoreError::Corrupt { .. } | StoreError::Damaged { .. } | StoreError::Io { .. }) => {}
        other => panic!("a truncated store loaded as {other:?}"),
    }
}

#[test]
fn damaged_records_are_reported_and_salvage_keeps_the_intact_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let mut store = DiskStore::open(&path).unwrap();
    store.load(&identity()).unwrap();
    let expected = fill(&mut store);
    // Damage publish #3's message and #1's flow state behind the store's back.
    {
        let txn = store.db.begin_write().unwrap();
        {
            let mut messages = txn.open_table(OUT_MESSAGES).unwrap();
            messages.insert(3, &[0x32, 0x09, 0xff][..]).unwrap();
            let mut states = txn.open_table(OUT_STATES).unwrap();
            states.insert(1, &[0x02, 0, 0][..]).unwrap();
        }
        txn.commit().unwrap();
    }
    drop(store);

    let error = DiskStore::open(&path)
        .unwrap()
        .load(&identity())
        .unwrap_err();
    let StoreError::Damaged {
        damaged, intact, ..
    } = &error
    else {
        panic!("expected Damaged, got {error:?}");
    };
    assert_eq!(damaged.len(), 2, "{damaged:?}");
    assert!(damaged.iter().any(|d| d.contains("#3")));
    assert!(damaged.iter().any(|d| d.contains("#1")));
    // One outgoing and two incoming records are intact.
    assert_eq!(*intact, 3);
    assert!(error.to_string().contains("salvage"));

    let mut salvaged = DiskStore::builder(&path).salvage(true).open().unwrap();
    let state = salvaged.load(&identity()).unwrap();
    assert_eq!(state.session.outgoing.keys().collect::<Vec<_>>(), [&2]);
    assert_eq!(state.session.incoming, expected.session.incoming);
    drop(salvaged);
    // The damaged records are gone for good.
    assert_eq!(
        DiskStore::open(&path).unwrap().load(&identity()).unwrap(),
        state
    );
}

#[test]
fn group_commit_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let interval = Duration::from_millis(20);
    let mut store = DiskStore::builder(&path)
        .commit_policy(CommitPolicy::GroupCommit(interval))
        .open()
        .unwrap();
    store.load(&identity()).unwrap();
    for seq in 1..=3 {
        let change = [StoreChange::PublishAccepted {
            seq,
            publish: publish("g", QoS::AtLeastOnce),
        }];
        store
            .commit(StoreBatch {
                changes: &change,
                subscriptions: None,
            })
            .unwrap();
    }
    drop(store);
    let loaded = DiskStore::open(&path).unwrap().load(&identity()).unwrap();
    assert_eq!(loaded.session.outgoing.len(), 3);
}

#[test]
fn a_new_store_is_made_whole_beside_its_path_and_leaves_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    // What a creation killed before its link leaves: replaced, not used.
    let side = dir
        .path()
        .join(format!(".s.redb.{}.creating", std::process::id()));
    std::fs::write(&side, [0u8; 4096]).unwrap();
    let mut store = DiskStore::open(&path).unwrap();
    store.load(&identity()).unwrap();
    let expected = fill(&mut store);
    drop(store);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["s.redb"]);
    let loaded = DiskStore::open(&path).unwrap().load(&identity()).unwrap();
    assert_eq!(loaded, expected);
}
