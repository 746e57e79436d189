//! What `Client` handles send to the event loop. Every command that wants
//! an answer carries a oneshot sender; a dropped receiver is normal (the
//! caller stopped waiting) and never an error.

use std::time::Duration;

use mqtide_proto::{
    AckToken, DisconnectProperties, Publish, ReasonCode, SubscribeProperties, SubscriptionOptions,
    TopicAliasUse, TopicFilter, UnsubscribeProperties,
};
use tokio::sync::{mpsc, oneshot};

use crate::client::{PublishOutcome, SubscribeOutcome};
use crate::error::Error;
use crate::message::Message;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

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
