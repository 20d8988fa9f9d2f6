//! [`Identifiers`]: the identifiers of a batch's records, kept as cheaply as the batch allows.
//!
//! Most records succeed, and the response names only the others, so a batch planned on a
//! short path keeps no text per record: a face that checked the identifiers keeps their
//! texts itself and gives those the report names (`BatchRun::read_identifiers`), and a Kafka
//! batch keeps each record's offset and its group's `"<topic>-<partition>"`, from which the
//! core writes the identifiers the report names. The whole list is made only when asked for
//! ([`Identifiers::as_slice`]), once.

use std::sync::OnceLock;

use super::kafka;

/// A Kafka batch's identifiers by their parts: each group's `"<topic>-<partition>"` with the
/// index of its first record (groups in event order), and every record's offset.
#[derive(Clone, Debug)]
pub(crate) struct KafkaParts {
    groups: Vec<(String, usize)>,
    offsets: Vec<u64>,
}

impl KafkaParts {
    /// Parts with room for `n` records.
    pub(crate) fn with_capacity(n: usize) -> Self {
        KafkaParts {
            groups: Vec::new(),
            offsets: Vec::with_capacity(n),
        }
    }

    /// Starts a group (its records are pushed next).
    pub(crate) fn start_group(&mut self, topic_partition: &str) {
        self.groups
            .push((topic_partition.to_owned(), self.offsets.len()));
    }

    /// The next record of the group last started.
    pub(crate) fn push(&mut self, offset: u64) {
        self.offsets.push(offset);
    }

    fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Record `index`'s identifier text.
    fn text(&self, index: usize) -> String {
        let group = self.groups.partition_point(|&(_, start)| start <= index) - 1;
        kafka::identifier_of(&self.groups[group].0, self.offsets[index])
    }
}

#[derive(Clone, Debug)]
enum Store {
    /// Every record's text.
    All(Vec<String>),
    /// `len` records, of which only `named` have their text (in index order); the rest are
    /// empty until named, from `kafka` when it is there, else by the face.
    Named {
        len: usize,
        named: Vec<(usize, String)>,
        kafka: Option<KafkaParts>,
    },
}

/// The identifiers of a batch's records (see the module's text).
#[derive(Clone, Debug)]
pub(crate) struct Identifiers {
    store: Store,
    /// The whole list, once asked for (a `Named` store).
    all: OnceLock<Vec<String>>,
}

impl Default for Identifiers {
    fn default() -> Self {
        Identifiers::from(Vec::new())
    }
}

impl From<Vec<String>> for Identifiers {
    fn from(texts: Vec<String>) -> Self {
        Identifiers {
            store: Store::All(texts),
            all: OnceLock::new(),
        }
    }
}

impl PartialEq for Identifiers {
    /// The same texts, however each side keeps them.
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Identifiers {}

impl Identifiers {
    /// `len` identifiers checked, not read: empty until the face names them ([`Identifiers::name`]).
    pub(crate) fn unread(len: usize) -> Self {
        Identifiers {
            store: Store::Named {
                len,
                named: Vec::new(),
                kafka: None,
            },
            all: OnceLock::new(),
        }
    }

    /// A Kafka batch's, written from their parts when named.
    pub(crate) fn kafka(parts: KafkaParts) -> Self {
        Identifiers {
            store: Store::Named {
                len: parts.len(),
                named: Vec::new(),
                kafka: Some(parts),
            },
            all: OnceLock::new(),
        }
    }

    /// How many records.
    pub(crate) fn len(&self) -> usize {
        match &self.store {
            Store::All(texts) => texts.len(),
            Store::Named { len, .. } => *len,
        }
    }

    /// Whether the face is to give the texts (checked, not read, and not all given yet).
    pub(crate) fn unread_by_face(&self) -> bool {
        matches!(&self.store, Store::Named { kafka: None, named, len } if named.len() < *len)
    }

    /// Record `index`'s text: empty while it is not named (and not written from parts).
    pub(crate) fn get(&self, index: usize) -> &str {
        match &self.store {
            Store::All(texts) => &texts[index],
            Store::Named { named, kafka, .. } => {
                if let Ok(at) = named.binary_search_by_key(&index, |&(i, _)| i) {
                    return &named[at].1;
                }
                match (self.all.get(), kafka) {
                    (Some(all), _) => &all[index],
                    (None, Some(_)) => &self.as_slice()[index],
                    (None, None) => "",
                }
            }
        }
    }

