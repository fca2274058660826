//! The Avro reading both native body readers share: `avrobody.rs` (the ingest's records)
//! and `verifybody.rs` (the verifier's event summaries). Each step reads exactly what
//! `streams/avro_onepass.py` reads and answers `None` wherever that reader would refuse or
//! leave the body to fastavro: a longer-than-minimal or ten-byte varint, a negative size,
//! bytes past the end, text that is not strict UTF-8.

/// The unread rest of a body.
pub struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor on `data` at byte `at` (after a header the caller has read).
    pub fn new(data: &'a [u8], at: usize) -> Self {
        Cursor { data, at }
    }

    /// True when every byte of the body was read.
    pub fn at_end(&self) -> bool {
        self.at == self.data.len()
    }

    pub fn byte(&mut self) -> Option<u8> {
        let byte = *self.data.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    /// A minimal varint whose last byte starts at a shift of at most `last_shift` bits
    /// (56: a long's nine bytes; 28: an int's five), its zig-zag bits as written.
    fn varint(&mut self, last_shift: u32) -> Option<u64> {
        let mut byte = self.byte()?;
        let mut value = u64::from(byte & 0x7F);
        let mut shift = 7;
        while byte & 0x80 != 0 {
            byte = self.byte()?;
            if shift > last_shift || byte == 0 {
                return None;
            }
            value |= u64::from(byte & 0x7F) << shift;
            shift += 7;
        }
        Some(value)
    }

    /// `avro_onepass.read_long`: a minimal varint of at most nine bytes (ten is refused).
    pub fn long(&mut self) -> Option<i64> {
        let value = self.varint(56)?;
        Some(((value >> 1) as i64) ^ -((value & 1) as i64))
    }

    /// Bytes after their length (a long, not negative, ending within the body).
    pub fn sized(&mut self) -> Option<&'a [u8]> {
        let size = usize::try_from(self.long()?).ok()?;
        let stop = self.at.checked_add(size)?;
        let bytes = self.data.get(self.at..stop)?;
        self.at = stop;
        Some(bytes)
    }

    /// A string: sized bytes that are strict UTF-8 (Rust's rules are Python's: no
    /// surrogates, no overlong forms, nothing beyond U+10FFFF).
    pub fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.sized()?).ok()
    }

    /// A double: eight little-endian bytes, any bits, as fastavro reads them.
    pub fn double(&mut self) -> Option<f64> {
        let stop = self.at.checked_add(8)?;
        let raw: [u8; 8] = self.data.get(self.at..stop)?.try_into().ok()?;
        self.at = stop;
        Some(f64::from_le_bytes(raw))
    }
}

/// A signed envelope's fields: party id, device id, body, signature.
pub type Envelope<'a> = (&'a str, &'a str, &'a [u8], &'a [u8]);

/// `anchoring.fastread.plain_envelope`'s reading of a signed envelope: `header` (the newest
/// envelope schema's), then four values each a minimal varint of an Avro int (at most five
/// bytes) giving a non-negative length and its bytes, nothing after, a 64-byte signature:
/// `(party_id, device_id, body, signature)`, the ids strict UTF-8, or None. The audit (`signedstate.rs`) and the
/// verifier (`verifybody.rs`) both read envelopes so.
pub fn plain_envelope<'a>(message: &'a [u8], header: &[u8]) -> Option<Envelope<'a>> {
    if header.is_empty() || !message.starts_with(header) {
        return None;
    }
    let mut cursor = Cursor::new(message, header.len());
    let mut values: [&[u8]; 4] = [&[]; 4];
    for value in &mut values {
        let zigzag = cursor.varint(28)?;
        if zigzag & 1 == 1 {
            return None; // a negative length
        }
        let stop = cursor.at.checked_add(usize::try_from(zigzag >> 1).ok()?)?;
        *value = message.get(cursor.at..stop)?;
        cursor.at = stop;
    }
    let [party_id, device_id, body, signature] = values;
    if !cursor.at_end() || signature.len() != 64 {
        return None;
    }
    let party_id = std::str::from_utf8(party_id).ok()?;
    let device_id = std::str::from_utf8(device_id).ok()?;
    Some((party_id, device_id, body, signature))
}

/// (year, month, day) of the day `days` after 1970-01-01 in the proleptic Gregorian
/// calendar (H. Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
