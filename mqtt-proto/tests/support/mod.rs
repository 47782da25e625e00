//! Shared test support.
pub mod mosquitto;
