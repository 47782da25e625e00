//! Durable sessions: a [`mqtt_session::Store`] for the event loop, and the file
//! store the adapters offer.

mod file;
mod record;

pub use file::{FileStore, StoreError};

use std::sync::Arc;

use mqtt_session::{SessionState, Store, StoreOp};

/// Any store, its error made a shareable `std::error::Error`.
pub(crate) type BoxStore = Box<dyn DynStore>;

/// The error of a store, shared between the waiters it fails.
pub type SharedStoreError = Arc<dyn std::error::Error + Send + Sync>;

pub(crate) trait DynStore: Send {
    fn persist(&mut self, ops: &[StoreOp]) -> Result<(), SharedStoreError>;
    fn load(&mut self) -> Result<SessionState, SharedStoreError>;
}

impl<S> DynStore for S
where
    S: Store + Send,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    fn persist(&mut self, ops: &[StoreOp]) -> Result<(), SharedStoreError> {
        Store::persist(self, ops).map_err(|e| Arc::new(e) as SharedStoreError)
    }

    fn load(&mut self) -> Result<SessionState, SharedStoreError> {
        Store::load(self).map_err(|e| Arc::new(e) as SharedStoreError)
    }
}
