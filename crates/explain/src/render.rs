//! Pictures of an explanation, on 8-bit `H×W×3` crops: the paper's "image with attention" (only
//! the top-k positive superpixels shown), superpixel boundaries, and a heat map of the weights.

/// Grey shown in place of hidden superpixels.
pub const GREY: [u8; 3] = [128, 128, 128];

/// Whether each pixel lies on a superpixel boundary (a 4-neighbour has another label).
pub fn boundaries(segments: &[u32], height: usize, width: usize) -> Vec<bool> {
    let at = |y: usize, x: usize| segments[y * width + x];
    (0..height * width)
        .map(|i| {
            let (y, x) = (i / width, i % width);
            let l = at(y, x);
            (x + 1 < width && at(y, x + 1) != l) || (y + 1 < height && at(y + 1, x) != l)
        })
        .collect()
}

/// The superpixels among the `k` largest weights that are positive.
pub fn top_positive(weights: &[f64], k: usize) -> Vec<usize> {
    crate::path::order_by_weight(weights).into_iter().take(k).filter(|&s| weights[s] > 0.0).collect()
}

/// The image with only `shown` superpixels visible, the rest grey.
pub fn attention(crop: &[u8], segments: &[u32], shown: &[usize]) -> Vec<u8> {
    let mut visible = vec![false; segments.iter().map(|&s| s as usize + 1).max().unwrap_or(0)];
    for &s in shown {
        if s < visible.len() {
            visible[s] = true;
        }
    }
    let mut out = crop.to_vec();
    for (i, &s) in segments.iter().enumerate() {
        if !visible[s as usize] {
            out[i * 3..i * 3 + 3].copy_from_slice(&GREY);
        }
    }
    out
}

/// The image with superpixel boundaries in yellow, positive top superpixels tinted green and
/// negative ones red (alpha ½), as lime's `mark_boundaries` pictures.
pub fn overlay(crop: &[u8], segments: &[u32], height: usize, width: usize, weights: &[f64], k: usize) -> Vec<u8> {
    let ranked: Vec<usize> = {
        let mut r: Vec<usize> = (0..weights.len()).collect();
        r.sort_by(|&a, &b| weights[b].abs().total_cmp(&weights[a].abs()));
        r.truncate(k);
        r
    };
    let mut out = crop.to_vec();
    for (i, &s) in segments.iter().enumerate() {
        let s = s as usize;
        if ranked.contains(&s) {
            let tint = if weights[s] > 0.0 { [0u8, 255, 0] } else { [255, 0, 0] };
            for c in 0..3 {
                out[i * 3 + c] = ((u16::from(out[i * 3 + c]) + u16::from(tint[c])) / 2) as u8;
            }
        }
    }
    for (i, b) in boundaries(segments, height, width).into_iter().enumerate() {
        if b {
            out[i * 3..i * 3 + 3].copy_from_slice(&[255, 255, 0]);
        }
    }
    out
}

/// Each superpixel coloured by its weight: blue (negative) – white (0) – red (positive),
/// scaled by the largest |weight|.
pub fn heat_map(segments: &[u32], weights: &[f64]) -> Vec<u8> {
    let scale = weights.iter().fold(0.0f64, |m, w| m.max(w.abs())).max(f64::MIN_POSITIVE);
    segments
        .iter()
        .flat_map(|&s| {
            let v = (weights.get(s as usize).copied().unwrap_or(0.0) / scale).clamp(-1.0, 1.0);
            let fade = (255.0 * (1.0 - v.abs())).round() as u8;
            if v >= 0.0 {
                [255, fade, fade]
            } else {
                [fade, fade, 255]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_hides_all_but_the_shown_superpixels() {
        let crop = vec![10u8; 4 * 3];
        let seg = [0, 0, 1, 2];
        let out = attention(&crop, &seg, &[0]);
        assert_eq!(&out[..6], &[10; 6]);
        assert_eq!(&out[6..9], &GREY);
        assert_eq!(&out[9..], &GREY);
    }

    #[test]
    fn boundaries_and_top_positive() {
        // 2 × 2: left column label 0, right column label 1.
        let b = boundaries(&[0, 1, 0, 1], 2, 2);
        assert_eq!(b, vec![true, false, true, false]);
        assert_eq!(top_positive(&[0.5, -1.0, 0.2, 0.0], 2), vec![0, 2]);
        assert_eq!(top_positive(&[-0.5, -1.0], 2), Vec::<usize>::new());
    }

    #[test]
    fn heat_map_signs() {
        let h = heat_map(&[0, 1, 2], &[1.0, -1.0, 0.0]);
        assert_eq!(h, vec![255, 0, 0, 0, 0, 255, 255, 255, 255]);
    }
}
