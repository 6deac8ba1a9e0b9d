# Source this file: it points cargo at the pinned PyTorch wheel's libtorch (installing it once if needed).
#   . scripts/env.sh [--dev|--bench]
_rectify_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RECTIFY_TORCH_ENV=$(bash "$_rectify_here/setup.sh" "$@" | tail -n 1) || return 1
export RECTIFY_TORCH_ENV
export VIRTUAL_ENV="$RECTIFY_TORCH_ENV"
export PATH="$RECTIFY_TORCH_ENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
unset _rectify_here
