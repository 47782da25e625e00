//! 5.0 topic aliases (section 3.3.2.3.4), both ways, each table living for one
//! connection [MQTT-3.3.2-7].
//!
//! Outgoing: automatic, at most `min(server's Topic Alias Maximum, our
//! max_outgoing_topic_aliases)` [MQTT-3.2.2-17], [MQTT-3.3.2-9]. A topic seen for the
//! first time on a connection takes the next free alias and goes out with its name
//! and the alias; after that it goes out as the alias alone. Once every alias is
//! taken, the least recently used one is reassigned to the new topic (sent again with
//! its name). Topics shorter than four bytes never get one: the alias (three bytes of
//! property) would not save anything. The alias is chosen when the packet is handed
//! out by `poll_transmit`, so the table follows exactly what the server has read.
//!
//! Incoming: the server's mapping, kept until the connection ends.

use alloc::collections::BTreeMap;
use core::num::NonZeroU16;

use bytes::Bytes;
use mqtt_proto::TopicName;

use super::message::TopicForm;

/// Shortest topic worth an alias.
const MIN_ALIASED: usize = 4;

/// The aliases we assigned on this connection, with their recency.
#[derive(Debug, Default)]
pub(crate) struct OutAliases {
    max: u16,
    /// Topic to (alias, last use).
    by_topic: BTreeMap<TopicName<Bytes>, (NonZeroU16, u64)>,
    /// Last use to alias and topic: the first entry is the least recently used.
    by_use: BTreeMap<u64, TopicName<Bytes>>,
    clock: u64,
}

impl OutAliases {
    /// Forgets every alias; a new connection allows `max`.
    pub(crate) fn reset(&mut self, max: u16) {
        self.max = max;
        self.by_topic.clear();
        self.by_use.clear();
    }

    /// How `topic` would go out now (nothing changes until [`OutAliases::commit`]).
    pub(crate) fn choose(&self, topic: &TopicName<Bytes>) -> TopicForm {
        if self.max == 0 || topic.as_bytes().len() < MIN_ALIASED {
            return TopicForm::Name;
        }
        if let Some((alias, _)) = self.by_topic.get(topic) {
            return TopicForm::Alias(*alias);
        }
        let alias = if self.by_topic.len() < usize::from(self.max) {
            NonZeroU16::new(self.by_topic.len() as u16 + 1)
        } else {
            // The least recently used alias is reassigned.
            self.by_use
                .values()
                .next()
                .and_then(|t| self.by_topic.get(t))
                .map(|(a, _)| *a)
        };
        alias.map_or(TopicForm::Name, TopicForm::NameAndAlias)
    }

    /// Records that `topic` went out in `form` (as [`OutAliases::choose`] said).
    pub(crate) fn commit(&mut self, topic: &TopicName<Bytes>, form: TopicForm) {
        self.clock += 1;
        let now = self.clock;
        match form {
            TopicForm::Name => {}
            TopicForm::Alias(_) => {
                if let Some((_, used)) = self.by_topic.get_mut(topic) {
                    if let Some(t) = self.by_use.remove(used) {
                        self.by_use.insert(now, t);
                    }
                    *used = now;
                }
            }
            TopicForm::NameAndAlias(alias) => {
                if self.by_topic.len() >= usize::from(self.max) {
                    if let Some((_, old)) = self.by_use.pop_first() {
                        self.by_topic.remove(&old);
                    }
                }
                self.by_topic.insert(topic.clone(), (alias, now));
                self.by_use.insert(now, topic.clone());
            }
        }
    }

    /// Aliases in use.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_topic.len()
    }
}

/// The aliases the server set on this connection.
#[derive(Debug, Default)]
pub(crate) struct InAliases {
    map: BTreeMap<u16, TopicName<Bytes>>,
}

impl InAliases {
    pub(crate) fn reset(&mut self) {
        self.map.clear();
    }

    /// Sets `alias` to `topic`, a copy: an alias outlives the packet that set it, and
    /// must not hold its read buffer (and payload) in memory.
    pub(crate) fn set(&mut self, alias: u16, topic: &[u8]) {
        // Valid already (it came in a decoded PUBLISH): the check cannot fail.
        if let Ok(t) = TopicName::from_storage(Bytes::copy_from_slice(topic)) {
            self.map.insert(alias, t);
        }
    }

    pub(crate) fn get(&self, alias: u16) -> Option<&TopicName<Bytes>> {
        self.map.get(&alias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &'static str) -> TopicName<Bytes> {
        TopicName::from_static(s).unwrap()
    }

    fn a(n: u16) -> NonZeroU16 {
        NonZeroU16::new(n).unwrap()
    }

    fn send(o: &mut OutAliases, topic: &'static str) -> TopicForm {
        let form = o.choose(&t(topic));
        o.commit(&t(topic), form);
        form
    }

    #[test]
    fn assigns_then_reuses_then_replaces_the_least_recently_used() {
        let mut o = OutAliases::default();
        o.reset(2);
        assert_eq!(send(&mut o, "aaaa"), TopicForm::NameAndAlias(a(1)));
        assert_eq!(send(&mut o, "bbbb"), TopicForm::NameAndAlias(a(2)));
        assert_eq!(send(&mut o, "aaaa"), TopicForm::Alias(a(1)));
        // "bbbb" is now the least recently used: its alias goes to "cccc".
        assert_eq!(send(&mut o, "cccc"), TopicForm::NameAndAlias(a(2)));
        assert_eq!(send(&mut o, "bbbb"), TopicForm::NameAndAlias(a(1)));
        assert_eq!(send(&mut o, "cccc"), TopicForm::Alias(a(2)));
        assert_eq!(o.len(), 2);
        // Short topics and a zero maximum never use one.
        assert_eq!(send(&mut o, "abc"), TopicForm::Name);
        o.reset(0);
        assert_eq!(send(&mut o, "aaaa"), TopicForm::Name);
    }

    #[test]
    fn choosing_alone_changes_nothing() {
        let mut o = OutAliases::default();
        o.reset(1);
        assert_eq!(o.choose(&t("aaaa")), TopicForm::NameAndAlias(a(1)));
        assert_eq!(o.choose(&t("aaaa")), TopicForm::NameAndAlias(a(1)));
        assert_eq!(o.len(), 0);
    }
}
