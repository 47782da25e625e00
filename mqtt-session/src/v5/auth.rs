//! 5.0 enhanced authentication (section 4.12): a pluggable [`Authenticator`], the AUTH
//! exchange during connect, and re-authentication on demand.

use alloc::boxed::Box;
use core::fmt;

use bytes::{Bytes, BytesMut};
use mqtt_proto::v5::{self, AuthProperties, AuthReasonCode, PropertyValues};
use mqtt_proto::Str;

/// One side of a SASL-style challenge / response exchange, e.g. SCRAM or Kerberos.
///
/// The session calls [`Authenticator::initial_data`] for the CONNECT (and for the AUTH
/// that starts a re-authentication), [`Authenticator::challenge`] for each AUTH 0x18
/// (Continue authentication) from the server, and [`Authenticator::outcome`] once the
/// server has decided. It sends what the authenticator returns and checks the rest of
/// the protocol: the server must use our method [MQTT-4.12.0-5], AUTH comes only while
/// an exchange is in progress.
pub trait Authenticator: Send {
    /// The Authentication Method, e.g. `SCRAM-SHA-256` (sent in CONNECT and in every
    /// AUTH).
    fn method(&self) -> Str<Bytes>;

    /// Starts an exchange: the Authentication Data of the CONNECT, or of the AUTH 0x19
    /// (Re-authenticate) [MQTT-4.12.1-1]. Called once per exchange.
    fn initial_data(&mut self) -> Option<Bytes>;

    /// The server's AUTH 0x18 with its Authentication Data: the data of our answer,
    /// an AUTH 0x18 [MQTT-4.12.0-3]; `Err` gives up (the session sends DISCONNECT
    /// and closes).
    fn challenge(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, AuthError>;

    /// How the exchange ended. On success (a CONNACK 0x00, or an AUTH 0x00 after a
    /// re-authentication) with the server's last Authentication Data, `Err` refuses
    /// the server (e.g. a server signature that does not verify): the session sends
    /// DISCONNECT and closes. On failure the result is ignored.
    fn outcome(&mut self, outcome: AuthOutcome<'_>) -> Result<(), AuthError>;
}

/// How an authentication exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthOutcome<'a> {
    /// The server accepted, with this final Authentication Data.
    Success(Option<&'a [u8]>),
    /// The server refused (CONNACK or DISCONNECT with a failure reason code).
    Failed,
}

/// Why an [`Authenticator`] gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthError(pub &'static str);

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "authentication failed: {}", self.0)
    }
}

impl core::error::Error for AuthError {}

/// Where the exchange stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthState {
    /// No exchange (none configured, or the last one ended).
    Idle,
    /// CONNECT carried our method: AUTH 0x18 or CONNACK next.
    Connecting,
    /// We sent AUTH 0x19: AUTH 0x18 or AUTH 0x00 next.
    Reauthenticating,
}

/// The authenticator and its state.
pub(crate) struct Auth {
    pub(crate) authenticator: Option<Box<dyn Authenticator>>,
    pub(crate) state: AuthState,
    /// The method the current connection authenticated with (its CONNECT's).
    pub(crate) method: Option<Str<Bytes>>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("authenticator", &self.authenticator.is_some())
            .field("state", &self.state)
            .field("method", &self.method)
            .finish()
    }
}

impl Auth {
    pub(crate) fn new() -> Auth {
        Auth {
            authenticator: None,
            state: AuthState::Idle,
            method: None,
        }
    }
}

/// An AUTH packet, encoded.
pub(crate) fn encode_auth(
    reason_code: AuthReasonCode,
    method: &Str<Bytes>,
    data: Option<&[u8]>,
) -> Result<Bytes, mqtt_proto::EncodeError> {
    let values = PropertyValues {
        authentication_method: Some(method.as_borrowed()),
        authentication_data: data,
        ..PropertyValues::default()
    };
    let properties = AuthProperties::<Bytes>::from_values(&values)?;
    let mut out = BytesMut::new();
    v5::Packet::Auth(v5::Auth {
        reason_code,
        properties,
    })
    .encode_to(&mut out)?;
    Ok(out.freeze())
}
