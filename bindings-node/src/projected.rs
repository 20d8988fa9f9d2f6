//! The fast decode: the core's rules over a projection of the event that JavaScript read.
//!
//! Reading a record's fields through N-API costs a property lookup per field (tens of
//! nanoseconds each, about half a microsecond per record). JavaScript reads the same few fields
//! with inline caches for a few nanoseconds, so `lib/decode.js` reads them (only reads: for each
//! record, the kind of every value on the paths the core names) and hands them over in a few
//! flat values. The core then decodes that projection with its own rules
//! ([`BatchPlan::decode_checked`] over [`ProjectedView`]), exactly as it decodes a live object.
//!
//! What crosses is only what the rules need ([`nodes`] says, per node, its [`Mode`]):
//! - a string whose text a rule reads (`eventSource`, a lane key) crosses once per distinct
//!   text, or once per record where a node has many distinct texts (a partition key per
//!   record): each record's slot holds the text's number in the table of texts, different
//!   texts never one number (equal texts may have two);
//! - the identifier's text does not cross at all: the core checks it is a non-empty string,
//!   JavaScript keeps the texts, and the report reads back only those it names
//!   ([`lanepool::batch::BatchRun::read_identifiers`], in `Batch::finish`).
//!
//! The projection only has to be right when the core accepts the event: whenever the core
//! rejects it, or asks for anything the projection does not hold, the caller decodes the live
//! event again through N-API ([`crate::decode`]), so every error is the one the core gives for
//! the live object.

use std::borrow::Cow;
use std::cell::Cell;

use lanepool::event::{
    BatchPlan, JsonKind, JsonNumber, JsonView, LaneOrdering, ReadKafkaGroup, ReadKafkaRecord,
    ReadRecord, ReadValue, Source,
};
use napi_derive::napi;

/// The value kinds `lib/decode.js` writes (`kindOf`), one byte per value (exported to it).
#[napi]
pub const K_UNDEFINED: u8 = 0;
#[napi]
pub const K_NULL: u8 = 1;
#[napi]
pub const K_BOOLEAN: u8 = 2;
#[napi]
pub const K_NUMBER: u8 = 3;
#[napi]
pub const K_STRING: u8 = 4;
#[napi]
pub const K_ARRAY: u8 = 5;
#[napi]
pub const K_OBJECT: u8 = 6;
#[napi]
pub const K_FUNCTION: u8 = 7;
#[napi]
pub const K_BIGINT: u8 = 8;
#[napi]
pub const K_SYMBOL: u8 = 9;

/// What a node's slot holds besides its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Only the kind (a step on a path: `attributes`, `kinesis`).
    Shape,
    /// A string's number in the table of texts (`eventSource`, a lane key).
    Text,
    /// 1 for a non-empty string, 0 for an empty one; the text stays in JavaScript (the
    /// identifier).
    Kept,
    /// A number's value (a Kafka record's `partition` and `offset`).
    Number,
}

/// Mode numbers as `projection()` lists them (exported to `lib/decode.js`).
#[napi]
pub const MODE_SHAPE: u32 = 0;
#[napi]
pub const MODE_TEXT: u32 = 1;
#[napi]
pub const MODE_KEPT: u32 = 2;
#[napi]
pub const MODE_NUMBER: u32 = 3;

impl Mode {
    /// The number `projection()` lists.
    pub fn number(self) -> u32 {
        match self {
            Mode::Shape => MODE_SHAPE,
            Mode::Text => MODE_TEXT,
            Mode::Kept => MODE_KEPT,
            Mode::Number => MODE_NUMBER,
        }
    }
}

/// A lean projection's codes (`lib/decode.js`'s lean reader, for the core's short paths):
/// each value node of each record holds one number, a `MODE_TEXT` string's number in the
/// table of texts or a `MODE_NUMBER` node's non-negative number, else one of these.
#[napi]
pub const V_ABSENT: f64 = -1.0;
/// `null`.
#[napi]
pub const V_NULL: f64 = -2.0;
/// Anything else (a value of a kind the short paths decline).
#[napi]
pub const V_OTHER: f64 = -3.0;
/// A `MODE_KEPT` string that is not empty (its text stays in JavaScript).
#[napi]
pub const V_KEPT: f64 = -4.0;
/// An empty `MODE_KEPT` string.
#[napi]
pub const V_KEPT_EMPTY: f64 = -5.0;

