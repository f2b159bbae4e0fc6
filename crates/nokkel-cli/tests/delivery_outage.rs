#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Delivery under failure: a server killed mid-send loses nothing and sends copies only
//! under the same idempotency key; a peer that is down makes messages back off and end
//! dead-lettered, and an operator's `nokkel admin outbox retry` sends them once it is back;
//! two PostgreSQL instances send each message once.
//!
//! The messages are queued through the server's own outbox (`StoreOutbox`, the library
//! code the services use) on the same store the server process serves; the SMS peer
//! (tests/peers/sms_peer.py) counts what arrives.

mod delivery_support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use delivery_support::device_support::free_port;
use delivery_support::*;
use nokkel_core::clock::{Clock, SystemClock};
use nokkel_core::random::{OsRandom, Random};
use nokkel_server::i18n::Lang;
use nokkel_server::secrets::ServerSecrets;
use nokkel_server::services::outbound::{Outbound, StoreOutbox, TextMessage};
use nokkel_server::store::Store;
use serde_json::Value;

/// Queues `count` text messages `"{prefix} {i}"` on the store at `database_url` (SQLite in
/// `data` when `None`), sealed with the data directory's key as the server seals them.
fn queue_texts(data: &Path, database_url: Option<&str>, prefix: &str, count: usize) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = match database_url {
            Some(url) => Store::open(url).await.unwrap(),
            None => Store::sqlite_in_data_dir(data).await.unwrap(),
        };
        store.migrate().await.unwrap();
        let random: Arc<dyn Random> = Arc::new(OsRandom);
        let secrets =
            ServerSecrets::load_or_create(&data.join("secret.key"), random.as_ref()).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let outbox = StoreOutbox::new(
            store.clone(),
            Arc::new(secrets),
            random,
            clock,
            Arc::new(tokio::sync::Notify::new()),
        );
        for i in 0..count {
            outbox
                .send_text(TextMessage {
                    to: format!("+47{}", 90_000_000 + i),
                    body: format!("{prefix} {i}"),
                    purpose: "test".to_owned(),
                    lang: Lang::Nb,
                })
                .await
                .unwrap();
        }
        store.close().await;
    });
}

/// A temporary directory with a data directory, an SMS peer answering after `delay_ms`,
/// and a configuration (10 tries) pointing at it.
fn with_sms_peer(delay_ms: u64) -> (tempfile::TempDir, PathBuf, SmsPeer, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let peer = SmsPeer::start();
    peer.set_mode(None, delay_ms);
    let config = write_config(
        dir.path(),
        &Peers {
            sms_url: peer.url(),
            smtp: None,
            spool: None,
        },
        10,
    );
    (dir, data, peer, config)
}

