//! Marker segments: frame header (SOF), quantisation and Huffman tables (DQT, DHT), scan header
//! (SOS), restart interval (DRI) and the application segments that decide the colour space
//! (JFIF APP0, Exif APP1, Adobe APP14), after libjpeg-turbo's `jdmarker.c` and
//! `default_decompress_parms` in `jdapimin.c`.

use super::huffman::HuffTable;
use super::JpegError;

/// Natural (row-major) index of the `k`-th coefficient in zig-zag order; entries past 63 repeat
/// 63 so that runs in corrupt data stay inside the block, as in libjpeg's `jpeg_natural_order`.
pub(super) const NATURAL_ORDER: [usize; 80] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
];

/// One colour component of the frame, with its sizes in samples and in 8×8 blocks.
#[derive(Clone, Debug)]
pub(super) struct Component {
    /// Component identifier from the frame header.
    pub id: u8,
    /// Horizontal and vertical sampling factors (1–4).
    pub h: usize,
    pub v: usize,
    /// Quantisation table selector.
    pub tq: usize,
    /// Samples per row and rows (`downsampled_width`/`height` in libjpeg).
    pub width: usize,
    pub height: usize,
    /// Blocks a non-interleaved scan covers (`width_in_blocks`, `height_in_blocks`).
    pub wib: usize,
    pub hib: usize,
    /// Blocks allocated: whole MCUs of an interleaved scan (≥ `wib` × `hib`).
    pub bw: usize,
    pub bh: usize,
}

/// The frame header and the derived MCU geometry.
#[derive(Clone, Debug)]
pub(super) struct Frame {
    pub progressive: bool,
    pub width: usize,
    pub height: usize,
    pub components: Vec<Component>,
    pub hmax: usize,
    pub vmax: usize,
    /// MCUs per row and MCU rows of an interleaved scan.
    pub mcus_x: usize,
    pub mcus_y: usize,
}

/// Parses SOF0/1/2; `progressive` for SOF2.
pub(super) fn parse_sof(seg: &[u8], progressive: bool) -> Result<Frame, JpegError> {
    if seg.len() < 6 {
        return Err(JpegError::corrupt("short SOF segment"));
    }
    if seg[0] != 8 {
        return Err(JpegError::Unsupported(format!("{}-bit samples", seg[0])));
    }
    let height = usize::from(u16::from_be_bytes([seg[1], seg[2]]));
    let width = usize::from(u16::from_be_bytes([seg[3], seg[4]]));
    let n = usize::from(seg[5]);
    if height == 0 {
        return Err(JpegError::Unsupported("height defined by a DNL marker".into()));
    }
    if width == 0 {
        return Err(JpegError::Empty);
    }
    if !matches!(n, 1 | 3 | 4) || seg.len() < 6 + 3 * n {
        return Err(JpegError::Unsupported(format!("{n} colour components")));
    }
    let mut components = Vec::with_capacity(n);
    for c in seg[6..6 + 3 * n].chunks_exact(3) {
        let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || c[2] > 3 {
            return Err(JpegError::corrupt("bad sampling factor or table in SOF"));
        }
        let tq = usize::from(c[2]);
        components.push(Component { id: c[0], h, v, tq, width: 0, height: 0, wib: 0, hib: 0, bw: 0, bh: 0 });
    }
    let hmax = components.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = components.iter().map(|c| c.v).max().unwrap_or(1);
    let (mcus_x, mcus_y) = (width.div_ceil(8 * hmax), height.div_ceil(8 * vmax));
    for c in &mut components {
        c.width = (width * c.h).div_ceil(hmax);
        c.height = (height * c.v).div_ceil(vmax);
        c.wib = (width * c.h).div_ceil(8 * hmax);
        c.hib = (height * c.v).div_ceil(8 * vmax);
        c.bw = mcus_x * c.h;
        c.bh = mcus_y * c.v;
    }
    Ok(Frame { progressive, width, height, components, hmax, vmax, mcus_x, mcus_y })
}