/// One value read of each record: its parent (-1: the record itself, else an earlier node),
/// its member name, and what its slot holds.
pub type Node = (i32, &'static str, Mode);

/// The member holding a record's source. Named here only to know what to project: the core
/// reads it by its own name, and a different name would only make the projection incomplete
/// (then the live event is decoded).
const EVENT_SOURCE: &str = "eventSource";
const RECORDS: &str = "Records";
const GROUPS: &str = "records";

/// What is read of each record: the nodes, and the dotted paths the core reads with the node
/// each ends at.
pub struct Spec {
    pub nodes: Vec<Node>,
    paths: Vec<(&'static str, usize)>,
    /// The nodes the core's short path reads ([`BatchPlan::decode_read`] and
    /// [`BatchPlan::decode_read_kafka`]).
    fields: Fields,
}

/// The nodes a short path reads, by their place in [`Spec::nodes`].
#[derive(Clone, Copy)]
enum Fields {
    /// A `Records` batch: `eventSource`, the identifier and (ordered) the lane field.
    Records {
        event_source: usize,
        identifier: usize,
        lane: Option<usize>,
    },
    /// A Kafka event: `topic`, `partition`, `offset` and (ordering `key`) `key`.
    Kafka {
        topic: usize,
        partition: usize,
        offset: usize,
        key: Option<usize>,
    },
}

impl Fields {
    /// The same fields with each place mapped by `f` (`None` if any maps to none).
    fn map(self, f: impl Fn(usize) -> Option<usize>) -> Option<Fields> {
        let opt = |k: Option<usize>| k.map(&f).map_or(Some(None), |k| k.map(Some));
        Some(match self {
            Fields::Records {
                event_source,
                identifier,
                lane,
            } => Fields::Records {
                event_source: f(event_source)?,
                identifier: f(identifier)?,
                lane: opt(lane)?,
            },
            Fields::Kafka {
                topic,
                partition,
                offset,
                key,
            } => Fields::Kafka {
                topic: f(topic)?,
                partition: f(partition)?,
                offset: f(offset)?,
                key: opt(key)?,
            },
        })
    }
}

/// The values to read of each record of `source` for `ordering`. `None`: not worth
/// projecting (the DynamoDB lane key needs the members of `dynamodb.Keys`), decode the live
/// event. A Kafka event's records are read group by group (`records`, see [`Groups`]).
pub fn nodes(source: Source, ordering: LaneOrdering) -> Option<Spec> {
    let mut nodes: Vec<Node> = Vec::with_capacity(6);
    let mut paths = Vec::with_capacity(3);
    let mut add = |path: &'static str, mode: Mode| {
        let mut parent = -1i32;
        let mut parts = path.split('.').peekable();
        while let Some(key) = parts.next() {
            let last = parts.peek().is_none();
            parent = match nodes.iter().position(|&(p, k, _)| p == parent && k == key) {
                Some(i) => {
                    if last {
                        nodes[i].2 = mode;
                    }
                    i as i32
                }
                None => {
                    nodes.push((parent, key, if last { mode } else { Mode::Shape }));
                    (nodes.len() - 1) as i32
                }
            };
        }
        paths.push((path, parent as usize));
    };
    if source.is_kafka() {
        // The identifier is built from these three, so they are read (not kept).
        add("topic", Mode::Text);
        add("partition", Mode::Number);
        add("offset", Mode::Number);
        if ordering == LaneOrdering::Key {
            add("key", Mode::Text);
        }
        let fields = Fields::Kafka {
            topic: paths[0].1,
            partition: paths[1].1,
            offset: paths[2].1,
            key: paths.get(3).map(|&(_, k)| k),
        };
        return Some(Spec {
            nodes,
            paths,
            fields,
        });
    }
    add(EVENT_SOURCE, Mode::Text);
    add(source.identifier_field(), Mode::Kept);
    if ordering != LaneOrdering::Unordered {
        if source == Source::DynamoDb {
            return None;
        }
        add(source.lane_field(), Mode::Text);
    }
    let fields = Fields::Records {
        event_source: paths[0].1,
        identifier: paths[1].1,
        lane: paths.get(2).map(|&(_, k)| k),
    };
    Some(Spec {
        nodes,
        paths,
        fields,
    })
}

/// Buffers kept between decodes.
#[derive(Default)]
pub struct Scratch {
    /// The table of texts as UTF-16 units, when it is not all ASCII.
    pub units: Vec<u16>,
    /// The table of texts as UTF-8: read so at once when it is all ASCII (`ascii`), else
    /// decoded from `units` by [`Scratch::lay_out`].
    pub all: Vec<u8>,
    /// Whether `all` holds the table as read (all ASCII), rather than `units`.
    pub ascii: bool,
    ranges: Vec<(u32, u32)>,
}

thread_local! {
    pub static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Scratch buffers bigger than this are not kept.
const KEEP: usize = 4 << 20;

impl Scratch {
    /// Lays out the table of texts: `text_lens[t]` the UTF-16 length of text `t`, every
    /// text in turn in `self.all` (all ASCII, as read: one byte a unit) or else in
    /// `self.units` (decoded into `self.all`). `None` if the parts disagree.
    fn lay_out(&mut self, text_lens: &[u32]) -> Option<()> {
        let ranges = &mut self.ranges;
        ranges.clear();
        if self.ascii {
            // The ranges as sent.
            let mut pos = 0u32;
            for &len in text_lens {
                let end = pos.checked_add(len)?;
                ranges.push((pos, end));
                pos = end;
            }
            return (pos as usize == self.all.len()).then_some(());
        }
        let text = &self.units[..];
        let all = &mut self.all;
        all.clear();
        let mut pos = 0usize;
        let mut utf8 = [0u8; 4];
        for &len in text_lens {
            let seg = text.get(pos..pos.checked_add(len as usize)?)?;
            pos += len as usize;
            let start = u32::try_from(all.len()).ok()?;
            // As V8 writes UTF-8: every unpaired surrogate becomes U+FFFD.
            for c in char::decode_utf16(seg.iter().copied()) {
                let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
                all.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
            ranges.push((start, u32::try_from(all.len()).ok()?));
        }
        (pos == text.len()).then_some(())
    }

    /// The table of texts [`Scratch::lay_out`] laid out (`None`: not UTF-8, which it always
    /// is once laid out, or a range out of it).
    fn texts(&self) -> Option<Vec<&str>> {
        let all = std::str::from_utf8(&self.all).ok()?;
        self.ranges
            .iter()
            .map(|&(a, b)| all.get(a as usize..b as usize))
            .collect()
    }

    /// Drops buffers that grew too big to keep.
    pub fn trim(&mut self) {
        if self.units.capacity() > KEEP {
            self.units = Vec::new();
        }
        if self.all.capacity() > KEEP {
            self.all = Vec::new();
        }
        if self.ranges.capacity() > KEEP / 8 {
            self.ranges = Vec::new();
        }
    }
}

/// A Kafka event's layout: its own `eventSource` and each group of `records` (its key and
/// how many records it holds, in the object's order), the texts numbers in the table.
pub struct Groups {
    pub event_source: usize,
    /// Each group's key text and record count; the records follow one another in event
    /// order.
    pub groups: Vec<ReadKafkaGroup>,
    /// Where each group's records start.
    starts: Vec<usize>,
}

impl Groups {
    /// From `[eventSource text, key text, length, key text, length, ...]`; `None` unless the
    /// parts agree with `records` and the table of `texts` texts.
    pub fn new(flat: &[f64], records: usize, texts: usize) -> Option<Self> {
        let whole = |x: f64| (x >= 0.0 && x.fract() == 0.0 && x < 4e9).then_some(x as usize);
        let (&source, rest) = flat.split_first()?;
        if !rest.len().is_multiple_of(2) {
            return None;
        }
        let event_source = whole(source).filter(|&t| t < texts)?;
        let mut groups = Vec::with_capacity(rest.len() / 2);
        let mut starts = Vec::with_capacity(rest.len() / 2);
        let mut total = 0usize;
        for pair in rest.chunks(2) {
            let key = whole(pair[0]).filter(|&t| t < texts)?;
            let len = whole(pair[1])?;
            starts.push(total);
            total = total.checked_add(len)?;
            groups.push(ReadKafkaGroup { key, records: len });
        }
        (total == records).then_some(Groups {
            event_source,
            groups,
            starts,
        })
    }
}

/// One projected batch: `records` records, each `1 + nodes.len()` kinds (the record, then
/// each node) and `nodes.len()` slots (see [`Mode`]), and the table of texts.
pub struct Projection<'a> {
    nodes: &'a [Node],
    paths: &'a [(&'static str, usize)],
    /// A Kafka event's groups (`None`: the records are `Records`).
    groups: Option<&'a Groups>,
    records: usize,
    kinds: &'a [u8],
    slots: &'a [f64],
    /// Each text of the table, by its number.
    texts: Vec<&'a str>,
    /// Set when the core asked for something the projection does not hold.
    incomplete: Cell<bool>,
}

