//! Huffman tables and the entropy-coded bit stream, after libjpeg-turbo's `jdhuff.c`
//! (`jpeg_make_d_derived_tbl`, `jpeg_fill_bit_buffer`, `jpeg_huff_decode`).
//!
//! The bit reader removes `FF 00` byte stuffing, skips `FF` fill bytes and stops at a marker,
//! after which (like libjpeg) it supplies zero bits. It records whether any made-up bit was used,
//! and whether that was because the *file* ended, which is how a truncated JPEG is told apart
//! from a complete one.

use super::JpegError;

/// Bits looked up at once by the fast path of [`HuffTable::decode`].
const LOOKAHEAD: u32 = 9;

/// A decoding table built from a DHT segment's code lengths and values.
#[derive(Clone, Debug)]
pub(super) struct HuffTable {
    /// `lookup[peek]`: `(code length, value)` for codes of at most [`LOOKAHEAD`] bits; length 0
    /// when the code is longer.
    lookup: Vec<(u8, u8)>,
    /// Largest code of each length (`-1` when none); index 17 is a sentinel.
    maxcode: [i32; 18],
    /// Added to a code of length `l` to index `values`.
    valoffset: [i32; 18],
    values: Vec<u8>,
}

impl HuffTable {
    /// Builds the table from `counts[l - 1]` = number of codes of length `l` and the values in
    /// code order (`jpeg_make_d_derived_tbl`).
    pub(super) fn new(counts: &[u8; 16], values: &[u8]) -> Result<Self, JpegError> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 || total != values.len() {
            return Err(JpegError::corrupt("bad Huffman table"));
        }
        let mut maxcode = [-1i32; 18];
        let mut valoffset = [0i32; 18];
        let mut lookup = vec![(0u8, 0u8); 1 << LOOKAHEAD];
        let (mut code, mut p) = (0i32, 0usize);
        for len in 1..=16u32 {
            let n = usize::from(counts[len as usize - 1]);
            if n > 0 {
                valoffset[len as usize] = p as i32 - code;
                for _ in 0..n {
                    // The codes of one length must fit in that many bits.
                    if code >= 1 << len {
                        return Err(JpegError::corrupt("bad Huffman table"));
                    }
                    if len <= LOOKAHEAD {
                        // Every LOOKAHEAD-bit string starting with this code decodes to it.
                        let shift = LOOKAHEAD - len;
                        let first = (code as usize) << shift;
                        lookup[first..first + (1 << shift)].fill((len as u8, values[p]));
                    }
                    code += 1;
                    p += 1;
                }
                maxcode[len as usize] = code - 1;
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        Ok(HuffTable { lookup, maxcode, valoffset, values: values.to_vec() })
    }

    /// Decodes one symbol. An invalid code (corrupt data) gives 0, as libjpeg does after its
    /// warning.
    #[inline]
    pub(super) fn decode(&self, bits: &mut BitReader) -> u8 {
        bits.ensure(16);
        let peek = bits.peek(LOOKAHEAD) as usize;
        let (len, value) = self.lookup[peek];
        if len > 0 {
            bits.consume(u32::from(len));
            return value;
        }
        // Slow path: extend the code a bit at a time (`jpeg_huff_decode`).
        let mut len = LOOKAHEAD + 1;
        let mut code = bits.peek(len) as i32;
        while code > self.maxcode[len as usize] {
            len += 1;
            if len > 16 {
                bits.corrupt = true;
                bits.consume(16);
                return 0;
            }
            code = bits.peek(len) as i32;
        }
        bits.consume(len);
        let index = code + self.valoffset[len as usize];
        self.values.get(index as usize).copied().unwrap_or(0)
    }
}

/// Reads the entropy-coded segment of a scan, MSB first.
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte to load.
    pub(super) pos: usize,
    acc: u64,
    /// Valid bits in `acc` (left-aligned).
    nbits: u32,
    /// How many of the lowest valid bits are made-up zeros (after a marker or the file's end).
    fake_bits: u32,
    /// A marker stopped the loading; zeros are supplied from here on.
    at_marker: bool,
    /// The file ended inside the entropy-coded data.
    at_eof: bool,
    /// Made-up bits were used: the data of this restart interval ran out
    /// (`insufficient_data` in libjpeg).
    pub(super) insufficient: bool,
    /// Made-up bits after the end of the file were used: the file is truncated.
    pub(super) truncated: bool,
    /// An invalid Huffman code was met.
    pub(super) corrupt: bool,
}

