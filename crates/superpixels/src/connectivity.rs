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

/// Relabels `labels` (`width × height`, row-major, every label below `u32::MAX`) into connected
/// segments. Returns the new labels and their count.
///
/// The result is the search's (module header), computed mostly without it: the connected
/// components are found first, from runs of equal labels joined across rows (union-find), and a
/// component of at least `min_size` and fewer than `max_size` pixels is what the search would
/// reach from its first pixel, so it is relabelled whole. Components the search could leave
/// unfinished or merge into a neighbour run the search itself, pixel by pixel, at the same point
/// of the scan.
pub(crate) fn enforce(
    labels: &[u32],
    width: usize,
    height: usize,
    min_size: usize,
    max_size: usize,
) -> (Vec<u32>, usize) {
    debug_assert_eq!(labels.len(), width * height);
    let mut image = Framed::new(labels, width, height);
    let runs = Runs::new(labels, width);
    let stride = image.stride;
    let mut next: u32 = 0;
    // Per component (indexed by its first run): whether the scan has reached it, and whether a
    // search stopped at `max_size` in it (then its other pixels are searched one by one).
    let (mut reached, mut unfinished) = (vec![false; runs.len()], vec![false; runs.len()]);
    for (r, run) in runs.runs.iter().enumerate() {
        let first = (run.y + 1) * stride + run.x + 1;
        let root = runs.root[r] as usize;
        if !reached[root] {
            reached[root] = true;
            let size = runs.size[root];
            if (min_size..max_size).contains(&size) {
                let mut c = root;
                while c != NONE {
                    let run = &runs.runs[c];
                    let at = (run.y + 1) * stride + run.x + 1;
                    image.px[at..at + run.len].iter_mut().for_each(|p| p[1] = next);
                    c = runs.next[c] as usize;
                }
                next += 1;
                continue;
            }
            next = image.search(first, next, min_size, max_size);
            unfinished[root] = size >= max_size;
        }
        if unfinished[root] {
            for start in first..first + run.len {
                if image.px[start][1] == UNSET {
                    next = image.search(start, next, min_size, max_size);
                }
            }
        }
    }
    let out: Vec<u32> = image
        .px
        .chunks_exact(stride)
        .skip(1)
        .take(height)
        .flat_map(|row| row[1..=width].iter().map(|p| p[1]))
        .collect();
    // `next` is one past the largest label, except when the last component was small and had no
    // relabelled neighbour (only possible for the very first one): then it kept `next` itself.
    let count = out.iter().max().map_or(0, |&m| m as usize + 1);
    (out, count)
}

/// A new label not yet given.
const UNSET: u32 = u32::MAX;

/// "No run" in [`Runs`]' links.
const NONE: usize = u32::MAX as usize;

/// The label image framed by one pixel of label `u32::MAX` on every side, which no search enters
/// or counts as adjacent, so that neighbours need no bounds checks.
struct Framed {
    /// `[label, new label]` per framed pixel, row-major.
    px: Vec<[u32; 2]>,
    /// `width + 2`.
    stride: usize,
    /// The search's reusable queue.
    queue: Vec<usize>,
}

impl Framed {
    fn new(labels: &[u32], width: usize, height: usize) -> Self {
        let stride = width + 2;
        let mut px = vec![[u32::MAX, UNSET]; stride * (height + 2)];
        for (row, src) in px.chunks_exact_mut(stride).skip(1).zip(labels.chunks_exact(width)) {
            for (p, &label) in row[1..=width].iter_mut().zip(src) {
                debug_assert_ne!(label, u32::MAX);
                p[0] = label;
            }
        }
        Framed { px, stride, queue: Vec::new() }
    }

    /// The breadth-first search from `start` (module header), giving its pixels label `next` or
    /// joining them to their last met neighbour. Returns the next unused label.
    fn search(&mut self, start: usize, next: u32, min_size: usize, max_size: usize) -> u32 {
        // Right, left, down, up (scikit-image's order).
        let steps = [1, 1usize.wrapping_neg(), self.stride, self.stride.wrapping_neg()];
        let (px, queue) = (&mut self.px, &mut self.queue);
        let label = px[start][0];
        let mut adjacent = next;
        px[start][1] = next;
        queue.clear();
        queue.push(start);
        let mut visited = 0;
        'search: while visited < queue.len() && queue.len() < max_size {
            let p = queue[visited];
            for step in steps {
                let q = p.wrapping_add(step);
                let [l, out] = px[q];
                if l == label && out == UNSET {
                    px[q][1] = next;
                    queue.push(q);
                    if queue.len() >= max_size {
                        break 'search;
                    }
                } else if out != UNSET && out != next {
                    adjacent = out;
                }
            }
            visited += 1;
        }
        if queue.len() < min_size {
            queue.iter().for_each(|&p| px[p][1] = adjacent);
            next
        } else {
            next + 1
        }
    }
}

