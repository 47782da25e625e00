//! The lists carried by SUBSCRIBE, UNSUBSCRIBE and SUBACK, kept in wire form.
//!
//! A decoded list is its validated wire bytes, so decoding needs no allocator and
//! iterating yields views into the packet. A list to send is written into wire form
//! once, into a caller's buffer (`&[u8]`) or a `Bytes` (with the `bytes` feature).

use core::fmt;
use core::marker::PhantomData;

use crate::wire::{Reader, Sink, SliceSink};
use crate::{DecodeError, EncodeError, QoS, Storage, TopicFilter};

/// One kind of list entry. Sealed; the kinds are [`SubscribeEntry`],
/// [`UnsubscribeEntry`] and [`SubackEntry`].
pub trait ListKind: kind::Kind {}

pub(crate) mod kind {
    use super::*;

    pub trait Kind {
        /// What an entry decodes to.
        type Item<S: Storage>;
        /// Reads (and validates) one entry.
        fn read<S: Storage>(r: &mut Reader<'_, S>) -> Result<Self::Item<S>, DecodeError>;
        /// Encoded length of one entry.
        fn len<S: Storage>(item: &Self::Item<S>) -> usize;
        /// Writes one entry.
        fn write<S: Storage, W: Sink>(item: &Self::Item<S>, w: &mut W);
        /// Refuses an entry that the types allow but the spec does not.
        fn check<S: Storage>(_item: &Self::Item<S>) -> Result<(), EncodeError> {
            Ok(())
        }
    }
}

/// A validated list in wire form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct List<S, K> {
    wire: S,
    kind: PhantomData<K>,
}

impl<S: Storage, K: ListKind> List<S, K> {
    /// Reads the list that fills the rest of a packet; it must not be empty.
    pub(crate) fn read(r: &mut Reader<'_, S>) -> Result<Self, DecodeError> {
        let wire = r.rest();
        let mut inner = Reader::new(&wire, 0);
        if inner.remaining() == 0 {
            return Err(DecodeError::EmptyList); // [MQTT-3.8.3-3], [MQTT-3.10.3-2]
        }
        while inner.remaining() > 0 {
            K::read(&mut inner)?;
        }
        Ok(List {
            wire,
            kind: PhantomData,
        })
    }

    /// The entries.
    pub fn iter(&self) -> Iter<'_, S, K> {
        Iter {
            reader: Reader::new(&self.wire, 0),
            kind: PhantomData,
        }
    }

    /// Number of entries (walks the list).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Never true for a list built or decoded by this crate.
    pub fn is_empty(&self) -> bool {
        self.wire.as_ref().is_empty()
    }

    /// The wire form.
    pub fn as_wire(&self) -> &[u8] {
        self.wire.as_ref()
    }

    /// A borrowed view of the same list.
    pub fn as_borrowed(&self) -> List<&[u8], K> {
        List {
            wire: self.wire.as_ref(),
            kind: PhantomData,
        }
    }

    pub(crate) fn wire_len(&self) -> usize {
        self.wire.as_ref().len()
    }

    pub(crate) fn write<W: Sink>(&self, w: &mut W) {
        w.put(self.wire.as_ref());
    }

    #[cfg_attr(not(feature = "bytes"), allow(dead_code))] // for owned copies
    pub(crate) fn trusted(wire: S) -> Self {
        List {
            wire,
            kind: PhantomData,
        }
    }
}

fn items_len<'i, T, K, I>(items: I) -> Result<usize, EncodeError>
where
    T: Storage + 'i,
    K: ListKind,
    K::Item<T>: 'i,
    I: IntoIterator<Item = &'i K::Item<T>>,
{
    let mut n = 0;
    for item in items {
        K::check(item)?;
        n += K::len(item);
    }
    if n == 0 {
        return Err(EncodeError::EmptyList);
    }
    Ok(n)
}

impl<'b, K: ListKind> List<&'b [u8], K> {
    /// Writes `items` in wire form at the start of `buf`, without an allocator.
    pub fn write_into<'i, T, I>(items: I, buf: &'b mut [u8]) -> Result<Self, EncodeError>
    where
        T: Storage + 'i,
        K::Item<T>: 'i,
        I: IntoIterator<Item = &'i K::Item<T>> + Clone,
    {
        let needed = items_len::<T, K, _>(items.clone())?;
        if buf.len() < needed {
            return Err(EncodeError::BufferTooSmall { needed });
        }
        let mut sink = SliceSink { buf, pos: 0 };
        for item in items {
            K::write(item, &mut sink);
        }
        let SliceSink { buf, .. } = sink;
        Ok(List {
            wire: &buf[..needed],
            kind: PhantomData,
        })
    }
}

#[cfg(feature = "bytes")]
impl<K: ListKind> List<bytes::Bytes, K> {
    /// Builds a list from its entries.
    pub fn from_items<'i, T, I>(items: I) -> Result<Self, EncodeError>
    where
        T: Storage + 'i,
        K::Item<T>: 'i,
        I: IntoIterator<Item = &'i K::Item<T>> + Clone,
    {
        let needed = items_len::<T, K, _>(items.clone())?;
        let mut buf = bytes::BytesMut::with_capacity(needed);
        let mut sink = crate::wire::BufSink(&mut buf);
        for item in items {
            K::write(item, &mut sink);
        }
        Ok(List {
            wire: buf.freeze(),
            kind: PhantomData,
        })
    }
}

