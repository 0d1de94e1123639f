//! The part of CBOR (RFC 8949) that Smithy RPC v2 CBOR uses, to and from JSON values:
//! integers, floats (half, single, double), text and byte strings, arrays and maps (definite
//! and indefinite length), booleans, null, and tag 1 (epoch-seconds timestamps), which decodes
//! to its number and is written for the members named as timestamps.

use serde_json::{Map, Number, Value};

/// Why a body is not CBOR this decoder reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed CBOR: {0}")]
pub struct CborError(pub &'static str);

use super::bounds::{MAX_DEPTH, MAX_VALUES};

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    /// Values decoded so far (at most [`MAX_VALUES`]: a body of one-byte items cannot make
    /// a structure many times its size).
    made: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, CborError> {
        let v = *self.b.get(self.at).ok_or(CborError("truncated"))?;
        self.at += 1;
        Ok(v)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], CborError> {
        let end = self.at.checked_add(n).ok_or(CborError("length"))?;
        let s = self.b.get(self.at..end).ok_or(CborError("truncated"))?;
        self.at = end;
        Ok(s)
    }

    /// The argument of a head byte; `None` for indefinite length (31).
    fn arg(&mut self, info: u8) -> Result<Option<u64>, CborError> {
        Ok(Some(match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(self.take(2)?.try_into().expect("2"))),
            26 => u64::from(u32::from_be_bytes(self.take(4)?.try_into().expect("4"))),
            27 => u64::from_be_bytes(self.take(8)?.try_into().expect("8")),
            31 => return Ok(None),
            _ => return Err(CborError("reserved additional information")),
        }))
    }

    /// An array's or map's count (`None`: indefinite); a count the rest of the body cannot
    /// hold is refused before anything is allocated for it.
    fn len(&mut self, info: u8) -> Result<Option<usize>, CborError> {
        match self.arg(info)? {
            None => Ok(None),
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|&n| n <= self.b.len() - self.at)
                .map(Some)
                .ok_or(CborError("length")),
        }
    }

    fn at_break(&self) -> bool {
        self.b.get(self.at) == Some(&0xff)
    }

    fn string(&mut self, major: u8, info: u8) -> Result<Vec<u8>, CborError> {
        match self.arg(info)? {
            Some(n) => {
                let n = usize::try_from(n).map_err(|_| CborError("length"))?;
                Ok(self.take(n)?.to_vec())
            }
            None => {
                // Indefinite: definite chunks of the same major type, then a break.
                let mut out = Vec::new();
                while !self.at_break() {
                    let head = self.byte()?;
                    if head >> 5 != major {
                        return Err(CborError("chunk of another type"));
                    }
                    let n = self.arg(head & 31)?.ok_or(CborError("nested indefinite"))?;
                    let n = usize::try_from(n).map_err(|_| CborError("length"))?;
                    out.extend_from_slice(self.take(n)?);
                }
                self.at += 1;
                Ok(out)
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError("nested too deeply"));
        }
        self.made += 1;
        if self.made > MAX_VALUES {
            return Err(CborError("too many values"));
        }
        let head = self.byte()?;
        let (major, info) = (head >> 5, head & 31);
        Ok(match major {
            0 => Value::from(self.arg(info)?.ok_or(CborError("indefinite integer"))?),
            1 => {
                let n = self.arg(info)?.ok_or(CborError("indefinite integer"))?;
                match i64::try_from(n) {
                    Ok(n) => Value::from(-1 - n),
                    Err(_) => Value::from(-1.0 - n as f64),
                }
            }
            2 => {
                use base64::Engine as _;
                Value::String(
                    base64::engine::general_purpose::STANDARD.encode(self.string(2, info)?),
                )
            }
            3 => Value::String(
                String::from_utf8(self.string(3, info)?)
                    .map_err(|_| CborError("text is not UTF-8"))?,
            ),
            4 => {
                let mut out = Vec::new();
                match self.len(info)? {
                    Some(n) => {
                        for _ in 0..n {
                            out.push(self.value(depth + 1)?);
                        }
                    }
                    None => {
                        while !self.at_break() {
                            out.push(self.value(depth + 1)?);
                        }
                        self.at += 1;
                    }
                }
                Value::Array(out)
            }
            5 => {
                let mut out = Map::new();
                let mut entry = |r: &mut Self| -> Result<(), CborError> {
                    let k = match r.value(depth + 1)? {
                        Value::String(s) => s,
                        _ => return Err(CborError("map key is not text")),
                    };
                    let v = r.value(depth + 1)?;
                    out.insert(k, v);
                    Ok(())
                };
                match self.len(info)? {
                    Some(n) => {
                        for _ in 0..n {
                            entry(self)?;
                        }
                    }
                    None => {
                        while !self.at_break() {
                            entry(self)?;
                        }
                        self.at += 1;
                    }
                }
                Value::Object(out)
            }
            // Tags: the tagged value stands for itself (tag 1: epoch seconds).
            6 => {
                self.arg(info)?.ok_or(CborError("indefinite tag"))?;
                self.value(depth + 1)?
            }
            _ => match info {
                20 => Value::Bool(false),
                21 => Value::Bool(true),
                22 | 23 => Value::Null,
                25 => float(half(u16::from_be_bytes(
                    self.take(2)?.try_into().expect("2"),
                ))),
                26 => float(f64::from(f32::from_be_bytes(
                    self.take(4)?.try_into().expect("4"),
                ))),
                27 => float(f64::from_be_bytes(self.take(8)?.try_into().expect("8"))),
                _ => return Err(CborError("unsupported simple value")),
            },
        })
    }
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn half(h: u16) -> f64 {
    let exp = (h >> 10) & 0x1f;
    let mant = f64::from(h & 0x3ff);
    let v = match exp {
        0 => mant * 2f64.powi(-24),
        31 if mant == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (mant + 1024.0) * 2f64.powi(i32::from(exp) - 25),
    };
    if h & 0x8000 == 0 { v } else { -v }
}

