//! SLIC's connectivity enforcement (Achanta et al., TPAMI 2012, §3: "enforcing connectivity"),
//! as scikit-image's `_enforce_label_connectivity_cython` (`skimage/segmentation/_slic.pyx`)
//! does it for a 2-d image with `start_label=0`.
//!
//! Pixels are visited in scan order; each pixel not yet relabelled starts a breadth-first search
//! (4-neighbours, in the order right, left, down, up) over the pixels of its k-means label, which
//! gets the next new label. The search stops early at `max_size` pixels (scikit-image's buffer
//! size; the rest of such a component starts a new label later). A component smaller than
//! `min_size` instead joins `adjacent`: the last already-relabelled neighbouring component the
//! search met. New labels therefore appear in order of first occurrence in scan order and run
//! `0..count` without gaps.

/// Relabels `labels` (`width × height`, row-major) into connected segments. Returns the new labels
/// and their count.
pub(crate) fn enforce(
    labels: &[u32],
    width: usize,
    height: usize,
    min_size: usize,
    max_size: usize,
) -> (Vec<u32>, usize) {
    const UNSET: u32 = u32::MAX;
    let n = labels.len();
    debug_assert_eq!(n, width * height);
    let mut out = vec![UNSET; n];
    // (pixel, column) pairs, so that the search needs no division.
    let mut queue: Vec<(usize, usize)> = Vec::with_capacity(max_size);
    let mut next: u32 = 0;
    for start in 0..n {
        if out[start] != UNSET {
            continue;
        }
        let label = labels[start];
        let mut adjacent = next;
        out[start] = next;
        queue.clear();
        queue.push((start, start % width));
        let mut visited = 0;
        'search: while visited < queue.len() && queue.len() < max_size {
            let (p, x) = queue[visited];
            // Right, left, down, up (scikit-image's order); `usize::MAX` marks "outside".
            let neighbours = [
                if x + 1 < width { (p + 1, x + 1) } else { (usize::MAX, 0) },
                if x > 0 { (p - 1, x - 1) } else { (usize::MAX, 0) },
                if p + width < n { (p + width, x) } else { (usize::MAX, 0) },
                if p >= width { (p - width, x) } else { (usize::MAX, 0) },
            ];
            for (q, qx) in neighbours.into_iter().filter(|&(q, _)| q != usize::MAX) {
                if labels[q] == label && out[q] == UNSET {
                    out[q] = next;
                    queue.push((q, qx));
                    if queue.len() >= max_size {
                        break 'search;
                    }
                } else if out[q] != UNSET && out[q] != next {
                    adjacent = out[q];
                }
            }
            visited += 1;
        }
        if queue.len() < min_size {
            queue.iter().for_each(|&(p, _)| out[p] = adjacent);
        } else {
            next += 1;
        }
    }
    // `next` is one past the largest label, except when the last component was small and had no
    // relabelled neighbour (only possible for the very first one): then it kept `next` itself.
    let count = out.iter().max().map_or(0, |&m| m as usize + 1);
    (out, count)
}

#[cfg(test)]
mod tests {
    use super::enforce;

    #[test]
    fn splits_disconnected_labels_in_scan_order() {
        // Label 7 appears in two separate places; each becomes its own segment.
        let labels = [7, 7, 3, 7, 7, 7, 3, 7, 3, 3, 3, 3];
        let (out, count) = enforce(&labels, 4, 3, 0, 100);
        assert_eq!(out, [0, 0, 1, 2, 0, 0, 1, 2, 1, 1, 1, 1]);
        assert_eq!(count, 3);
    }

    #[test]
    fn small_components_join_the_last_neighbour_met() {
        // The single pixel of label 5 (size 1 < 2) joins the segment it touches.
        let labels = [1, 1, 1, 1, 5, 1, 2, 2, 2];
        let (out, count) = enforce(&labels, 3, 3, 2, 100);
        assert_eq!(out, [0, 0, 0, 0, 0, 0, 1, 1, 1]);
        assert_eq!(count, 2);
    }

    #[test]
    fn search_stops_at_max_size() {
        // One label, 6 pixels, max_size 4: the search claims 4 pixels, the rest starts anew.
        let (out, count) = enforce(&[0; 6], 6, 1, 0, 4);
        assert_eq!(out, [0, 0, 0, 0, 1, 1]);
        assert_eq!(count, 2);
    }
}