impl<'a> Projection<'a> {
    /// See [`Scratch::lay_out`]; `kinds` and `slots` may be longer than needed (reused
    /// buffers). `None` if the parts disagree (a text number out of the table, say).
    pub fn new(
        spec: &'a Spec,
        groups: Option<&'a Groups>,
        records: usize,
        kinds: &'a [u8],
        slots: &'a [f64],
        text_lens: &[u32],
        scratch: &'a mut Scratch,
    ) -> Option<Self> {
        let nodes = &spec.nodes[..];
        let m = nodes.len();
        let kinds = kinds.get(..records.checked_mul(m + 1)?)?;
        let slots = slots.get(..records.checked_mul(m)?)?;
        scratch.lay_out(text_lens)?;
        // Slots are checked where they are read (`text_number_of`, `kept_is_empty_of`): only
        // the ones the core asks for, each once.
        let texts = scratch.texts()?;
        Some(Projection {
            nodes,
            paths: &spec.paths,
            groups,
            records,
            kinds,
            slots,
            texts,
            incomplete: Cell::new(false),
        })
    }

    /// The core's plan (identifiers checked, not read; a Kafka event's read), or `None`:
    /// the core rejected the projection or needed more of it (decode the live event for the
    /// exact answer). The core's rules walk the projection as a [`JsonView`]; the short
    /// paths have had the same values already, from the lean projection ([`decode_lean`]).
    pub fn decode(&self, ordering: LaneOrdering) -> Option<BatchPlan> {
        let plan = BatchPlan::decode_checked(
            ProjectedView {
                p: self,
                at: At::Event,
            },
            ordering,
        )
        .ok()?;
        (!self.incomplete.get()).then_some(plan)
    }