impl<'a> BitReader<'a> {
    /// Starts reading `data` at `pos`.
    pub(super) fn new(data: &'a [u8], pos: usize) -> Self {
        BitReader {
            data,
            pos,
            acc: 0,
            nbits: 0,
            fake_bits: 0,
            at_marker: false,
            at_eof: false,
            insufficient: false,
            truncated: false,
            corrupt: false,
        }
    }

    /// Loads bytes until at least `n` (≤ 57) bits are buffered.
    #[inline]
    fn ensure(&mut self, n: u32) {
        while self.nbits < n {
            let byte = if self.at_marker || self.at_eof {
                self.fake_bits += 8;
                0
            } else if let Some(&b) = self.data.get(self.pos) {
                if b != 0xFF {
                    self.pos += 1;
                    b
                } else {
                    // Skip fill bytes; FF 00 is a stuffed FF, anything else a marker.
                    let mut next = self.pos + 1;
                    while self.data.get(next) == Some(&0xFF) {
                        next += 1;
                    }
                    match self.data.get(next) {
                        Some(0) => {
                            self.pos = next + 1;
                            0xFF
                        }
                        Some(_) => {
                            self.pos = next - 1;
                            self.at_marker = true;
                            self.fake_bits += 8;
                            0
                        }
                        None => {
                            self.pos = self.data.len();
                            self.at_eof = true;
                            self.fake_bits += 8;
                            0
                        }
                    }
                }
            } else {
                self.at_eof = true;
                self.fake_bits += 8;
                0
            };
            self.acc |= u64::from(byte) << (56 - self.nbits);
            self.nbits += 8;
        }
    }

    /// The next `n` (1..=16) bits without consuming them.
    #[inline]
    fn peek(&mut self, n: u32) -> u32 {
        self.ensure(n);
        (self.acc >> (64 - n)) as u32
    }

    #[inline]
    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.nbits -= n;
        if self.nbits < self.fake_bits {
            self.insufficient = true;
            self.truncated |= self.at_eof;
            self.fake_bits = self.nbits;
        }
    }

    /// Reads `n` (0..=16) bits as an unsigned number.
    #[inline]
    pub(super) fn bits(&mut self, n: u32) -> i32 {
        if n == 0 {
            return 0;
        }
        let v = self.peek(n);
        self.consume(n);
        v as i32
    }

    /// Reads `n` bits and sign-extends them as JPEG codes magnitudes (`HUFF_EXTEND`).
    #[inline]
    pub(super) fn receive_extend(&mut self, n: u32) -> i32 {
        let n = n.min(16);
        if n == 0 {
            return 0;
        }
        let v = self.bits(n);
        if v < 1 << (n - 1) {
            v - (1 << n) + 1
        } else {
            v
        }
    }

    /// Processes a restart marker: drops the buffered bits and consumes `RSTn` if it is next
    /// (`process_restart`). When it is not (corrupt data), the interval stays out of data.
    pub(super) fn restart(&mut self) {
        self.acc = 0;
        self.nbits = 0;
        self.fake_bits = 0;
        if self.at_eof {
            return;
        }
        self.at_marker = false;
        let mut p = self.pos;
        while self.data.get(p) == Some(&0xFF) && self.data.get(p + 1) == Some(&0xFF) {
            p += 1;
        }
        if self.data.get(p) == Some(&0xFF) && matches!(self.data.get(p + 1), Some(0xD0..=0xD7)) {
            self.pos = p + 2;
            self.insufficient = false;
        } else if self.data.get(p) == Some(&0xFF) {
            self.at_marker = true;
        }
    }
}
