//! Reason codes (section 2.4), one type per packet with only the values that packet
//! may carry. A byte outside that set is [`DecodeError::InvalidReasonCode`].

use crate::{DecodeError, PacketType, QoS};

/// What every reason code type offers. Sealed.
pub trait ReasonCode: Copy + Eq + sealed::Sealed {
    /// The byte on the wire.
    fn to_u8(self) -> u8;

    /// Whether the code reports a failure (0x80 and above, section 2.4).
    fn is_error(self) -> bool {
        self.to_u8() >= 0x80
    }

    /// The code for a byte, or why it is not one; `packet_type` names the packet in
    /// the error.
    #[doc(hidden)]
    fn decode(v: u8, packet_type: PacketType) -> Result<Self, DecodeError>;

    /// The value a missing reason code means (0x00).
    #[doc(hidden)]
    const SUCCESS: Self;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! reason_codes {
    (
        $(#[$meta:meta])*
        $name:ident, success = $success:ident {
            $($(#[$vmeta:meta])* $variant:ident = $code:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $code,)*
        }

        impl $name {
            /// Every code of this type, in ascending order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The code for a byte, or `None` if this packet may not carry it.
            pub const fn from_u8(v: u8) -> Option<$name> {
                match v {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl Default for $name {
            /// 0x00, what a packet without a reason code means.
            fn default() -> Self {
                $name::$success
            }
        }

        impl sealed::Sealed for $name {}
        impl ReasonCode for $name {
            fn to_u8(self) -> u8 {
                self as u8
            }

            fn decode(code: u8, packet_type: PacketType) -> Result<Self, DecodeError> {
                $name::from_u8(code).ok_or(DecodeError::InvalidReasonCode { packet_type, code })
            }

            const SUCCESS: Self = $name::$success;
        }
    };
}

reason_codes! {
    /// The CONNACK reason code (section 3.2.2.2) [MQTT-3.2.2-8].
    ConnectReasonCode, success = Success {
        /// 0x00: the connection is accepted.
        Success = 0x00,
        /// 0x80: the server does not wish to reveal the reason.
        UnspecifiedError = 0x80,
        /// 0x81: the CONNECT could not be parsed.
        MalformedPacket = 0x81,
        /// 0x82: the CONNECT broke the protocol.
        ProtocolError = 0x82,
        /// 0x83: valid, but not accepted by this server.
        ImplementationSpecificError = 0x83,
        /// 0x84: the server does not speak the requested protocol version.
        UnsupportedProtocolVersion = 0x84,
        /// 0x85: the client identifier is valid but not allowed.
        ClientIdentifierNotValid = 0x85,
        /// 0x86: user name or password not accepted.
        BadUserNameOrPassword = 0x86,
        /// 0x87: the client is not authorized to connect.
        NotAuthorized = 0x87,
        /// 0x88: the server is not available.
        ServerUnavailable = 0x88,
        /// 0x89: the server is busy; try later.
        ServerBusy = 0x89,
        /// 0x8A: the client is banned.
        Banned = 0x8a,
        /// 0x8C: the authentication method is not supported or does not match.
        BadAuthenticationMethod = 0x8c,
        /// 0x90: the will topic name is not accepted.
        TopicNameInvalid = 0x90,
        /// 0x95: the CONNECT exceeds the maximum packet size.
        PacketTooLarge = 0x95,
        /// 0x97: an implementation or administrative limit was exceeded.
        QuotaExceeded = 0x97,
        /// 0x99: the will payload does not match its Payload Format Indicator.
        PayloadFormatInvalid = 0x99,
        /// 0x9A: a retained will is not supported.
        RetainNotSupported = 0x9a,
        /// 0x9B: the will QoS is not supported.
        QoSNotSupported = 0x9b,
        /// 0x9C: use another server, temporarily.
        UseAnotherServer = 0x9c,
        /// 0x9D: use another server, permanently.
        ServerMoved = 0x9d,
        /// 0x9F: the connection rate limit was exceeded.
        ConnectionRateExceeded = 0x9f,
    }
}

reason_codes! {
    /// The PUBACK and PUBREC reason code (sections 3.4.2.1, 3.5.2.1) [MQTT-3.4.2-1],
    /// [MQTT-3.5.2-1].
    PubackReasonCode, success = Success {
        /// 0x00: the message is accepted.
        Success = 0x00,
        /// 0x10: accepted, but no one is subscribed.
        NoMatchingSubscribers = 0x10,
        /// 0x80: not accepted, no reason given.
        UnspecifiedError = 0x80,
        /// 0x83: valid, but not accepted by this receiver.
        ImplementationSpecificError = 0x83,
        /// 0x87: the sender may not publish this.
        NotAuthorized = 0x87,
        /// 0x90: the topic name is valid but not accepted.
        TopicNameInvalid = 0x90,
        /// 0x91: the packet identifier is already in use.
        PacketIdentifierInUse = 0x91,
        /// 0x97: an implementation or administrative limit was exceeded.
        QuotaExceeded = 0x97,
        /// 0x99: the payload does not match its Payload Format Indicator.
        PayloadFormatInvalid = 0x99,
    }
}

/// The PUBREC reason code: the same set as PUBACK's (section 3.5.2.1).
pub type PubrecReasonCode = PubackReasonCode;

reason_codes! {
    /// The PUBREL and PUBCOMP reason code (sections 3.6.2.1, 3.7.2.1)
    /// [MQTT-3.6.2-1], [MQTT-3.7.2-1].
    PubrelReasonCode, success = Success {
        /// 0x00: the packet identifier is released.
        Success = 0x00,
        /// 0x92: the packet identifier is not known (not an error while a session
        /// resumes).
        PacketIdentifierNotFound = 0x92,
    }
}

/// The PUBCOMP reason code: the same set as PUBREL's (section 3.7.2.1).
pub type PubcompReasonCode = PubrelReasonCode;

reason_codes! {
    /// The SUBACK reason code, one per topic filter (section 3.9.3) [MQTT-3.9.3-2].
    SubackReasonCode, success = GrantedQoS0 {
        /// 0x00: subscribed with maximum QoS 0.
        GrantedQoS0 = 0x00,
        /// 0x01: subscribed with maximum QoS 1.
        GrantedQoS1 = 0x01,
        /// 0x02: subscribed with maximum QoS 2.
        GrantedQoS2 = 0x02,
        /// 0x80: not subscribed, no reason given.
        UnspecifiedError = 0x80,
        /// 0x83: valid, but not accepted by this server.
        ImplementationSpecificError = 0x83,
        /// 0x87: the client may not subscribe to this.
        NotAuthorized = 0x87,
        /// 0x8F: the topic filter is valid but not allowed.
        TopicFilterInvalid = 0x8f,
        /// 0x91: the packet identifier is already in use.
        PacketIdentifierInUse = 0x91,
        /// 0x97: an implementation or administrative limit was exceeded.
        QuotaExceeded = 0x97,
        /// 0x9E: shared subscriptions are not supported.
        SharedSubscriptionsNotSupported = 0x9e,
        /// 0xA1: subscription identifiers are not supported.
        SubscriptionIdentifiersNotSupported = 0xa1,
        /// 0xA2: wildcard subscriptions are not supported.
        WildcardSubscriptionsNotSupported = 0xa2,
    }
}

impl SubackReasonCode {
    /// The code granting `qos`.
    pub const fn granted(qos: QoS) -> SubackReasonCode {
        match qos {
            QoS::AtMostOnce => SubackReasonCode::GrantedQoS0,
            QoS::AtLeastOnce => SubackReasonCode::GrantedQoS1,
            QoS::ExactlyOnce => SubackReasonCode::GrantedQoS2,
        }
    }

    /// The maximum QoS granted, or `None` if the subscription failed.
    pub const fn granted_qos(self) -> Option<QoS> {
        match self {
            SubackReasonCode::GrantedQoS0 => Some(QoS::AtMostOnce),
            SubackReasonCode::GrantedQoS1 => Some(QoS::AtLeastOnce),
            SubackReasonCode::GrantedQoS2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

reason_codes! {
    /// The UNSUBACK reason code, one per topic filter (section 3.11.3)
    /// [MQTT-3.11.3-2].
    UnsubackReasonCode, success = Success {
        /// 0x00: the subscription is deleted.
        Success = 0x00,
        /// 0x11: there was no such subscription.
        NoSubscriptionExisted = 0x11,
        /// 0x80: not unsubscribed, no reason given.
        UnspecifiedError = 0x80,
        /// 0x83: valid, but not accepted by this server.
        ImplementationSpecificError = 0x83,
        /// 0x87: the client may not unsubscribe from this.
        NotAuthorized = 0x87,
        /// 0x8F: the topic filter is valid but not allowed.
        TopicFilterInvalid = 0x8f,
        /// 0x91: the packet identifier is already in use.
        PacketIdentifierInUse = 0x91,
    }
}

reason_codes! {
    /// The DISCONNECT reason code (section 3.14.2.1) [MQTT-3.14.2-1]. Some codes are
    /// the client's to send, some the server's; both directions decode all of them.
    DisconnectReasonCode, success = NormalDisconnection {
        /// 0x00: close normally; the server discards the will.
        NormalDisconnection = 0x00,
        /// 0x04 (client): close, and publish the will.
        DisconnectWithWillMessage = 0x04,
        /// 0x80: no reason given.
        UnspecifiedError = 0x80,
        /// 0x81: a packet could not be parsed.
        MalformedPacket = 0x81,
        /// 0x82: a packet broke the protocol.
        ProtocolError = 0x82,
        /// 0x83: valid, but not accepted.
        ImplementationSpecificError = 0x83,
        /// 0x87 (server): not authorized.
        NotAuthorized = 0x87,
        /// 0x89 (server): the server is busy.
        ServerBusy = 0x89,
        /// 0x8B (server): the server is shutting down.
        ServerShuttingDown = 0x8b,
        /// 0x8D (server): nothing arrived within 1.5 times the keep alive.
        KeepAliveTimeout = 0x8d,
        /// 0x8E (server): another connection with the same client id took over.
        SessionTakenOver = 0x8e,
        /// 0x8F (server): the topic filter is valid but not accepted.
        TopicFilterInvalid = 0x8f,
        /// 0x90: the topic name is valid but not accepted.
        TopicNameInvalid = 0x90,
        /// 0x93: more unacknowledged QoS 1/2 publishes than Receive Maximum.
        ReceiveMaximumExceeded = 0x93,
        /// 0x94: an invalid topic alias.
        TopicAliasInvalid = 0x94,
        /// 0x95: a packet exceeded the maximum packet size.
        PacketTooLarge = 0x95,
        /// 0x96: the message rate is too high.
        MessageRateTooHigh = 0x96,
        /// 0x97: an implementation or administrative limit was exceeded.
        QuotaExceeded = 0x97,
        /// 0x98: closed by an administrative action.
        AdministrativeAction = 0x98,
        /// 0x99: a payload did not match its Payload Format Indicator.
        PayloadFormatInvalid = 0x99,
        /// 0x9A (server): retained messages are not supported.
        RetainNotSupported = 0x9a,
        /// 0x9B (server): the QoS is not supported.
        QoSNotSupported = 0x9b,
        /// 0x9C (server): use another server, temporarily.
        UseAnotherServer = 0x9c,
        /// 0x9D (server): use another server, permanently.
        ServerMoved = 0x9d,
        /// 0x9E (server): shared subscriptions are not supported.
        SharedSubscriptionsNotSupported = 0x9e,
        /// 0x9F (server): the connection rate limit was exceeded.
        ConnectionRateExceeded = 0x9f,
        /// 0xA0 (server): the maximum connection time was reached.
        MaximumConnectTime = 0xa0,
        /// 0xA1 (server): subscription identifiers are not supported.
        SubscriptionIdentifiersNotSupported = 0xa1,
        /// 0xA2 (server): wildcard subscriptions are not supported.
        WildcardSubscriptionsNotSupported = 0xa2,
    }
}

reason_codes! {
    /// The AUTH reason code (section 3.15.2.1) [MQTT-3.15.2-1].
    AuthReasonCode, success = Success {
        /// 0x00 (server): authentication succeeded.
        Success = 0x00,
        /// 0x18: continue with another step.
        ContinueAuthentication = 0x18,
        /// 0x19 (client): start a re-authentication.
        ReAuthenticate = 0x19,
    }
}
