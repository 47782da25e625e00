//! A simulated broker, clock and network (feature `sim`).

mod broker;
mod net;

pub use broker::*;
pub use net::*;