/// The texts that arrived, each once (the peer keeps one copy per idempotency key).
fn texts(peer: &SmsPeer) -> Vec<String> {
    peer.messages()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

fn outbox_json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["admin", "outbox", "list", "--json", "--limit", "5000"];
    all.extend_from_slice(args);
    run_ok(&all)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn a_server_killed_mid_send_delivers_every_message_after_restart() {
    // Each answer takes 10 ms: 1,000 messages take over a second, so the kill lands
    // mid-send.
    let (_dir, data, peer, config) = with_sms_peer(10);
    queue_texts(&data, None, "message", 1000);

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start(&config, &data, &listen, None);
    let before_kill = wait_for("the first 150 messages", Duration::from_secs(60), || {
        let received = peer.state()["received"].as_u64().unwrap();
        (received >= 150).then_some(received)
    });
    server.kill();
    let at_kill = peer.state()["received"].as_u64().unwrap();
    assert!(
        at_kill < 1000,
        "the kill came after everything was sent ({at_kill}); the test proves nothing"
    );
    eprintln!("killed after {before_kill}..{at_kill} messages had arrived");

    let _server = Server::start(&config, &data, &listen, None);
    wait_for("all 1,000 messages", Duration::from_secs(120), || {
        (peer.messages().len() >= 1000).then_some(())
    });
    // Give a stray copy time to arrive before counting.
    std::thread::sleep(Duration::from_millis(500));
    let state = peer.state();
    let arrived = texts(&peer);
    let unique: HashSet<&String> = arrived.iter().collect();
    assert_eq!(arrived.len(), 1000, "each message stored once by key");
    assert_eq!(unique.len(), 1000, "no two keys carry the same message");
    for i in 0..1000 {
        assert!(unique.contains(&format!("message {i}")), "message {i} lost");
    }
    let received = state["received"].as_u64().unwrap();
    let duplicates = state["duplicates"].as_u64().unwrap();
    assert_eq!(
        received,
        1000 + duplicates,
        "every copy was one the peer recognised by its key"
    );
    assert_eq!(state["rejected"], 0, "every signature verified");
    eprintln!("{duplicates} copies re-sent after the crash, each discarded by its key");

    let config_arg = config.to_str().unwrap();
    let data_arg = data.to_str().unwrap();
    let queued = outbox_json(&[
        "--state",
        "queued",
        "--config",
        config_arg,
        "--data-dir",
        data_arg,
    ]);
    assert!(queued.is_empty(), "{queued:?}");
    let sent = outbox_json(&[
        "--state",
        "sent",
        "--config",
        config_arg,
        "--data-dir",
        data_arg,
    ]);
    assert_eq!(sent.len(), 1000);
}

#[test]
fn with_the_peer_down_messages_die_and_an_operator_sends_them_later() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Nothing listens on this port yet.
    let peer_port = free_port();
    let config = write_config(
        dir.path(),
        &Peers {
            sms_url: format!("http://127.0.0.1:{peer_port}/sms"),
            smtp: None,
            spool: None,
        },
        3,
    );
    let config_arg = config.to_str().unwrap();
    let data_arg = data.to_str().unwrap();
    let store_args = ["--config", config_arg, "--data-dir", data_arg];
    let metrics = format!("127.0.0.1:{}", free_port());
    let _server = Server::start_with(
        &config,
        &data,
        "127.0.0.1:0",
        None,
        &["--metrics-listen", &metrics],
    );
    queue_texts(&data, None, "outage", 5);

    let dead = wait_for("five dead messages", Duration::from_secs(30), || {
        let mut args = vec!["--state", "dead"];
        args.extend_from_slice(&store_args);
        let dead = outbox_json(&args);
        (dead.len() == 5).then_some(dead)
    });
    for message in &dead {
        assert_eq!(message["attempts"], 3, "{message}");
        assert_eq!(message["channel"], "sms");
        let error = message["last_error"].as_str().unwrap();
        assert!(error.contains("unreachable"), "{error}");
        // Masked: the operator sees enough to tell messages apart, not the number.
        let recipient = message["recipient"].as_str().unwrap();
        assert!(recipient.contains('*'), "{recipient}");
    }
    // What an operator's dashboard sees.
    assert_eq!(metric(&metrics, "nokkel_outbox_dead{outbox=\"sms\"}"), 5.0);
    assert_eq!(metric(&metrics, "nokkel_outbox_depth{outbox=\"sms\"}"), 0.0);
    assert_eq!(
        metric(
            &metrics,
            "nokkel_outbox_failed_total{outbox=\"sms\",result=\"retry\"}"
        ),
        10.0
    );
    assert_eq!(
        metric(
            &metrics,
            "nokkel_outbox_failed_total{outbox=\"sms\",result=\"dead\"}"
        ),
        5.0
    );
    let mut args = vec!["admin", "outbox", "list"];
    args.extend_from_slice(&store_args);
    let table = run_ok(&args);
    assert!(table.contains("dead"), "{table}");
    assert!(table.contains("5 message(s)"), "{table}");

    // The peer comes back: dead messages stay dead until an operator says otherwise.
    let peer = SmsPeer::start_on(peer_port);
    std::thread::sleep(Duration::from_millis(600));
    assert!(peer.messages().is_empty());

    let mut args = vec!["admin", "outbox", "retry", "--all-dead"];
    args.extend_from_slice(&store_args);
    let out = run_ok(&args);
    assert!(out.contains("5 message(s) queued again"), "{out}");
    wait_for(
        "the five messages at the peer",
        Duration::from_secs(30),
        || (peer.messages().len() == 5).then_some(()),
    );
    let arrived: HashSet<String> = texts(&peer).into_iter().collect();
    let expected: HashSet<String> = (0..5).map(|i| format!("outage {i}")).collect();
    assert_eq!(arrived, expected);
    assert_eq!(peer.state()["duplicates"], 0);
    assert_eq!(
        metric(&metrics, "nokkel_outbox_sent_total{outbox=\"sms\"}"),
        5.0
    );
    assert_eq!(metric(&metrics, "nokkel_outbox_dead{outbox=\"sms\"}"), 0.0);

    // A peer refusing a message for good (4xx) dead-letters it after one try; `discard`
    // then retires it.
    peer.set_mode(Some(400), 0);
    queue_texts(&data, None, "refused", 1);
    let refused = wait_for("the refused message", Duration::from_secs(30), || {
        let mut args = vec!["--state", "dead"];
        args.extend_from_slice(&store_args);
        outbox_json(&args).into_iter().next()
    });
    assert_eq!(refused["attempts"], 1, "{refused}");
    assert!(refused["last_error"].as_str().unwrap().contains("400"));
    let id = refused["id"].to_string();
    let mut args = vec!["admin", "outbox", "discard", id.as_str()];
    args.extend_from_slice(&store_args);
    run_ok(&args);
    let mut args = vec!["admin", "outbox", "show", id.as_str()];
    args.extend_from_slice(&store_args);
    let shown = run_ok(&args);
    assert!(shown.contains("discarded"), "{shown}");
    assert!(
        !shown.contains("refused 0"),
        "the body is never shown: {shown}"
    );
}

