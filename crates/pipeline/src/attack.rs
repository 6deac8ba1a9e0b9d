//! The attack stage (`rectify attack`): FGSM, iterative FGSM or PGD on the images of an eval run, recording the
//! prediction after every step (issue #3).
//!
//! Writes the trajectories to the store (`attack_results`, `attack_steps`) and to
//! `RUN_DIR/attack/<name>/{trajectory.csv, summary.json}`; with `--save-images`, lossless PNGs of
//! the final adversarial crops and the accuracy of those 8-bit images re-evaluated.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use rectify_attack::{Attack, Batch, Fgsm, Goal, IFgsm, Norm, Pgd, TargetChoice};
use rectify_model::classifier::pixels_from_u8;
use rectify_store::artifacts::layout;
use rectify_store::{AttackRow, AttackStep, ImageRow, Provenance, RunStore};
use tch::{Kind, Tensor};

use crate::attack_outputs::AttackSummary;
use crate::decode;
use crate::progress::Progress;
use crate::shard::{Shard, ShardOut};

/// Parameters that may change when resuming an attack run.
pub const VOLATILE: &[&str] = &["batch_size", "limit", "save_images", "workers"];

/// Which attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// One step.
    Fgsm,
    /// `--steps` steps (the paper's setting: step 0.001, 10 steps).
    Ifgsm,
    /// Iterative FGSM from a random start in the `--eps` ball.
    Pgd,
}

/// How to attack. The eval run's store and model are [`run`]'s other arguments.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct AttackSettings {
    /// Attack method.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "ifgsm"))]
    pub method: Method,
    /// Threat model.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "linf"))]
    pub norm: Norm,
    /// Step size in [0, 1] pixel units.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.001))]
    pub step: f64,
    /// Number of steps (ifgsm, pgd).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 10))]
    pub steps: usize,
    /// Budget: radius of the ball around the clean image (required by pgd; optional for ifgsm).
    #[cfg_attr(feature = "clap", arg(long))]
    pub eps: Option<f64>,
    /// none (untargeted), least-likely, random, or a class index.
    #[cfg_attr(feature = "clap", arg(long, default_value = "none"))]
    pub target: TargetArg,
    /// Seed of random targets and PGD's random start.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Attack only the first N images (in predictions.csv order; before sharding).
    #[cfg_attr(feature = "clap", arg(long))]
    pub limit: Option<usize>,
    /// Save the final adversarial crops as PNG and re-evaluate them as 8-bit images.
    #[cfg_attr(feature = "clap", arg(long))]
    pub save_images: bool,
    /// Images per batch.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 16))]
    pub batch_size: usize,
    /// Name of the attack run (default: from the parameters, e.g. ifgsm-linf-0.001x10).
    #[cfg_attr(feature = "clap", arg(long))]
    pub name: Option<String>,
    /// Threads decoding images.
    #[cfg_attr(feature = "clap", arg(long))]
    pub workers: Option<usize>,
}

impl AttackSettings {
    /// The paper's attack: iterative FGSM, L∞ steps of 0.001, 10 steps, untargeted, the
    /// adversarial images saved, named `ifgsm`.
    pub fn paper() -> Self {
        AttackSettings {
            method: Method::Ifgsm,
            norm: Norm::Linf,
            step: 0.001,
            steps: 10,
            eps: None,
            target: TargetArg::None,
            seed: 0,
            limit: None,
            save_images: true,
            batch_size: 16,
            name: Some("ifgsm".into()),
            workers: None,
        }
    }
}

/// `--target`, before it is resolved per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetArg {
    /// Untargeted.
    None,
    /// The least likely class of the clean image.
    LeastLikely,
    /// A seeded random class other than the label.
    Random,
    /// A fixed class.
    Class(i64),
}

impl std::str::FromStr for TargetArg {
    type Err = String;

    fn from_str(s: &str) -> Result<TargetArg, String> {
        parse_target(s)
    }
}

fn parse_target(s: &str) -> Result<TargetArg, String> {
    match s {
        "none" => Ok(TargetArg::None),
        "least-likely" => Ok(TargetArg::LeastLikely),
        "random" => Ok(TargetArg::Random),
        c => c
            .parse::<i64>()
            .ok()
            .filter(|&c| c >= 0)
            .map(TargetArg::Class)
            .ok_or_else(|| format!("expected none, least-likely, random or a class index, got {c:?}")),
    }
}

