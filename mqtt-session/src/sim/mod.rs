//! A simulated broker, clock and network (feature `sim`).

mod broker;

pub use broker::*;
