//! The fast decode: the core's rules over a projection of the event that JavaScript read.
//!
//! Reading a record's fields through N-API costs a property lookup per field (tens of
//! nanoseconds each, about half a microsecond per record). JavaScript reads the same few fields
//! with inline caches for a few nanoseconds, so `lib/decode.js` reads them (only reads: for each
//! record, the kind of every value on the paths the core names, and the text of strings) and
//! hands them over in three flat values. The core then decodes that projection with its own
//! rules ([`BatchPlan::decode`] over [`ProjectedView`]), exactly as it decodes a live object.
//!
//! The projection only has to be right when the core accepts the event: whenever the core
//! rejects it, or asks for anything the projection does not hold, the caller decodes the live
//! event again through N-API ([`crate::decode`]), so every error is the one the core gives for
//! the live object.

use std::borrow::Cow;
use std::cell::Cell;

use lanepool::event::{BatchPlan, JsonKind, JsonNumber, JsonView, LaneOrdering, Source};
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
/// A string equal to the last `K_STRING` at the same node of an earlier record (its text is
/// not sent again: `eventSource` is the same in every record, a group id often in a row).
#[napi]
pub const K_STRING_AGAIN: u8 = 10;

/// The member holding a record's source. Named here only to know what to project: the core
/// reads it by its own name, and a different name would only make the projection incomplete
/// (then the live event is decoded).
const EVENT_SOURCE: &str = "eventSource";
const RECORDS: &str = "Records";

/// The values to read of each record of `source` for `ordering`: `(parent, key)`, parent -1
/// the record itself, else an earlier node. `None`: not worth projecting (the DynamoDB lane
/// key needs the members of `dynamodb.Keys`; a Kafka event has no `Records`, and its numbers
/// are not projected), decode the live event.
pub fn nodes(source: Source, ordering: LaneOrdering) -> Option<Vec<(i32, &'static str)>> {
    if source.is_kafka() {
        return None;
    }
    let mut nodes: Vec<(i32, &'static str)> = Vec::with_capacity(6);
    let mut add = |path: &'static str| {
        let mut parent = -1i32;
        for key in path.split('.') {
            parent = match nodes.iter().position(|&(p, k)| p == parent && k == key) {
                Some(i) => i as i32,
                None => {
                    nodes.push((parent, key));
                    (nodes.len() - 1) as i32
                }
            };
        }
    };
    add(EVENT_SOURCE);
    add(source.identifier_field());
    if ordering != LaneOrdering::Unordered {
        if source == Source::DynamoDb {
            return None;
        }
        add(source.lane_field());
    }
    Some(nodes)
}

/// Buffers kept between decodes (a batch's worth of text is a few hundred kilobytes: fresh
/// pages for it on every call cost more than the decode).
#[derive(Default)]
pub struct Scratch {
    pub units: Vec<u16>,
    all: Vec<u8>,
    ranges: Vec<(u32, u32)>,
}

