//! The blocking client leaks nothing: a thousand clients built and dropped
//! leave no runtime thread behind. In a test binary of its own, so that no
//! other test's clients are counted.

use std::time::Duration;

use mqtide::blocking::Client;
use mqtide::{ProtocolVersion, QoS};
use mqtide_testkit::Mosquitto;

/// How many of this process's threads are blocking clients' runtime
/// threads (Linux: the names in /proc/self/task/*/comm).
fn runtime_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "mqtide-blocking")
        .count()
}

#[test]
fn a_thousand_clients_built_and_dropped_leave_no_thread_behind() {
    let broker = Mosquitto::start().unwrap();
    for n in 0..1000 {
        let c = Client::builder(&broker.url())
            .protocol(ProtocolVersion::V5)
            .client_id(format!("blocking-drop-{n}"))
            .connect_timeout(Duration::from_secs(30))
            .connect()
            .unwrap();
        let sub = c.subscribe("b/drop", QoS::AtMostOnce).unwrap();
        assert_eq!(runtime_threads(), 1);
        // The subscription outlives the client handle: the thread stays
        // until both are gone.
        drop(c);
        assert_eq!(runtime_threads(), 1);
        drop(sub);
        // Dropping the last handle joins the thread; the kernel removes a
        // joined thread's /proc entry a moment after the join returns
        // (seen once in about 10,000 drops), so that moment is waited for,
        // under a hang guard.
        let joined = std::time::Instant::now();
        while runtime_threads() > 0 {
            assert!(
                joined.elapsed() < Duration::from_secs(5),
                "client {n}'s thread is still there 5 s after its last handle was dropped"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