    fn missing<T>(&self) -> Option<T> {
        self.incomplete.set(true);
        None
    }

    /// Text `t` of the table (`None`, and the projection incomplete, if it has none).
    fn text(&self, t: usize) -> Option<&'a str> {
        match self.texts.get(t) {
            Some(&text) => Some(text),
            None => self.missing(),
        }
    }

    fn slot(&self, r: usize, k: usize) -> f64 {
        self.slots[r * self.nodes.len() + k]
    }

    /// Node `k`'s text number in record `r`: a whole number within the table, else `None`
    /// (and the projection incomplete: the parts disagree).
    fn text_number_at(&self, r: usize, k: usize) -> Option<usize> {
        text_number_of(self.slot(r, k), self.texts.len()).or_else(|| self.missing())
    }

    /// Whether node `k`'s kept string is empty in record `r` (its slot is 0 or 1).
    fn kept_is_empty_at(&self, r: usize, k: usize) -> Option<bool> {
        kept_is_empty_of(self.slot(r, k)).or_else(|| self.missing())
    }
}

/// The core's short path over a lean projection: `values` one number per value node (the
/// nodes of `spec` that are not [`Mode::Shape`], in order) of each of `records` records,
/// coded as the `V_*` constants say, `text_lens` the table of texts in `scratch.units` (see
/// [`Scratch::lay_out`]). `None`: the parts disagree, or the short path declined (then read
/// the full projection, or decode the live event).
pub fn decode_lean(
    spec: &Spec,
    groups: Option<&Groups>,
    records: usize,
    values: &[f64],
    text_lens: &[u32],
    scratch: &mut Scratch,
    ordering: LaneOrdering,
) -> Option<BatchPlan> {
    let modes: Vec<Mode> = spec
        .nodes
        .iter()
        .map(|&(_, _, mode)| mode)
        .filter(|&mode| mode != Mode::Shape)
        .collect();
    let q = modes.len();
    if q == 0 {
        return None;
    }
    // The fields by their place among the value nodes.
    let fields = spec.fields.map(|node| {
        let mode = spec.nodes.get(node)?.2;
        (mode != Mode::Shape).then(|| {
            spec.nodes[..node]
                .iter()
                .filter(|n| n.2 != Mode::Shape)
                .count()
        })
    })?;
    let values = values.get(..records.checked_mul(q)?)?;
    scratch.lay_out(text_lens)?;
    let texts = scratch.texts()?;
    let n_texts = texts.len();
    let records = values.chunks_exact(q).map(|values| LeanRecord {
        values,
        modes: &modes,
        texts: n_texts,
    });
    short_paths(fields, groups, records, &texts, ordering)
}