impl AttackSettings {
    fn target_choice(&self) -> TargetChoice {
        match self.target {
            TargetArg::None => TargetChoice::None,
            TargetArg::LeastLikely => TargetChoice::LeastLikely,
            TargetArg::Random => TargetChoice::Random { seed: self.seed },
            TargetArg::Class(c) => TargetChoice::Class(c),
        }
    }

    fn default_name(&self) -> String {
        let norm = format!("{:?}", self.norm).to_lowercase();
        let mut name = match self.method {
            Method::Fgsm => format!("fgsm-{norm}-{}", self.step),
            _ => format!("{:?}-{norm}-{}x{}", self.method, self.step, self.steps).to_lowercase(),
        };
        if let Some(e) = self.eps {
            name += &format!("-eps{e}");
        }
        match self.target {
            TargetArg::None => {}
            TargetArg::LeastLikely => name += "-least-likely",
            TargetArg::Random => name += &format!("-random{}", self.seed),
            TargetArg::Class(c) => name += &format!("-to{c}"),
        }
        name
    }

    fn validate(&self, num_classes: i64) -> Result<()> {
        if !(self.step.is_finite() && self.step >= 0.0) {
            bail!("--step must be a finite number ≥ 0");
        }
        if self.batch_size == 0 || (self.method != Method::Fgsm && self.steps == 0) {
            bail!("--batch-size and --steps must be at least 1");
        }
        if let Some(e) = self.eps.filter(|e| !(e.is_finite() && *e >= 0.0)) {
            bail!("--eps {e}: must be a finite number ≥ 0");
        }
        match (self.method, self.eps) {
            (Method::Pgd, None) => bail!("pgd starts at a random point of the --eps ball: give --eps"),
            (Method::Fgsm, Some(_)) => bail!("fgsm takes one step of size --step; --eps is for ifgsm and pgd"),
            _ => {}
        }
        if let TargetArg::Class(c) = self.target {
            if c >= num_classes {
                bail!("--target {c} is not a class of a {num_classes}-class model");
            }
        }
        Ok(())
    }

    fn attack(&self) -> Box<dyn Attack> {
        let fgsm = Fgsm { step: self.step, norm: self.norm };
        let ifgsm = IFgsm { fgsm, steps: self.steps, eps: self.eps };
        match self.method {
            Method::Fgsm => Box::new(fgsm),
            Method::Ifgsm => Box::new(ifgsm),
            Method::Pgd => Box::new(Pgd::new(ifgsm, self.seed).expect("validated: pgd has eps")),
        }
    }
}

/// Attacks the labelled images of the eval run in `store` with `model` (the run's own: see
/// [`crate::model::of_run`]); writes the trajectories to the store and to
/// `RUN_DIR/attack/<name>/`. Rerunning resumes: images already attacked are skipped.
pub fn run(
    store: &mut RunStore,
    model: &dyn rectify_model::Classifier,
    args: &AttackSettings,
    progress: &mut dyn Progress,
) -> Result<AttackSummary> {
    let plan = plan(store, model, args, None, progress)?;
    execute(store, plan, model, args, progress)
}

/// Attacks shard `to.shard` of the images [`run`] would attack, reading the run in `parent` and
/// writing into the shard's own directory `to.out` (see [`crate::shard`]).
pub fn run_shard(
    parent: &RunStore,
    to: &ShardOut,
    model: &dyn rectify_model::Classifier,
    args: &AttackSettings,
    progress: &mut dyn Progress,
) -> Result<AttackSummary> {
    let plan = plan(parent, model, args, Some(to.shard), progress)?;
    let mut sink = crate::shard::open(parent, to)?;
    execute(&mut sink, plan, model, args, progress)
}

/// What an attack reads from its eval run.
struct Plan {
    eval_prov: Provenance,
    root: PathBuf,
    /// The images to attack, in predictions.csv order.
    targets: Vec<ImageRow>,
}