/// Parses a DQT segment into `tables` (stored in natural order).
pub(super) fn parse_dqt(mut seg: &[u8], tables: &mut [Option<[u16; 64]>; 4]) -> Result<(), JpegError> {
    while let Some((&pq_tq, rest)) = seg.split_first() {
        let (precision, id) = (pq_tq >> 4, usize::from(pq_tq & 15));
        let size = if precision == 0 { 64 } else { 128 };
        if id > 3 || precision > 1 || rest.len() < size {
            return Err(JpegError::corrupt("bad DQT segment"));
        }
        let mut table = [0u16; 64];
        for (k, &natural) in NATURAL_ORDER[..64].iter().enumerate() {
            table[natural] =
                if precision == 0 { u16::from(rest[k]) } else { u16::from_be_bytes([rest[2 * k], rest[2 * k + 1]]) };
        }
        tables[id] = Some(table);
        seg = &rest[size..];
    }
    Ok(())
}

/// Parses a DHT segment into the DC (class 0) and AC (class 1) tables.
pub(super) fn parse_dht(
    mut seg: &[u8],
    dc: &mut [Option<HuffTable>; 4],
    ac: &mut [Option<HuffTable>; 4],
) -> Result<(), JpegError> {
    while seg.len() >= 17 {
        let (class, id) = (seg[0] >> 4, usize::from(seg[0] & 15));
        let counts: [u8; 16] = seg[1..17].try_into().expect("16 bytes");
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if class > 1 || id > 3 || seg.len() < 17 + total {
            return Err(JpegError::corrupt("bad DHT segment"));
        }
        let table = HuffTable::new(&counts, &seg[17..17 + total])?;
        if class == 0 {
            dc[id] = Some(table);
        } else {
            ac[id] = Some(table);
        }
        seg = &seg[17 + total..];
    }
    Ok(())
}

/// A scan header: which components (index into the frame, DC and AC table), spectral selection
/// `ss..=se` and successive approximation `ah`/`al`.
#[derive(Clone, Debug)]
pub(super) struct Scan {
    pub components: Vec<(usize, usize, usize)>,
    pub ss: usize,
    pub se: usize,
    pub ah: u32,
    pub al: u32,
}

/// Parses SOS and checks it against the frame.
pub(super) fn parse_sos(seg: &[u8], frame: &Frame) -> Result<Scan, JpegError> {
    let n = usize::from(*seg.first().unwrap_or(&0));
    if n == 0 || n > 4 || seg.len() < 1 + 2 * n + 3 {
        return Err(JpegError::corrupt("bad SOS segment"));
    }
    let mut components = Vec::with_capacity(n);
    for c in seg[1..1 + 2 * n].chunks_exact(2) {
        let index = frame
            .components
            .iter()
            .position(|fc| fc.id == c[0])
            .ok_or_else(|| JpegError::corrupt("scan names an unknown component"))?;
        components.push((index, usize::from(c[1] >> 4 & 3), usize::from(c[1] & 3)));
    }
    let tail = &seg[1 + 2 * n..];
    let scan = Scan {
        components,
        ss: usize::from(tail[0]),
        se: usize::from(tail[1]),
        ah: u32::from(tail[2] >> 4),
        al: u32::from(tail[2] & 15),
    };
    let blocks: usize = scan.components.iter().map(|&(i, ..)| frame.components[i].h * frame.components[i].v).sum();
    if n > 1 && blocks > 10 {
        return Err(JpegError::corrupt("too many blocks in an MCU"));
    }
    if frame.progressive {
        let dc = scan.ss == 0;
        if scan.se > 63 || scan.ss > scan.se || (dc && scan.se != 0) || (!dc && n != 1) || scan.al > 13 {
            return Err(JpegError::corrupt("bad progressive scan parameters"));
        }
    }
    Ok(scan)
}

/// What the application segments say about colour: JFIF seen, Adobe transform (if any).
#[derive(Clone, Debug, Default)]
pub(super) struct AppInfo {
    pub jfif: bool,
    pub adobe_transform: Option<u8>,
    /// The Exif block after `Exif\0\0`, from the first APP1 that has one.
    pub exif: Option<Vec<u8>>,
}

/// Records what an APPn segment (`marker` 0xE0–0xEF) says.
pub(super) fn parse_app(marker: u8, seg: &[u8], info: &mut AppInfo) {
    match marker {
        0xE0 if seg.starts_with(b"JFIF\0") => info.jfif = true,
        0xE1 if seg.starts_with(b"Exif\0\0") && info.exif.is_none() => {
            info.exif = Some(seg[6..].to_vec());
        }
        0xEE if seg.len() >= 12 && seg.starts_with(b"Adobe") => {
            info.adobe_transform = Some(seg[11]);
        }
        _ => {}
    }
}
