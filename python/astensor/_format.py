"""``repr(tensor)``: the values as torch prints them.

The rules are torch's (``torch/_tensor_str.py``) with its default print options: 4 digits
after the point, scientific notation when the magnitudes span more than 1000x or leave
[1e-4, 1e8], integral floats printed as ``1.``, tensors of more than 1000 elements
abbreviated to their first and last 3 items per dimension (``...``), lines wrapped at 80
columns. The suffixes follow torch too: ``device=`` off the CPU, ``dtype=`` unless it is the
default dtype (or its complex counterpart), int64 or bool, ``size=`` for empty tensors that
are not 1-d, then ``grad_fn=``/``requires_grad=True``. One suffix is ours: ``read_only=True``
(ARR-7; torch has no read-only tensors).
"""

from __future__ import annotations

import math

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80


class _Formatter:
    """Chooses one width and one notation for every value printed (torch's _Formatter)."""

    def __init__(self, values: list, floating: bool):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        if not floating:
            for v in values:
                self.max_width = max(self.max_width, len(f"{v}"))
            return
        finite = [v for v in values if math.isfinite(v) and v != 0]
        if not finite:
            return
        lo = min(abs(v) for v in finite)
        hi = max(abs(v) for v in finite)
        self.int_mode = all(v == math.ceil(v) for v in finite)
        if self.int_mode:
            # All integers: printed as "3." (the point marks a floating dtype).
            if hi / lo > 1000.0 or hi > 1.0e8:
                self.sci_mode = True
                for v in finite:
                    self.max_width = max(self.max_width, len(f"{v:.{PRECISION}e}"))
            else:
                for v in finite:
                    self.max_width = max(self.max_width, len(f"{v:.0f}") + 1)
        elif hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4:
            self.sci_mode = True
            for v in finite:
                self.max_width = max(self.max_width, len(f"{v:.{PRECISION}e}"))
        else:
            for v in finite:
                self.max_width = max(self.max_width, len(f"{v:.{PRECISION}f}"))

    def width(self) -> int:
        return self.max_width

    def format(self, value) -> str:
        if self.floating:
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{PRECISION}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{PRECISION}f}"
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _flat(x) -> list:
    if isinstance(x, list):
        return [v for item in x for v in _flat(item)]
    return [x]


def _summarized_values(t) -> list:
    """The values that will be printed (torch's get_summarized_data), flattened."""
    if t.ndim == 0:
        return [t.item()]
    n = t.shape[0]
    if t.ndim == 1:
        if n > 2 * EDGEITEMS:
            return t[:EDGEITEMS].tolist() + t[n - EDGEITEMS:].tolist()
        return t.tolist()
    rows = list(range(EDGEITEMS)) + list(range(n - EDGEITEMS, n)) if n > 2 * EDGEITEMS else range(n)
    return [v for i in rows for v in _summarized_values(t[i])]


def _complex_str(val, f1: _Formatter, f2: _Formatter) -> str:
    real_str = f1.format(val.real)
    imag_str = (f2.format(val.imag) + "j").lstrip()
    if imag_str[0] in "+-":  # negative numbers, +0.0, -0.0
        return real_str + imag_str
    return real_str + "+" + imag_str


def _value_str(val, f1, f2) -> str:
    return f1.format(val) if f2 is None else _complex_str(val, f1, f2)


def _vector_str(t, indent, summarize, f1, f2) -> str:
    element_length = f1.width() + 2
    if f2 is not None:
        element_length += f2.width() + 1
    per_line = max(1, int(math.floor((LINEWIDTH - indent) / element_length)))
    n = t.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        data = ([_value_str(v, f1, f2) for v in t[:EDGEITEMS].tolist()] + [" ..."] +
                [_value_str(v, f1, f2) for v in t[n - EDGEITEMS:].tolist()])
    else:
        data = [_value_str(v, f1, f2) for v in t.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str(t, indent, summarize, f1, f2) -> str:
    if t.ndim == 0:
        return _value_str(t.item(), f1, f2)
    if t.ndim == 1:
        return _vector_str(t, indent, summarize, f1, f2)
    n = t.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        slices = ([_tensor_str(t[i], indent + 1, summarize, f1, f2) for i in range(EDGEITEMS)] +
                  ["..."] +
                  [_tensor_str(t[i], indent + 1, summarize, f1, f2) for i in range(n - EDGEITEMS, n)])
    else:
        slices = [_tensor_str(t[i], indent + 1, summarize, f1, f2) for i in range(n)]
    return "[" + ("," + "\n" * (t.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _add_suffixes(text: str, suffixes: list, indent: int) -> str:
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t) -> str:
    """repr() of an astensor.Tensor: ``tensor([...], dtype=astensor.int32)``."""
    import astensor

    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    source = t
    t = t.detach()  # views for printing carry no autograd history
    if not t.is_cpu:
        suffixes.append(f"device='{t.device}'")
    default = astensor.get_default_dtype()
    name = t.dtype.name
    defaults = {default.name, "complex128" if default.name == "float64" else "complex64", "int64", "bool"}
    numel = t.numel()
    if numel == 0:
        if t.ndim != 1:
            suffixes.append(f"size={tuple(t.shape)}")
        if name != default.name:
            suffixes.append(f"dtype={t.dtype!r}")
        body = "[]"
    else:
        if name not in defaults:
            suffixes.append(f"dtype={t.dtype!r}")
        summarize = numel > THRESHOLD
        if not summarize and not t.is_cpu:
            t = t.cpu()  # one copy to the host instead of one per row
        values = _summarized_values(t) if summarize else _flat(t.tolist())
        if t.dtype.is_complex:
            f1 = _Formatter([complex(v).real for v in values], True)
            f2 = _Formatter([complex(v).imag for v in values], True)
        else:
            f1, f2 = _Formatter(values, t.dtype.is_floating_point), None
        body = _tensor_str(t, indent, summarize, f1, f2)
    if t.is_read_only:
        suffixes.append("read_only=True")
    if source.grad_fn is not None:
        suffixes.append(f"grad_fn=<{source.grad_fn.name()}>")
    elif source.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
