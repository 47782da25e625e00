//! A topic-filter trie: routes each incoming message to every matching subscription.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use mqtt_proto::TopicFilter;

use crate::queue::SubQueue;

/// Identifies one [`crate::Subscription`].
pub(crate) type SubId = u64;

#[derive(Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    plus: Option<Box<Node>>,
    /// Filters ending at this level.
    exact: Vec<(SubId, Arc<SubQueue>)>,
    /// Filters ending with `/#` below this level (or `#` at the root).
    hash: Vec<(SubId, Arc<SubQueue>)>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.exact.is_empty()
            && self.hash.is_empty()
    }
}

/// Subscriptions by filter. Several subscriptions may share a filter; each gets
/// every matching message once.
#[derive(Default)]
pub(crate) struct Router {
    root: Node,
    filters: HashMap<SubId, (TopicFilter<Bytes>, Arc<SubQueue>)>,
    next_id: SubId,
}

impl Router {
    /// Adds a subscription; returns its id.
    pub(crate) fn insert(&mut self, filter: TopicFilter<Bytes>, queue: Arc<SubQueue>) -> SubId {
        self.next_id += 1;
        let id = self.next_id;
        let mut node = &mut self.root;
        let mut levels = filter.as_str().split('/').peekable();
        while let Some(level) = levels.next() {
            if level == "#" {
                node.hash.push((id, queue.clone()));
                self.filters.insert(id, (filter, queue));
                return id;
            }
            node = if level == "+" {
                node.plus.get_or_insert_with(Default::default)
            } else {
                node.children.entry(level.into()).or_default()
            };
            if levels.peek().is_none() {
                node.exact.push((id, queue.clone()));
                break;
            }
        }
        self.filters.insert(id, (filter, queue));
        id
    }

    /// Removes a subscription and closes its queue; returns its filter and whether
    /// another subscription still uses the same filter.
    pub(crate) fn remove(&mut self, id: SubId) -> Option<(TopicFilter<Bytes>, bool)> {
        let (filter, queue) = self.filters.remove(&id)?;
        queue.close();
        let levels: Vec<&str> = filter.as_str().split('/').collect();
        remove_in(&mut self.root, &levels, id);
        let shared = self
            .filters
            .values()
            .any(|(f, _)| f.as_str() == filter.as_str());
        Some((filter, shared))
    }

    /// Closes every queue (the event loop has ended).
    pub(crate) fn close_all(&mut self) {
        self.filters.values().for_each(|(_, q)| q.close());
    }

