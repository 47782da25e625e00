//! The session fed arbitrary input: after CONNECT and an arbitrary CONNACK, a run of
//! byte chunks (hostile or well-formed packets, split anywhere), clock ticks and
//! commands, in any order. Nothing may panic, time-outs must move forward, and memory
//! stays within the configured bounds.
#![no_main]

use core::time::Duration;

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mqtt_proto::{
    Packet, PacketId, QoS, Suback, SubackCodes, SubackReturnCode, TopicFilter, TopicName,
};
use mqtt_session::{
    Config, DeliveryId, Event, Instant, MemoryStore, Message, Session, State, Store,
};

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
        Ok(Fuzz {
            max_queued: config.max_queued,
            max_inflight: config.max_inflight,
            max_packet_size: config.max_packet_size,
            s: Session::new(config),
            now: 0,
            buf: BytesMut::new(),
            deliveries: Vec::new(),
            store: MemoryStore::new(),
        })
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    /// Connects and reads an arbitrary CONNACK (any flags, any return code).
    fn connect(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let _ = self.s.connect(self.now());
        self.buf.clear();
        self.drain();
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

    /// Drains all the outputs, as a driver must, and checks the bounds.
    fn drain(&mut self) {
        // Write-ahead: bytes go out only once no journal entry waits.
        if let Some(tx) = self.s.poll_transmit() {
            assert!(!tx.is_empty());
            assert!(
                self.s.poll_store_op().is_none(),
                "bytes handed out before the journal was drained"
            );
        }
        let journal: Vec<_> = std::iter::from_fn(|| self.s.poll_store_op()).collect();
        assert!(journal.is_empty() || self.s.config().durable, "a journal without `durable`");
        let Ok(()) = self.store.persist(&journal);
        while let Some(tx) = self.s.poll_transmit() {
            assert!(!tx.is_empty());
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
