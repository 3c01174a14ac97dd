"""Go float32 arithmetic and formatting (4.x holds default_vcpus as a float32)."""
from __future__ import annotations

import struct

_PACK = struct.Struct("<f")
MAX_FLOAT32 = 3.4028234663852886e38


def to_float32(x: float) -> float:
    """Round a float64 to the nearest float32 (Go `float32(x)`); overflow gives ±inf."""
    try:
        return _PACK.unpack(_PACK.pack(x))[0]
    except OverflowError:
        return float("inf") if x > 0 else float("-inf")


def format_g(x: float) -> str:
    """Go %v of a float64 (strconv 'g', shortest): 1e+39, 0.5, 1.5e-07."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "+Inf" if x > 0 else "-Inf"
    r = repr(x)
    mant, e, exp = r.partition("e")
    if mant.endswith(".0"):
        mant = mant[:-2]
    if e:
        n = int(exp)
        return f"{mant}e{'-' if n < 0 else '+'}{abs(n):02d}"
    # repr uses fixed notation up to 1e16; Go's 'g' switches to an exponent at 1e21
    return mant


def format_f(x: float, prec: int = 6) -> str:
    """Go %f (precision 6) of a float32 value: the exact value rounded, as Python does."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "+Inf" if x > 0 else "-Inf"
    return f"{x:.{prec}f}"


def parse_float32(s: str) -> tuple[float | None, bool]:
    """strconv.ParseFloat(s, 32): (value, ok). Out of range is not ok (Go: ±Inf, ErrRange)."""
    t = s
    sign = 1.0
    if t[:1] in ("+", "-"):
        sign = -1.0 if t[0] == "-" else 1.0
        t = t[1:]
    low = t.lower()
    if low in ("inf", "infinity"):
        return sign * float("inf"), True
    if low == "nan" and s[:1] not in ("+", "-"):
        return float("nan"), True
    if not t:
        return None, False
    try:
        if low.startswith("0x"):
            body = low[2:].replace("_", "")
            if "p" not in body or not body or "__" in t:
                return None, False
            value = float.fromhex("0x" + body)
        else:
            if "_" in t or not _decimal(t):
                return None, False
            value = float(t)
    except (ValueError, OverflowError):
        return None, False
    f = to_float32(value)
    if f in (float("inf"), float("-inf")):
        return None, False
    return sign * f, True


def _decimal(t: str) -> bool:
    mant, _, exp = t.lower().partition("e")
    if "e" in t.lower():
        e = exp[1:] if exp[:1] in ("+", "-") else exp
        if not (e.isascii() and e.isdigit()):
            return False
    whole, dot, frac = mant.partition(".")
    if not (whole or frac):
        return False
    return all(p == "" or (p.isascii() and p.isdigit()) for p in (whole, frac))