/// A record of the lean projection: one number per value node, coded as the `V_*` say.
struct LeanRecord<'a> {
    values: &'a [f64],
    modes: &'a [Mode],
    texts: usize,
}

impl LeanRecord<'_> {
    /// Value `k` as the short paths read a string (`k` a field of [`Fields`]).
    fn value(&self, k: usize) -> ReadValue {
        let v = self.values[k];
        match self.modes[k] {
            _ if v == V_ABSENT => ReadValue::Absent,
            _ if v == V_NULL => ReadValue::Null,
            Mode::Kept if v == V_KEPT => ReadValue::Kept { empty: false },
            Mode::Kept if v == V_KEPT_EMPTY => ReadValue::Kept { empty: true },
            Mode::Text => text_number_of(v, self.texts).map_or(ReadValue::Other, ReadValue::Text),
            _ => ReadValue::Other,
        }
    }

    /// Value `k`'s number: a non-negative one (a code is negative; NaN is neither).
    fn number(&self, k: usize) -> Option<f64> {
        let v = self.values[k];
        (self.modes[k] == Mode::Number && v >= 0.0).then_some(v)
    }
}

/// The core's short paths over records as `fields` names their values: `Records` or, with
/// `groups`, a Kafka event. `None`: declined (or fields and groups that do not go together).
/// Every record is an object: the lean reader reads no other.
fn short_paths<'a>(
    fields: Fields,
    groups: Option<&Groups>,
    records: impl ExactSizeIterator<Item = LeanRecord<'a>>,
    texts: &[&str],
    ordering: LaneOrdering,
) -> Option<BatchPlan> {
    match (fields, groups) {
        (
            Fields::Records {
                event_source,
                identifier,
                lane,
            },
            None,
        ) => {
            let reads = records.map(|r| ReadRecord {
                object: true,
                event_source: r.value(event_source),
                identifier: r.value(identifier),
                lane: lane.map_or(ReadValue::Absent, |k| r.value(k)),
            });
            BatchPlan::decode_read(reads, texts, ordering)
        }
        (
            Fields::Kafka {
                topic,
                partition,
                offset,
                key,
            },
            Some(groups),
        ) => {
            let reads = records.map(|r| ReadKafkaRecord {
                object: true,
                topic: r.value(topic),
                partition: r.number(partition),
                offset: r.number(offset),
                key: key.map_or(ReadValue::Absent, |k| r.value(k)),
            });
            BatchPlan::decode_read_kafka(
                groups.event_source,
                &groups.groups,
                reads,
                texts,
                ordering,
            )
        }
        _ => None,
    }
}

