//! The session fed arbitrary input: after CONNECT and an arbitrary CONNACK, a run of
//! byte chunks (hostile or well-formed packets, split anywhere), clock ticks and
//! commands, in any order; the protocol (3.1.1 or 5.0) is an arbitrary choice too.
//! Nothing may panic, time-outs must move forward, memory stays within the configured
//! bounds, and everything the session sends decodes as a valid packet of its version
//! (under 5.0, within the server's Maximum Packet Size once connected).
#![no_main]

use core::time::Duration;

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mqtt_proto::v5::{self, PayloadFormat, PropertyValues, SubscriptionId, SubscriptionOptions};
use mqtt_proto::{
    DecodeOptions, Packet, PacketId, ProtocolVersion, QoS, Str, Suback, SubackCodes,
    SubackReturnCode, TopicFilter, TopicName,
};
use mqtt_session::{
    AuthError, AuthOutcome, Authenticator, Config, DeliveryId, Event, Instant, MemoryStore,
    Message, MessageProperties, Session, State, Store,
};

/// An authenticator answering every challenge, refusing some.
struct Echo;

impl Authenticator for Echo {
    fn method(&self) -> Str<Bytes> {
        Str::from_static("ECHO").unwrap()
    }
    fn initial_data(&mut self) -> Option<Bytes> {
        Some(Bytes::from_static(b"hi"))
    }
    fn challenge(&mut self, data: Option<&[u8]>) -> core::result::Result<Option<Bytes>, AuthError> {
        match data {
            Some(b"no") => Err(AuthError("refused")),
            d => Ok(d.map(Bytes::copy_from_slice)),
        }
    }
    fn outcome(&mut self, _: AuthOutcome<'_>) -> core::result::Result<(), AuthError> {
        Ok(())
    }
}

const FILTERS: [&str; 4] = ["a", "a/+", "#", "b/c"];

struct Fuzz {
    s: Session,
    now: u64,
    /// The transport's read buffer: whatever the session left (a partial packet).
    buf: BytesMut,
    deliveries: Vec<DeliveryId>,
    /// Where a durable session's journal goes.
    store: MemoryStore,
    max_queued: usize,
    max_inflight: u16,
    max_packet_size: u32,
    v5: bool,
    /// What the session wrote on this connection, decoded as the broker would.
    wire: BytesMut,
}

