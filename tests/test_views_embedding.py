"""The positional encoding's figures (minigpt.views.embedding)."""
from __future__ import annotations

import numpy as np
import pytest

from minigpt import sinusoidal_table
from minigpt.views import embedding


def test_positional_curves_and_similarity():
    table = sinusoidal_table(16, 32)
    fig = embedding.positional_curves(table, [0, 1, 9])
    dots = [trace for trace in fig.data if trace.mode == "markers"]
    waves = [trace for trace in fig.data if trace.mode == "lines"]
    assert [trace.name for trace in dots] == ["dimension 0 (sin)", "dimension 1 (cos)", "dimension 9 (cos)"]
    for dim, dot, wave in zip([0, 1, 9], dots, waves):
        np.testing.assert_array_equal(dot.y, table[:, dim].numpy())
        # the drawn wave passes through the table's values at every whole position
        np.testing.assert_allclose(np.interp(np.arange(16), wave.x, wave.y), table[:, dim].numpy(), atol=2e-3)
    with pytest.raises(ValueError, match="32"):
        embedding.positional_curves(table, [32])
    sim = np.asarray(embedding.position_similarity(table).data[0].z)
    assert sim.shape == (16, 16)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)
    np.testing.assert_allclose(sim, sim.T, atol=1e-6)
    assert sim[0, 1] > sim[0, 8]  # nearby positions look more alike
