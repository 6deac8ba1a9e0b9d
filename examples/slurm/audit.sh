#!/bin/bash
# audit.sh — a whole-ImageNet audit as Slurm array jobs, driven from the login node: each stage is
# one array job of N shards (sbatch --wait), then one merge. RUN must be on a filesystem every
# node shares, with POSIX locks (Lustre, GPFS, NFSv4). Every setting below can be given in the
# environment, e.g. on a CPU partition: DEVICE=cpu GPU= bash audit.sh (paths without spaces: the
# job commands are one --wrap string each).
set -euo pipefail
RUN=${RUN:-/scratch/$USER/runs/resnet50}; SH=$RUN-shards; N=${N:-32}
IMAGES=${IMAGES:-/data/imagenet/val}; LABELS=${LABELS:-val_labels.csv}
MODEL=${MODEL---arch resnet50 --weights resnet50-11ad3fa6.pth}
DEVICE=${DEVICE:-cuda}; GPU=${GPU---gres=gpu:1}
EXPLAIN=${EXPLAIN:---misclassified --preset paper}; CRITICIZE=${CRITICIZE:---method mmd}
shards() { # shards NAME "rectify … @I …": N array tasks, @I = the task's index; waits for all
  sbatch --wait --array=0-$((N-1)) $GPU --job-name=rectify-$1 --wrap "${2//@I/\$SLURM_ARRAY_TASK_ID}"
}
shards eval "rectify eval --images $IMAGES --labels $LABELS $MODEL --device $DEVICE --save-features \
  --shard @I/$N --out $SH/eval-@I"
rectify merge --out "$RUN" "$SH"/eval-*
shards attack "rectify attack --run $RUN --save-images --device $DEVICE --shard @I/$N --out $SH/attack-@I"
rectify merge --into "$RUN" "$SH"/attack-*
shards explain "rectify explain --run $RUN $EXPLAIN --device $DEVICE --shard @I/$N --out $SH/explain-@I"
rectify merge --into "$RUN" "$SH"/explain-*
shards criticize "rectify criticize --run $RUN $CRITICIZE --shard @I/$N --out $SH/criticize-@I"
rectify merge --into "$RUN" "$SH"/criticize-*
rectify report --run "$RUN"