/// One run: `len` pixels of one label from `(x, y)` rightwards.
struct Run {
    y: usize,
    x: usize,
    len: usize,
    label: u32,
}

/// The maximal runs of equal labels in scan order, and their 4-connected components.
struct Runs {
    runs: Vec<Run>,
    /// Per run: the first run of its component.
    root: Vec<u32>,
    /// Per run: the next run of its component, or [`NONE`].
    next: Vec<u32>,
    /// Per component's first run: its pixel count.
    size: Vec<usize>,
}

impl Runs {
    fn new(labels: &[u32], width: usize) -> Self {
        let mut runs = Vec::new();
        let mut rows = vec![0];
        for (y, row) in labels.chunks_exact(width).enumerate() {
            let mut x = 0;
            while x < width {
                let label = row[x];
                let len = row[x..].iter().position(|&l| l != label).unwrap_or(width - x);
                runs.push(Run { y, x, len, label });
                x += len;
            }
            rows.push(runs.len());
        }
        // Union-find whose roots are the smallest run index: the component's first run.
        let mut root: Vec<u32> = (0..runs.len() as u32).collect();
        fn find(root: &mut [u32], mut r: usize) -> usize {
            while root[r] as usize != r {
                root[r] = root[root[r] as usize];
                r = root[r] as usize;
            }
            r
        }
        for pair in rows.windows(3) {
            let (mut i, mut j) = (pair[0], pair[1]);
            // Runs of two consecutive rows that overlap and share a label are connected. Both rows
            // partition the columns, so stepping past whichever run ends first visits exactly the
            // overlapping pairs.
            while i < pair[1] && j < pair[2] {
                let (above, below) = (&runs[i], &runs[j]);
                if above.label == below.label {
                    let (a, b) = (find(&mut root, i), find(&mut root, j));
                    root[a.max(b)] = a.min(b) as u32;
                }
                let (end_above, end_below) = (above.x + above.len, below.x + below.len);
                i += usize::from(end_above <= end_below);
                j += usize::from(end_below <= end_above);
            }
        }
        let mut size = vec![0; runs.len()];
        let (mut next, mut last) = (vec![u32::MAX; runs.len()], vec![u32::MAX; runs.len()]);
        for r in 0..runs.len() {
            let c = find(&mut root, r);
            root[r] = c as u32;
            size[c] += runs[r].len;
            if last[c] != u32::MAX {
                next[last[c] as usize] = r as u32;
            }
            last[c] = r as u32;
        }
        Runs { runs, root, next, size }
    }

    fn len(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::enforce;

    /// The search run from every pixel in scan order (module header), as scikit-image runs it.
    fn reference(labels: &[u32], width: usize, height: usize, min_size: usize, max_size: usize) -> (Vec<u32>, usize) {
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

    /// [`enforce`] gives [`reference`]'s result on random label maps of few labels (many small
    /// components) and of blocks (large ones), with sizes that make the search stop early.
    #[test]
    fn matches_the_plain_search() {
        let mut seed = 7u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..3000usize {
            let (width, height) = (1 + case % 13 * (1 + case % 3), 1 + case / 13 % 11 * (1 + case % 4));
            let (labels_count, block) = (1 + next() % 5, 1 + (next() % 6) as usize);
            let labels: Vec<u32> = (0..width * height)
                .map(|p| {
                    let (x, y) = (p % width / block, p / width / block);
                    match next() % 5 {
                        0 => (next() % labels_count) as u32,
                        _ => ((x * 7 + y * 3) as u64 % labels_count) as u32,
                    }
                })
                .collect();
            let (min_size, max_size) = ((next() % 6) as usize, 1 + (next() % 40) as usize);
            assert_eq!(
                enforce(&labels, width, height, min_size, max_size),
                reference(&labels, width, height, min_size, max_size),
                "case {case}: {width}x{height}, sizes {min_size}..{max_size}"
            );
        }
    }

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
