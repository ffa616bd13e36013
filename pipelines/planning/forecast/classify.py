"""Syntetos-Boylan demand classes from the observed days of each series.

ADI = observed days / days with demand (the average interval between demands, in days);
CV^2 = (standard deviation / mean)^2 of the non-zero demand sizes (population variance).
smooth: ADI < 1.32 and CV^2 < 0.49; erratic: ADI < 1.32, CV^2 >= 0.49; intermittent: ADI >= 1.32,
CV^2 < 0.49; lumpy: ADI >= 1.32 and CV^2 >= 0.49. A series without any demand is
'intermittent' with ADI and CV^2 NaN (there is no interval or size to measure).
"""

from __future__ import annotations

import numpy as np

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
CLASSES = ("smooth", "erratic", "intermittent", "lumpy")


def classify(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(days, series) matrix with NaN for unobserved days -> (class codes 0..3, adi, cv2)."""
    observed = ~np.isnan(values)
    positive = observed & (values > 0)
    n_obs = observed.sum(axis=0)
    n_pos = positive.sum(axis=0)
    sizes = np.where(positive, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        adi = np.where(n_pos > 0, n_obs / np.maximum(n_pos, 1), np.nan)
        mean = sizes.sum(axis=0) / np.maximum(n_pos, 1)
        var = np.where(positive, (values - mean) ** 2, 0.0).sum(axis=0) / np.maximum(n_pos, 1)
        cv2 = np.where(n_pos > 0, var / np.where(mean > 0, mean, 1.0) ** 2, np.nan)
    sparse = ~(adi < ADI_CUTOFF)  # NaN ADI (no demand) counts as sparse
    variable = cv2 >= CV2_CUTOFF
    code = np.where(sparse, np.where(variable, 3, 2), np.where(variable, 1, 0))
    return code.astype(np.int8), adi, cv2
