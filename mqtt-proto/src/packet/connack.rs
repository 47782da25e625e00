//! CONNACK [MQTT-3.2]: the server's answer to CONNECT.

use crate::wire::{Reader, Sink};
use crate::{DecodeError, EncodeError, Storage};

/// The CONNACK return code [MQTT-3.2.2.3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ConnectReturnCode {
    /// 0x00: connection accepted.
    Accepted = 0,
    /// 0x01: the server does not support the requested protocol level.
    UnacceptableProtocolVersion = 1,
    /// 0x02: the client identifier is not allowed.
    IdentifierRejected = 2,
    /// 0x03: the MQTT service is unavailable.
    ServerUnavailable = 3,
    /// 0x04: the user name or password is malformed.
    BadUserNameOrPassword = 4,
    /// 0x05: the client is not authorized to connect.
    NotAuthorized = 5,
}

impl ConnectReturnCode {
    fn from_u8(v: u8) -> Result<Self, DecodeError> {
        Ok(match v {
            0 => ConnectReturnCode::Accepted,
            1 => ConnectReturnCode::UnacceptableProtocolVersion,
            2 => ConnectReturnCode::IdentifierRejected,
            3 => ConnectReturnCode::ServerUnavailable,
            4 => ConnectReturnCode::BadUserNameOrPassword,
            5 => ConnectReturnCode::NotAuthorized,
            other => return Err(DecodeError::InvalidConnectReturnCode(other)),
        })
    }
}

/// A CONNACK packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Connack {
    /// Whether the server resumed a stored session [MQTT-3.2.2-2], [MQTT-3.2.2-3].
    pub session_present: bool,
    /// Accepted, or why not.
    pub code: ConnectReturnCode,
}

impl Connack {
    pub(crate) fn read<S: Storage>(r: &mut Reader<'_, S>) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        let code = ConnectReturnCode::from_u8(r.u8()?)?;
        r.finish()?;
        // Bits 7-1 are reserved; a refusal never has session present [MQTT-3.2.2-4].
        if flags & !1 != 0 || (flags == 1 && code != ConnectReturnCode::Accepted) {
            return Err(DecodeError::InvalidConnackFlags);
        }
        Ok(Connack {
            session_present: flags == 1,
            code,
        })
    }

    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        if self.session_present && self.code != ConnectReturnCode::Accepted {
            return Err(EncodeError::SessionPresentOnRefusal); // [MQTT-3.2.2-4]
        }
        Ok(())
    }

    pub(crate) fn write_body<W: Sink>(&self, w: &mut W) {
        w.put_u8(self.session_present as u8);
        w.put_u8(self.code as u8);
    }
}
