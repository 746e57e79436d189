//! The chaos tests' bookkeeping: what a subscriber received, checked
//! message by message. The broker-log evidence that explains a QoS 2
//! duplicate as the broker's doing is in `mosquitto_log.rs`.

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
