"""Rank rules: VBMF finds a planted rank, energy, rounding to 8, MACs-budget bisection."""

from __future__ import annotations

import pytest
import torch

from compress.lowrank.ranks import (
    energy_rank,
    fraction_for_macs,
    fraction_rank,
    round_rank,
    vbmf_rank,
)


@pytest.mark.parametrize(("rows", "cols", "rank"), [(64, 576, 10), (96, 96, 20), (30, 200, 5)])
def test_vbmf_recovers_a_planted_rank(rows: int, cols: int, rank: int) -> None:
    generator = torch.Generator().manual_seed(0)
    signal = torch.randn(rows, rank, generator=generator) @ torch.randn(
        rank, cols, generator=generator
    )
    noisy = signal + 0.1 * torch.randn(rows, cols, generator=generator)
    assert vbmf_rank(noisy) == rank
    assert vbmf_rank(noisy.t()) == rank


def test_vbmf_of_pure_noise_keeps_almost_nothing() -> None:
    assert vbmf_rank(torch.randn(128, 1152, generator=torch.Generator().manual_seed(0))) <= 2


def test_energy_rank_keeps_the_requested_energy() -> None:
    matrix = torch.diag(torch.tensor([3.0, 2.0, 1.0, 0.5]))  # squared: 9, 4, 1, 0.25
    assert energy_rank(matrix, 0.6) == 1
    assert energy_rank(matrix, 0.9) == 2
    assert energy_rank(matrix, 1.0) == 4


def test_rounding_goes_up_to_multiples_of_eight_within_the_layer() -> None:
    assert round_rank(13, 64, 8) == 16
    assert round_rank(16, 64, 8) == 16
    assert round_rank(3, 5, 8) == 5  # capped at the layer's width
    assert round_rank(13, 64, None) == 13
    assert fraction_rank(64, 0.5) == 32 and fraction_rank(3, 0.01) == 1


def test_budget_bisection_finds_the_largest_fraction_within_budget() -> None:
    def total(fraction: float) -> int:
        return 100 + int(900 * fraction)

    found = fraction_for_macs(total, 550)
    assert found is not None and total(found) <= 550 and total(found + 0.01) > 550
    assert fraction_for_macs(total, 2000) == 1.0
    assert fraction_for_macs(total, 50) is None
