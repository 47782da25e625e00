//! A topic-filter trie: routes each incoming message to every matching subscription.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use mqtt_proto::v5::SubscriptionId;
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
///
/// Under 5.0 every filter also has a Subscription Identifier (shared by the
/// subscriptions with that filter, as the broker keeps one subscription per filter):
/// a message carrying identifiers goes exactly to their subscriptions, so a broker
/// sending one copy per matching subscription [MQTT-3.3.4-3] never doubles a
/// message, and a shared subscription gets only its share. Messages without a known
/// identifier (a 3.1.1 session, a server without Subscription Identifiers) are routed
/// by topic through the trie.
pub(crate) struct Router {
    root: Node,
    subs: HashMap<SubId, Entry>,
    by_sid: HashMap<u32, Identified>,
    sid_of: HashMap<Box<str>, u32>,
    next_id: SubId,
    /// Identifiers are never reused before the space wraps (268 M), so a late message
    /// of an old subscription cannot reach a new one.
    last_sid: u32,
}

impl Default for Router {
    fn default() -> Router {
        Router {
            root: Node::default(),
            subs: HashMap::new(),
            by_sid: HashMap::new(),
            sid_of: HashMap::new(),
            next_id: 0,
            // A random start: identifiers of an earlier process's subscriptions (in a
            // resumed session) rarely collide with this one's.
            last_sid: (crate::backoff::random_u64() % u64::from(SubscriptionId::MAX / 2)) as u32,
        }
    }
}

/// The subscriptions of one filter, found by its identifier.
struct Identified {
    /// The filter to match with (a shared subscription's `{filter}` part).
    filter: Box<str>,
    subs: Vec<(SubId, Arc<SubQueue>)>,
}

struct Entry {
    filter: TopicFilter<Bytes>,
    queue: Arc<SubQueue>,
    sid: u32,
}

/// The filter a shared subscription matches with: `$share/{ShareName}/{filter}`
/// routes like `{filter}` (section 4.8.2).
fn trie_filter(filter: &str) -> &str {
    filter
        .strip_prefix("$share/")
        .and_then(|rest| rest.split_once('/'))
        .map_or(filter, |(_, f)| f)
}

impl Router {
    /// Adds a subscription; returns its id and the Subscription Identifier of its
    /// filter.
    pub(crate) fn insert(
        &mut self,
        filter: TopicFilter<Bytes>,
        queue: Arc<SubQueue>,
    ) -> (SubId, SubscriptionId) {
        self.next_id += 1;
        let id = self.next_id;
        let sid = match self.sid_of.get(filter.as_str()) {
            Some(&sid) => sid,
            None => {
                let sid = self.fresh_sid();
                self.sid_of.insert(filter.as_str().into(), sid);
                sid
            }
        };
        self.by_sid
            .entry(sid)
            .or_insert_with(|| Identified {
                filter: trie_filter(filter.as_str()).into(),
                subs: Vec::new(),
            })
            .subs
            .push((id, queue.clone()));
        let mut node = &mut self.root;
        let mut levels = trie_filter(filter.as_str()).split('/').peekable();
        while let Some(level) = levels.next() {
            if level == "#" {
                node.hash.push((id, queue.clone()));
                break;
            }
            node = if level == "+" {
                node.plus.get_or_insert_with(Default::default)
            } else {
                node.children.entry(level.into()).or_default()
            };
            if levels.peek().is_none() {
                node.exact.push((id, queue.clone()));
            }
        }
        self.subs.insert(id, Entry { filter, queue, sid });
        (
            id,
            SubscriptionId::new(sid).expect("identifiers start at 1"),
        )
    }

    /// An identifier no subscription uses (for a subscription routed elsewhere, like
    /// the responses of [`crate::Client::request`]).
    pub(crate) fn fresh_sid(&mut self) -> u32 {
        loop {
            self.last_sid = if self.last_sid >= SubscriptionId::MAX {
                1
            } else {
                self.last_sid + 1
            };
            if !self.by_sid.contains_key(&self.last_sid) {
                return self.last_sid;
            }
        }
    }

    /// Removes a subscription and closes its queue; returns its filter and whether
    /// another subscription still uses the same filter.
    pub(crate) fn remove(&mut self, id: SubId) -> Option<(TopicFilter<Bytes>, bool)> {
        let Entry { filter, queue, sid } = self.subs.remove(&id)?;
        queue.close();
        let levels: Vec<&str> = trie_filter(filter.as_str()).split('/').collect();
        remove_in(&mut self.root, &levels, id);
        let mut shared = false;
        if let Some(ident) = self.by_sid.get_mut(&sid) {
            ident.subs.retain(|(i, _)| *i != id);
            shared = !ident.subs.is_empty();
            if !shared {
                self.by_sid.remove(&sid);
                self.sid_of.remove(filter.as_str());
            }
        }
        Some((filter, shared))
    }

    /// Closes every queue (the event loop has ended).
    pub(crate) fn close_all(&mut self) {
        self.subs.values().for_each(|e| e.queue.close());
    }

