"""The EM reference implementation's two stages, timed (run by tools/research/bench-em-reference.sh).

Imports the public reference of Huang et al. (ICLR 2021), https://github.com/HanxunH/Unlearnable-Examples,
from a checkout outside this project (--ref; none of its code is in salm): its CIFAR ResNet-18
(`models.ResNet.ResNet18`) and its `toolbox.PerturbationTool.min_min_attack`, the sample-wise
min-min noise of its perturbation.py. One outer iteration as that script runs it: TRAIN_STEPS SGD
steps of the model on x + noise (lr 0.1, momentum 0.9, weight decay 5e-4, its train mode), then
PGD_STEPS min-min steps on every batch of the data (its eval mode). Prints one JSON line:
train_images_per_second and noise_images_per_second (image x PGD steps per second), as salm's
report names them.
"""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", required=True, help="checkout of HanxunH/Unlearnable-Examples")
    ap.add_argument("--data", required=True, help=".npz with x (uint8 N,H,W,C) and y (int64 N)")
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--pgd-steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epsilon", type=float, default=8)
    ap.add_argument("--step-size", type=float, default=0.8)
    a = ap.parse_args()
    sys.path.insert(0, a.ref)
    import numpy as np
    import torch
    import importlib.util
    # The reference's own files; models/ResNet.py loaded by path, since its package's __init__
    # imports the training stack (mlconfig, ...) that the two stages do not need.
    spec = importlib.util.spec_from_file_location("em_ref_resnet", f"{a.ref}/models/ResNet.py")
    resnet = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(resnet)
    ResNet18 = resnet.ResNet18
    from toolbox import PerturbationTool

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    d = np.load(a.data)
    x = torch.from_numpy(d["x"]).permute(0, 3, 1, 2).float().div(255)
    y = torch.from_numpy(d["y"]).long()
    if x.size(1) != 3:
        sys.exit("em_reference_bench: the reference's ResNet-18 takes 3-channel images")
    classes = int(y.max()) + 1
    model = ResNet18(num_classes=classes)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    tool = PerturbationTool(epsilon=a.epsilon / 255, num_steps=a.pgd_steps, step_size=a.step_size / 255)
    noise = tool.random_noise(noise_shape=list(x.shape))
    n = x.size(0)

    # Train stage (perturbation.py's sample_wise_perturbation: model.train(), x + noise, as it adds them).
    model.train()
    for p in model.parameters():
        p.requires_grad = True
    t0 = time.perf_counter()
    seen = 0
    for j in range(a.train_steps):
        b = (j * a.batch) % n
        idx = torch.arange(b, b + a.batch) % n
        images = x[idx] + noise[idx]
        optimizer.zero_grad()
        loss = criterion(model(images), y[idx])
        loss.backward()
        optimizer.step()
        seen += len(idx)
    train_s = time.perf_counter() - t0

    # Noise stage: min_min_attack on every batch, model in eval mode with frozen parameters (as the reference).
    model.eval()
    for p in model.parameters():
        p.requires_grad = False
    t0 = time.perf_counter()
    for b in range(0, n, a.batch):
        images, labels = x[b:b + a.batch], y[b:b + a.batch]
        _, eta = tool.min_min_attack(images, labels, model, optimizer, criterion, random_noise=noise[b:b + a.batch])
        noise[b:b + a.batch] = eta
    noise_s = time.perf_counter() - t0
    print(json.dumps({"train_images_per_second": seen / train_s, "noise_images_per_second": n * a.pgd_steps / noise_s,
                      "train_seconds": train_s, "noise_seconds": noise_s, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
