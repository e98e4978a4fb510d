from __future__ import annotations

import numpy as np

from gailrun.rollout.normalize import ObsNormalizer, RunningMeanStd
from gailrun.run.evaluate import episode_quotas


def test_running_mean_std_matches_numpy_over_batches():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 3))
    rms = RunningMeanStd((3,), epsilon=0.0)
    rms.count = 0.0
    for chunk in np.array_split(data, 17):
        rms.update(chunk)
    np.testing.assert_allclose(rms.mean, data.mean(0))
    np.testing.assert_allclose(rms.var, data.var(0))


def test_obs_normalizer_clips_and_freezes():
    norm = ObsNormalizer(2, enabled=True, clip=3.0)
    norm.update(np.array([[0.0, 0.0], [2.0, 2.0]]))
    z = norm(np.array([[100.0, 1.0]], dtype=np.float32))
    assert z[0, 0] == 3.0 and abs(z[0, 1]) < 1e-3
    norm.training = False
    before = norm.state_dict()
    norm.update(np.array([[50.0, 50.0]]))
    np.testing.assert_array_equal(before["mean"], norm.state_dict()["mean"])


def test_eval_quotas_are_fixed_per_env():
    assert episode_quotas(100, 10).tolist() == [10] * 10
    assert episode_quotas(7, 3).tolist() == [3, 2, 2]
