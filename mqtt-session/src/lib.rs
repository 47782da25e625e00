//! The MQTT 3.1.1 client protocol as a sans-IO state machine.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod commands;
mod config;
mod error;
mod event;
mod inbound;
mod session;
mod state;
mod time;
mod timers;

#[cfg(feature = "sim")]
pub mod sim;

pub use config::Config;
pub use error::Error;
pub use event::{
    DeliveryId, DisconnectReason, Event, Incoming, Message, OpId, Outcome, ProtocolError,
};
pub use session::{Session, State, Stats, Transmit};
pub use state::{SessionState, StoredCommand, StoredOp};
pub use time::Instant;

pub use mqtt_proto as proto;