fn plan(
    store: &RunStore,
    model: &dyn rectify_model::Classifier,
    args: &AttackSettings,
    shard: Option<Shard>,
    progress: &mut dyn Progress,
) -> Result<Plan> {
    let (eval_run, eval_prov) = store.run("eval", None)?;
    args.validate(model.info().num_classes)?;
    let root = PathBuf::from(eval_prov.params["images"].as_str().context("the eval run recorded no images folder")?);

    // The images the eval run predicted, in predictions.csv order, that have a label.
    let images: HashMap<i64, ImageRow> = store.images()?.into_iter().map(|i| (i.id, i)).collect();
    let predicted: Vec<ImageRow> =
        store.predictions(eval_run, false)?.iter().map(|p| images[&p.image_id].clone()).collect();
    let unlabeled = predicted.iter().filter(|i| i.label.is_none()).count();
    if unlabeled > 0 {
        progress.message(&format!("rectify: warning: {unlabeled} images have no label and are not attacked"));
    }
    let mut targets: Vec<ImageRow> = predicted.into_iter().filter(|i| i.label.is_some()).collect();
    if let Some(limit) = args.limit {
        targets.truncate(limit);
    }
    if let Some(shard) = shard {
        // Whole batches of the unsharded attack, so that every image meets the same kernels.
        targets = targets
            .chunks(args.batch_size.max(1))
            .enumerate()
            .filter(|(k, _)| shard.has_part(*k))
            .flat_map(|(_, batch)| batch.iter().cloned())
            .collect();
    }
    Ok(Plan { eval_prov, root, targets })
}

fn execute(
    store: &mut RunStore,
    plan: Plan,
    model: &dyn rectify_model::Classifier,
    args: &AttackSettings,
    progress: &mut dyn Progress,
) -> Result<AttackSummary> {
    let Plan { eval_prov, root, targets } = plan;
    let name = args.name.clone().unwrap_or_else(|| args.default_name());
    let info = model.info().clone();
    let prov = Provenance::new(
        eval_prov.model.clone(),
        eval_prov.preprocessing.clone(),
        serde_json::json!({
            "method": args.method,
            "norm": args.norm,
            "step": args.step,
            "steps": if args.method == Method::Fgsm { 1 } else { args.steps },
            "eps": args.eps,
            "target": args.target_choice(),
            "space": "[0,1] pixels of the 224x224 crop, normalisation inside the model",
            "loss": "summed cross-entropy of the true label (untargeted) or the target (targeted)",
            "numerics": info.numerics,
            "batch_size": args.batch_size,
            "limit": args.limit,
            "save_images": args.save_images,
            "workers": args.workers,
        }),
    )
    .seed(
        matches!(args.target, TargetArg::Random)
            .then_some(args.seed)
            .or((args.method == Method::Pgd).then_some(args.seed)),
    )
    .device(info.device.clone());
    let run = store.begin_run("attack", &name, &prov, VOLATILE)?;
    let run_dir = store.dir().to_path_buf();
    let out_dir = run_dir.join(layout::attack_dir(&name));
    std::fs::create_dir_all(out_dir.join("images")).with_context(|| format!("creating {}", out_dir.display()))?;
    let done: std::collections::HashSet<i64> = store
        .attacks(run)?
        .into_iter()
        .filter(|r| !args.save_images || r.image.is_some())
        .map(|r| r.image_id)
        .collect();
    let todo: Vec<ImageRow> = targets.iter().filter(|i| !done.contains(&i.id)).cloned().collect();
    progress.message(&format!(
        "rectify: attack {name} on {} images ({} already stored) with {} on {}",
        targets.len(),
        targets.len() - todo.len(),
        info.arch,
        info.device
    ));

    let attack = args.attack();
    let pre = crate::preprocess::of_run(&eval_prov)?;
    progress.begin("attack", todo.len() as u64);
    let mut clock = crate::outputs::BatchClock::start();
    let ctx = BatchContext { model, attack: &*attack, args, run_dir: &run_dir, name: &name, crop: pre.crop as usize };
    decode::for_each_batch(
        &todo,
        &root,
        |i: &ImageRow| i.file.as_str(),
        &pre,
        decode::workers(args.workers),
        args.batch_size,
        |chunk, decoded| {
            let rows = ctx.attack_batch(chunk, decoded, progress)?;
            store.put_attacks(run, &rows)?;
            progress.inc(chunk.len() as u64);
            clock.lap();
            Ok(())
        },
    )?;
    progress.finish();
    let seconds = clock.seconds();
    store.finish_run(run)?;
    let work = (todo.len(), seconds, clock.batches);
    crate::attack_outputs::write(store, run, &prov, &name, &targets, work)
}

/// What every batch of one invocation shares.
struct BatchContext<'a> {
    model: &'a dyn rectify_model::Classifier,
    attack: &'a dyn Attack,
    args: &'a AttackSettings,
    run_dir: &'a std::path::Path,
    name: &'a str,
    crop: usize,
}

