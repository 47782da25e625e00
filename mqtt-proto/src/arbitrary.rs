//! `arbitrary::Arbitrary` for owned packets (feature `arbitrary`): every value it
//! makes is a valid packet, so `encode` then `decode` must give it back.

mod v5;

use alloc::string::String;
use alloc::vec::Vec;

use arbitrary::{Arbitrary, Result, Unstructured};
use bytes::Bytes;

use crate::packet::{List, Suback, Subscribe, Unsubscribe};
use crate::valid::{self, ConnectParts};
use crate::{Packet, Publish};

fn levels(u: &mut Unstructured<'_>) -> Result<Vec<String>> {
    let n = u.int_in_range(1..=4)?;
    (0..n).map(|_| String::arbitrary(u)).collect()
}

fn filter_levels(u: &mut Unstructured<'_>) -> Result<Vec<(u8, String)>> {
    let n = u.int_in_range(0..=4)?;
    (0..n)
        .map(|_| Ok((u8::arbitrary(u)?, String::arbitrary(u)?)))
        .collect()
}

fn payload(u: &mut Unstructured<'_>) -> Result<Bytes> {
    Ok(Bytes::copy_from_slice(<&[u8]>::arbitrary(u)?))
}

impl<'a> Arbitrary<'a> for Publish<Bytes> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let qos_pid = valid::qos_pid(u.arbitrary()?, u.arbitrary()?);
        Ok(Publish {
            dup: valid::dup(u.arbitrary()?, qos_pid),
            qos_pid,
            retain: u.arbitrary()?,
            topic: valid::topic_name(&levels(u)?),
            payload: payload(u)?,
        })
    }
}

impl<'a> Arbitrary<'a> for Packet<Bytes> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let pid =
            |u: &mut Unstructured<'a>| Ok::<_, arbitrary::Error>(valid::packet_id(u.arbitrary()?));
        Ok(match u.int_in_range(0u8..=13)? {
            0 => Packet::Connect(valid::connect(ConnectParts {
                clean_session: u.arbitrary()?,
                keep_alive: u.arbitrary()?,
                client_id: u.arbitrary()?,
                will: if u.arbitrary()? {
                    Some((levels(u)?, u.arbitrary()?, u.arbitrary()?, u.arbitrary()?))
                } else {
                    None
                },
                username: u.arbitrary()?,
                password: u.arbitrary()?,
            })),
            1 => Packet::Connack(valid::connack(u.arbitrary()?, u.arbitrary()?)),
            2 => Packet::Publish(Publish::arbitrary(u)?),
            3 => Packet::Puback(pid(u)?),
            4 => Packet::Pubrec(pid(u)?),
            5 => Packet::Pubrel(pid(u)?),
            6 => Packet::Pubcomp(pid(u)?),
            7 => {
                let n = u.int_in_range(1..=4)?;
                let items = (0..n)
                    .map(|_| {
                        Ok((
                            valid::topic_filter(&filter_levels(u)?, u.arbitrary()?),
                            valid::qos(u.arbitrary()?),
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Packet::Subscribe(Subscribe {
                    packet_id: pid(u)?,
                    filters: List::from_items(&items).expect("non-empty"),
                })
            }
            8 => {
                let n = u.int_in_range(1..=8)?;
                let codes = (0..n)
                    .map(|_| Ok(valid::suback_code(u.arbitrary()?)))
                    .collect::<Result<Vec<_>>>()?;
                Packet::Suback(Suback {
                    packet_id: pid(u)?,
                    codes: List::from_codes(&codes).expect("non-empty"),
                })
            }
            9 => {
                let n = u.int_in_range(1..=4)?;
                let items = (0..n)
                    .map(|_| Ok(valid::topic_filter(&filter_levels(u)?, u.arbitrary()?)))
                    .collect::<Result<Vec<_>>>()?;
                Packet::Unsubscribe(Unsubscribe {
                    packet_id: pid(u)?,
                    filters: List::from_items(&items).expect("non-empty"),
                })
            }
            10 => Packet::Unsuback(pid(u)?),
            11 => Packet::Pingreq,
            12 => Packet::Pingresp,
            _ => Packet::Disconnect,
        })
    }
}
