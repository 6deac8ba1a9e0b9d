//! Entropy decoding of one scan: sequential Huffman (libjpeg-turbo `jdhuff.c`, `decode_mcu`) and
//! progressive Huffman (`jdphuff.c`: DC first/refine, AC first/refine with end-of-band runs).
//!
//! Like libjpeg, once the data of a restart interval runs out (a marker met too early) the rest
//! of that interval is left untouched: zero coefficients, i.e. uniform grey in a sequential scan.

use super::huffman::{BitReader, HuffTable};
use super::idct::idct_islow;
use super::markers::{Frame, Scan, NATURAL_ORDER};
use super::JpegError;

/// Per-scan decoder state, reset at each restart marker.
#[derive(Default)]
struct State {
    /// DC predictor of each scan component.
    preds: [i32; 4],
    /// Remaining blocks of an end-of-band run (progressive AC).
    eobrun: u32,
}

/// Visits every MCU of `scan` in order, handling restart intervals; `block` is called for every
/// block of the MCU as `(bits, state, scan slot, component index, block row, block column)`.
/// MCUs after the data ran out within a restart interval are skipped, as libjpeg does.
fn for_each_block(
    frame: &Frame,
    scan: &Scan,
    restart_interval: usize,
    bits: &mut BitReader,
    mut block: impl FnMut(&mut BitReader, &mut State, usize, usize, usize, usize),
) {
    let mut state = State::default();
    let single = scan.components.len() == 1;
    let (mcus_x, mcus_y) = if single {
        let c = &frame.components[scan.components[0].0];
        (c.wib, c.hib)
    } else {
        (frame.mcus_x, frame.mcus_y)
    };
    for mcu in 0..mcus_x * mcus_y {
        if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
            bits.restart();
            state = State::default();
        }
        if bits.insufficient {
            continue;
        }
        let (my, mx) = (mcu / mcus_x, mcu % mcus_x);
        for (slot, &(ci, ..)) in scan.components.iter().enumerate() {
            let c = &frame.components[ci];
            if single {
                block(bits, &mut state, slot, ci, my, mx);
                continue;
            }
            for v in 0..c.v {
                for h in 0..c.h {
                    block(bits, &mut state, slot, ci, my * c.v + v, mx * c.h + h);
                }
            }
        }
    }
}

/// The Huffman tables a scan component names, or an error if one is missing.
fn table<'t>(tables: &'t [Option<HuffTable>; 4], id: usize, what: &str) -> Result<&'t HuffTable, JpegError> {
    tables[id].as_ref().ok_or_else(|| JpegError::corrupt(&format!("scan uses undefined {what} Huffman table {id}")))
}

/// Decodes a sequential (baseline or extended) scan, inverse-transforming every block straight
/// into `planes[component]` (`bw * 8` samples per row) with the latched `quant` tables.
#[allow(clippy::too_many_arguments)]
pub(super) fn sequential(
    frame: &Frame,
    scan: &Scan,
    dc: &[Option<HuffTable>; 4],
    ac: &[Option<HuffTable>; 4],
    quant: &[[u16; 64]],
    restart_interval: usize,
    bits: &mut BitReader,
    planes: &mut [Vec<u8>],
) -> Result<(), JpegError> {
    let mut slots = Vec::with_capacity(scan.components.len());
    for &(_, td, ta) in &scan.components {
        slots.push((table(dc, td, "DC")?, table(ac, ta, "AC")?));
    }
    for_each_block(frame, scan, restart_interval, bits, |bits, state, slot, ci, row, col| {
        let (dc, ac) = slots[slot];
        let mut coefs = [0i16; 64];
        let s = u32::from(dc.decode(bits));
        state.preds[slot] = state.preds[slot].wrapping_add(bits.receive_extend(s));
        coefs[0] = state.preds[slot] as i16;
        let mut k = 1;
        while k < 64 {
            let rs = ac.decode(bits);
            let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
            if s != 0 {
                k += r;
                coefs[NATURAL_ORDER[k]] = bits.receive_extend(s) as i16;
            } else if r == 15 {
                k += 15;
            } else {
                break;
            }
            k += 1;
        }
        let stride = frame.components[ci].bw * 8;
        let at = row * 8 * stride + col * 8;
        idct_islow(&coefs, &quant[ci], &mut planes[ci][at..], stride);
    });
    Ok(())
}