    /// Ids of the subscriptions with exactly this filter.
    pub(crate) fn ids_of(&self, filter: &str) -> Vec<SubId> {
        self.filters
            .iter()
            .filter(|(_, (f, _))| f.as_str() == filter)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Live subscriptions.
    pub(crate) fn len(&self) -> usize {
        self.filters.len()
    }

    /// Calls `f` with the queue of every subscription matching `topic`, applying the
    /// wildcard rules [MQTT-4.7.1-1..3] and the `$` rule [MQTT-4.7.2-1].
    pub(crate) fn for_each_match(&self, topic: &str, mut f: impl FnMut(&Arc<SubQueue>)) {
        // The levels are walked with a cloneable iterator: no allocation per message.
        let dollar = topic.starts_with('$');
        collect(&self.root, topic.split('/'), true, dollar, &mut f);
    }
}

fn collect(
    node: &Node,
    mut levels: std::str::Split<'_, char>,
    first: bool,
    dollar: bool,
    f: &mut impl FnMut(&Arc<SubQueue>),
) {
    let wildcards_ok = !(first && dollar);
    if wildcards_ok {
        // `a/#` also matches `a` itself [MQTT-4.7.1-2].
        node.hash.iter().for_each(|(_, q)| f(q));
    }
    let Some(level) = levels.next() else {
        node.exact.iter().for_each(|(_, q)| f(q));
        return;
    };
    if let Some(child) = node.children.get(level) {
        collect(child, levels.clone(), false, dollar, f);
    }
    if let (Some(plus), true) = (&node.plus, wildcards_ok) {
        collect(plus, levels, false, dollar, f);
    }
}

fn remove_in(node: &mut Node, levels: &[&str], id: SubId) {
    match levels {
        [] => {}
        ["#"] => node.hash.retain(|(i, _)| *i != id),
        [level, rest @ ..] => {
            let child = if *level == "+" {
                node.plus.as_deref_mut()
            } else {
                node.children.get_mut(*level)
            };
            let Some(child) = child else { return };
            if rest.is_empty() {
                child.exact.retain(|(i, _)| *i != id);
            } else {
                remove_in(child, rest, id);
            }
            if child.is_empty() {
                if *level == "+" {
                    node.plus = None;
                } else {
                    node.children.remove(*level);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::TopicName;
    use proptest::prelude::*;

    fn filter(s: &str) -> TopicFilter<Bytes> {
        TopicFilter::from_string(s.into()).unwrap()
    }

    fn matches(r: &Router, topic: &str) -> Vec<SubId> {
        let mut out = Vec::new();
        r.for_each_match(topic, |q| out.push(q.id_for_tests()));
        out.sort();
        out
    }

    fn add(r: &mut Router, f: &str) -> SubId {
        let q = Arc::new(SubQueue::new(1));
        let id = r.insert(filter(f), q.clone());
        q.set_id_for_tests(id);
        id
    }

    #[test]
    fn overlapping_filters_each_get_the_message() {
        let mut r = Router::default();
        let a = add(&mut r, "a/b/c");
        let b = add(&mut r, "a/+/c");
        let c = add(&mut r, "a/#");
        let d = add(&mut r, "#");
        let e = add(&mut r, "a/b/c");
        assert_eq!(matches(&r, "a/b/c"), vec![a, b, c, d, e]);
        assert_eq!(matches(&r, "a"), vec![c, d]); // [MQTT-4.7.1-2]
        assert_eq!(matches(&r, "a/x/c"), vec![b, c, d]);
        assert_eq!(matches(&r, "b"), vec![d]);
    }

    #[test]
    fn dollar_topics_skip_leading_wildcards() {
        // [MQTT-4.7.2-1]
        let mut r = Router::default();
        let _ = add(&mut r, "#");
        let _ = add(&mut r, "+/monitor/Clients");
        let s = add(&mut r, "$SYS/#");
        let m = add(&mut r, "$SYS/monitor/+");
        assert_eq!(matches(&r, "$SYS/monitor/Clients"), vec![s, m]);
    }

    #[test]
    fn removal_prunes_and_reports_shared_filters() {
        let mut r = Router::default();
        let a = add(&mut r, "x/+/y");
        let b = add(&mut r, "x/+/y");
        assert_eq!(
            r.remove(a).map(|(f, shared)| (f.to_string(), shared)),
            Some(("x/+/y".into(), true))
        );
        assert_eq!(r.remove(b).map(|(_, shared)| shared), Some(false));
        assert!(r.root.is_empty());
        assert_eq!(r.remove(b), None);
    }

    fn level() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["a", "b", "", "$x"])
    }

    fn topic() -> impl Strategy<Value = String> {
        prop::collection::vec(level(), 1..4)
            .prop_map(|l| l.join("/"))
            .prop_filter("a topic name is not empty", |t| !t.is_empty())
    }

    fn filter_text() -> impl Strategy<Value = String> {
        let part = prop_oneof![3 => level(), 1 => Just("+")];
        (prop::collection::vec(part, 0..4), any::<bool>())
            .prop_map(|(mut l, hash)| {
                if hash || l.is_empty() {
                    l.push("#");
                }
                l.join("/")
            })
            .prop_filter("a filter is not empty", |f| !f.is_empty())
    }

    proptest! {
        // The trie agrees with mqtt-proto's filter-by-filter rule, overlaps included.
        #[test]
        fn trie_agrees_with_filter_matching(
            filters in prop::collection::vec(filter_text(), 1..8),
            topic in topic(),
        ) {
            let mut r = Router::default();
            let mut expected = Vec::new();
            let name = TopicName::from_string(topic.clone()).unwrap();
            for f in &filters {
                let id = add(&mut r, f);
                if filter(f).matches(&name) {
                    expected.push(id);
                }
            }
            prop_assert_eq!(matches(&r, &topic), expected);
        }
    }
}
