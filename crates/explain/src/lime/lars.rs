//! The lasso regularisation path by Least Angle Regression with the lasso modification.
//!
//! Efron, Hastie, Johnstone, Tibshirani, "Least Angle Regression", Annals of Statistics 2004.
//! Follows scikit-learn's `lars_path(X, y, method="lasso")` (what lime's `lasso_path` feature
//! selection calls): start from β = 0, add the feature most correlated with the residual, move
//! along the equiangular direction until another feature ties (it joins) or an active
//! coefficient crosses zero (it leaves), and record β at every such breakpoint.

/// scikit-learn's tolerances (`np.finfo(np.float32).tiny` and `.eps`).
const TINY: f64 = f32::MIN_POSITIVE as f64;
const EQ_TOL: f64 = f32::EPSILON as f64;
const MAX_ITER: usize = 500;

/// β at every breakpoint of the lasso path of `y` (`n`) on `x` (`n × p`, row-major), starting
/// with the all-zero vector. The data should be centred (lime centres and weights it first).
pub fn lasso_path(x: &[f64], p: usize, y: &[f64]) -> Vec<Vec<f64>> {
    let n = y.len();
    assert_eq!(x.len(), n * p, "x must be n × p");
    let col = |j: usize| (0..n).map(move |i| x[i * p + j]);
    let mut coef = vec![0.0; p];
    let mut path = vec![coef.clone()];
    let mut active: Vec<usize> = Vec::new();
    let mut signs: Vec<f64> = Vec::new();
    let mut dropped = false;
    let mut prev_alpha = f64::INFINITY;
    for _ in 0..MAX_ITER {
        // Correlations with the current residual, recomputed (not updated) for stability.
        let residual: Vec<f64> = (0..n).map(|i| y[i] - (0..p).map(|j| x[i * p + j] * coef[j]).sum::<f64>()).collect();
        let corr: Vec<f64> = (0..p).map(|j| col(j).zip(&residual).map(|(a, r)| a * r).sum()).collect();
        let inactive: Vec<usize> = (0..p).filter(|j| !active.contains(j)).collect();
        let (best, c_max) =
            inactive
                .iter()
                .map(|&j| (j, corr[j].abs()))
                .fold((usize::MAX, 0.0), |acc, (j, c)| if c > acc.1 { (j, c) } else { acc });
        let alpha = c_max / n as f64;
        if alpha <= EQ_TOL || active.len() >= p {
            break;
        }
        if !dropped {
            active.push(best);
            signs.push(corr[best].signum());
        }
        if alpha > prev_alpha {
            break; // the residues are small: scikit-learn stops the lasso path here too
        }
        prev_alpha = alpha;

        // Equiangular direction: w = AA · G_A⁻¹ s_A, u = X_A w.
        let k = active.len();
        let mut g = vec![0.0; k * k];
        for (a, &ja) in active.iter().enumerate() {
            for (b, &jb) in active.iter().enumerate() {
                g[a * k + b] = col(ja).zip(col(jb)).map(|(u, v)| u * v).sum();
            }
        }
        let mut w = super::gram::solve_spd(&g, &signs, k);
        let aa = 1.0 / w.iter().zip(&signs).map(|(a, s)| a * s).sum::<f64>().max(TINY).sqrt();
        w.iter_mut().for_each(|v| *v *= aa);
        let u: Vec<f64> = (0..n).map(|i| active.iter().zip(&w).map(|(&j, wj)| x[i * p + j] * wj).sum()).collect();

        // Step: until an inactive feature ties, or to the least-squares fit when none is left.
        let mut gamma = c_max / aa;
        for &j in inactive.iter().filter(|&&j| dropped || j != best) {
            let a_j: f64 = col(j).zip(&u).map(|(v, ui)| v * ui).sum();
            for cand in [(c_max - corr[j]) / (aa - a_j + TINY), (c_max + corr[j]) / (aa + a_j + TINY)] {
                if cand > 0.0 && cand < gamma {
                    gamma = cand;
                }
            }
        }
        // Lasso modification: an active coefficient reaching zero leaves the set.
        let z: Vec<f64> = active.iter().zip(&w).map(|(&j, wj)| -coef[j] / (wj + TINY)).collect();
        let z_pos = z.iter().copied().filter(|&v| v > 0.0).fold(f64::INFINITY, f64::min);
        dropped = z_pos < gamma;
        if dropped {
            gamma = z_pos;
        }
        for (&j, wj) in active.iter().zip(&w) {
            coef[j] += gamma * wj;
        }
        if dropped {
            let leave: Vec<usize> = (0..k).filter(|&a| z[a] == z_pos).collect();
            for &a in leave.iter().rev() {
                coef[active[a]] = 0.0;
                active.remove(a);
                signs.remove(a);
            }
        }
        path.push(coef.clone());
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_at_least_squares_and_adds_the_strongest_first() {
        // y = 3 x0 + 0.5 x1 on centred, nearly orthogonal columns.
        let x = [1.0, 0.2, -1.0, 0.1, 1.0, -0.3, -1.0, 0.0];
        let y: Vec<f64> = x.chunks(2).map(|r| 3.0 * r[0] + 0.5 * r[1]).collect();
        let path = lasso_path(&x, 2, &y);
        assert_eq!(path[0], vec![0.0, 0.0]);
        assert!(path[1][0] != 0.0 && path[1][1] == 0.0, "x0 enters first: {path:?}");
        let last = path.last().unwrap();
        assert!((last[0] - 3.0).abs() < 1e-9 && (last[1] - 0.5).abs() < 1e-9, "{path:?}");
    }
}