    /// Names every record `named(index)` picks that has no text yet, in index order: from
    /// the Kafka parts, else with `read(index)`; the first error stops it.
    pub(crate) fn name<X>(
        &mut self,
        mut named: impl FnMut(usize) -> bool,
        mut read: impl FnMut(usize) -> Result<String, X>,
    ) -> Result<(), X> {
        let Store::Named {
            len,
            named: texts,
            kafka,
        } = &mut self.store
        else {
            return Ok(());
        };
        let mut have = 0; // texts[..have] are the ones named before, in index order
        let before = texts.len();
        for index in 0..*len {
            while have < before && texts[have].0 < index {
                have += 1;
            }
            if (have < before && texts[have].0 == index) || !named(index) {
                continue;
            }
            let text = match kafka {
                Some(parts) => parts.text(index),
                None => read(index)?,
            };
            texts.push((index, text));
        }
        if texts.len() > before {
            texts.sort_unstable_by_key(|&(i, _)| i);
        }
        self.all = OnceLock::new();
        Ok(())
    }

    /// [`Identifiers::name`] for identifiers kept as parts (Kafka's); nothing otherwise.
    pub(crate) fn name_from_parts(&mut self, named: impl FnMut(usize) -> bool) {
        if matches!(&self.store, Store::Named { kafka: Some(_), .. }) {
            // Parts are there: `read` is never called.
            let _ = self.name(named, |_| Ok::<_, ()>(String::new()));
        }
    }

    /// Every record's text, in index order (records not named are empty).
    pub(crate) fn as_slice(&self) -> &[String] {
        match &self.store {
            Store::All(texts) => texts,
            Store::Named { len, named, kafka } => self.all.get_or_init(|| {
                let mut all = vec![String::new(); *len];
                for (index, text) in named {
                    all[*index] = text.clone();
                }
                if let Some(parts) = kafka {
                    for (index, text) in all.iter_mut().enumerate() {
                        if text.is_empty() {
                            *text = parts.text(index);
                        }
                    }
                }
                all
            }),
        }
    }

    /// Every record's text (see [`Identifiers::as_slice`]).
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self.store {
            Store::All(texts) => texts,
            Store::Named { .. } => {
                self.as_slice();
                self.all.into_inner().unwrap_or_default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kafka_ids() -> Identifiers {
        let mut parts = KafkaParts::with_capacity(3);
        parts.start_group("t-0");
        parts.push(5);
        parts.push(6);
        parts.start_group("u-2");
        parts.push(1);
        Identifiers::kafka(parts)
    }

    #[test]
    fn kafka_identifiers_are_written_when_named_and_all_at_once_when_asked() {
        let mut ids = kafka_ids();
        assert!(!ids.unread_by_face());
        ids.name(|i| i == 2, |_| Err::<String, ()>(())).unwrap();
        assert_eq!(ids.get(2), "u-2@1");
        assert_eq!(ids.as_slice(), ["t-0@5", "t-0@6", "u-2@1"]);
        assert_eq!(ids.get(0), "t-0@5");
        assert_eq!(
            ids,
            Identifiers::from(vec!["t-0@5".into(), "t-0@6".into(), "u-2@1".into()])
        );
        assert_eq!(kafka_ids().into_vec(), ids.into_vec());
    }

    #[test]
    fn unread_identifiers_stay_empty_until_the_face_names_them() {
        let mut ids = Identifiers::unread(4);
        assert!(ids.unread_by_face());
        let mut asked = Vec::new();
        ids.name(
            |i| i % 2 == 1,
            |i| {
                asked.push(i);
                Ok::<_, ()>(format!("m{i}"))
            },
        )
        .unwrap();
        assert_eq!(asked, [1, 3]);
        assert_eq!((ids.get(0), ids.get(1), ids.get(3)), ("", "m1", "m3"));
        assert_eq!(ids.as_slice(), ["", "m1", "", "m3"]);
        // Naming all asks only for those not named yet, and the list is made again.
        let mut asked = Vec::new();
        ids.name(
            |_| true,
            |i| {
                asked.push(i);
                Ok::<_, ()>(format!("m{i}"))
            },
        )
        .unwrap();
        assert_eq!(asked, [0, 2]);
        assert!(!ids.unread_by_face());
        assert_eq!(ids.as_slice(), ["m0", "m1", "m2", "m3"]);
        // The first error stops it.
        let mut ids = Identifiers::unread(3);
        assert_eq!(
            ids.name(
                |_| true,
                |i| if i == 1 {
                    Err(i)
                } else {
                    Ok(String::from("x"))
                }
            ),
            Err(1)
        );
        assert_eq!(ids.as_slice(), ["x", "", ""]);
    }
}
