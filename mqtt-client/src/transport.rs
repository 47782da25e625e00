//! Opening a transport to a broker: TCP, then TLS, then WebSocket, as the scheme says.

use std::io;
use std::sync::Arc;

use rustls::ClientConfig;

use crate::options::{Broker, Connector, Scheme};
use crate::runtime::{BoxIo, Io, Runtime};
use crate::tls::TlsOptions;

/// What every connection attempt needs, prepared once.
#[derive(Clone)]
pub(crate) struct Dialer {
    pub(crate) tls: TlsOptions,
    /// Built on first use, so plain TCP never pays for it (nor fails on it).
    pub(crate) tls_config: Option<Arc<ClientConfig>>,
    pub(crate) connector: Option<Connector>,
}

impl Dialer {
    pub(crate) async fn dial<R: Runtime>(self, broker: Broker) -> io::Result<BoxIo> {
        if let Some(connector) = &self.connector {
            return connector().await;
        }
        let tcp = R::connect_tcp(broker.host.clone(), broker.port).await?;
        let secure = matches!(broker.scheme, Scheme::Tls | Scheme::Wss);
        let io = if secure {
            let config = match self.tls_config {
                Some(c) => c,
                None => self.tls.client_config()?,
            };
            self.tls.connect(config, &broker.host, tcp).await?
        } else {
            tcp
        };
        match broker.scheme {
            Scheme::Ws | Scheme::Wss => {
                crate::ws::connect(io, secure, &broker.host, broker.port, &broker.path).await
            }
            _ => Ok(io),
        }
    }
}

/// [`Runtime::set_read_low_water`] on the TCP socket under any TLS and WebSocket
/// layers of `io`.
pub(crate) fn set_read_low_water<R: Runtime>(io: &mut dyn Io, bytes: usize) -> io::Result<bool> {
    if let Some(inner) = crate::ws::inner(io) {
        return set_read_low_water::<R>(inner, bytes);
    }
    if let Some(inner) = crate::tls::inner(io) {
        return set_read_low_water::<R>(inner, bytes);
    }
    R::set_read_low_water(io, bytes)
}
