//! A complete MQTT 3.1.1 exchange written directly on the codec, over a blocking
//! `std::net::TcpStream`: CONNECT, SUBSCRIBE, one PUBLISH at each QoS with its full
//! acknowledgement flow, the echoes received back, DISCONNECT.
//!
//! ```text
//! cargo run -p mqtt-proto --example raw_client -- 127.0.0.1:1883 demo/topic
//! ```
//!
//! The session crate does all of this (and keepalive, resends, reconnects) for you;
//! this example shows what the codec alone gives.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    decode_buf, Connect, ConnectReturnCode, DecodeOptions, Packet, PacketId, Publish, QoS, QosPid,
    Str, Subscribe, SubscribeFilters, TopicFilter, TopicName,
};

/// A message that came back from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Topic it was published to.
    pub topic: String,
    /// QoS it was delivered with.
    pub qos: QoS,
    /// Payload.
    pub payload: Bytes,
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    opts: DecodeOptions,
}

impl Conn {
    fn send(&mut self, packet: Packet<&[u8]>) -> std::io::Result<()> {
        let mut out = BytesMut::new();
        packet.encode_to(&mut out).map_err(std::io::Error::other)?;
        self.stream.write_all(&out)
    }

    fn recv(&mut self) -> std::io::Result<Packet<Bytes>> {
        loop {
            if let Some(p) = decode_buf(&mut self.buf, &self.opts).map_err(std::io::Error::other)? {
                return Ok(p);
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn pid(v: u16) -> PacketId {
    PacketId::new(v).expect("non-zero")
}

/// Connects to `addr`, subscribes to `topic` at QoS 2, publishes `payloads[i]` at
/// QoS `i % 3`, and returns what came back once every flow has completed.
pub fn run(
    addr: &str,
    client_id: &str,
    topic: &str,
    payloads: &[&[u8]],
) -> std::io::Result<Vec<Received>> {
    let invalid = |e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut conn = Conn {
        stream,
        buf: BytesMut::with_capacity(4096),
        opts: DecodeOptions::default(),
    };

    // [MQTT-3.1.0-1]: CONNECT first, then wait for CONNACK before anything else.
    conn.send(Packet::Connect(Connect::new(
        Str::new(client_id).map_err(invalid)?,
        30,
        true,
    )))?;
    match conn.recv()? {
        Packet::Connack(c) if c.code == ConnectReturnCode::Accepted => {}
        other => return Err(std::io::Error::other(format!("not accepted: {other:?}"))),
    }

    let filter = TopicFilter::new(topic).map_err(invalid)?;
    let mut scratch = [0u8; 512];
    let filters = SubscribeFilters::write_into(&[(filter, QoS::ExactlyOnce)], &mut scratch)
        .map_err(std::io::Error::other)?;
    conn.send(Packet::Subscribe(Subscribe {
        packet_id: pid(1),
        filters,
    }))?;

    let name = TopicName::new(topic).map_err(invalid)?;
    let mut open_flows = 0; // our QoS 1/2 publishes not yet complete
    let mut subscribed = false;
    let mut received = Vec::new();
    let mut sent = 0;
    while !subscribed || sent < payloads.len() || open_flows > 0 || received.len() < payloads.len()
    {
        if subscribed && sent < payloads.len() {
            let id = pid(100 + sent as u16);
            let qos_pid = match sent % 3 {
                0 => QosPid::AtMostOnce,
                1 => QosPid::AtLeastOnce(id),
                _ => QosPid::ExactlyOnce(id),
            };
            open_flows += usize::from(qos_pid != QosPid::AtMostOnce);
            conn.send(Packet::Publish(Publish::new(
                name.clone(),
                qos_pid,
                payloads[sent],
            )))?;
            sent += 1;
            continue;
        }
        match conn.recv()? {
            Packet::Suback(s) if s.packet_id == pid(1) => subscribed = true,
            Packet::Puback(_) | Packet::Pubcomp(_) => open_flows -= 1,
            Packet::Pubrec(id) => conn.send(Packet::Pubrel(id))?,
            Packet::Publish(p) => {
                match p.qos_pid {
                    QosPid::AtMostOnce => {}
                    QosPid::AtLeastOnce(id) => conn.send(Packet::Puback(id))?,
                    QosPid::ExactlyOnce(id) => conn.send(Packet::Pubrec(id))?,
                }
                received.push(Received {
                    topic: p.topic.to_string(),
                    qos: p.qos(),
                    payload: p.payload,
                });
            }
            Packet::Pubrel(id) => conn.send(Packet::Pubcomp(id))?,
            other => return Err(std::io::Error::other(format!("unexpected {other:?}"))),
        }
    }
    conn.send(Packet::Disconnect)?;
    Ok(received)
}

#[allow(dead_code)] // the integration test includes this file for `run`
fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:1883".into());
    let topic = args.next().unwrap_or_else(|| "mqtt-proto/demo".into());
    let payloads: [&[u8]; 3] = [b"hello at QoS 0", b"hello at QoS 1", b"hello at QoS 2"];
    println!("connecting to {addr}, topic {topic}");
    for m in run(&addr, "mqtt-proto-demo", &topic, &payloads)? {
        println!(
            "received on {} at {:?}: {}",
            m.topic,
            m.qos,
            String::from_utf8_lossy(&m.payload)
        );
    }
    println!("all flows complete, disconnected");
    Ok(())
}