impl BatchContext<'_> {
    fn attack_batch(
        &self,
        chunk: &[ImageRow],
        decoded: decode::Decoded,
        progress: &mut dyn Progress,
    ) -> Result<Vec<AttackRow>> {
        let device = self.model.device();
        let mut ok = Vec::new();
        let mut buf = Vec::new();
        for (img, d) in chunk.iter().zip(decoded) {
            match d {
                Ok(px) => {
                    buf.extend_from_slice(&px);
                    ok.push(img);
                }
                Err(msg) => progress.message(&format!("rectify: {}: {msg} (not attacked)", img.file)),
            }
        }
        if ok.is_empty() {
            return Ok(Vec::new());
        }
        let labels: Vec<i64> = ok.iter().map(|i| i.label.expect("labelled images only")).collect();
        let ids: Vec<i64> = ok.iter().map(|i| i.id).collect();
        let batch = Batch {
            pixels: pixels_from_u8(&buf, ok.len(), self.crop, self.crop, device)?,
            labels: Tensor::from_slice(&labels).to_device(device),
            ids,
        };
        let what = format!("the attack of a batch of {} images of {} px", ok.len(), self.crop);
        let (goal, outcome) = rectify_model::guarded(&what, || {
            let goal = match self.args.target_choice() {
                TargetChoice::None => Goal::Untargeted,
                choice => {
                    let clean = tch::no_grad(|| self.model.logits(&batch.pixels));
                    choice.resolve(&clean, &batch.labels, &batch.ids)
                }
            };
            let outcome = self.attack.run(self.model, &batch, &goal);
            (goal, outcome)
        })?;
        let targets: Option<Vec<i64>> =
            goal.targets().map(|t| Vec::try_from(t.to_device(tch::Device::Cpu)).expect("i64"));
        let flips = outcome.trajectory.steps_to_flip(&labels, targets.as_deref());
        let saved = if self.args.save_images { Some(self.save_images(&ok, &outcome.adversarial)?) } else { None };
        let rows = ok
            .iter()
            .enumerate()
            .map(|(i, img)| AttackRow {
                image_id: img.id,
                target: targets.as_ref().map(|t| t[i]),
                steps: outcome
                    .trajectory
                    .steps
                    .iter()
                    .map(|s| AttackStep {
                        top1: s.top1[i],
                        top1_prob: s.top1_prob[i],
                        true_prob: s.true_prob[i],
                        target_prob: s.target_prob.as_ref().map(|p| p[i]),
                    })
                    .collect(),
                steps_to_flip: flips[i].map(|s| s as i64),
                quantized_top1: saved.as_ref().map(|(q, _)| q[i]),
                image: saved.as_ref().map(|(_, p)| p[i].clone()),
            })
            .collect();
        Ok(rows)
    }

    /// Writes the adversarial crops as 8-bit PNGs, re-reads them as the model would, and returns
    /// the predictions on those 8-bit images with the PNGs' paths (relative to the run directory).
    fn save_images(&self, imgs: &[&ImageRow], adversarial: &Tensor) -> Result<(Vec<i64>, Vec<String>)> {
        let u8s = (adversarial * 255.0).round().clamp(0.0, 255.0).to_kind(Kind::Uint8);
        let hwc = u8s.permute([0, 2, 3, 1]).contiguous().to_device(tch::Device::Cpu);
        let bytes: Vec<u8> = Vec::try_from(hwc.flatten(0, -1)).expect("u8 pixels");
        let per = self.crop * self.crop * 3;
        let mut paths = Vec::with_capacity(imgs.len());
        for (i, img) in imgs.iter().enumerate() {
            let rel = layout::adversarial_png(self.name, &img.file);
            let path = self.run_dir.join(&rel);
            let rgb =
                image::RgbImage::from_raw(self.crop as u32, self.crop as u32, bytes[i * per..(i + 1) * per].to_vec())
                    .expect("buffer of crop×crop×3");
            rgb.save(&path).with_context(|| format!("writing {}", path.display()))?;
            paths.push(rel);
        }
        let pixels = pixels_from_u8(&bytes, imgs.len(), self.crop, self.crop, self.model.device())?;
        let top1 = tch::no_grad(|| self.model.logits(&pixels)).argmax(1, false).to_device(tch::Device::Cpu);
        Ok((Vec::try_from(top1).expect("i64 classes"), paths))
    }
}
