//! The accurate integer inverse DCT, a port of libjpeg-turbo's `jpeg_idct_islow`
//! (`jidctint.c`, after Loeffler, Ligtenberg and Moschytz, ICASSP '89).
//!
//! 13-bit fixed-point constants, 2 extra bits of precision between the column and the row pass,
//! dequantisation folded into the column pass; the result is bit-identical to libjpeg-turbo's C
//! and SIMD implementations (`DCT_ISLOW`, PIL's default) for in-range data. Out-of-range outputs
//! are clamped to 0–255, as the SIMD code PIL runs on x86-64 does.

const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;

const FIX_0_298631336: i32 = 2446;
const FIX_0_390180644: i32 = 3196;
const FIX_0_541196100: i32 = 4433;
const FIX_0_765366865: i32 = 6270;
const FIX_0_899976223: i32 = 7373;
const FIX_1_175875602: i32 = 9633;
const FIX_1_501321110: i32 = 12299;
const FIX_1_847759065: i32 = 15137;
const FIX_1_961570560: i32 = 16069;
const FIX_2_053119869: i32 = 16819;
const FIX_2_562915447: i32 = 20995;
const FIX_3_072711026: i32 = 25172;

/// `DESCALE`: divide by `2^n`, rounding half up.
#[inline]
fn descale(x: i32, n: u32) -> i32 {
    x.wrapping_add(1 << (n - 1)) >> n
}

/// One 1-D 8-point IDCT on `v[0..8]` (already dequantised / scaled), returning the eight sums
/// before descaling, in output order.
#[inline]
fn idct_1d(v: [i32; 8]) -> [i32; 8] {
    // Even part.
    let (z2, z3) = (v[2], v[6]);
    let z1 = z2.wrapping_add(z3).wrapping_mul(FIX_0_541196100);
    let tmp2 = z1.wrapping_add(z3.wrapping_mul(-FIX_1_847759065));
    let tmp3 = z1.wrapping_add(z2.wrapping_mul(FIX_0_765366865));
    let tmp0 = v[0].wrapping_add(v[4]) << CONST_BITS;
    let tmp1 = v[0].wrapping_sub(v[4]) << CONST_BITS;
    let (tmp10, tmp13) = (tmp0.wrapping_add(tmp3), tmp0.wrapping_sub(tmp3));
    let (tmp11, tmp12) = (tmp1.wrapping_add(tmp2), tmp1.wrapping_sub(tmp2));
    // Odd part.
    let (t0, t1, t2, t3) = (v[7], v[5], v[3], v[1]);
    let z1 = t0.wrapping_add(t3);
    let z2 = t1.wrapping_add(t2);
    let z3 = t0.wrapping_add(t2);
    let z4 = t1.wrapping_add(t3);
    let z5 = z3.wrapping_add(z4).wrapping_mul(FIX_1_175875602);
    let t0 = t0.wrapping_mul(FIX_0_298631336);
    let t1 = t1.wrapping_mul(FIX_2_053119869);
    let t2 = t2.wrapping_mul(FIX_3_072711026);
    let t3 = t3.wrapping_mul(FIX_1_501321110);
    let z1 = z1.wrapping_mul(-FIX_0_899976223);
    let z2 = z2.wrapping_mul(-FIX_2_562915447);
    let z3 = z3.wrapping_mul(-FIX_1_961570560).wrapping_add(z5);
    let z4 = z4.wrapping_mul(-FIX_0_390180644).wrapping_add(z5);
    let t0 = t0.wrapping_add(z1).wrapping_add(z3);
    let t1 = t1.wrapping_add(z2).wrapping_add(z4);
    let t2 = t2.wrapping_add(z2).wrapping_add(z3);
    let t3 = t3.wrapping_add(z1).wrapping_add(z4);
    [
        tmp10.wrapping_add(t3),
        tmp11.wrapping_add(t2),
        tmp12.wrapping_add(t1),
        tmp13.wrapping_add(t0),
        tmp13.wrapping_sub(t0),
        tmp12.wrapping_sub(t1),
        tmp11.wrapping_sub(t2),
        tmp10.wrapping_sub(t3),
    ]
}

/// Dequantises and inverse-transforms one block: `coefs` and `quant` in natural (row-major)
/// order; writes 8 rows of 8 samples to `out` starting at `out[0]`, rows `stride` apart.
pub(super) fn idct_islow(coefs: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    let mut ws = [0i32; 64];
    // Pass 1: columns, into the work array, scaled up by PASS1_BITS.
    for col in 0..8 {
        let dq = |row: usize| i32::from(coefs[row * 8 + col]) * i32::from(quant[row * 8 + col]);
        if (1..8).all(|row| coefs[row * 8 + col] == 0) {
            let dc = dq(0) << PASS1_BITS;
            for row in 0..8 {
                ws[row * 8 + col] = dc;
            }
            continue;
        }
        let sums = idct_1d([dq(0), dq(1), dq(2), dq(3), dq(4), dq(5), dq(6), dq(7)]);
        for (row, s) in sums.into_iter().enumerate() {
            ws[row * 8 + col] = descale(s, CONST_BITS - PASS1_BITS);
        }
    }
    // Pass 2: rows, descaled by a further 3 bits (the 8 of the 2-D transform) and centred.
    for (row, w) in ws.chunks_exact(8).enumerate() {
        let line = &mut out[row * stride..row * stride + 8];
        if w[1..].iter().all(|&v| v == 0) {
            line.fill(range_limit(descale(w[0], PASS1_BITS + 3)));
            continue;
        }
        let sums = idct_1d([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        for (o, s) in line.iter_mut().zip(sums) {
            *o = range_limit(descale(s, CONST_BITS + PASS1_BITS + 3));
        }
    }
}

/// Adds the sample centre (128) and clamps to 0–255.
#[inline]
fn range_limit(x: i32) -> u8 {
    x.saturating_add(128).clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dc_only_block_is_flat() {
        let mut coefs = [0i16; 64];
        coefs[0] = 10;
        let mut quant = [1u16; 64];
        quant[0] = 8;
        let mut out = [0u8; 64];
        idct_islow(&coefs, &quant, &mut out, 8);
        // DC 80 → 80 / 8 = 10 above the centre.
        assert!(out.iter().all(|&v| v == 138));
    }

    #[test]
    fn full_path_equals_shortcut_for_dc() {
        // A zero AC coefficient in one column only takes the column shortcut elsewhere.
        let mut coefs = [0i16; 64];
        coefs[0] = -37;
        coefs[1] = 3;
        let quant = [4u16; 64];
        let mut out = [0u8; 64];
        idct_islow(&coefs, &quant, &mut out, 8);
        assert!(out.chunks_exact(8).all(|row| row == &out[..8]));
    }
}