/// Iterator over a list's entries.
pub struct Iter<'l, S, K> {
    reader: Reader<'l, S>,
    kind: PhantomData<K>,
}

impl<S: Storage, K: ListKind> Iterator for Iter<'_, S, K> {
    type Item = K::Item<S>;

    fn next(&mut self) -> Option<K::Item<S>> {
        if self.reader.remaining() == 0 {
            return None;
        }
        // The list was validated when it was built, so this cannot fail.
        K::read(&mut self.reader).ok()
    }
}

impl<'l, S: Storage, K: ListKind> IntoIterator for &'l List<S, K> {
    type Item = K::Item<S>;
    type IntoIter = Iter<'l, S, K>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<S: Storage, K: ListKind> fmt::Debug for List<S, K>
where
    K::Item<S>: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A SUBSCRIBE entry: a topic filter and the maximum QoS asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscribeEntry {}
impl ListKind for SubscribeEntry {}
impl kind::Kind for SubscribeEntry {
    type Item<S: Storage> = (TopicFilter<S>, QoS);

    fn read<S: Storage>(r: &mut Reader<'_, S>) -> Result<Self::Item<S>, DecodeError> {
        let filter = r.topic_filter()?; // [MQTT-3.8.3-1]
        let options = r.u8()?;
        if options & !0b11 != 0 {
            return Err(DecodeError::InvalidSubscriptionOptions); // [MQTT-3-8.3-4]
        }
        Ok((filter, QoS::from_u8(options)?))
    }

    fn len<S: Storage>(item: &Self::Item<S>) -> usize {
        2 + item.0.as_bytes().len() + 1
    }

    fn write<S: Storage, W: Sink>(item: &Self::Item<S>, w: &mut W) {
        w.put_prefixed(item.0.as_bytes());
        w.put_u8(item.1 as u8);
    }
}

/// An UNSUBSCRIBE entry: a topic filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnsubscribeEntry {}
impl ListKind for UnsubscribeEntry {}
impl kind::Kind for UnsubscribeEntry {
    type Item<S: Storage> = TopicFilter<S>;

    fn read<S: Storage>(r: &mut Reader<'_, S>) -> Result<Self::Item<S>, DecodeError> {
        r.topic_filter() // [MQTT-3.10.3-1]
    }

    fn len<S: Storage>(item: &Self::Item<S>) -> usize {
        2 + item.as_bytes().len()
    }

    fn write<S: Storage, W: Sink>(item: &Self::Item<S>, w: &mut W) {
        w.put_prefixed(item.as_bytes());
    }
}

/// A SUBACK return code [MQTT-3.9.3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubackReturnCode {
    /// Subscribed with this maximum QoS (0x00, 0x01, 0x02).
    Success(QoS),
    /// 0x80: the subscription was refused.
    Failure,
}

impl SubackReturnCode {
    /// The byte on the wire.
    pub fn to_u8(self) -> u8 {
        match self {
            SubackReturnCode::Success(q) => q as u8,
            SubackReturnCode::Failure => 0x80,
        }
    }

    /// The code for a byte; anything but 0x00, 0x01, 0x02, 0x80 is an error
    /// [MQTT-3.9.3-2].
    pub fn from_u8(v: u8) -> Result<Self, DecodeError> {
        match v {
            0..=2 => Ok(SubackReturnCode::Success(QoS::from_u8(v)?)),
            0x80 => Ok(SubackReturnCode::Failure),
            other => Err(DecodeError::InvalidSubackReturnCode(other)),
        }
    }
}

/// A SUBACK entry: one return code per filter of the SUBSCRIBE, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubackEntry {}
impl ListKind for SubackEntry {}
impl kind::Kind for SubackEntry {
    type Item<S: Storage> = SubackReturnCode;

    fn read<S: Storage>(r: &mut Reader<'_, S>) -> Result<Self::Item<S>, DecodeError> {
        SubackReturnCode::from_u8(r.u8()?)
    }

    fn len<S: Storage>(_: &Self::Item<S>) -> usize {
        1
    }

    fn write<S: Storage, W: Sink>(item: &Self::Item<S>, w: &mut W) {
        w.put_u8(item.to_u8());
    }
}

impl<'b> SubackCodes<&'b [u8]> {
    /// Writes return codes in wire form at the start of `buf`, without an allocator.
    pub fn write_codes(codes: &[SubackReturnCode], buf: &'b mut [u8]) -> Result<Self, EncodeError> {
        List::write_into::<&[u8], _>(codes, buf)
    }
}

#[cfg(feature = "bytes")]
impl SubackCodes<bytes::Bytes> {
    /// Builds the return codes of a SUBACK.
    pub fn from_codes(codes: &[SubackReturnCode]) -> Result<Self, EncodeError> {
        List::from_items::<&[u8], _>(codes)
    }
}

/// Topic filters and requested QoS of a SUBSCRIBE.
pub type SubscribeFilters<S> = List<S, SubscribeEntry>;
/// Topic filters of an UNSUBSCRIBE.
pub type UnsubscribeFilters<S> = List<S, UnsubscribeEntry>;
/// Return codes of a SUBACK.
pub type SubackCodes<S> = List<S, SubackEntry>;
