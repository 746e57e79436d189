//! MQTT 5.0 request/response, both sides in one process: a calculator
//! service answers `add` requests with `Client::serve`, and a caller asks
//! with `Client::request` (one request, then twenty at once, then one
//! nobody answers, which times out).
//!
//! ```text
//! cargo run -p examples --example request_response
//! ```
//!
//! Needs a 5.0 broker (Mosquitto 1.6 or later). Ends on its own.

#[path = "support/mod.rs"]
mod support;

use std::error::Error;
use std::future::IntoFuture;
use std::time::Duration;

use futures_util::future::try_join_all;
use mqtide::{Client, Message, QoS, Reply};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (url, _broker) = support::broker_url().await?;
    let prefix = format!("mqtide-calc-{}", std::process::id());
    let add_topic = format!("{prefix}/add");

    // The service: "2 + 3" in, "5" out. Several requests at once; a bad
    // question gets an answer too, flagged with a user property.
    let service_client = Client::builder(&url)
        .client_id(format!("{prefix}-service"))
        .connect()
        .await?;
    let service = service_client
        .serve(&add_topic, |request| async move { add(&request) })
        .qos(QoS::AtLeastOnce)
        .concurrency(4)
        .await?;
    println!("service: answering on {}", service.filter());

    let caller = Client::builder(&url)
        .client_id(format!("{prefix}-caller"))
        .connect()
        .await?;

    // One request: it resolves with the reply.
    let reply = caller
        .request(&add_topic, "2 + 3")
        .qos(QoS::AtLeastOnce)
        .content_type("text/plain")
        .timeout(Duration::from_secs(5))
        .await?;
    println!(
        "caller: 2 + 3 = {} (reply on {})",
        text(&reply),
        reply.topic()
    );

    // Twenty at once: each gets the reply to its own question, matched by
    // correlation data, whatever order the answers come back in.
    let questions: Vec<String> = (1..=20).map(|i| format!("{i} + {}", i * i)).collect();
    let replies = try_join_all(questions.iter().map(|q| {
        caller
            .request(&add_topic, q.clone())
            .qos(QoS::AtLeastOnce)
            .timeout(Duration::from_secs(5))
            .into_future()
    }))
    .await?;
    for (question, reply) in questions.iter().zip(&replies).step_by(5) {
        println!("caller: {question} = {}", text(reply));
    }
    println!("caller: {} concurrent requests answered", replies.len());

    // A bad question: the service says why in a user property.
    let reply = caller.request(&add_topic, "two plus three").await?;
    let status = reply
        .properties()
        .user_properties
        .iter()
        .find(|(name, _)| name == "status")
        .map_or("ok", |(_, value)| value.as_ref());
    println!("caller: \"two plus three\" -> {status}: {}", text(&reply));

    // Nobody serves this topic: the request times out.
    match caller
        .request(format!("{prefix}/multiply"), "2 * 3")
        .timeout(Duration::from_millis(500))
        .await
    {
        Err(mqtide::Error::Timeout { .. }) => println!("caller: nobody multiplies; timed out"),
        other => println!("caller: unexpected {other:?}"),
    }

    service.stop().await?;
    caller.disconnect().await?;
    service_client.disconnect().await?;
    Ok(())
}

/// Adds the two numbers of "a + b".
fn add(request: &Message) -> Reply {
    let sum = std::str::from_utf8(request.payload())
        .ok()
        .and_then(|question| question.split_once('+'))
        .and_then(|(a, b)| Some(a.trim().parse::<i64>().ok()? + b.trim().parse::<i64>().ok()?));
    match sum {
        Some(sum) => Reply::new(sum.to_string()).content_type("text/plain"),
        None => Reply::new("expected \"a + b\" with two integers")
            .content_type("text/plain")
            .user_property("status", "bad-request"),
    }
}

fn text(message: &Message) -> String {
    String::from_utf8_lossy(message.payload()).into_owned()
}