/// A text slot's number: a whole number below `texts` (no libm call: `as` saturates, NaN is 0).
fn text_number_of(slot: f64, texts: usize) -> Option<usize> {
    let t = slot as usize;
    (t as f64 == slot && t < texts).then_some(t)
}

/// A kept slot's emptiness: 0 is an empty string, 1 a non-empty one, anything else no answer.
fn kept_is_empty_of(slot: f64) -> Option<bool> {
    (slot == 0.0 || slot == 1.0).then_some(slot == 0.0)
}

/// Follows `path` member by member, as the core's default [`JsonView::path`] does.
fn lanepool_follow<V: JsonView>(value: &V, path: &str) -> Option<V> {
    match path.split_once('.') {
        None => value.member(path),
        Some((first, rest)) => lanepool_follow(&value.member(first)?, rest),
    }
}

/// Whether a node's name is `key`: most often the very same text (the core looks members up
/// by the names [`nodes`] took from it), else equal text.
fn same_name(name: &str, key: &str) -> bool {
    (name.len() == key.len() && std::ptr::eq(name.as_ptr(), key.as_ptr())) || name == key
}

#[derive(Clone, Copy)]
enum At {
    Event,
    Records,
    /// A Kafka event's `eventSource`.
    EventSource,
    /// A Kafka event's `records` object.
    Groups,
    /// One of its groups.
    Group(usize),
    Record(usize),
    Node(usize, usize),
}

/// A value of the projection, seen through the core's [`JsonView`] as `NodeView` sees a
/// live one.
pub struct ProjectedView<'p, 'a> {
    p: &'p Projection<'a>,
    at: At,
}

impl ProjectedView<'_, '_> {
    fn code(&self) -> u8 {
        let stride = self.p.nodes.len() + 1;
        match self.at {
            At::Event | At::Groups => K_OBJECT,
            At::Records | At::Group(_) => K_ARRAY,
            At::EventSource => K_STRING,
            At::Record(r) => self.p.kinds[r * stride],
            At::Node(r, k) => self.p.kinds[r * stride + 1 + k],
        }
    }

    fn at(&self, at: At) -> Self {
        ProjectedView { p: self.p, at }
    }
}

impl JsonView for ProjectedView<'_, '_> {
    fn kind(&self) -> JsonKind {
        match self.code() {
            K_UNDEFINED | K_NULL => JsonKind::Null,
            K_BOOLEAN => JsonKind::Bool,
            K_NUMBER => JsonKind::Number,
            K_STRING => JsonKind::String,
            K_ARRAY => JsonKind::Array,
            K_OBJECT => JsonKind::Object,
            _ => JsonKind::Other,
        }
    }