/// Decodes one progressive scan into the coefficient arrays (`bw * bh` blocks of 64, natural
/// order, per component).
pub(super) fn progressive(
    frame: &Frame,
    scan: &Scan,
    dc: &[Option<HuffTable>; 4],
    ac: &[Option<HuffTable>; 4],
    restart_interval: usize,
    bits: &mut BitReader,
    coefs: &mut [Vec<i16>],
) -> Result<(), JpegError> {
    let (ss, se, ah, al) = (scan.ss, scan.se, scan.ah, scan.al);
    let mut tables = Vec::with_capacity(scan.components.len());
    for &(_, td, ta) in &scan.components {
        tables.push(match (ss, ah) {
            (0, 0) => Some(table(dc, td, "DC")?),
            (0, _) => None,
            _ => Some(table(ac, ta, "AC")?),
        });
    }
    for_each_block(frame, scan, restart_interval, bits, |bits, state, slot, ci, row, col| {
        let at = (row * frame.components[ci].bw + col) * 64;
        let block = &mut coefs[ci][at..at + 64];
        match (ss, ah, tables[slot]) {
            (0, 0, Some(dc)) => {
                let s = u32::from(dc.decode(bits));
                state.preds[slot] = state.preds[slot].wrapping_add(bits.receive_extend(s));
                block[0] = (state.preds[slot] << al) as i16;
            }
            // DC refinement: one more bit, no Huffman code.
            (0, _, _) => block[0] |= (bits.bits(1) as i16) << al,
            (_, 0, Some(ac)) => ac_first(bits, ac, &mut state.eobrun, block, ss, se, al),
            (_, _, Some(ac)) => ac_refine(bits, ac, &mut state.eobrun, block, ss, se, al),
            _ => {}
        }
    });
    Ok(())
}

/// `decode_mcu_AC_first`: the first pass over the band `ss..=se`.
fn ac_first(bits: &mut BitReader, ac: &HuffTable, eobrun: &mut u32, block: &mut [i16], ss: usize, se: usize, al: u32) {
    if *eobrun > 0 {
        *eobrun -= 1;
        return;
    }
    let mut k = ss;
    while k <= se {
        let rs = ac.decode(bits);
        let (r, s) = (u32::from(rs >> 4), u32::from(rs & 15));
        if s != 0 {
            k += r as usize;
            block[NATURAL_ORDER[k.min(79)]] = (bits.receive_extend(s) << al) as i16;
        } else if r == 15 {
            k += 15;
        } else {
            *eobrun = (1 << r) + bits.bits(r) as u32 - 1;
            break;
        }
        k += 1;
    }
}

/// `decode_mcu_AC_refine`: one more bit of precision for the band `ss..=se`.
fn ac_refine(bits: &mut BitReader, ac: &HuffTable, eobrun: &mut u32, block: &mut [i16], ss: usize, se: usize, al: u32) {
    let p1 = 1i16 << al;
    let m1 = -1i16 << al;
    // A correction bit for a coefficient that is already non-zero.
    let refine = |bits: &mut BitReader, coef: &mut i16| {
        if bits.bits(1) != 0 && *coef & p1 == 0 {
            *coef = coef.wrapping_add(if *coef >= 0 { p1 } else { m1 });
        }
    };
    let mut k = ss;
    if *eobrun == 0 {
        while k <= se {
            let rs = ac.decode(bits);
            let (mut r, s) = (i32::from(rs >> 4), rs & 15);
            let mut value = 0;
            if s != 0 {
                value = if bits.bits(1) != 0 { p1 } else { m1 };
            } else if r != 15 {
                *eobrun = (1 << r) + bits.bits(r as u32) as u32;
                break;
            }
            // Skip `r` zero coefficients, refining the non-zero ones passed on the way.
            while k <= se {
                let coef = &mut block[NATURAL_ORDER[k]];
                if *coef != 0 {
                    refine(bits, coef);
                } else {
                    r -= 1;
                    if r < 0 {
                        break;
                    }
                }
                k += 1;
            }
            if value != 0 {
                block[NATURAL_ORDER[k.min(79)]] = value;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        // Inside an end-of-band run: only correction bits for the non-zero coefficients.
        while k <= se {
            let coef = &mut block[NATURAL_ORDER[k]];
            if *coef != 0 {
                refine(bits, coef);
            }
            k += 1;
        }
        *eobrun -= 1;
    }
}