    /// Ids of the subscriptions with exactly this filter.
    pub(crate) fn ids_of(&self, filter: &str) -> Vec<SubId> {
        self.sid_of
            .get(filter)
            .and_then(|sid| self.by_sid.get(sid))
            .map(|ident| ident.subs.iter().map(|(id, _)| *id).collect())
            .unwrap_or_default()
    }

    /// Live subscriptions.
    pub(crate) fn len(&self) -> usize {
        self.subs.len()
    }

    /// Calls `f` with the queue of every subscription matching `topic`, applying the
    /// wildcard rules [MQTT-4.7.1-1..3] and the `$` rule [MQTT-4.7.2-1].
    pub(crate) fn for_each_match(&self, topic: &str, mut f: impl FnMut(&Arc<SubQueue>)) {
        // The levels are walked with a cloneable iterator: no allocation per message.
        let dollar = topic.starts_with('$');
        collect(&self.root, topic.split('/'), true, dollar, &mut f);
    }

    /// Calls `f` with the queue of every subscription whose filter has one of these
    /// identifiers and matches `topic`; false when none is known (route by topic
    /// then). The match check keeps an identifier of an earlier process (a resumed
    /// session's messages) from reaching a filter that happens to have it now.
    pub(crate) fn for_each_identified(
        &self,
        topic: &str,
        sids: impl Iterator<Item = SubscriptionId>,
        mut f: impl FnMut(&Arc<SubQueue>),
    ) -> bool {
        let mut known = false;
        for sid in sids {
            if let Some(ident) = self.by_sid.get(&sid.get()) {
                if filter_matches(&ident.filter, topic) {
                    known = true;
                    ident.subs.iter().for_each(|(_, q)| f(q));
                }
            }
        }
        known
    }
}

/// Whether `filter` matches `topic` [MQTT-4.7.1-1..3], [MQTT-4.7.2-1].
fn filter_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut levels = topic.split('/');
    for f in filter.split('/') {
        if f == "#" {
            return true;
        }
        match levels.next() {
            Some(t) if f == "+" || f == t => {}
            _ => return false,
        }
    }
    levels.next().is_none()
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
        let (id, _) = r.insert(filter(f), q.clone());
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

    #[test]
    fn shared_subscriptions_route_by_their_filter() {
        // Section 4.8.2: `$share/{ShareName}/{filter}` matches like `{filter}`.
        let mut r = Router::default();
        let s = add(&mut r, "$share/g/a/+");
        let h = add(&mut r, "$share/g/#");
        assert_eq!(matches(&r, "a/b"), vec![s, h]);
        assert_eq!(matches(&r, "$SYS/x"), Vec::<SubId>::new()); // [MQTT-4.7.2-1]
        assert_eq!(
            r.remove(s).map(|(f, _)| f.to_string()),
            Some("$share/g/a/+".into())
        );
        assert_eq!(matches(&r, "a/b"), vec![h]);
        assert_eq!(trie_filter("$share/g"), "$share/g"); // not a shared subscription
    }

    #[test]
    fn subscription_identifiers_per_filter_never_reused() {
        let mut r = Router::default();
        let q = |r: &mut Router, f: &str| {
            let q = Arc::new(SubQueue::new(1));
            let (id, sid) = r.insert(filter(f), q.clone());
            q.set_id_for_tests(id);
            (id, sid)
        };
        let (a, sa) = q(&mut r, "a/#");
        let (b, sb) = q(&mut r, "a/#");
        let (c, sc) = q(&mut r, "a/b");
        assert_eq!(sa, sb, "one broker subscription per filter, one identifier");
        assert_ne!(sa, sc);
        let routed = |r: &Router, sids: &[SubscriptionId]| {
            let mut out = Vec::new();
            let known =
                r.for_each_identified("a/b", sids.iter().copied(), |q| out.push(q.id_for_tests()));
            out.sort();
            (known, out)
        };
        // A copy per matching subscription [MQTT-3.3.4-3]: each reaches only its own.
        assert_eq!(routed(&r, &[sa]), (true, vec![a, b]));
        assert_eq!(routed(&r, &[sc]), (true, vec![c]));
        // One copy with both identifiers [MQTT-3.3.4-4]: both, once each.
        assert_eq!(routed(&r, &[sa, sc]), (true, vec![a, b, c]));
        r.remove(c);
        assert_eq!(routed(&r, &[sc]), (false, vec![]));
        // An identifier whose filter does not match the topic is not this message's.
        let mut none = Vec::new();
        assert!(!r.for_each_identified("x/y", [sa].into_iter(), |q| none.push(q.id_for_tests())));
        assert!(none.is_empty());
        let (_, sd) = q(&mut r, "a/b");
        assert!(
            sd.get() > sc.get(),
            "a late message of the old subscription stays unrouted"
        );
        let reserved = r.fresh_sid();
        assert!(reserved > sd.get());
        let mut same = r.ids_of("a/#");
        same.sort();
        assert_eq!(same, vec![a, b]);
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
            for f in &filters {
                prop_assert_eq!(filter_matches(f, &topic), filter(f).matches(&name), "{}", f);
            }
        }
    }
}
