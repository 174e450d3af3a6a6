"""SHA-256 resumed from a midstate: prove part of a hashed message without the rest of it.

SHA-256 processes its input in 64-byte blocks, carrying a 32-byte state from one to the next.
Given the state after the first ``prefix_len`` bytes (a multiple of 64) and the remaining bytes
in the clear, anyone can finish the hash; finding another (state, suffix) that ends in the same
digest is as hard as a preimage of SHA-256. So a retention purge can keep, of each removed
event, the state after most of its canonical bytes and only the short tail that holds its
occurrence time, and a verifier can still check that tail against the event's leaf hash.

The state is read and resumed through OpenSSL's ``SHA256_CTX`` (the libcrypto Python's own
hashlib uses); a small pure-Python compression function is the fallback and the reference the
tests compare it with.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import struct
from collections.abc import Callable

BLOCK = 64
_K = (
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
)  # fmt: skip
_IV = (
    0x6A09E667,
    0xBB67AE85,
    0x3C6EF372,
    0xA54FF53A,
    0x510E527F,
    0x9B05688C,
    0x1F83D9AB,
    0x5BE0CD19,
)
_M = 0xFFFFFFFF


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & _M


def _compress(state: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    w = list(struct.unpack(">16I", block))
    for i in range(16, 64):
        s0 = _rotr(w[i - 15], 7) ^ _rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = _rotr(w[i - 2], 17) ^ _rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & _M)
    a, b, c, d, e, f, g, h = state
    for i in range(64):
        t1 = h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]
        t2 = (_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
        a, b, c, d, e, f, g, h = (t1 + t2) & _M, a, b, c, (d + t1) & _M, e, f, g
    return tuple((x + y) & _M for x, y in zip(state, (a, b, c, d, e, f, g, h), strict=True))


def _padding(total: int) -> bytes:
    return b"\x80" + b"\x00" * ((55 - total) % BLOCK) + struct.pack(">Q", total * 8)


def py_midstate(prefix: bytes) -> bytes:
    """The state after ``prefix`` (a multiple of 64 bytes), pure Python."""
    _check_prefix(len(prefix))
    state: tuple[int, ...] = _IV
    for offset in range(0, len(prefix), BLOCK):
        state = _compress(state, prefix[offset : offset + BLOCK])
    return struct.pack(">8I", *state)


def py_resume(midstate: bytes, prefix_len: int, suffix: bytes) -> bytes:
    """SHA-256 of a message whose first ``prefix_len`` bytes left ``midstate``, pure Python."""
    _check_prefix(prefix_len)
    state: tuple[int, ...] = struct.unpack(">8I", midstate)
    tail = suffix + _padding(prefix_len + len(suffix))
    for offset in range(0, len(tail), BLOCK):
        state = _compress(state, tail[offset : offset + BLOCK])
    return struct.pack(">8I", *state)


def _check_prefix(length: int) -> None:
    if length < 0 or length % BLOCK:
        raise ValueError(f"a midstate follows whole 64-byte blocks, not {length} bytes")


class _Ctx(ctypes.Structure):
    # openssl/sha.h: SHA256_CTX, unchanged since OpenSSL 0.9.8.
    _fields_ = [
        ("h", ctypes.c_uint32 * 8),
        ("Nl", ctypes.c_uint32),
        ("Nh", ctypes.c_uint32),
        ("data", ctypes.c_uint32 * 16),
        ("num", ctypes.c_uint),
        ("md_len", ctypes.c_uint),
    ]


def _load() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("crypto")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.SHA256_Init.argtypes = [ctypes.POINTER(_Ctx)]
        lib.SHA256_Update.argtypes = [ctypes.POINTER(_Ctx), ctypes.c_char_p, ctypes.c_size_t]
        lib.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.POINTER(_Ctx)]
    except (OSError, AttributeError):
        return None
    # Trust the struct layout only if it gives the known answer.
    probe = b"\x5a" * 128
    if _ossl_resume(lib, _ossl_midstate(lib, probe[:64]), 64, probe[64:]) != py_resume(
        py_midstate(probe[:64]), 64, probe[64:]
    ):
        return None
    return lib


def _ossl_midstate(lib: ctypes.CDLL, prefix: bytes) -> bytes:
    ctx = _Ctx()
    lib.SHA256_Init(ctypes.byref(ctx))
    lib.SHA256_Update(ctypes.byref(ctx), prefix, len(prefix))
    return struct.pack(">8I", *ctx.h)


def _ossl_resume(lib: ctypes.CDLL, midstate: bytes, prefix_len: int, suffix: bytes) -> bytes:
    ctx = _Ctx()
    lib.SHA256_Init(ctypes.byref(ctx))
    ctx.h[:] = struct.unpack(">8I", midstate)
    bits = prefix_len * 8
    ctx.Nl, ctx.Nh = bits & _M, bits >> 32
    lib.SHA256_Update(ctypes.byref(ctx), suffix, len(suffix))
    out = ctypes.create_string_buffer(32)
    lib.SHA256_Final(out, ctypes.byref(ctx))
    return out.raw


_LIB = _load()


def midstate(prefix: bytes) -> bytes:
    """The SHA-256 state (32 bytes, big-endian words) after ``prefix`` (whole blocks)."""
    _check_prefix(len(prefix))
    return py_midstate(prefix) if _LIB is None else _ossl_midstate(_LIB, prefix)


def resume(midstate_: bytes, prefix_len: int, suffix: bytes) -> bytes:
    """The SHA-256 digest of (the prefix that left ``midstate_``) followed by ``suffix``."""
    _check_prefix(prefix_len)
    if len(midstate_) != 32:
        raise ValueError("a SHA-256 midstate is 32 bytes")
    if _LIB is None:
        return py_resume(midstate_, prefix_len, suffix)
    return _ossl_resume(_LIB, midstate_, prefix_len, suffix)


_NATIVE_WORDS = struct.Struct("=8I")
_BIG_WORDS = struct.Struct(">8I")


class PrefixHasher:
    """SHA-256 of a message and the state after a prefix of it, in one pass: what ingestion
    uses to keep each event's expiry proof at no second hash.

    Each instance owns its OpenSSL context buffer, so use one per thread. The functions are
    called without ctypes argument conversion (the buffers are passed as pointers), which is
    most of the cost of a call at these sizes.
    """

    def __init__(self) -> None:
        self._ctx = ctypes.create_string_buffer(ctypes.sizeof(_Ctx))
        self._out = ctypes.create_string_buffer(32)
        if _RAW is not None:
            self._init, self._update, self._final = _RAW

    def digest_and_midstate(self, message: bytes, cut: int) -> tuple[bytes, bytes]:
        """(SHA-256 of ``message``, the state after its first ``cut`` bytes, a multiple of 64)."""
        _check_prefix(cut)
        if _RAW is None:
            return hashlib.sha256(message).digest(), py_midstate(message[:cut])
        ctx = self._ctx
        self._init(ctx)
        self._update(ctx, message, cut)
        state = _BIG_WORDS.pack(*_NATIVE_WORDS.unpack_from(ctx.raw))
        rest = message[cut:]
        self._update(ctx, rest, len(rest))
        self._final(self._out, ctx)
        return self._out.raw, state


def _load_raw() -> tuple[Callable[..., int], Callable[..., int], Callable[..., int]] | None:
    # A second handle on the same library, whose functions stay free of argtypes (lengths
    # pass as C ints, which every ABI libffi supports widens to size_t for these small values);
    # trusted only if it gives hashlib's answer.
    name = ctypes.util.find_library("crypto")
    if _LIB is None or name is None:
        return None
    lib = ctypes.CDLL(name)
    raw = (lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final)
    ctx, out = ctypes.create_string_buffer(ctypes.sizeof(_Ctx)), ctypes.create_string_buffer(32)
    probe = b"\xa5" * 200
    raw[0](ctx)
    raw[1](ctx, probe, len(probe))
    raw[2](out, ctx)
    return raw if out.raw == hashlib.sha256(probe).digest() else None


_RAW = _load_raw()
