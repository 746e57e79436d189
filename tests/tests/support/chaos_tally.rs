//! The chaos tests' bookkeeping: what a subscriber received, checked
//! message by message, and the broker-log evidence that explains a QoS 2
//! duplicate as the broker's doing.

use mqtide::QoS;

/// What a subscriber has seen, checked as it arrives.
pub(crate) struct Tally {
    pub(crate) qos: QoS,
    /// Per topic: which numbers have arrived.
    pub(crate) seen: Vec<Vec<bool>>,
    /// Per topic: the number whose first arrival is due next.
    pub(crate) next: Vec<u32>,
    /// Per topic: the count an end marker announced.
    pub(crate) ended: Vec<Option<u32>>,
    pub(crate) first: u64,
    pub(crate) duplicates: u64,
    /// QoS 2 duplicates, to be explained by the broker's log or reported.
    pub(crate) qos2_duplicates: Vec<Duplicate>,
    pub(crate) problems: Vec<String>,
}

/// A QoS 2 message delivered a second time.
pub(crate) struct Duplicate {
    pub(crate) topic: usize,
    pub(crate) payload: String,
    pub(crate) packet_id: Option<u16>,
    pub(crate) dup_flag: bool,
}

impl Tally {
    pub(crate) fn new(qos: QoS, topics: usize) -> Self {
        Self {
            qos,
            seen: vec![Vec::new(); topics],
            next: vec![0; topics],
            ended: vec![None; topics],
            first: 0,
            duplicates: 0,
            qos2_duplicates: Vec::new(),
            problems: Vec::new(),
        }
    }

    pub(crate) fn problem(&mut self, problem: String) {
        push_problem(&mut self.problems, problem);
    }

    pub(crate) fn record(
        &mut self,
        t: usize,
        payload: &str,
        dup_flag: bool,
        packet_id: Option<u16>,
    ) {
        let duplicate = Duplicate {
            topic: t,
            payload: payload.to_owned(),
            packet_id,
            dup_flag,
        };
        if let Some(count) = payload.strip_prefix("end:") {
            let Ok(count) = count.parse::<u32>() else {
                return self.problem(format!("topic {t}: bad end marker {payload:?}"));
            };
            if self.ended[t].replace(count).is_some() {
                return self.duplicate(duplicate);
            }
            let missing: Vec<u32> = (0..count)
                .filter(|&s| !self.seen[t].get(s as usize).copied().unwrap_or(false))
                .collect();
            if !missing.is_empty() {
                self.problem(format!(
                    "topic {t}: {} of {count} messages lost (never arrived), first {:?}",
                    missing.len(),
                    &missing[..missing.len().min(10)]
                ));
            }
            return;
        }
        let Ok(seq) = payload.parse::<u32>() else {
            return self.problem(format!("topic {t}: bad payload {payload:?}"));
        };
        let seen = &mut self.seen[t];
        if seen.len() <= seq as usize {
            seen.resize(seq as usize + 1, false);
        }
        if std::mem::replace(&mut seen[seq as usize], true) {
            return self.duplicate(duplicate);
        }
        self.first += 1;
        if self.ended[t].is_some() {
            self.problem(format!("topic {t}: #{seq} arrived after the end marker"));
        } else if seq != self.next[t] {
            self.problem(format!(
                "topic {t}: #{seq} arrived first while #{} was due (order broken or messages lost)",
                self.next[t]
            ));
        }
        self.next[t] = self.next[t].max(seq + 1);
    }

    /// At QoS 1 a redelivery is allowed; at QoS 2 it must be explained.
    fn duplicate(&mut self, duplicate: Duplicate) {
        self.duplicates += 1;
        if self.qos == QoS::ExactlyOnce {
            self.qos2_duplicates.push(duplicate);
        }
    }

    pub(crate) fn done(&self) -> bool {
        self.ended.iter().all(Option::is_some)
    }

    pub(crate) fn progress(&self) -> String {
        format!(
            "next due per topic {:?}, end markers {:?}",
            self.next, self.ended
        )
    }
}

pub(crate) fn push_problem(problems: &mut Vec<String>, problem: String) {
    const KEEP: usize = 20;
    if problems.len() < KEEP {
        problems.push(problem);
    } else if problems.len() == KEEP {
        problems.push("(more problems not shown)".into());
    }
}

/// The QoS 2 PUBLISH packets the broker sent `client` again after it had
/// sent PUBREL for them (and before their PUBCOMP), as (topic, packet
/// identifier), from a Mosquitto log with `log_type all`: lines such as
/// `Sending PUBREL to c (m503)`, `Received PUBCOMP from c (Mid: 503, RC:0)`
/// and `Sending PUBLISH to c (d1, q2, r0, m503, 'a/b', ... (3 bytes))`.
pub(crate) fn publish_resent_after_pubrel(log: &str, client: &str) -> Vec<(String, u16)> {
    let publish = format!("Sending PUBLISH to {client} (");
    let pubrel = format!("Sending PUBREL to {client} (m");
    let pubcomp = format!("Received PUBCOMP from {client} (Mid: ");
    let after = |line: &'_ str, needle: &str| -> Option<String> {
        line.find(needle)
            .map(|at| line[at + needle.len()..].to_owned())
    };
    let id = |text: &str, end: char| text.split(end).next()?.parse::<u16>().ok();
    let mut released = std::collections::HashSet::new();
    let mut resent = Vec::new();
    for line in log.lines() {
        if let Some(rest) = after(line, &pubrel) {
            released.extend(id(&rest, ')'));
        } else if let Some(rest) = after(line, &pubcomp) {
            if let Some(mid) = id(&rest, ',') {
                released.remove(&mid);
            }
        } else if let Some(rest) = after(line, &publish) {
            let fields: Vec<&str> = rest.splitn(5, ", ").collect();
            if let [_, "q2", _, mid, topic] = fields[..]
                && let Some(mid) = mid.strip_prefix('m').and_then(|m| m.parse().ok())
                && released.contains(&mid)
                && let Some(topic) = topic.strip_prefix('\'').and_then(|t| t.split('\'').next())
            {
                resent.push((topic.to_owned(), mid));
            }
        }
    }
    resent
}

#[test]
fn the_log_check_finds_only_publishes_resent_after_pubrel() {
    let log = "\
1: Sending PUBLISH to c (d0, q2, r0, m7, 'a/0', ... (1 bytes))
1: Sending PUBLISH to c (d1, q2, r0, m7, 'a/0', ... (1 bytes))
1: Sending PUBREL to c (m7)
1: Sending PUBREL to other (m8)
1: Sending PUBLISH to other (d1, q2, r0, m8, 'a/1', ... (1 bytes))
1: Sending PUBLISH to c (d1, q2, r0, m7, 'a/0', ... (1 bytes))
1: Sending PUBREL to c (m9)
1: Received PUBCOMP from c (Mid: 9, RC:0)
1: Sending PUBLISH to c (d0, q2, r0, m9, 'a/2', ... (1 bytes))
1: Sending PUBLISH to c-2 (d1, q2, r0, m7, 'a/0', ... (1 bytes))
";
    assert_eq!(
        publish_resent_after_pubrel(log, "c"),
        vec![("a/0".to_owned(), 7)]
    );
    assert_eq!(
        publish_resent_after_pubrel(log, "other"),
        vec![("a/1".to_owned(), 8)]
    );
}
