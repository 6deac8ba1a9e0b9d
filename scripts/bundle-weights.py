"""Make the bundled default weights: torchvision's MobileNetV2 IMAGENET1K_V1 as safetensors.

    python scripts/bundle-weights.py ../shared/models/mobilenet_v2-b0353104.pth \
        assets/mobilenet_v2_imagenet1k_v1.safetensors [float32|float16]

Integer buffers (num_batches_tracked) are dropped since eval-mode outputs do not use them.
float32 is what ships: float16 halves the file (7 MB) but moves MobileNetV2's logits on val-1300
by up to 0.078 (measured in PyTorch itself on the first 64 images: 0.0 with float32 weights,
0.0776 with float16, 0.0507 with only the conv/linear weights in float16), over issue #2's 0.05.
"""
import json, struct, sys
import torch


def save_file(tensors, path, metadata):
    """The safetensors layout: u64 header length, JSON header, then the raw little-endian data."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        data = t.numpy().tobytes()
        header[name] = {"dtype": {torch.float16: "F16", torch.float32: "F32"}[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data); offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head))); f.write(head)
        for b in blobs:
            f.write(b)

src, dst = sys.argv[1], sys.argv[2]
dtype = {"float32": torch.float32, "float16": torch.float16}[sys.argv[3] if len(sys.argv) > 3 else "float32"]
sd = torch.load(src, map_location="cpu", weights_only=True)
out = {k: v.to(dtype).contiguous() for k, v in sd.items() if v.is_floating_point()}
save_file(out, dst, metadata={"source": f"torchvision mobilenet_v2-b0353104.pth (IMAGENET1K_V1), {dtype}"})
print(f"{len(out)} tensors -> {dst}")