impl Fuzz {
    fn new(u: &mut Unstructured<'_>) -> Result<Fuzz> {
        let mut config = Config::new("fuzz").unwrap();
        config.clean_session = u.arbitrary()?;
        config.keep_alive = Duration::from_secs(u.int_in_range(0..=120)?);
        config.max_inflight = u.int_in_range(1..=8)?;
        config.max_queued = u.int_in_range(0..=16)?;
        config.max_packet_size = u.int_in_range(2..=4096)?;
        config.manual_acks = u.arbitrary()?;
        config.republish_on_session_loss = u.arbitrary()?;
        config.resubscribe_on_session_loss = u.arbitrary()?;
        config.durable = u.arbitrary()?;
        let v5 = u.arbitrary()?;
        if v5 {
            config.protocol = ProtocolVersion::V5;
            config.receive_maximum = u.int_in_range(1..=8)?;
            config.topic_alias_maximum = u.int_in_range(0..=4)?;
            config.max_outgoing_topic_aliases = u.int_in_range(0..=4)?;
            config.session_expiry_interval = u.arbitrary()?;
        }
        let mut s = Session::new(config.clone());
        if v5 && u.ratio(1, 4)? {
            s.set_authenticator(Box::new(Echo)).unwrap();
        }
        Ok(Fuzz {
            max_queued: config.max_queued,
            max_inflight: config.max_inflight,
            max_packet_size: config.max_packet_size,
            v5,
            wire: BytesMut::new(),
            s,
            now: 0,
            buf: BytesMut::new(),
            deliveries: Vec::new(),
            store: MemoryStore::new(),
        })
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    /// Connects and reads an arbitrary CONNACK (any flags, any return code; under 5.0
    /// often a valid one with arbitrary properties, or an AUTH).
    fn connect(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        if self.s.connect(self.now()).is_ok() {
            self.wire.clear();
        }
        self.buf.clear();
        self.drain();
        if self.v5 && u.ratio(3, 4)? {
            let p = match u.int_in_range(0..=5)? {
                0 => v5::Packet::Auth(v5::Auth {
                    reason_code: v5::AuthReasonCode::ContinueAuthentication,
                    properties: v5::AuthProperties::from_values(&PropertyValues {
                        authentication_method: Some(Str::new("ECHO").unwrap()),
                        authentication_data: Some(if u.arbitrary()? { b"no" } else { b"ok" }),
                        ..PropertyValues::default()
                    })
                    .unwrap(),
                }),
                1 => u.arbitrary()?,
                _ => {
                    let mut c: v5::Connack<Bytes> = match u.arbitrary()? {
                        v5::Packet::Connack(c) => c,
                        _ => v5::Connack::new(false, v5::ConnectReasonCode::Success),
                    };
                    if u.ratio(3, 4)? {
                        c.reason_code = v5::ConnectReasonCode::Success;
                    }
                    v5::Packet::Connack(c)
                }
            };
            self.packet5(&p);
            return Ok(());
        }
        let connack = [0x20, 0x02, u.int_in_range(0..=1)?, u.int_in_range(0..=6)?];
        let bytes: [u8; 4] = if u.ratio(1, 8)? {
            u.arbitrary()?
        } else {
            connack
        };
        self.read(&bytes);
        Ok(())
    }

    fn read(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        let now = self.now();
        self.s.handle_read(now, &mut self.buf);
        if self.s.state() == State::Disconnected {
            self.buf.clear(); // the transport is closed with it
        } else {
            // Only a partial packet stays, refused from its fixed header if too large.
            assert!(self.buf.len() < self.max_packet_size as usize + 5);
        }
    }

    fn packet(&mut self, p: &Packet<Bytes>) {
        let mut b = BytesMut::new();
        if p.encode_to(&mut b).is_ok() {
            self.read(&b);
        }
    }

    fn packet5(&mut self, p: &v5::Packet<Bytes>) {
        let mut b = BytesMut::new();
        if p.encode_to(&mut b).is_ok() {
            self.read(&b);
        }
    }

    /// What the session handed out decodes as packets of its version; under 5.0,
    /// within the server's Maximum Packet Size once connected [MQTT-3.2.2-15].
    fn check_wire(&mut self, bytes: &[u8]) {
        self.wire.extend_from_slice(bytes);
        let opts = DecodeOptions::default();
        loop {
            if self.v5 {
                match v5::decode_buf(&mut self.wire, &DecodeOptions::v5()) {
                    Ok(Some(p)) => {
                        let limits = self.s.server_limits().unwrap();
                        let len = p.encoded_len().unwrap();
                        if !matches!(p, v5::Packet::Connect(_)) && self.s.connack().is_some() {
                            assert!(len <= limits.maximum_packet_size as usize, "{p:?}");
                        }
                    }
                    Ok(None) => return,
                    Err(e) => panic!("the session sent an invalid 5.0 packet: {e:?}"),
                }
            } else {
                match mqtt_proto::decode_buf(&mut self.wire, &opts) {
                    Ok(Some(_)) => {}
                    Ok(None) => return,
                    Err(e) => panic!("the session sent an invalid packet: {e:?}"),
                }
            }
        }
    }

    /// Drains all the outputs, as a driver must, and checks the bounds.
    fn drain(&mut self) {
        // Write-ahead: bytes go out only once no journal entry waits.
        if let Some(tx) = self.s.poll_transmit() {
            assert!(!tx.is_empty());
            assert!(
                self.s.poll_store_op().is_none(),
                "bytes handed out before the journal was drained"
            );
            self.check_wire(&tx.head);
            self.check_wire(&tx.payload);
        }
        let journal: Vec<_> = std::iter::from_fn(|| self.s.poll_store_op()).collect();
        assert!(
            journal.is_empty() || self.s.config().durable,
            "a journal without `durable`"
        );
        let Ok(()) = self.store.persist(&journal);
        while let Some(tx) = self.s.poll_transmit() {
            assert!(!tx.is_empty());
            self.check_wire(&tx.head);
            self.check_wire(&tx.payload);
        }
        while let Some(e) = self.s.poll_event() {
            if let Event::Message(m) = e {
                if let Some(d) = m.delivery {
                    self.deliveries.push(d);
                }
            }
        }
        let stats = self.s.stats();
        assert!(stats.queued <= self.max_queued, "{stats:?}");
        assert!(
            stats.inflight <= usize::from(self.max_inflight),
            "{stats:?}"
        );
        assert!(stats.inbound_qos2 <= usize::from(u16::MAX), "{stats:?}");
    }

    fn step(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let small_id = |u: &mut Unstructured<'_>| -> Result<PacketId> {
            Ok(PacketId::new(u.int_in_range(1..=12)?).unwrap())
        };
        if self.v5 && u.ratio(1, 3)? {
            return self.step5(u);
        }
        match u.int_in_range(0..=13)? {
            // Hostile bytes, split anywhere.
            0 => {
                let len = u.int_in_range(0..=64)?;
                let bytes = u.bytes(len)?;
                self.read(bytes);
            }
            // A well-formed packet of any kind (also ones a broker must not send).
            1 => {
                let p: Packet<Bytes> = u.arbitrary()?;
                self.packet(&p);
            }
            // Acknowledgements for identifiers likely in use.
            2 => {
                let id = small_id(u)?;
                let p = match u.int_in_range(0..=5)? {
                    0 => Packet::Puback(id),
                    1 => Packet::Pubrec(id),
                    2 => Packet::Pubrel(id),
                    3 => Packet::Pubcomp(id),
                    4 => Packet::Unsuback(id),
                    _ => {
                        let n = u.int_in_range(1..=3)?;
                        let codes: Vec<_> = (0..n)
                            .map(|_| {
                                Ok(match u.int_in_range(0..=3)? {
                                    0 => SubackReturnCode::Success(QoS::AtMostOnce),
                                    1 => SubackReturnCode::Success(QoS::AtLeastOnce),
                                    2 => SubackReturnCode::Success(QoS::ExactlyOnce),
                                    _ => SubackReturnCode::Failure,
                                })
                            })
                            .collect::<Result<_>>()?;
                        let codes = SubackCodes::from_codes(&codes).unwrap();
                        Packet::Suback(Suback {
                            packet_id: id,
                            codes,
                        })
                    }
                };
                self.packet(&p);
            }
            // A PUBLISH from the broker with an identifier likely reused.
            3 => {
                let mut p: mqtt_proto::Publish<Bytes> = u.arbitrary()?;
                p.qos_pid = match u.int_in_range(0..=2)? {
                    0 => mqtt_proto::QosPid::AtMostOnce,
                    1 => mqtt_proto::QosPid::AtLeastOnce(small_id(u)?),
                    _ => mqtt_proto::QosPid::ExactlyOnce(small_id(u)?),
                };
                p.dup = p.qos_pid.packet_id().is_some() && u.arbitrary()?;
                self.packet(&Packet::Publish(p));
            }
            4 => {
                self.now += u.int_in_range(0..=200_000)?;
                let now = self.now();
                self.s.handle_timeout(now);
                // Early calls are no-ops, and a due deadline always moves on.
                if let Some(next) = self.s.poll_timeout() {
                    assert!(next > now, "deadline {next:?} still due at {now:?}");
                }
            }
            5 => {
                let qos = qos(u)?;
                let len = u.int_in_range(0..=32)?;
                let payload = Bytes::copy_from_slice(u.bytes(len)?);
                let topic = TopicName::from_static("t/x").unwrap();
                let _ = self
                    .s
                    .publish(self.now(), Message::new(topic, payload, qos));
            }
            6 => {
                let f = TopicFilter::from_static(FILTERS[u.choose_index(FILTERS.len())?]);
                let _ = self.s.subscribe(self.now(), &[(f.unwrap(), qos(u)?)]);
            }
            7 => {
                let f = TopicFilter::from_static(FILTERS[u.choose_index(FILTERS.len())?]);
                let _ = self.s.unsubscribe(self.now(), &[f.unwrap()]);
            }
            8 => {
                if !self.deliveries.is_empty() {
                    let i = u.choose_index(self.deliveries.len())?;
                    let d = self.deliveries.swap_remove(i);
                    let _ = self.s.ack(self.now(), d);
                }
            }
            9 => self.s.disconnect(self.now()),
            10 => {
                self.s.handle_transport_closed(self.now());
                self.buf.clear();
                self.wire.clear();
            }
            11 => self.connect(u)?,
            // The process restarts from its stored state: the journal's replay (what
            // was persisted; a crash loses the rest) or, without one, an export.
            12 => {
                let state = if self.s.config().durable {
                    let Ok(state) = self.store.load();
                    state
                } else {
                    self.s.export_state()
                };
                let config = self.s.config().clone();
                let (s, _) = Session::restore(config, state);
                self.s = s;
                self.buf.clear();
                self.wire.clear();
                self.deliveries.clear();
            }
            // A stale or foreign delivery handle: only a result, never a panic.
            _ => {
                if let Some(d) = self.deliveries.first().copied() {
                    let _ = self.s.ack(self.now(), d);
                }
            }
        }
        self.drain();
        Ok(())
    }
}

