#!/usr/bin/python3
"""torch_fedavg: a plain PyTorch FedAvg loop, written the way a researcher would, to compare
fedsim's speed with (tools/bench runs it; nothing in fedsim's build or tests needs it).

Reads the Fashion-MNIST IDX files fedsim reads (pixels scaled by 1/255, as fs_idx.c does), splits
the 60,000 training images IID over --clients clients of equal size (a random permutation: the
same shape as fedsim's iid partition, not the same rows), and runs --rounds rounds: each round
--per-round clients drawn without replacement each train their own copy of the global model
(torch.optim.SGD, --epochs passes in shuffled minibatches of --batch), and the server sets the
global model to the average of their state dicts weighted by sample count. Layers have torch's
default initialisation. The test set is evaluated every --eval-every rounds and after the last.

Prints one line: wall=SECONDS accuracy=FINAL_TEST_ACCURACY import=SECONDS threads=N. wall counts
from after `import torch` (data load, training and evaluation included, like fedsim's wall;
import= is what the imports took, left out of wall in torch's favour).

Python standard library and torch only (Debian's python3-torch):
  torch_fedavg.py --model 2nn|lr [--threads N] [--clients 100] [--rounds 20] ...
"""
import time

T_START = time.perf_counter()

import argparse
import copy
import gzip
import os
import random
import struct

import torch
from torch import nn

T_IMPORTED = time.perf_counter()

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """The IDX file at path as a uint8 tensor of its dimensions (gzip or not)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"{path}: expected an IDX file of unsigned bytes")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim :]), dtype=torch.uint8).reshape(dims)


def load(data_dir, split):
    """(images n x 784 float32 in [0, 1], labels n int64) of split 'train' or 't10k'."""
    x = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    return x.reshape(len(x), -1).float() / 255.0, y.long()


def make_model(kind):
    """McMahan et al. 2017's 2NN (784-200-200-10, ReLU) or softmax regression (784-10)."""
    if kind == "2nn":
        return nn.Sequential(
            nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 10)
        )
    return nn.Linear(784, 10)


def local_train(global_model, loader, epochs, lr):
    """A copy of global_model after `epochs` passes of SGD over loader: (state dict, samples)."""
    model = copy.deepcopy(global_model)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
    return model.state_dict(), len(loader.dataset)


def fedavg(states):
    """The average of [(state dict, weight)] weighted by weight."""
    total = sum(n for _, n in states)
    avg = {k: torch.zeros_like(v) for k, v in states[0][0].items()}
    for state, n in states:
        for k, v in state.items():
            avg[k] += v * (n / total)
    return avg


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=["2nn", "lr"], required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--per-round", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train-samples", type=int, default=0, help="the first N images only (0: all)")
    ap.add_argument("--test-samples", type=int, default=0, help="the first N test images (0: all)")
    ap.add_argument("--data", default=DATA, help="directory of the IDX files (fedsim's data.path)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)

    x, y = load(a.data, "train")
    x_test, y_test = load(a.data, "t10k")
    if a.train_samples:
        x, y = x[: a.train_samples], y[: a.train_samples]
    if a.test_samples:
        x_test, y_test = x_test[: a.test_samples], y_test[: a.test_samples]
    per = len(x) // a.clients
    perm = torch.randperm(len(x))
    loaders = [
        torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x[idx], y[idx]), batch_size=a.batch, shuffle=True
        )
        for idx in (perm[c * per : (c + 1) * per] for c in range(a.clients))
    ]
    model = make_model(a.model)
    acc = None
    for r in range(1, a.rounds + 1):
        chosen = random.sample(range(a.clients), a.per_round)
        model.load_state_dict(
            fedavg([local_train(model, loaders[c], a.epochs, a.lr) for c in chosen])
        )
        if r % a.eval_every == 0 or r == a.rounds:
            acc = accuracy(model, x_test, y_test)
    wall = time.perf_counter() - T_IMPORTED
    print(
        f"wall={wall:.3f} accuracy={acc:.4f} import={T_IMPORTED - T_START:.3f} threads={a.threads}"
    )


if __name__ == "__main__":
    main()