#[test]
fn two_postgresql_instances_send_each_message_once() {
    let url = nokkel_testkit::PgCluster::fresh_database_url()
        .unwrap_or_else(|e| panic!("PostgreSQL tests cannot run: {e}"));
    // One data directory: the instances share the secret key, as they must.
    let (_dir, data, peer, config) = with_sms_peer(20);
    let metrics = [free_port(), free_port()];
    let servers: Vec<Server> = metrics
        .iter()
        .map(|port| {
            let address = format!("127.0.0.1:{port}");
            Server::start_with(
                &config,
                &data,
                "127.0.0.1:0",
                Some(&url),
                &["--metrics-listen", &address],
            )
        })
        .collect();
    queue_texts(&data, Some(&url), "shared", 300);
    wait_for("300 messages", Duration::from_secs(60), || {
        (peer.messages().len() >= 300).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let state = peer.state();
    assert_eq!(
        state["received"], 300,
        "no message sent twice: {}",
        state["duplicates"]
    );
    assert_eq!(state["duplicates"], 0);
    let unique: HashSet<String> = texts(&peer).into_iter().collect();
    assert_eq!(unique.len(), 300);

    // Both instances took part.
    let sent: Vec<f64> = metrics
        .iter()
        .map(|port| {
            let text = reqwest::blocking::get(format!("http://127.0.0.1:{port}/metrics"))
                .unwrap()
                .text()
                .unwrap();
            text.lines()
                .filter(|l| l.starts_with("nokkel_outbox_sent_total{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        })
        .collect();
    eprintln!("sent per instance: {sent:?}");
    assert_eq!(sent.iter().sum::<f64>(), 300.0, "{sent:?}");
    assert!(
        sent.iter().all(|&n| n > 0.0),
        "one instance sent all: {sent:?}"
    );
    drop(servers);
}

/// The value of the sample named exactly `name` (with its labels) at `/metrics`.
fn metric(address: &str, name: &str) -> f64 {
    let text = reqwest::blocking::get(format!("http://{address}/metrics"))
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}