impl Fuzz {
    /// A 5.0 step: 5.0 packets from the broker (acks with reason codes, PUBLISH with
    /// topic aliases and properties, DISCONNECT, AUTH) and 5.0 commands.
    fn step5(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let id = PacketId::new(u.int_in_range(1..=12)?).unwrap();
        match u.int_in_range(0..=9)? {
            0 => {
                let p: v5::Packet<Bytes> = u.arbitrary()?;
                self.packet5(&p);
            }
            1 => {
                let reason_code = *u.choose(v5::PubackReasonCode::ALL)?;
                let a = v5::Puback {
                    packet_id: id,
                    reason_code,
                    properties: Default::default(),
                };
                let p = match u.int_in_range(0..=3)? {
                    0 => v5::Packet::Puback(a),
                    1 => v5::Packet::Pubrec(a),
                    2 => v5::Packet::Pubrel(v5::Pubrel::new(id)),
                    _ => v5::Packet::Pubcomp(v5::Pubcomp::new(id)),
                };
                self.packet5(&p);
            }
            2 => {
                let mut p: v5::Publish<Bytes> = match u.arbitrary()? {
                    v5::Packet::Publish(p) => p,
                    _ => return Ok(()),
                };
                let alias = u.int_in_range(0..=5)?;
                if alias > 0 {
                    if u.arbitrary()? {
                        p.topic = None;
                    } else if p.topic.is_none() {
                        p.topic = Some(TopicName::from_static("t/a").unwrap());
                    }
                    p.properties = v5::PublishProperties::from_values(&PropertyValues {
                        topic_alias: core::num::NonZeroU16::new(alias),
                        payload_format_indicator: u
                            .arbitrary::<bool>()?
                            .then_some(PayloadFormat::Utf8),
                        ..PropertyValues::default()
                    })
                    .unwrap();
                } else if p.topic.is_none() {
                    return Ok(());
                }
                p.qos_pid = match u.int_in_range(0..=2)? {
                    0 => mqtt_proto::QosPid::AtMostOnce,
                    1 => mqtt_proto::QosPid::AtLeastOnce(id),
                    _ => mqtt_proto::QosPid::ExactlyOnce(id),
                };
                p.dup = p.qos_pid.packet_id().is_some() && p.dup;
                self.packet5(&v5::Packet::Publish(p));
            }
            3 => {
                let code = *u.choose(v5::DisconnectReasonCode::ALL)?;
                self.packet5(&v5::Packet::Disconnect(v5::Disconnect::new(code)));
            }
            4 => {
                let qos = qos(u)?;
                let len = u.int_in_range(0..=48)?;
                let payload = Bytes::copy_from_slice(u.bytes(len)?);
                let topic =
                    TopicName::from_static(["t/x", "a/long/topic/name", "b"][u.choose_index(3)?])
                        .unwrap();
                let mut m = Message::new(topic, payload, qos);
                m.retain = u.arbitrary()?;
                if u.arbitrary()? {
                    m = m.with_properties(MessageProperties {
                        payload_format_indicator: u
                            .arbitrary::<bool>()?
                            .then_some(PayloadFormat::Utf8),
                        message_expiry_interval: u.arbitrary::<bool>()?.then(|| 1),
                        content_type: u
                            .arbitrary::<bool>()?
                            .then(|| Str::from_static("c/t").unwrap()),
                        correlation_data: u.arbitrary::<bool>()?.then(|| Bytes::from_static(b"id")),
                        ..MessageProperties::default()
                    });
                }
                let _ = self.s.publish(self.now(), m);
            }
            5 => {
                let f = ["a", "a/+", "#", "$share/g/b", "$share/g"][u.choose_index(5)?];
                let f = TopicFilter::from_static(f).unwrap();
                let options = SubscriptionOptions {
                    qos: qos(u)?,
                    no_local: u.arbitrary()?,
                    retain_as_published: u.arbitrary()?,
                    retain_handling: v5::RetainHandling::DoNotSend,
                };
                let ids: Vec<SubscriptionId> = SubscriptionId::new(u.int_in_range(0..=3)?)
                    .into_iter()
                    .collect();
                let props = PropertyValues {
                    subscription_identifiers: &ids,
                    ..PropertyValues::default()
                };
                let _ = self.s.subscribe_with(self.now(), &[(f, options)], &props);
            }
            6 => {
                let code = *u.choose(v5::DisconnectReasonCode::ALL)?;
                let expiry: Option<u32> = u.arbitrary()?;
                let props = PropertyValues {
                    session_expiry_interval: expiry,
                    ..PropertyValues::default()
                };
                let _ = self.s.disconnect_with(self.now(), code, &props);
            }
            7 => {
                let _ = self.s.reauthenticate(self.now());
            }
            8 => {
                let p = v5::Packet::Auth(v5::Auth {
                    reason_code: *u.choose(v5::AuthReasonCode::ALL)?,
                    properties: v5::AuthProperties::from_values(&PropertyValues {
                        authentication_method: Some(Str::new("ECHO").unwrap()),
                        authentication_data: Some(if u.arbitrary()? { b"no" } else { b"ok" }),
                        ..PropertyValues::default()
                    })
                    .unwrap(),
                });
                self.packet5(&p);
            }
            _ => {
                let p: v5::Packet<Bytes> = v5::Packet::Pingresp;
                self.packet5(&p);
            }
        }
        self.drain();
        Ok(())
    }
}

fn qos(u: &mut Unstructured<'_>) -> Result<QoS> {
    Ok(match u.int_in_range(0..=2)? {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    })
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let mut f = Fuzz::new(&mut u)?;
    f.connect(&mut u)?;
    f.drain();
    while !u.is_empty() {
        f.step(&mut u)?;
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
