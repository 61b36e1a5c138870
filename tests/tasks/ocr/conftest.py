"""Shared helpers of the OCR tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture
def one_thread():
    """One intra-op thread: deterministic sums, and no oversubscription of the shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def dumbbell():
    """Two 20 x 20 squares joined by a 4-pixel bar, (12, 2) float32: shrinking it by 3 or more cuts the bar,
    leaving two pieces."""
    points = [[0, 0], [20, 0], [20, 8], [40, 8], [40, 0], [60, 0], [60, 20], [40, 20], [40, 12], [20, 12]]
    return np.array([*points, [20, 20], [0, 20]], dtype=np.float32)


@pytest.fixture
def overfit_words():
    """``overfit(model, inputs, samples, words, make_samples, iterations)``: Adam 3e-3 on one batch of rendered
    words, predicting every 25 iterations; the last predictions and their word accuracy."""

    def overfit(model, inputs, samples, words, make_samples, iterations):
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        accuracy, predictions = 0.0, []
        for iteration in range(iterations):
            model.train()
            loss = sum(value.mean() for value in model.loss(inputs, samples).values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if iteration % 25 == 24:
                model.eval()
                with torch.no_grad():
                    predictions = model.predict(inputs, make_samples(count=len(words)))
                accuracy = float(np.mean([p.pred_text.item == w for p, w in zip(predictions, words)]))
                if accuracy == 1.0:
                    break
        return predictions, accuracy

    return overfit