    fn type_name(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self.code() {
            K_UNDEFINED => "undefined",
            K_NULL => "null",
            K_BOOLEAN => "boolean",
            K_NUMBER => "number",
            K_STRING => "string",
            K_ARRAY => "array",
            K_OBJECT => "object",
            K_FUNCTION => "function",
            K_BIGINT => "bigint",
            K_SYMBOL => "symbol",
            _ => "non-JSON value",
        })
    }

    /// `undefined` is an absent member, as in JSON (and as `NodeView` has it).
    fn member(&self, key: &str) -> Option<Self> {
        if self.code() != K_OBJECT {
            return None;
        }
        let (record, parent) = match self.at {
            At::Event => {
                return match (self.p.groups, key) {
                    (None, RECORDS) => Some(self.at(At::Records)),
                    // `lib/decode.js` projects a grouped event only without `Records`.
                    (Some(_), RECORDS) => None,
                    (Some(_), EVENT_SOURCE) => Some(self.at(At::EventSource)),
                    (Some(_), GROUPS) => Some(self.at(At::Groups)),
                    _ => self.p.missing(),
                };
            }
            At::Records | At::Groups | At::Group(_) | At::EventSource => return self.p.missing(),
            At::Record(r) => (r, -1),
            At::Node(r, k) => (r, k as i32),
        };
        let Some(k) = self
            .p
            .nodes
            .iter()
            .position(|&(p, name, _)| p == parent && same_name(name, key))
        else {
            return self.p.missing();
        };
        let view = self.at(At::Node(record, k));
        (view.code() != K_UNDEFINED).then_some(view)
    }

    /// A path the core reads of a record ends at a known node: found at once (the node was
    /// read only where every step before it was an object, else it is `undefined`).
    fn path(&self, path: &str) -> Option<Self> {
        if let At::Record(r) = self.at {
            if self.code() == K_OBJECT {
                if let Some(&(_, k)) = self.p.paths.iter().find(|(p, _)| same_name(p, path)) {
                    let view = self.at(At::Node(r, k));
                    return (view.code() != K_UNDEFINED).then_some(view);
                }
            }
        }
        lanepool_follow(self, path)
    }

    fn array_len(&self) -> Option<usize> {
        match self.at {
            At::Records => Some(self.p.records),
            At::Group(g) => self.p.groups.map(|gs| gs.groups[g].records),
            _ if self.code() == K_ARRAY => self.p.missing(),
            _ => None,
        }
    }

    fn item(&self, index: usize) -> Option<Self> {
        match self.at {
            At::Records if index < self.p.records => Some(self.at(At::Record(index))),
            At::Group(g) => {
                let groups = self.p.groups?;
                (index < groups.groups[g].records)
                    .then(|| self.at(At::Record(groups.starts[g] + index)))
            }
            _ if self.code() == K_ARRAY => self.p.missing(),
            _ => None,
        }
    }

    fn text(&self) -> Option<Cow<'_, str>> {
        if self.code() != K_STRING {
            return None;
        }
        match self.at {
            At::Node(r, k) if self.p.nodes[k].2 == Mode::Text => {
                Some(Cow::Borrowed(self.p.text(self.p.text_number_at(r, k)?)?))
            }
            At::EventSource => Some(Cow::Borrowed(self.p.text(self.p.groups?.event_source)?)),
            _ => self.p.missing(),
        }
    }

    /// A `MODE_TEXT` string's number in the table of texts (`lib/decode.js` never gives
    /// different texts one number; equal texts may have two).
    fn text_number(&self) -> Option<usize> {
        match self.at {
            At::Node(r, k) if self.code() == K_STRING && self.p.nodes[k].2 == Mode::Text => {
                self.p.text_number_at(r, k)
            }
            _ => None,
        }
    }

    fn string_is_empty(&self) -> Option<bool> {
        if self.code() != K_STRING {
            return None;
        }
        match self.at {
            At::Node(r, k) if self.p.nodes[k].2 == Mode::Kept => self.p.kept_is_empty_at(r, k),
            _ => self.text().map(|t| t.is_empty()),
        }
    }

    fn members(&self) -> Option<Vec<(String, Self)>> {
        if self.code() != K_OBJECT {
            return None;
        }
        match (self.at, self.p.groups) {
            (At::Groups, Some(groups)) => Some(
                groups
                    .groups
                    .iter()
                    .enumerate()
                    .map(|(g, &ReadKafkaGroup { key, .. })| {
                        Some((self.p.text(key)?.to_owned(), self.at(At::Group(g))))
                    })
                    .collect::<Option<Vec<_>>>()?,
            ),
            _ => self.p.missing(),
        }
    }

    /// A `MODE_NUMBER` node's value, as `NodeView` reads a JavaScript number; any other
    /// number is not in the projection (the live event is decoded).
    fn number(&self) -> Option<JsonNumber> {
        if self.code() != K_NUMBER {
            return None;
        }
        match self.at {
            At::Node(r, k) if self.p.nodes[k].2 == Mode::Number => {
                Some(JsonNumber::Float(self.p.slot(r, k)))
            }
            _ => self.p.missing(),
        }
    }
}
