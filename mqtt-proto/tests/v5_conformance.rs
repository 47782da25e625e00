//! MQTT 5.0 client-side statements the codec enforces that no other test names:
//! the README (MQTT 5.0, Conformance) maps every client-side statement to its test.

use bytes::Bytes;
use mqtt_proto::v5::{self, *};
use mqtt_proto::{DecodeError, DecodeOptions, QosPid, Str, StrError, TopicFilter, TopicName};

/// The error the 5.0 decoder gives for `bytes`.
fn err(bytes: &[u8]) -> DecodeError {
    match v5::decode(bytes, &DecodeOptions::v5()) {
        Err(e) => e,
        other => panic!("{bytes:02x?} decoded to {other:?}"),
    }
}

/// A packet with this first byte and a body under 128 bytes.
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 128);
    [&[first, body.len() as u8][..], body].concat()
}

/// A 5.0 CONNECT with these flags, no properties, client id "c", then `rest`.
fn connect_with(flags: u8, rest: &[u8]) -> Vec<u8> {
    let head = [&b"\x00\x04MQTT\x05"[..], &[flags], b"\x00\x3c\x00\x00\x01c"].concat();
    packet(0x10, &[&head[..], rest].concat())
}

// [MQTT-3.1.2-16], [MQTT-3.1.2-18]: with the User Name Flag (or the Password Flag) 0,
// no User Name (or Password) may follow: bytes where they would be are refused. With
// the flags set the same bytes are the fields.
#[test]
fn no_user_name_or_password_without_their_flags() {
    let credentials = b"\x00\x01u\x00\x01p";
    assert_eq!(
        err(&connect_with(0x02, credentials)),
        DecodeError::TrailingBytes
    );
    assert_eq!(
        err(&connect_with(0x82, credentials)),
        DecodeError::TrailingBytes,
        "a password with the Password Flag 0"
    );
    let bytes = connect_with(0xc2, credentials);
    let (Packet::Connect(c), _) = v5::decode(&bytes, &DecodeOptions::v5()).unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(c.username.unwrap().as_str(), "u");
    assert_eq!(c.password, Some(&b"p"[..]));
    // And the encoder sets no flag for an absent field (bits 7 and 6 of the flags).
    let c = Connect::<&[u8]>::new(Str::new("c").unwrap(), 60, true);
    let mut out = [0u8; 32];
    let n = Packet::Connect(c).encode(&mut out).unwrap();
    assert_eq!(out[9] & 0xc0, 0);
    assert_eq!(
        &out[n - 3..n],
        b"\x00\x01c",
        "the payload ends with the client id"
    );
}

// [MQTT-3.1.3-12]: the User Name is a UTF-8 Encoded String.
#[test]
fn the_user_name_is_utf8() {
    assert_eq!(
        err(&connect_with(0x82, b"\x00\x01\xff")),
        DecodeError::InvalidUtf8
    );
    assert_eq!(
        err(&connect_with(0x82, b"\x00\x02a\x00")),
        DecodeError::NullCharacter
    );
    assert_eq!(
        Str::<&[u8]>::new("a\0").unwrap_err(),
        StrError::NullCharacter
    );
}

// [MQTT-3.3.2-1]: the Topic Name is the first field of the PUBLISH variable header and
// a UTF-8 Encoded String; [MQTT-2.2.1-2]: a QoS 0 PUBLISH has no Packet Identifier,
// so the Property Length follows the topic directly.
#[test]
fn the_topic_name_comes_first_and_is_utf8() {
    assert_eq!(
        err(&packet(0x30, b"\x00\x02a\xff\x00x")),
        DecodeError::InvalidUtf8
    );
    let p = Publish::new(
        TopicName::from_static("t").unwrap(),
        QosPid::AtMostOnce,
        Bytes::from_static(b"x"),
    );
    let mut out = [0u8; 16];
    let n = Packet::Publish(p).encode(&mut out).unwrap();
    assert_eq!(&out[..n], b"\x30\x05\x00\x01t\x00x");
    // Read back as the decoder reads it: the byte after the topic is the Property
    // Length, and what follows it is payload, not an identifier.
    let bytes = packet(0x30, b"\x00\x01t\x00\x00\x01");
    let (Packet::Publish(p), _) = v5::decode(&bytes, &DecodeOptions::v5()).unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(p.qos_pid, QosPid::AtMostOnce);
    assert_eq!(p.payload, &b"\x00\x01"[..]);
}

// [MQTT-4.7.3-2]: no U+0000 in a Topic Name or Topic Filter, neither built nor
// decoded.
#[test]
fn topics_have_no_null_character() {
    assert_eq!(
        TopicName::<&[u8]>::new("a\0b").unwrap_err(),
        StrError::NullCharacter
    );
    assert_eq!(
        TopicFilter::<&[u8]>::new("a/\0/#").unwrap_err(),
        StrError::NullCharacter
    );
    assert_eq!(
        err(&packet(0x30, b"\x00\x03a\x00b\x00x")),
        DecodeError::NullCharacter
    );
    // SUBSCRIBE and UNSUBSCRIBE filters, as the server would see ours.
    assert_eq!(
        err(&packet(0x82, b"\x00\x01\x00\x00\x02a\x00\x00")),
        DecodeError::NullCharacter
    );
    assert_eq!(
        err(&packet(0xa2, b"\x00\x01\x00\x00\x02a\x00")),
        DecodeError::NullCharacter
    );
}

// [MQTT-4.7.3-3]: a Topic Name or Topic Filter encodes to at most 65,535 bytes.
#[test]
fn topics_are_at_most_65535_bytes() {
    let longest = "a".repeat(65_535);
    assert!(TopicName::<&[u8]>::new(&longest).is_ok());
    assert!(TopicFilter::<&[u8]>::new(&longest).is_ok());
    let over = "a".repeat(65_536);
    assert_eq!(
        TopicName::<&[u8]>::new(&over).unwrap_err(),
        StrError::TooLong
    );
    assert_eq!(
        TopicFilter::<&[u8]>::new(&over).unwrap_err(),
        StrError::TooLong
    );
    // The longest one encodes with its two-byte length and decodes again.
    let p = Publish::new(
        TopicName::from_string(longest.clone()).unwrap(),
        QosPid::AtMostOnce,
        Bytes::new(),
    );
    let mut out = bytes::BytesMut::new();
    Packet::Publish(p).encode_to(&mut out).unwrap();
    let (Packet::Publish(back), _) = v5::decode(&out, &DecodeOptions::v5()).unwrap().unwrap()
    else {
        panic!()
    };
    assert_eq!(back.topic.unwrap().as_str().len(), 65_535);
}
