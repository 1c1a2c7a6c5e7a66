"""The demo's figure: data per instrument with the GP + Keplerian prediction and its band, the
residuals, and the phase-folded orbit."""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from diffkern.cli.demo._data import RVData
from diffkern.cli.demo._model import Params, Priors, keplerian, physical, predict

__all__ = ["plot"]


def plot(params: Params, priors: Priors, data: RVData, path: Path, *, grid: int = 1500) -> Path:
    """Save the figure to ``path``, titled with the star's name: top, velocities minus offsets
    with the prediction (GP mean + Keplerian) and its 1-sigma GP credible band; middle, the
    residuals (data minus offsets, Keplerian and GP mean) with their rms; bottom, data minus
    offsets and GP mean, folded on the orbital period, with the Keplerian. Error bars add each
    instrument's jitter in quadrature."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray(data.t)
    t_grid = jnp.linspace(t.min() - 1, t.max() + 1, grid, dtype=data.t.dtype)
    kep, gp_mean, gp_sd = eqx.filter_jit(predict)(params, priors, data, t_grid)
    kep_at_data, gp_at_data, _ = eqx.filter_jit(predict)(params, priors, data, data.t)
    rv = np.asarray(data.rv - params.offset[data.inst])
    err = np.hypot(np.asarray(data.err), np.abs(np.asarray(params.jitter))[np.asarray(data.inst)])
    model = np.asarray(kep + gp_mean)

    fig, (top, middle, bottom) = plt.subplots(
        3, 1, figsize=(10, 10), gridspec_kw={"height_ratios": [3, 1.3, 3]}
    )
    top.plot(t_grid, model, color="k", lw=0.5, label="GP + Keplerian")
    top.fill_between(t_grid, model - np.asarray(gp_sd), model + np.asarray(gp_sd),
                     color="C7", alpha=0.4, label="GP 1-sigma band")  # fmt: skip
    quantities = physical(params, priors, data)
    period, tc = float(quantities["P [d]"]), float(quantities["Tc [BJD]"]) - data.epoch
    phase = ((t - tc) / period + 0.5) % 1.0 - 0.5
    residual = rv - np.asarray(gp_at_data)
    final = residual - np.asarray(kep_at_data)
    inst = np.asarray(data.inst)
    for i, name in enumerate(data.instruments):
        sel = inst == i
        style = {"fmt": "o", "ms": 3, "color": f"C{i}", "label": name}
        top.errorbar(t[sel], rv[sel], err[sel], **style)
        middle.errorbar(t[sel], final[sel], err[sel], **style)
        bottom.errorbar(phase[sel], residual[sel], err[sel], **style)
    middle.axhline(0.0, color="k", lw=0.5)
    folded = jnp.linspace(-0.5, 0.5, 200, dtype=data.t.dtype)
    bottom.plot(folded, keplerian(params, priors, data, tc + folded * period), color="k",
                label=f"K = {float(quantities['K [m/s]']):.2f} m/s")  # fmt: skip
    top.set(xlabel=f"BJD - {data.epoch:.0f}", ylabel="RV - offset [m/s]")
    rms = f"rms {np.sqrt(np.mean(final**2)):.2f} m/s"
    middle.set(xlabel=f"BJD - {data.epoch:.0f}", ylabel="residual [m/s]",
               title=f"data - (offset + Keplerian + GP mean): {rms}")  # fmt: skip
    bottom.set(xlabel=f"orbital phase (P = {period:.7f} d)", ylabel="RV - offset - GP [m/s]")
    fig.suptitle(data.name)
    for ax in (top, middle, bottom):
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