/// Decodes one CBOR data item (an empty body is an empty map, as Smithy allows).
///
/// # Errors
/// [`CborError`] for anything malformed or trailing.
pub fn decode(bytes: &[u8]) -> Result<Value, CborError> {
    if bytes.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let mut r = Reader {
        b: bytes,
        at: 0,
        made: 0,
    };
    let v = r.value(0)?;
    if r.at != bytes.len() {
        return Err(CborError("trailing bytes"));
    }
    Ok(v)
}

fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        head(out, 0, u);
    } else if let Some(i) = n.as_i64() {
        head(out, 1, (-1 - i) as u64);
    } else {
        out.push(0xfb);
        out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_be_bytes());
    }
}

fn write(out: &mut Vec<u8>, v: &Value, timestamp: bool, is_timestamp: &dyn Fn(&str) -> bool) {
    match v {
        Value::Null => out.push(0xf6),
        Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Value::Number(n) if timestamp => {
            head(out, 6, 1);
            out.push(0xfb);
            out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_be_bytes());
        }
        Value::Number(n) => number(out, n),
        Value::String(s) => {
            head(out, 3, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(a) => {
            head(out, 4, a.len() as u64);
            for x in a {
                write(out, x, timestamp, is_timestamp);
            }
        }
        Value::Object(m) => {
            head(out, 5, m.len() as u64);
            for (k, x) in m {
                head(out, 3, k.len() as u64);
                out.extend_from_slice(k.as_bytes());
                write(out, x, is_timestamp(k), is_timestamp);
            }
        }
    }
}

/// Encodes a value; numbers under a member for which `is_timestamp` holds (and in a list
/// under one) are written as tag-1 timestamps.
#[must_use]
pub fn encode(v: &Value, is_timestamp: &dyn Fn(&str) -> bool) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, v, false, is_timestamp);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_and_reads_what_rfc8949_shows() {
        let v = json!({"Namespace": "AWS/S3", "Period": 86400, "N": -5, "F": 1.5,
            "L": ["a", true, null], "Timestamp": 1_700_000_000.5});
        let bytes = encode(&v, &|k| k == "Timestamp");
        // The timestamp is tag 1 then a double.
        assert!(bytes.windows(2).any(|w| w == [0xc1, 0xfb]));
        assert_eq!(decode(&bytes).unwrap(), v);
        // RFC 8949 appendix A: half floats, indefinite arrays and maps, byte strings.
        assert_eq!(decode(&[0xf9, 0x3c, 0x00]).unwrap(), json!(1.0));
        assert_eq!(decode(&[0xf9, 0xc4, 0x00]).unwrap(), json!(-4.0));
        assert_eq!(
            decode(&[0x9f, 0x01, 0x82, 0x02, 0x03, 0xff]).unwrap(),
            json!([1, [2, 3]])
        );
        assert_eq!(
            decode(&[0xbf, 0x61, 0x61, 0x01, 0xff]).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            decode(&[0x3a, 0x00, 0x01, 0x86, 0x9f]).unwrap(),
            json!(-100_000)
        );
        assert_eq!(decode(&[]).unwrap(), json!({}));
    }

    #[test]
    fn malformed_input_is_refused_not_panicked_on() {
        for bad in [
            &[0x61][..],
            &[0x1c],
            &[0xa1, 0x01, 0x02],
            &[0x01, 0x02],
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        let deep = vec![0x81; 1000];
        assert!(decode(&deep).is_err());
        // 100,000 one-byte items: refused, not 100,000 values of 32 bytes each.
        let mut wide = vec![0x9f];
        wide.extend(std::iter::repeat_n(0x00, 100_000));
        wide.push(0xff);
        assert_eq!(decode(&wide).unwrap_err(), CborError("too many values"));
    }
}
