//! A stream as one Workers KV value: a header and the entries, length-prefixed, so entries stay
//! bytes without an encoding that would grow them.
//!
//! Layout: `u32` header length, the header as JSON, then per entry a `u32` length and the bytes
//! (lengths big-endian). The header carries the stream's info and its expiry as Unix
//! milliseconds: readers treat a record past its expiry as gone, whatever Workers KV still holds
//! (its own expiry is at least 60 s, and later than the record's).

use alleato_core::ports::{StreamInfo, StreamSlice};
use alleato_core::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A stream as a reader on any instance sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub header: Header,
    pub entries: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    /// The format, for readers of a later version.
    pub v: u8,
    #[serde(with = "bytes_as_text")]
    pub metadata: Vec<u8>,
    pub bytes: u64,
    pub done: bool,
    pub stop_requested: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Unix milliseconds after which the stream is gone.
    pub expires_at_ms: i64,
}

impl Record {
    pub fn live(&self, now_ms: i64) -> bool {
        self.header.expires_at_ms > now_ms
    }

    pub fn info(&self) -> StreamInfo {
        let h = &self.header;
        StreamInfo {
            metadata: h.metadata.clone(),
            len: self.entries.len() as u64,
            bytes: h.bytes,
            done: h.done,
            stop_requested: h.stop_requested,
            created_at: h.created_at,
            updated_at: h.updated_at,
        }
    }

    pub fn slice(&self, after: u64, max: usize) -> StreamSlice {
        StreamSlice::of(&self.entries, after, max, self.header.done)
    }

    pub fn encode(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("a header always serialises");
        let size = 4 + header.len() + self.entries.iter().map(|e| 4 + e.len()).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        push_framed(&mut out, &header);
        for entry in &self.entries {
            push_framed(&mut out, entry);
        }
        out
    }

    pub fn decode(mut bytes: &[u8]) -> Result<Self, String> {
        let header = take_framed(&mut bytes).ok_or("the record has no header")?;
        let header: Header = serde_json::from_slice(header).map_err(|e| format!("the record's header: {e}"))?;
        if header.v != 1 {
            return Err(format!("the record is of format {}, not 1", header.v));
        }
        let mut entries = Vec::new();
        while !bytes.is_empty() {
            entries.push(take_framed(&mut bytes).ok_or("the record is cut short")?.to_vec());
        }
        Ok(Self { header, entries })
    }
}

fn push_framed(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("a Workers KV value is at most 25 MiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn take_framed<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    let (framed, rest) = (rest.get(..len)?, rest.get(len..)?);
    *bytes = rest;
    Some(framed)
}

/// Metadata is opaque bytes; the services keep UTF-8 JSON there, stored as is, and anything
/// else as the bytes' numbers.
mod bytes_as_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Form {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Form::Text(text.to_owned()).serialize(s),
            Err(_) => Form::Bytes(bytes.to_vec()).serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(match Form::deserialize(d)? {
            Form::Text(text) => text.into_bytes(),
            Form::Bytes(bytes) => bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(metadata: &[u8], entries: &[&[u8]]) -> Record {
        let at = alleato_core::time::now();
        Record {
            header: Header {
                v: 1,
                metadata: metadata.to_vec(),
                bytes: entries.iter().map(|e| e.len() as u64).sum(),
                done: true,
                stop_requested: false,
                created_at: at,
                updated_at: at,
                expires_at_ms: 1,
            },
            entries: entries.iter().map(|e| e.to_vec()).collect(),
        }
    }

    #[test]
    fn records_round_trip_with_any_bytes() {
        for r in [record(b"{\"owner\":1}", &[b"a", b"", &[0, 255, 10]]), record(&[0xff, 0], &[]), record(b"", &[b"x"])]
        {
            assert_eq!(Record::decode(&r.encode()).unwrap(), r);
        }
    }

    #[test]
    fn garbled_records_are_errors_not_panics() {
        let good = record(b"m", &[b"entry"]).encode();
        for cut in 0..good.len() {
            if cut == 0 {
                assert!(Record::decode(&good[..cut]).is_err());
                continue;
            }
            // Any prefix either decodes (a cut between entries) or is an error.
            let _ = Record::decode(&good[..cut]);
        }
        assert!(Record::decode(&[0, 0, 0, 200, b'{']).is_err());
        assert!(Record::decode(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn slices_honour_after_and_max() {
        let r = record(b"", &[b"a", b"b", b"c"]);
        assert_eq!(r.slice(1, 1).entries, vec![(2, b"b".to_vec())]);
        assert!(r.slice(3, 10).entries.is_empty());
        assert!(r.slice(u64::MAX, 10).entries.is_empty());
    }
}
