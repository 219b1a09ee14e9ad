"""Hidden probes for a5_evaluation (run inside the sandbox, on the student's namespace).

held_out_predictions trains the student's classifier on the students' MNIST rows and returns its
predictions for the held-out images: only those images enter the sandbox, never their labels; the
judge computes the accuracy outside. As in the public probes, the student's code runs inside the
simulated accelerator with no CUDA and hard-coded 'cuda'/'mps' sent to the CPU, so a hard-coded
device costs only the device checks.
"""

import time

import numpy as np
import torch

from tensorgrade.checking.inside.probing import describe_value, need


def _as_images(pixels):
    """uint8 rows -> the float32 (N, 784) images in [0, 1] the course feeds its models."""
    return torch.tensor(np.asarray(pixels), dtype=torch.float32).reshape(len(pixels), -1).div_(255)


def _cpu_only():
    from tensorgrade.checking.inside.devicesim import SimulatedAccelerator

    return SimulatedAccelerator.install(name="gpu", cuda_available=True).active(cuda_available=False,
                                                                                 hardcoded_to="cpu")


def held_out_predictions(ns, inputs):
    train_classifier = need(ns, "train_classifier")
    dataset = torch.utils.data.TensorDataset(_as_images(inputs["train_pixels"]),
                                             torch.tensor(np.asarray(inputs["train_labels"]), dtype=torch.int64))
    loader = torch.utils.data.DataLoader(dataset, batch_size=int(inputs["batch_size"]), shuffle=True)
    started = time.perf_counter()
    with _cpu_only():
        model = train_classifier(loader, torch.device("cpu"))
    seconds = time.perf_counter() - started
    if not isinstance(model, torch.nn.Module):
        return {"kind": describe_value(model), "predictions": None, "seconds": seconds}
    images = _as_images(inputs["images"])
    model.eval()
    with _cpu_only(), torch.no_grad():
        logits = torch.cat([model(part) for part in torch.split(images, 250)])
    return {"kind": describe_value(model), "logits": describe_value(logits), "seconds": seconds,
            "predictions": logits.argmax(dim=1).to(torch.int64).cpu().numpy()}
