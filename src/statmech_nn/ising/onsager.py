"""The infinite 2D Ising lattice (J = k_B = 1): Onsager's critical temperature, energy and
specific heat, and Yang's spontaneous magnetisation (THEORY.md).
"""

import numpy as np
from scipy.special import ellipe, ellipk

T_C = 2.0 / np.log1p(np.sqrt(2.0))  # Onsager's critical temperature 2 / ln(1 + √2)


def _onsager_k(temperature: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    beta = 1.0 / np.asarray(temperature, dtype=np.float64)
    k2 = np.minimum((2.0 * np.sinh(2 * beta) / np.cosh(2 * beta) ** 2) ** 2, 1.0)
    return beta, np.tanh(2 * beta), k2


def onsager_energy(temperature: np.ndarray) -> np.ndarray:
    """Energy per spin of the infinite lattice (Onsager 1944).

    u = −coth(2β) [1 + (2/π)(2 tanh²(2β) − 1) K(k)], k = 2 sinh(2β)/cosh²(2β);
    at T_c the bracket's second term vanishes (its factor is 0, K diverges only
    logarithmically), so u(T_c) = −coth(2β_c).
    """
    beta, t, k2 = _onsager_k(temperature)
    with np.errstate(invalid="ignore"):
        term = np.where(k2 < 1.0, (2 * t**2 - 1) * ellipk(k2), 0.0)
    return -(1 + 2 / np.pi * term) / t


def onsager_specific_heat(temperature: np.ndarray) -> np.ndarray:
    """Specific heat per spin of the infinite lattice, du/dT (diverges at T_c; inf there).

    c = (4/π)(β coth 2β)² {K(k) − E(k) − (1 − tanh² 2β)[π/2 + (2 tanh² 2β − 1) K(k)]}.
    """
    beta, t, k2 = _onsager_k(temperature)
    with np.errstate(divide="ignore", invalid="ignore"):
        big_k, big_e = ellipk(k2), ellipe(k2)
        c = (
            4
            / np.pi
            * (beta / t) ** 2
            * (big_k - big_e - (1 - t**2) * (np.pi / 2 + (2 * t**2 - 1) * big_k))
        )
    return np.where(k2 < 1.0, c, np.inf)


def onsager_magnetisation(temperature: np.ndarray) -> np.ndarray:
    """Spontaneous magnetisation per spin (Yang 1952): (1 − sinh⁻⁴(2β))^{1/8} below T_c, else 0."""
    beta = 1.0 / np.asarray(temperature, dtype=np.float64)
    inner = 1.0 - np.sinh(2 * beta) ** -4.0
    return np.where(inner > 0, np.abs(inner) ** 0.125, 0.0)
