//! What `Client` handles send to the event loop, and what it answers.
//! Every command that wants an answer carries a oneshot sender; a dropped
//! receiver is normal (the caller stopped waiting) and never an error.
//!
//! Both sides depend on this module and it on neither: the handles
//! (`client`) and the builder (`options`) above, the event loop below.

use std::time::Duration;

use mqtide_proto::{
    AckProperties, AckToken, DisconnectProperties, Publish, ReasonCode, SubscribeProperties,
    SubscriptionOptions, TopicAliasUse, TopicFilter, UnsubscribeProperties,
};
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::message::Message;

/// Where the event loop answers a command.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// How a publish ended: the reason code of its final acknowledgement (5.0;
/// `Success` for QoS 0 and 3.1.1) and its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOutcome {
    /// `Success`, or `NoMatchingSubscribers` (5.0).
    pub reason_code: ReasonCode,
    /// The acknowledgement's properties (reason string, user properties).
    pub properties: AckProperties,
}

/// The broker's answer to a SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubscribeOutcome {
    pub(crate) reason_codes: Vec<ReasonCode>,
}

/// What `publish(..).send()` does when the offline queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueFull {
    /// Wait for room (backpressure).
    #[default]
    Wait,
    /// Fail at once with [`UsageError::QueueFull`](mqtide_proto::UsageError::QueueFull).
    Error,
}

#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        /// Boxed, as are the other large fields, so that a command is a
        /// few words: the channel allocates its slots 32 at a time, up
        /// front, for every client (8 KiB each with the packet inline).
        publish: Box<Publish>,
        alias: TopicAliasUse,
        reply: Reply<PublishOutcome>,
        /// With a session store: answered once the publish is committed.
        stored: Option<Reply<()>>,
    },
    Subscribe {
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        properties: Box<SubscribeProperties>,
        sender: mpsc::Sender<Message>,
        reply: Reply<SubscribeOutcome>,
    },
    Unsubscribe {
        filters: Vec<TopicFilter>,
        properties: Box<UnsubscribeProperties>,
        reply: Reply<()>,
    },
    Messages {
        sender: mpsc::Sender<Message>,
    },
    Ack {
        token: AckToken,
        reason_code: ReasonCode,
        reply: Reply<()>,
    },
    Reauthenticate {
        reply: Reply<()>,
    },
    Disconnect {
        reason_code: ReasonCode,
        properties: Box<DisconnectProperties>,
        timeout: Duration,
        reply: Reply<()>,
    },
}

#[cfg(test)]
mod tests {
    use super::Command;

    /// Every client's command channel allocates 32 slots when it is made;
    /// a large variant would make that 8 KiB per idle client (it was, with
    /// the PUBLISH inline).
    #[test]
    fn a_command_is_a_few_words() {
        let size = size_of::<Command>();
        assert!(size <= 48, "Command is {size} bytes");
    }
}
