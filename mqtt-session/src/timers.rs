//! Keepalive, ping timeout and CONNACK timeout.

use core::time::Duration;

use mqtt_proto::Packet;

use crate::session::State;
use crate::{DisconnectReason, Instant, Session};

impl Session {
    /// Lets time pass: sends PINGREQ when due, and ends the connection when CONNACK
    /// or PINGRESP is overdue. Calls before the deadline are no-ops.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        match self.state {
            State::Disconnected => {}
            State::Connecting => {
                if self.now >= self.connect_deadline {
                    self.close(DisconnectReason::ConnackTimeout);
                }
            }
            State::Connected => {
                if let Some(deadline) = self.ping_deadline {
                    if self.now >= deadline {
                        self.close(DisconnectReason::PingTimeout);
                    }
                } else if let Some(due) = self.ping_due() {
                    if self.now >= due {
                        self.send(Packet::Pingreq);
                        let timeout = self.config.ping_timeout(self.keep_alive_interval());
                        self.ping_deadline = Some(self.now + timeout);
                    }
                }
            }
        }
    }

    /// When [`Session::handle_timeout`] should next be called, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Disconnected => None,
            State::Connecting => Some(self.connect_deadline),
            State::Connected => self.ping_deadline.or_else(|| self.ping_due()),
        }
    }

    /// PINGREQ is due once either direction has been silent for the keep alive:
    /// silence on our side is what [MQTT-3.1.2-23] requires a ping for; silence on the
    /// broker's side is how a dead connection is found while we are still sending.
    fn ping_due(&self) -> Option<Instant> {
        let keep_alive = self.keep_alive_interval();
        if keep_alive.is_zero() {
            return None;
        }
        Some(self.last_sent.min(self.last_received) + keep_alive)
    }
}

impl Session {
    /// The keep alive in use: the server's Server Keep Alive when its CONNACK had one
    /// [MQTT-3.2.2-21], otherwise what CONNECT announced.
    pub(crate) fn keep_alive_interval(&self) -> Duration {
        let secs = self
            .v5
            .as_ref()
            .and_then(|v| v.limits.server_keep_alive)
            .unwrap_or_else(|| self.config.keep_alive_secs());
        Duration::from_secs(secs.into())
    }
}
