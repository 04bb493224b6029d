"""reduce_range follows the CPU's int8 dot-product support, and the reason is recorded."""

from __future__ import annotations

from compress.quantization.cpu_features import choose_int8_format


def test_avx2_without_vnni_reduces_range() -> None:
    fmt = choose_int8_format(frozenset({"sse4_2", "avx2", "fma"}))
    assert fmt.reduce_range is True
    assert (fmt.weight_bits, fmt.weight_qmax, fmt.to_dict()["weight_bits"]) == (7, 64, 7)
    assert "7-bit" in fmt.reason
    assert "VNNI" in fmt.reason and fmt.cpu_flags == ("avx2",)
    # MLAS's x86 kernels are u8 x s8: unsigned activations avoid a shift per tensor
    assert (fmt.quant_format, fmt.activation_type, fmt.weight_type) == ("QDQ", "uint8", "int8")


def test_non_x86_keeps_signed_activations() -> None:
    fmt = choose_int8_format(frozenset({"neon", "asimd"}))
    assert (fmt.activation_type, fmt.reduce_range) == ("int8", False)


def test_vnni_or_amx_keeps_full_range() -> None:
    for flag in ("avx512_vnni", "avx_vnni", "amx_tile"):
        fmt = choose_int8_format(frozenset({"avx2", "avx512f", flag}))
        assert fmt.reduce_range is False, flag
        assert flag in fmt.reason and "8-bit" in fmt.reason
        assert (fmt.weight_bits, fmt.weight_qmax) == (8, 127)


def test_non_x86_keeps_full_range() -> None:
    assert choose_int8_format(frozenset({"neon", "asimd"})).reduce_range is False


def test_explicit_choice_wins_and_is_marked_forced() -> None:
    fmt = choose_int8_format(frozenset({"avx2"}), reduce_range=False)
    assert fmt.reduce_range is False and fmt.forced and fmt.weight_bits == 8
    assert fmt.to_dict()["forced"] is True


def test_detects_this_machine() -> None:
    fmt = choose_int8_format()
    assert isinstance(fmt.reduce_range, bool) and fmt.reason
