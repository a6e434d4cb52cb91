#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_interface_dict and fuzz_dlpack_import (issue 7).

Each seed is the byte string the target's decoder turns into a well-formed input that
reaches an accept path (a view converted by the reference and impl), or one interesting
refusal; libFuzzer mutates from there. The byte layout follows the decoders in
fuzz_interface_dict.cpp and fuzz_dlpack_import.cpp (run from the repository root:
python3 fuzz/gen_python_seeds.py).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ["b1", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8", "c8", "c16",
         "V2", "f16", "m8", "M8", "U4", "S3", "O8", "f3", "i16", "b2", "f"]
ORDERS = "<>=|"


def u16(x):
    return struct.pack("<H", x)


def i16(x):
    return struct.pack("<h", x)


def typestr_byte(order, kind):
    b = ORDERS.index(order) * 25 + KINDS.index(kind)
    assert b < 230 and b % 25 == KINDS.index(kind)
    return bytes([b])


def iface(cai=False, opt=0, buf=256, dtype=("<", "f4"), shape=(2, 3), strides=None,
          data_case=0, off=0, ro=0, offset=None, stream=None, version=3):
    """One __array_interface__ (or CAI) seed."""
    out = bytes([1 if cai else 0, opt]) + u16(buf) + bytes([7])
    out += bytes([3, 0]) if version == 3 else bytes([0])          # version 3, or absent
    out += bytes([1]) + typestr_byte(*dtype)                      # typestr
    out += bytes([len(shape)]) + dim_bytes(shape)                 # ndim, dims
    out += bytes([0]) + bytes([0] * len(shape))                   # a tuple of plain ints
    if strides is None:
        out += bytes([0])                                         # absent
    else:
        out += bytes([2]) + bytes(strides) + bytes([0]) + bytes([0] * len(strides))
    out += bytes([data_case]) + i16(off)
    if data_case in (0, 1, 2, 3):
        out += bytes([ro])
    if data_case == 41:  # a 3-tuple (pointer, Evil, Evil): its repr() clears the dict
        out += (bytes([1, 12]) + struct.pack("<q", 5)) * 2
    if data_case == 8:
        out += bytes([16]) + bytes(range(1, 17))                   # the bytes object's content
    b = 0
    if offset is not None:
        b = 2
    out += bytes([b])
    if offset is not None:
        out += bytes([offset])
    out += bytes([0 if stream is None else 2])
    if stream is not None:
        out += bytes([stream])
    out += bytes([0])
    return out


def stride_byte(elems):
    """in.stride(isz) for a multiple `elems` (-8..8) of the item size."""
    return (elems + 8) % 17


def dim_bytes(shape):
    """in.dim() encodings: b < 200 gives b % 9; 250.. gives a raw int64."""
    return b"".join(bytes([d]) if 0 <= d < 9 else bytes([250]) + struct.pack("<q", d)
                    for d in shape)


def dlpack(legacy=False, entry=0, name=0, opt=0, data_len=256, offset=0, dev=0, dtype=11,
           shape=(2, 3), strides=None, major=0, flags=0, producer=0, devval=0):
    out = bytes([(1 if legacy else 0) | (entry << 4), name, opt]) + u16(data_len) + bytes([5])
    out += bytes([0])                                            # dflags: data present
    out += bytes([0]) if offset == 0 else bytes([200]) + u16(offset)
    out += bytes([dev, dtype])
    out += bytes([len(shape), 0x30 if strides else 0]) + dim_bytes(shape or (0,))  # 0-d: one unused entry
    if strides:
        out += bytes(stride_byte(s) for s in strides)
    if not legacy:
        out += bytes([major, flags])
    if entry == 4:
        out += bytes([producer])
    elif entry >= 2:
        out += bytes([producer, devval])
    return out


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    t = "fuzz_interface_dict"
    write(t, "contig_f32", iface())
    write(t, "readonly_i64", iface(dtype=("<", "i8"), ro=1, shape=(4,)))
    write(t, "strided_f64", iface(dtype=("<", "f8"), shape=(3, 2), strides=(stride_byte(1), stride_byte(3))))
    write(t, "neg_stride_u2", iface(dtype=("<", "u2"), shape=(5,), strides=(stride_byte(-1),), off=64))
    write(t, "swapped_i4", iface(dtype=(">", "i4"), shape=(2, 2)))
    write(t, "bool_0d", iface(dtype=("|", "b1"), shape=()))
    write(t, "c16_zero_size", iface(dtype=("<", "c16"), shape=(0, 5)))
    write(t, "memoryview_offset", iface(dtype=("<", "f2"), shape=(3,), data_case=6, offset=4))
    write(t, "bytes_buffer", iface(dtype=("|", "u1"), shape=(4,), data_case=8))
    write(t, "out_of_buffer", iface(buf=8, shape=(8, 8)))
    write(t, "unsupported_typestr", iface(dtype=("<", "f16")))
    write(t, "cai_stream", iface(cai=True, stream=1))
    write(t, "cai_f32", iface(cai=True))
    write(t, "evil_repr_data", iface(data_case=41))
    write(t, "zero_size_huge_dims", iface(dtype=("<", "i8"), shape=(0, 2**61)))  # finding 4
    write(t, "cast_copy", iface(opt=(1 | (3 << 1) | (1 << 5))))  # dtype int16 (index 3), copy=True

    t = "fuzz_dlpack_import"
    write(t, "versioned_f32", dlpack())
    write(t, "legacy_i32", dlpack(legacy=True, dtype=4, entry=1))
    write(t, "versioned_strided", dlpack(dtype=12, shape=(3, 2), strides=(1, 3)))
    write(t, "readonly_offset", dlpack(flags=1, offset=16, dtype=0, shape=(4,)))
    write(t, "neg_strides", dlpack(shape=(2, 3), strides=(-3, -1), offset=40, dtype=9))
    write(t, "bf16_cuda_host", dlpack(dtype=10, dev=3))
    write(t, "producer_versioned", dlpack(entry=2, producer=0, devval=0))
    write(t, "producer_legacy_fallback", dlpack(legacy=True, entry=3, producer=3, devval=0))
    write(t, "producer_no_device", dlpack(entry=2, producer=7))
    write(t, "producer_bad_device", dlpack(entry=3, producer=0, devval=5))
    write(t, "cuda_device", dlpack(dev=4, entry=2, devval=1))
    write(t, "used_name", dlpack(name=225))
    write(t, "major2", dlpack(major=240))
    write(t, "exchange_api", dlpack(entry=4))
    write(t, "exchange_api_refused", dlpack(entry=4, producer=7))
    write(t, "exchange_api_cuda", dlpack(entry=4, dev=4))
    write(t, "zero_size_huge_null_strides", dlpack(dtype=5, shape=(0, 2**61)))  # finding 4
    write(t, "null_data_offset", dlpack(offset=64)[:6] + bytes([7]) + dlpack(offset=64)[7:])  # finding 3: data NULL
    write(t, "complex_0d", dlpack(dtype=14, shape=()))


if __name__ == "__main__":
    main()