thread_local! {
    pub static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Scratch buffers bigger than this are not kept.
const KEEP: usize = 4 << 20;

impl Scratch {
    /// Lays out the text of every node slot: `lens[s]` the UTF-16 length of slot `s`'s text (0
    /// unless `K_STRING`), `self.units` the text of every `K_STRING` slot, in slot order.
    /// `None` if the parts disagree.
    fn lay_out(&mut self, m: usize, kinds: &[u8], lens: &[u32]) -> Option<()> {
        let text = &self.units[..];
        let kind = |slot: usize| kinds[(slot / m) * (m + 1) + 1 + slot % m];
        let ranges = &mut self.ranges;
        let all = &mut self.all;
        ranges.clear();
        all.clear();
        // Per node, the range of its last K_STRING text.
        let mut last: Vec<Option<(u32, u32)>> = vec![None; m];
        if text.iter().all(|&u| u < 0x80) {
            // ASCII (the usual case): one narrowing copy, ranges as sent.
            all.extend(text.iter().map(|&u| u as u8));
            let mut pos = 0u32;
            for (slot, &len) in lens.iter().enumerate() {
                match kind(slot) {
                    K_STRING_AGAIN => ranges.push(last[slot % m]?),
                    K_STRING => {
                        let end = pos.checked_add(len)?;
                        ranges.push((pos, end));
                        last[slot % m] = Some((pos, end));
                        pos = end;
                    }
                    _ if len == 0 => ranges.push((pos, pos)),
                    _ => return None,
                }
            }
            (pos as usize == text.len()).then_some(())
        } else {
            let mut pos = 0usize;
            let mut utf8 = [0u8; 4];
            for (slot, &len) in lens.iter().enumerate() {
                match kind(slot) {
                    K_STRING_AGAIN => {
                        ranges.push(last[slot % m]?);
                        continue;
                    }
                    K_STRING => {}
                    _ if len == 0 => {
                        ranges.push((0, 0));
                        continue;
                    }
                    _ => return None,
                }
                let seg = text.get(pos..pos.checked_add(len as usize)?)?;
                pos += len as usize;
                let start = u32::try_from(all.len()).ok()?;
                // As V8 writes UTF-8: every unpaired surrogate becomes U+FFFD.
                for c in char::decode_utf16(seg.iter().copied()) {
                    let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
                    all.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
                let range = (start, u32::try_from(all.len()).ok()?);
                ranges.push(range);
                last[slot % m] = Some(range);
            }
            (pos == text.len()).then_some(())
        }
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

/// One projected batch: `records` records, each `1 + nodes.len()` kinds (the record, then
/// each node), the text of every string node in `all`.
pub struct Projection<'a> {
    nodes: &'a [(i32, &'static str)],
    records: usize,
    kinds: &'a [u8],
    /// Byte range in `all` of each node slot's text (`records * nodes.len()` entries).
    ranges: &'a [(u32, u32)],
    all: &'a str,
    /// Set when the core asked for something the projection does not hold.
    incomplete: Cell<bool>,
}

impl<'a> Projection<'a> {
    /// See [`Scratch::lay_out`]; `kinds` and `lens` may be longer than needed (reused buffers).
    pub fn new(
        nodes: &'a [(i32, &'static str)],
        records: usize,
        kinds: &'a [u8],
        lens: &[u32],
        scratch: &'a mut Scratch,
    ) -> Option<Self> {
        let m = nodes.len();
        let kinds = kinds.get(..records.checked_mul(m + 1)?)?;
        let lens = lens.get(..records * m)?;
        scratch.lay_out(m, kinds, lens)?;
        let all = std::str::from_utf8(&scratch.all).ok()?;
        Some(Projection {
            nodes,
            records,
            kinds,
            ranges: &scratch.ranges,
            all,
            incomplete: Cell::new(false),
        })
    }

    /// The core's plan, or `None`: the core rejected the projection or needed more of it
    /// (decode the live event for the exact answer).
    pub fn decode(&self, ordering: LaneOrdering) -> Option<BatchPlan> {
        let plan = BatchPlan::decode(
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
}

#[derive(Clone, Copy)]
enum At {
    Event,
    Records,
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
            At::Event => K_OBJECT,
            At::Records => K_ARRAY,
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
            K_STRING | K_STRING_AGAIN => JsonKind::String,
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
            K_STRING | K_STRING_AGAIN => "string",
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
            At::Event if key == RECORDS => return Some(self.at(At::Records)),
            At::Event | At::Records => return self.p.missing(),
            At::Record(r) => (r, -1),
            At::Node(r, k) => (r, k as i32),
        };
        let Some(k) = self
            .p
            .nodes
            .iter()
            .position(|&(p, name)| p == parent && name == key)
        else {
            return self.p.missing();
        };
        let view = self.at(At::Node(record, k));
        (view.code() != K_UNDEFINED).then_some(view)
    }

    fn array_len(&self) -> Option<usize> {
        match self.at {
            At::Records => Some(self.p.records),
            _ if self.code() == K_ARRAY => self.p.missing(),
            _ => None,
        }
    }

    fn item(&self, index: usize) -> Option<Self> {
        match self.at {
            At::Records if index < self.p.records => Some(self.at(At::Record(index))),
            _ if self.code() == K_ARRAY => self.p.missing(),
            _ => None,
        }
    }

    fn text(&self) -> Option<Cow<'_, str>> {
        if !matches!(self.code(), K_STRING | K_STRING_AGAIN) {
            return None;
        }
        match self.at {
            At::Node(r, k) => {
                let (a, b) = self.p.ranges[r * self.p.nodes.len() + k];
                Some(Cow::Borrowed(&self.p.all[a as usize..b as usize]))
            }
            _ => self.p.missing(),
        }
    }

    fn members(&self) -> Option<Vec<(String, Self)>> {
        if self.code() != K_OBJECT {
            return None;
        }
        self.p.missing()
    }

    /// The projection holds no number's value: asked for one, it is incomplete (the live
    /// event is decoded, where `NodeView` reads it).
    fn number(&self) -> Option<JsonNumber> {
        if self.code() != K_NUMBER {
            return None;
        }
        self.p.missing()
    }
}
