//! The `pub`, `sub` and `demo` examples, run as the processes a user runs, against a
//! real mosquitto. `cargo test` builds the examples before the tests.

mod support;

use std::io::Write;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use mqtt_test_broker::Mosquitto;
use support::example;

fn finish(child: Child, what: &str) -> Output {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Starts `sub` and waits until its subscription is in place (the broker logs it).
fn start_sub(broker: &Mosquitto, args: &[&str], id: &str) -> Child {
    let child = example("sub")
        .args(["-p", &broker.port().to_string(), "-i", id])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The broker logs "Sending SUBACK to <id>" (log_type all) once it is in place.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !broker.log().contains(&format!("Sending SUBACK to {id}")) {
        assert!(
            Instant::now() < deadline,
            "sub did not subscribe:\n{}",
            broker.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn pub_lines_from_stdin_reach_sub_with_count_and_verbose() {
    let broker = Mosquitto::start_with("log_type all");
    let sub = start_sub(
        &broker,
        &["-t", "ex/#", "-q", "2", "-v", "-C", "3"],
        "ex-sub",
    );
    let mut publisher = example("pub")
        .args([
            "-p",
            &broker.port().to_string(),
            "-t",
            "ex/lines",
            "-q",
            "1",
            "-l",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    publisher
        .stdin
        .take()
        .unwrap()
        .write_all(b"one\ntwo\nthree\n")
        .unwrap();
    finish(publisher, "pub -l");
    let out = finish(sub, "sub -C 3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ex/lines one\nex/lines two\nex/lines three\n"
    );
}

#[test]
fn pub_retained_message_reaches_a_later_sub() {
    let broker = Mosquitto::start();
    let port = broker.port().to_string();
    let publisher = example("pub")
        .args(["-p", &port, "-t", "ex/kept", "-m", "hello", "-q", "2", "-r"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(publisher, "pub -r");
    let url = format!("mqtt://127.0.0.1:{port}");
    let sub = example("sub")
        .args(["-L", &url, "-t", "ex/kept", "-C", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(sub, "sub -L");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
}

#[test]
fn sub_with_persistent_session_gets_what_was_published_while_away() {
    let broker = Mosquitto::start_with("log_type all");
    let port = broker.port().to_string();
    // Register the persistent session and its subscription, then leave.
    let sub = start_sub(
        &broker,
        &["-t", "ex/away", "-q", "1", "-c", "-C", "1"],
        "ex-away",
    );
    let publisher = example("pub")
        .args(["-p", &port, "-t", "ex/away", "-m", "first", "-q", "1"])
        .output()
        .unwrap();
    assert!(publisher.status.success());
    assert_eq!(
        String::from_utf8_lossy(&finish(sub, "sub").stdout),
        "first\n"
    );
    // Published while the subscriber is offline: kept by the broker for its session.
    let publisher = example("pub")
        .args(["-p", &port, "-t", "ex/away", "-m", "while away", "-q", "1"])
        .output()
        .unwrap();
    assert!(publisher.status.success());
    let sub = example("sub")
        .args([
            "-p", &port, "-t", "ex/away", "-q", "1", "-c", "-i", "ex-away", "-C", "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&finish(sub, "sub resumed").stdout),
        "while away\n"
    );
}

#[test]
fn bad_arguments_are_reported_not_panicked() {
    let out = example("pub")
        .args(["-t", "a/#", "-m", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid topic"));
    let out = example("pub")
        .args(["-q", "3", "-t", "a", "-m", "x"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("QoS 3"));
    let out = example("sub").args(["--bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Nothing listening: a typed connection error, not a hang or a panic.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = example("sub")
        .args(["-p", &port.to_string(), "-t", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("connection ended"));
}

#[test]
fn demo_runs_its_tour() {
    let broker = Mosquitto::start();
    let out = example("demo").arg(broker.url()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "published 20.5 at ExactlyOnce: done",
        "a later subscriber gets the retained \"online\" (retain flag true)",
        "request 3 -> \"pong 3\"",
        "disconnected cleanly",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn v5_tour_runs() {
    let broker = Mosquitto::start();
    let out = example("v5").arg(broker.url()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "v5 failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "server allows: receive maximum",
        "user properties [(\"unit\", \"celsius\"), (\"sensor\", \"kitchen\")]",
        "request \"mqtt five\" -> \"MQTT FIVE\"",
        "shared subscription: this client took",
        "no local: got only \"from the worker\"",
        "disconnected with the will: the worker got \"tour gone\"",
        "done",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn pub_and_sub_speak_mqtt5() {
    let broker = Mosquitto::start_with("log_type all");
    let sub = start_sub(
        &broker,
        &["-V", "mqttv5", "-t", "v5ex/#", "-C", "1"],
        "ex-sub5",
    );
    let publisher = example("pub")
        .args(["-p", &broker.port().to_string(), "-V", "mqttv5"])
        .args(["-t", "v5ex/a", "-m", "five", "-q", "1"])
        .output()
        .unwrap();
    assert!(publisher.status.success(), "{publisher:?}");
    let out = finish(sub, "sub");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "five");
    // mosquitto logs each client's protocol: p5.
    assert!(broker.log().contains("(p5, c1"), "{}", broker.log());
}
